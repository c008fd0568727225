// Deno.bench of the wasm SIMD matmul tier on GPT-2 shapes, one and two threads. Weights are
// constant (packed once, cached), so this measures the steady state. Run: deno bench bench/matmul_bench.ts

import { startThreads } from "../engine/cpu/fast/mod.ts";
import { fastMatmulWith } from "../engine/cpu/fast/matmul.ts";
import { CASES, operands } from "./compare_numpy.ts";

await startThreads(2);

for (const c of CASES) {
  const { out, a, b } = operands(c);
  for (const threads of [1, 2]) {
    Deno.bench({
      name: `${c.name}, ${threads} thread${threads > 1 ? "s" : ""}`,
      group: c.name,
      baseline: threads === 1,
      fn: () => {
        if (!fastMatmulWith(out, a, b, { threads })) throw new Error(`declined ${c.name}`);
      },
    });
  }
}
