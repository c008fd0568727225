# PyTorch peer for bench/load_bench.ts: loads the checkpoint folder the bench wrote (model and
# tokenizer) with from_pretrained, then times the first and a warm 20-token greedy generate and reads the peak
# RSS before loading and at the end. Prints one JSON line. Peak RSS is VmHWM from
# /proc/self/status, as on the tsight side: ru_maxrss is inherited from the parent across exec on
# Linux, so it would report the bench's own peak (the printed ru_maxrss shows it).
import json, resource, sys, time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

threads, folder = int(sys.argv[1]), sys.argv[2]
torch.set_num_threads(threads)
def peak():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) / 1024  # MiB


out = {"torch": torch.__version__, "rss0": peak()}
t = time.perf_counter()
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
tokenizer = AutoTokenizer.from_pretrained(folder)  # tsight's loadModel loads one too
out["load"] = (time.perf_counter() - t) * 1000
out["rssLoad"] = peak()
ids = torch.tensor([[(i * 7919) % 50000 for i in range(10)]])
kw = dict(do_sample=False, max_new_tokens=20, min_new_tokens=20, pad_token_id=0)
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
with torch.inference_mode():
    for key in ("first", "warm"):
        f, t = faults(), time.perf_counter()
        model.generate(ids, **kw)
        out[key] = (time.perf_counter() - t) * 1000
        out[key + "Faults"] = faults() - f
out["rssPeak"] = peak()
out["ruMaxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
