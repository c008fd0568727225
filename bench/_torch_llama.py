# PyTorch peer for bench/llama_vs_torch.ts: a random-weight HF LlamaForCausalLM of the shape
# given as JSON (SmolLM2-135M's by default), timed exactly as tsight is (prefill = full logits;
# decode = mean gap between streamed tokens of a 50-token greedy generate). Prints one JSON line.
import json, sys, time

import torch
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.generation.streamers import BaseStreamer

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
shape = json.loads(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(**shape)).eval()
V = shape["vocab_size"]


def median(fn, n):
    fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[n // 2] * 1000


class Stamps(BaseStreamer):
    def __init__(self):
        self.t = []

    def put(self, value):
        self.t.append(time.perf_counter())

    def end(self):
        pass


out = {"torch": torch.__version__, "threads": threads}
with torch.inference_mode():
    ids = torch.randint(0, V, (1, 128))
    out["prefill128"] = median(lambda: model(ids).logits, 3)
    ids = torch.randint(0, V, (1, 10))
    kw = dict(do_sample=False, pad_token_id=0, max_new_tokens=50, min_new_tokens=50)
    model.generate(ids, **{**kw, "max_new_tokens": 5, "min_new_tokens": 5})
    best = None
    for _ in range(3):
        s = Stamps()
        model.generate(ids, streamer=s, **kw)
        gaps = (s.t[-1] - s.t[1]) / (len(s.t) - 2)
        best = gaps if best is None else min(best, gaps)
    out["decodeMs"] = best * 1000
print(json.dumps(out))
