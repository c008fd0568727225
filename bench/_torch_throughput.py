# Peer of bench/throughput_bench.ts: a random-weight HF model of the given config, timed as the
# TypeScript side times tsight: prefill (full logits), a dataset of prompts traced in batches with
# nnsight 0.4 (one block's output and the last-position logits saved), HF generate's decode, and
# nnsight's traced generate saving 12 block outputs per step. Prints one JSON line.
import functools, json, os, sys, time

import torch

stub = os.environ.get("TSIGHT_NNSIGHT_STUB", os.path.expanduser("~/.cache/tsight-scratch/nnstub.py"))
exec(open(stub).read())  # puts nnsight 0.4.11's source on sys.path, stubs socketio
import nnsight
from nnsight import LanguageModel
from transformers import AutoConfig, AutoModelForCausalLM, PreTrainedTokenizerFast

from _torch_common import decode_ms, median

threads, spec = int(sys.argv[1]), json.load(open(sys.argv[2]))
torch.set_num_threads(threads)
torch.manual_seed(0)
config = dict(spec["config"])
cfg = AutoConfig.for_model(config.pop("model_type"), **config)
hf = AutoModelForCausalLM.from_config(cfg).eval()
tok = PreTrainedTokenizerFast(tokenizer_file=spec["tokenizerFile"], padding_side="left")
tok.pad_token = "!"  # id 0: inside every vocabulary here
model = LanguageModel(hf, tokenizer=tok)
layers = functools.reduce(getattr, spec["layers"].split("."), model)
ms = lambda t: (time.perf_counter() - t) * 1000
out = {"torch": torch.__version__, "nnsight": nnsight.__version__ if hasattr(nnsight, "__version__") else "0.4.11"}


def dataset(batches, **kw):
    for batch in batches:
        with model.trace(batch, **kw):  # kwargs reach the HF forward (logits_to_keep)
            layers[spec["block"]].output.save()
            model.output.logits[:, -1].save()


with torch.inference_mode():
    for T in spec["prefill"]:
        ids = torch.tensor([[(i * 7919) % min(49000, cfg.vocab_size) for i in range(T)]])
        out[f"prefill{T}"] = median(lambda: hf(ids).logits, 3 if T <= 128 else 1)
    prompt = [(i * 7919) % min(49000, cfg.vocab_size) for i in range(10)]
    out["decodeMs"] = decode_ms(hf, torch.tensor([prompt]), 0)
dataset(spec["batches"][:1])  # warm-up
t = time.perf_counter()
dataset(spec["batches"])
out["dataset"] = ms(t)
t = time.perf_counter()
dataset(spec["batches"], logits_to_keep=1)
out["datasetKeep1"] = ms(t)
n = spec["tracedTokens"]
kw = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
for key in ("tracedWarm", "tracedMs"):
    t = time.perf_counter()
    with model.generate(prompt, **kw):
        hs = nnsight.list().save()
        with layers.all():
            for i in range(12):
                hs.append(layers[i].output)
    out[key] = ms(t) / n
assert len(hs) == 12 * n, len(hs)
print(json.dumps(out))
