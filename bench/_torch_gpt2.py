# PyTorch peer for bench/gpt2_vs_torch.ts: a random-weight HF GPT2LMHeadModel of GPT-2 small's
# shape, timed exactly as tsight is (prefill = full logits; decode = mean gap between streamed
# tokens of a 50-token greedy generate with the KV cache). Prints one JSON line.
import json, sys

import torch
from transformers import GPT2Config, GPT2LMHeadModel

from _torch_common import decode_ms, median

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
model = GPT2LMHeadModel(cfg).eval()


out = {"torch": torch.__version__, "threads": threads}
with torch.inference_mode():
    for T, n in ((10, 5), (128, 3), (512, 2)):
        ids = torch.randint(0, 50000, (1, T))
        out[f"prefill{T}"] = median(lambda: model(ids).logits, n)
    ids = torch.randint(0, 50000, (1, 10))
    out["decodeMs"] = decode_ms(model, ids, 50256)
print(json.dumps(out))
