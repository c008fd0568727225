# PyTorch peer for bench/llama_vs_torch.ts: a random-weight HF LlamaForCausalLM of the shape
# given as JSON (SmolLM2-135M's by default), timed exactly as tsight is (prefill = full logits;
# decode = mean gap between streamed tokens of a 50-token greedy generate). Prints one JSON line.
import json, sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from _torch_common import decode_ms, median

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
shape = json.loads(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(**shape)).eval()
V = shape["vocab_size"]


out = {"torch": torch.__version__, "threads": threads}
with torch.inference_mode():
    for T, n in ((128, 3), (512, 2)):
        ids = torch.randint(0, V, (1, T))
        out[f"prefill{T}"] = median(lambda: model(ids).logits, n)
    ids = torch.randint(0, V, (1, 10))
    out["decodeMs"] = decode_ms(model, ids, 0)
print(json.dumps(out))
