# Timing helpers shared by the PyTorch peers of the *_vs_torch benches: medians and streamed
# token timestamps, measured exactly as the TypeScript side measures tsight.
import time

from transformers.generation.streamers import BaseStreamer


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


def decode_ms(model, ids, pad):
    """Mean gap between streamed tokens of a 50-token greedy generate, best of 3 (ms)."""
    kw = dict(do_sample=False, pad_token_id=pad, max_new_tokens=50, min_new_tokens=50)
    model.generate(ids, **{**kw, "max_new_tokens": 5, "min_new_tokens": 5})
    best = None
    for _ in range(3):
        s = Stamps()
        model.generate(ids, streamer=s, **kw)
        # put() is called once with the prompt, then once per new token.
        gaps = (s.t[-1] - s.t[1]) / (len(s.t) - 2)
        best = gaps if best is None else min(best, gaps)
    return best * 1000
