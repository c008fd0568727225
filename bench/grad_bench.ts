// GPT-2 small (random weights) at T=64 on the cpu fast tier: a plain forward, the same forward
// with every weight requiring a gradient (the tape records), and the backward pass of a scalar
// loss, as ratios in one run. Run: deno run --allow-read --allow-env bench/grad_bench.ts

import { noGrad, type Tensor, tensor } from "../engine/mod.ts";
import { GPT2LMHeadModel } from "../model/gpt2/model.ts";
import { initRandom } from "../model/gpt2/weights.ts";

const CONFIG = { n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 };
const T = 64, RUNS = 5;
const model = initRandom(new GPT2LMHeadModel(CONFIG), 0);
const ids = tensor([Array.from({ length: T }, (_, i) => (i * 37) % 50257)], undefined, {
  dtype: "int32",
});
const loss = () => (model.call(ids) as Tensor).logSoftmax().get("0, :, 0").mean().neg();

/** Median of a list of timings (ms). */
const median = (ts: number[]) => ts.sort((a, b) => a - b)[ts.length >> 1];
/** Milliseconds `fn` takes. */
function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return performance.now() - t;
}

// Interleaved so machine load hits every variant alike; the first round warms up.
const plainT: number[] = [], recordedT: number[] = [], bwdT: number[] = [];
for (let i = 0; i <= RUNS; i++) {
  model.requiresGrad(false);
  const p = time(() => void noGrad(loss));
  model.requiresGrad();
  let l!: Tensor;
  const f = time(() => void (l = loss()));
  const b = time(() => l.backward());
  model.zeroGrad();
  if (i === 0) continue;
  plainT.push(p);
  recordedT.push(f);
  bwdT.push(b);
}
const [plain, recorded, bwd] = [plainT, recordedT, bwdT].map(median);
console.log(`GPT-2 small, T=${T}, cpu fast tier (median of ${RUNS}):`);
console.log(`  forward, no gradients:        ${plain.toFixed(0)} ms`);
console.log(
  `  forward, weights need grads:  ${recorded.toFixed(0)} ms (x${(recorded / plain).toFixed(2)})`,
);
console.log(
  `  backward:                     ${bwd.toFixed(0)} ms (x${
    (bwd / recorded).toFixed(2)
  } the forward)`,
);
