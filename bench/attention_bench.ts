// The fused attention kernel against the eager composite (scores, mask, softmax, times V: the path
// traces take when attention weights are read), per layer, at GPT-2 small and SmolLM2-135M head
// shapes, prefill T=128 and T=512, on the cpu fast tier. Run: deno task bench:attn

import { attention, fastTierInfo, randn, startThreads, type Tensor } from "../engine/mod.ts";
import { attend, attentionBias } from "../model/mod.ts";
import { THREADS } from "./_peer.ts";

/** [median, min] ms of `n` runs after one warm-up: the min is the least disturbed by neighbours. */
function timings(fn: () => void, n: number): [number, number] {
  fn();
  const ts: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
  }
  ts.sort((a, b) => a - b);
  return [ts[n >> 1], ts[0]];
}
const fmt = ([med, min]: [number, number]) => `${med.toFixed(2)} (${min.toFixed(2)})`;

/** [name, query heads, kv heads, head size, layers]. */
const SHAPES: [string, number, number, number, number][] = [
  ["GPT-2 small", 12, 12, 64, 12],
  ["SmolLM2-135M", 9, 3, 64, 30],
];

await startThreads(THREADS);
const info = fastTierInfo();
console.log(
  `attention core per layer, B=1, ${THREADS} threads, cpu fast tier (simd ${info.simd}, relaxed ${info.relaxed}); median (min) ms`,
);
console.log(
  "| shape | T | composite (ms) | fused (ms) | fused / composite (median, min) | x layers (ms saved) |",
);
console.log("| --- | --- | --- | --- | --- | --- |");
for (const [name, H, KV, D, layers] of SHAPES) {
  for (const T of [128, 512]) {
    // q as the models make it: a transposed view of (B, T, H, D).
    const q = randn([1, T, H, D], { seed: 1 }).transpose(1, 2); // (1, H, T, D)
    const k = randn([1, T, KV, D], { seed: 2 }).transpose(1, 2); // (1, KV, T, D)
    const v = randn([1, T, KV, D], { seed: 3 }).transpose(1, 2); // (1, KV, T, D)
    const bias = attentionBias(1, T, 0, undefined, "cpu"); // (1, 1, T, T), as the models pass it
    const scale = 1 / Math.sqrt(D);
    const runs = T === 512 ? 5 : 15;
    let sink: Tensor | null = null;
    const composite = timings(() => void (sink = attend(q, k, v, { scale, bias })[0]), runs);
    const fused = timings(
      () => void (sink = attention(q, k, v, { scale, bias, causal: true })[0]),
      runs,
    );
    void sink;
    console.log(
      `| ${name} (${H}/${KV} heads, hs ${D}) | ${T} | ${fmt(composite)} | ${fmt(fused)} | ${
        (fused[0] / composite[0]).toFixed(2)
      }x, ${(fused[1] / composite[1]).toFixed(2)}x | ${
        ((composite[0] - fused[0]) * layers).toFixed(0)
      } |`,
    );
  }
}
