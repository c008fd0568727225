# PyTorch peer for bench/gpt2_vs_torch.ts: a random-weight HF GPT2LMHeadModel of GPT-2 small's
# shape, timed exactly as tsight is (prefill = full logits; decode = mean gap between streamed
# tokens of a 50-token greedy generate with the KV cache). Prints one JSON line.
import json, sys, time

import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.generation.streamers import BaseStreamer

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
model = GPT2LMHeadModel(cfg).eval()


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
    for T, n in ((10, 5), (128, 3)):
        ids = torch.randint(0, 50000, (1, T))
        out[f"prefill{T}"] = median(lambda: model(ids).logits, n)
    ids = torch.randint(0, 50000, (1, 10))
    kw = dict(do_sample=False, pad_token_id=50256, max_new_tokens=50, min_new_tokens=50)
    model.generate(ids, **{**kw, "max_new_tokens": 5, "min_new_tokens": 5})
    best = None
    for _ in range(3):
        s = Stamps()
        model.generate(ids, streamer=s, **kw)
        # put() is called once with the prompt, then once per new token.
        gaps = (s.t[-1] - s.t[1]) / (len(s.t) - 2)
        best = gaps if best is None else min(best, gaps)
    out["decodeMs"] = best * 1000
print(json.dumps(out))
