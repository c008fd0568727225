// GPT-2 small (random weights) at T=64 on the cpu fast tier against PyTorch in one run: a plain
// forward, the same forward with every weight requiring a gradient (the tape records), and the
// backward pass of a scalar loss. Peer: bench/_torch_grad.py (skipped with a message without torch).

import {
  fastTierInfo,
  noGrad,
  startThreads,
  stopThreads,
  type Tensor,
  tensor,
} from "../engine/mod.ts";
import { GPT2LMHeadModel } from "../model/gpt2/model.ts";
import { initRandom } from "../model/gpt2/weights.ts";
import { peerFigures, printTable, THREADS, torchPython } from "./_peer.ts";

type Figures = { plain: number; recorded: number; backward: number };
const CONFIG = { n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 };
const T = 64, RUNS = 5;

/** Median of a list of timings (ms). */
const median = (ts: number[]) => ts.sort((a, b) => a - b)[ts.length >> 1];
/** Milliseconds `fn` takes. */
function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

function tsightFigures(): Figures {
  const model = initRandom(new GPT2LMHeadModel(CONFIG), 0);
  const ids = tensor([Array.from({ length: T }, (_, i) => (i * 37) % 50257)], undefined, {
    dtype: "int32",
  });
  const loss = () => (model.call(ids) as Tensor).logSoftmax().get("0, :, 0").mean().neg();
  // Interleaved so machine load hits every variant alike; the first round warms up.
  const plain: number[] = [], recorded: number[] = [], bwd: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    model.requiresGrad(false);
    const p = time(() => void noGrad(loss));
    model.requiresGrad();
    let l!: Tensor;
    const f = time(() => void (l = loss()));
    const b = time(() => l.backward());
    model.zeroGrad();
    if (i === 0) continue;
    plain.push(p), recorded.push(f), bwd.push(b);
  }
  return { plain: median(plain), recorded: median(recorded), backward: median(bwd) };
}

await startThreads(THREADS);
const py = await torchPython();
if (!py) console.error("PyTorch peer skipped: no python with torch and transformers was found");
const script = new URL("./_torch_grad.py", import.meta.url);
const peer = py ? await peerFigures<Figures & { torch: string }>(py, script, [String(RUNS)]) : null;
let ours: Figures;
try {
  ours = tsightFigures();
} finally {
  stopThreads();
}
const info = fastTierInfo();
console.log(
  `GPT-2 small (124M, f32, random weights), T=${T}, ${THREADS} threads, median of ${RUNS}; ` +
    `tsight cpu fast tier (simd ${info.simd})` + (peer ? `; PyTorch ${peer.torch} eager` : ""),
);
printTable([
  ["forward, no gradients (ms)", ours.plain, peer?.plain, "lower"],
  ["forward, weights need grads (ms)", ours.recorded, peer?.recorded, "lower"],
  ["backward (ms)", ours.backward, peer?.backward, "lower"],
  [
    "forward + backward (ms)",
    ours.recorded + ours.backward,
    peer ? peer.recorded + peer.backward : undefined,
    "lower",
  ],
]);
console.log(
  `backward / forward: tsight x${(ours.backward / ours.recorded).toFixed(2)}` +
    (peer ? `, PyTorch x${(peer.backward / peer.recorded).toFixed(2)}` : ""),
);
