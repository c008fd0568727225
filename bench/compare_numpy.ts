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

// A numpy server: one line of JSON case in, seconds per call out. One process per thread
// count, because OpenBLAS reads its thread count once at import.
const NUMPY = `
import json, sys, time
import numpy as np
for line in sys.stdin:
    c = json.loads(line)
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
    print(min(rounds), flush=True)
`;

/** Seconds per call of one case under numpy, or null when python3 or numpy is missing. */
type Peer = (c: MatmulCase) => Promise<number | null>;

function numpyPeer(threads: number): { time: Peer; close: () => Promise<unknown> } {
  const env = { OPENBLAS_NUM_THREADS: `${threads}`, OMP_NUM_THREADS: `${threads}` };
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("python3", {
      args: ["-c", NUMPY],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    console.log(`numpy peer skipped: ${(e as Error).message}`);
    return { time: () => Promise.resolve(null), close: () => Promise.resolve() };
  }
  const writer = child.stdin.getWriter();
  const chunks = child.stdout.pipeThrough(new TextDecoderStream()).values();
  let buffered = "", dead = false;
  const time = async (c: MatmulCase) => {
    try {
      if (dead) return null;
      await writer.write(new TextEncoder().encode(JSON.stringify(c) + "\n"));
      while (!buffered.includes("\n")) {
        const { value, done } = await chunks.next();
        if (done) throw new Error(await new Response(child.stderr).text());
        buffered += value;
      }
      const at = buffered.indexOf("\n");
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      return Number(line);
    } catch (e) {
      dead = true;
      const why = (e as Error).message.trim().split("\n").at(-1);
      console.log(`numpy peer skipped (${threads} thread): ${why}`);
      return null;
    }
  };
  const close = async () => {
    await writer.close().catch(() => {});
    await child.status;
  };
  return { time, close };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (import.meta.main) {
  // Cases and peers alternate, best of REPEATS: the two vCPUs of this shared machine are
  // sometimes scheduled on one physical core, which halves every 2-thread number for a while.
  const REPEATS = 3;
  await startThreads(2);
  const peers = [numpyPeer(1), numpyPeer(2)];
  const best = new Map<string, number[]>(); // case -> [ours 1T, ours 2T, numpy 1T, numpy 2T]
  for (let rep = 0; rep < REPEATS; rep++) {
    for (const c of CASES) {
      const { out, a, b } = operands(c);
      const row = best.get(c.name) ?? [Infinity, Infinity, Infinity, Infinity];
      for (const [i, threads] of [[0, 1], [1, 2]]) {
        row[i] = Math.min(
          row[i],
          secondsPerCall(() => {
            if (!fastMatmulWith(out, a, b, { threads })) throw new Error(`declined ${c.name}`);
          }),
        );
        await pause(100); // let our idle worker fall asleep before the peer runs
        row[i + 2] = Math.min(row[i + 2], (await peers[i].time(c)) ?? Infinity);
      }
      best.set(c.name, row);
    }
  }
  stopThreads();
  await Promise.all(peers.map((p) => p.close()));
  const f = (x: number) => Number.isFinite(x) && x > 0 ? x.toFixed(x < 10 ? 2 : 1) : "-";
  console.log(
    `| shape (MxKxN) | tsight 1T | tsight 2T | numpy 1T | numpy 2T | ratio 1T | ratio 2T |`,
  );
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  for (const c of CASES) {
    const secs = best.get(c.name)!;
    const emit = (unit: string, per: number) => {
      const [o1, o2, n1, n2] = secs.map((s) => per / s / 1e9);
      console.log(
        `| ${c.name} ${unit} | ${[o1, o2, n1, n2, o1 / n1, o2 / n2].map(f).join(" | ")} |`,
      );
    };
    emit("GFLOP/s", 2 * c.m * c.k * c.n);
    if (c.m <= 4) emit("weight GB/s", 4 * c.k * c.n);
  }
}
