# PyTorch peer for bench/grad_bench.ts: a random-weight HF GPT2LMHeadModel of GPT-2 small's shape
# at T=64, timed as tsight is (interleaved medians): forward without gradients, forward recording
# the graph, and backward of -mean(log_softmax(logits)[0, :, 0]). Prints one JSON line.
import json, sys, time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
torch.set_num_threads(threads)
torch.manual_seed(0)
cfg = GPT2Config(n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024)
model = GPT2LMHeadModel(cfg).eval()  # eval: no dropout, as tsight
T = 64
ids = torch.tensor([[(i * 37) % 50257 for i in range(T)]])


def loss():
    return -model(ids).logits.log_softmax(-1)[0, :, 0].mean()


def ms(fn):
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


plain, recorded, bwd = [], [], []
for i in range(runs + 1):  # the first round warms up
    with torch.no_grad():
        p, _ = ms(loss)
    f, l = ms(loss)
    b, _ = ms(l.backward)
    model.zero_grad(set_to_none=True)
    if i > 0:
        plain.append(p), recorded.append(f), bwd.append(b)
med = lambda xs: sorted(xs)[len(xs) // 2]
print(json.dumps({"torch": torch.__version__, "threads": threads, "plain": med(plain),
                  "recorded": med(recorded), "backward": med(bwd)}))
