// The fused attention kernel against the eager composite (scores, mask, softmax, times V: the path
// traces take when attention weights are read), per layer, at GPT-2 small and SmolLM2-135M head
// shapes, prefill T=128 and T=512, on the cpu fast tier. Run: deno task bench:attn

import { attention, fastTierInfo, randn, startThreads, type Tensor } from "../engine/mod.ts";
import { attend, attentionBias } from "../model/mod.ts";
import { median, THREADS } from "./_peer.ts";

/** [name, query heads, kv heads, head size, layers]. */
const SHAPES: [string, number, number, number, number][] = [
  ["GPT-2 small", 12, 12, 64, 12],
  ["SmolLM2-135M", 9, 3, 64, 30],
];

await startThreads(THREADS);
const info = fastTierInfo();
console.log(
  `attention core per layer, B=1, ${THREADS} threads, cpu fast tier (simd ${info.simd}, relaxed ${info.relaxed}); median ms`,
);
console.log(
  "| shape | T | composite (ms) | fused (ms) | fused / composite | x layers (ms saved) |",
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
    const composite = median(() => void (sink = attend(q, k, v, { scale, bias })[0]), runs);
    const fused = median(
      () => void (sink = attention(q, k, v, { scale, bias, causal: true })[0]),
      runs,
    );
    void sink;
    console.log(
      `| ${name} (${H}/${KV} heads, hs ${D}) | ${T} | ${composite.toFixed(2)} | ${
        fused.toFixed(2)
      } | ${(fused / composite).toFixed(2)}x | ${((composite - fused) * layers).toFixed(0)} |`,
    );
  }
}
