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

/** Median of RUNS timings (ms) after one warm-up. */
function median(fn: () => void): number {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
  }
  return ts.sort((a, b) => a - b)[RUNS >> 1];
}

const plain = median(() => void noGrad(loss));
model.requiresGrad();
const recorded = median(() => void loss());
let fwd = 0, bwd = 0;
median(() => {
  let t = performance.now();
  const l = loss();
  fwd = performance.now() - t;
  t = performance.now();
  l.backward();
  bwd = performance.now() - t;
  model.zeroGrad();
});
console.log(`GPT-2 small, T=${T}, cpu fast tier (median of ${RUNS}):`);
console.log(`  forward, no gradients:        ${plain.toFixed(0)} ms`);
console.log(
  `  forward, weights need grads:  ${recorded.toFixed(0)} ms (x${(recorded / plain).toFixed(2)})`,
);
console.log(
  `  backward (last run):          ${bwd.toFixed(0)} ms (x${(bwd / fwd).toFixed(2)} its forward)`,
);
