// Runs the fast matmul tier (1 and 2 threads) and numpy on the same shapes in one process run
// and prints a markdown table: GFLOP/s, the ratio to numpy and, for decode, GB/s of weights.

import type { View } from "../engine/backend.ts";
import { startThreads, stopThreads } from "../engine/cpu/fast/mod.ts";
import { fastMatmulWith } from "../engine/cpu/fast/matmul.ts";

/** One benchmarked product: out [m, n] = a [m, k] @ b [k, n]. */
export interface MatmulCase {
  name: string;
  m: number;
  k: number;
  n: number;
  /** b is a [k, n] view (strides [1, k]) of a stored [n, k] matrix, like GPT-2's wte^T. */
  transposedB: boolean;
  /** b is a weight: packed once and cached, so the steady state is measured. */
  constantB: boolean;
}

/** The shapes of the issue: a square product, two decode matvecs and a prefill block. */
export const CASES: MatmulCase[] = [
  { name: "768x768x768", m: 768, k: 768, n: 768, transposedB: false, constantB: true },
  {
    name: "768x768x768 (b repacked)",
    m: 768,
    k: 768,
    n: 768,
    transposedB: false,
    constantB: false,
  },
  { name: "1x768x3072", m: 1, k: 768, n: 3072, transposedB: false, constantB: true },
  { name: "1x768x50257 (wte^T)", m: 1, k: 768, n: 50257, transposedB: true, constantB: true },
  { name: "128x768x3072", m: 128, k: 768, n: 3072, transposedB: false, constantB: true },
];

function view(buf: Float32Array, shape: number[], strides: number[], constant: boolean): View {
  const storage = { device: "cpu" as const, dtype: "float32" as const, size: buf.length, buf };
  return { storage: { ...storage, version: 0, constant }, shape, strides, offset: 0 };
}

/** Random operands and an output for a case. */
export function operands(c: MatmulCase): { out: View; a: View; b: View } {
  const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
  const a = view(rand(c.m * c.k), [c.m, c.k], [c.k, 1], false);
  const b = c.transposedB
    ? view(rand(c.k * c.n), [c.k, c.n], [1, c.k], c.constantB)
    : view(rand(c.k * c.n), [c.k, c.n], [c.n, 1], c.constantB);
  const out = view(new Float32Array(c.m * c.n), [c.m, c.n], [c.n, 1], false);
  return { out, a, b };
}

/**
 * Seconds per call of the best of 9 rounds of ~0.1 s each, after a warm-up: the best round
 * because other processes on a shared 2-core machine only ever make a round slower.
 */
function secondsPerCall(fn: () => void): number {
  const t0 = performance.now();
  let warm = 0;
  while (performance.now() - t0 < 300) (fn(), warm++);
  const per = Math.max(1, Math.round((warm / 300) * 100));
  const rounds: number[] = [];
  for (let r = 0; r < 9; r++) {
    const t = performance.now();
    for (let i = 0; i < per; i++) fn();
    rounds.push((performance.now() - t) / 1000 / per);
  }
  return Math.min(...rounds);
}

const NUMPY = `
import json, sys, time
import numpy as np
out = {}
for c in json.loads(sys.argv[1]):
    a = np.random.rand(c["m"], c["k"]).astype(np.float32) - 0.5
    b = np.random.rand(c["n"], c["k"]).astype(np.float32).T if c["transposedB"] else \\
        np.random.rand(c["k"], c["n"]).astype(np.float32)
    o = np.empty((c["m"], c["n"]), np.float32)
    f = lambda: np.matmul(a, b, out=o)
    t0 = time.perf_counter(); warm = 0
    while time.perf_counter() - t0 < 0.3: f(); warm += 1
    per = max(1, round(warm / 0.3 * 0.1)); rounds = []
    for _ in range(9):
        t = time.perf_counter()
        for _ in range(per): f()
        rounds.append((time.perf_counter() - t) / per)
    out[c["name"]] = min(rounds)
print(json.dumps(out))
`;

async function numpy(threads: number): Promise<Record<string, number> | null> {
  try {
    const env = { OPENBLAS_NUM_THREADS: `${threads}`, OMP_NUM_THREADS: `${threads}` };
    const cmd = new Deno.Command("python3", { args: ["-c", NUMPY, JSON.stringify(CASES)], env });
    const res = await cmd.output();
    if (!res.success) throw new Error(new TextDecoder().decode(res.stderr).trim());
    return JSON.parse(new TextDecoder().decode(res.stdout));
  } catch (e) {
    console.log(
      `numpy peer skipped (${threads} thread): ${(e as Error).message.split("\n").at(-1)}`,
    );
    return null;
  }
}

function tsight(threads: number): Record<string, number> {
  const res: Record<string, number> = {};
  for (const c of CASES) {
    const { out, a, b } = operands(c);
    res[c.name] = secondsPerCall(() => {
      if (!fastMatmulWith(out, a, b, { threads })) throw new Error(`fastMatmul declined ${c.name}`);
    });
  }
  return res;
}

if (import.meta.main) {
  await startThreads(2);
  const ours1 = tsight(1);
  const ours2 = tsight(2);
  stopThreads();
  const np1 = await numpy(1), np2 = await numpy(2);
  const gflops = (c: MatmulCase, s?: number) => s ? (2 * c.m * c.k * c.n) / s / 1e9 : NaN;
  const gbs = (c: MatmulCase, s?: number) => s ? (4 * c.k * c.n) / s / 1e9 : NaN;
  const f = (x: number) => Number.isNaN(x) ? "-" : x.toFixed(x < 10 ? 2 : 1);
  console.log(
    `| shape (MxKxN) | tsight 1T | tsight 2T | numpy 1T | numpy 2T | ratio 1T | ratio 2T |`,
  );
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const c of CASES) {
    const [o1, o2, n1, n2] = [ours1, ours2, np1, np2].map((r) => gflops(c, r?.[c.name]));
    console.log(`| ${c.name} GFLOP/s | ${[o1, o2, n1, n2, o1 / n1, o2 / n2].map(f).join(" | ")} |`);
    if (c.m <= 4) {
      const [w1, w2, v1, v2] = [ours1, ours2, np1, np2].map((r) => gbs(c, r?.[c.name]));
      console.log(
        `| ${c.name} weight GB/s | ${[w1, w2, v1, v2, w1 / v1, w2 / v2].map(f).join(" | ")} |`,
      );
    }
  }
}
