// The CPU fast tier: WebAssembly SIMD matmul kernels assembled at run time, packed weight
// panels in shared wasm memory and a worker pool. The cpu backend calls fastMatmul first.

import type { View } from "../../backend.ts";
import { fastMatmulWith, MIN_WORK } from "./matmul.ts";
import { cachedPanels } from "./pack.ts";
import { poolThreads, startPool, stopPool } from "./threads.ts";
import { getHeap } from "./wasm_heap.ts";

export { type FastMatmulOptions, fastMatmulWith } from "./matmul.ts";
export type { Device, DType, Storage, View } from "../../backend.ts";

/**
 * Computes out = a @ b with the SIMD tier; returns false (doing nothing) when it declines
 * (tiny sizes, non-float32, a non-contiguous out, no wasm SIMD), so the caller falls back to
 * the reference kernel. `a` is [...batch, M, K], `b` [...batch, K, N] with any strides
 * (0 for broadcast batch dims), `out` a contiguous [...batch, M, N].
 *
 * @example
 * ```ts
 * import { fastMatmul } from "./mod.ts";
 * const view = (buf: Float32Array, shape: number[]) => ({
 *   storage: { device: "cpu" as const, dtype: "float32" as const, size: buf.length, buf, version: 0 },
 *   shape,
 *   strides: [shape[1], 1],
 *   offset: 0,
 * });
 * const out = view(new Float32Array(64 * 64), [64, 64]);
 * const a = view(new Float32Array(64 * 64).fill(1), [64, 64]);
 * fastMatmul(out, a, a); // true; every element of out is 64
 * ```
 */
export function fastMatmul(out: View, a: View, b: View): boolean {
  return fastMatmulWith(out, a, b);
}

/**
 * Packs `b`, a 2-D view of a constant float32 storage that will be a matmul's right operand,
 * into the panel cache now instead of on its first matmul (the same cache entry that matmul
 * then finds). Returns false, doing nothing, where that matmul would not pack it (no wasm
 * SIMD, not constant, too small).
 *
 * @example
 * ```ts
 * import { prepackPanels } from "./mod.ts";
 * const buf = new Float32Array(128 * 128);
 * const storage = { device: "cpu" as const, dtype: "float32" as const, size: buf.length, buf, version: 0, constant: true };
 * prepackPanels({ storage, shape: [128, 128], strides: [128, 1], offset: 0 }); // true with wasm SIMD
 * ```
 */
export function prepackPanels(b: View): boolean {
  const heap = getHeap();
  const [k, n] = b.shape;
  const ok = heap !== null && b.shape.length === 2 && b.storage.constant === true &&
    b.storage.dtype === "float32" && k * n >= MIN_WORK;
  if (!ok) return false;
  cachedPanels(heap, b.storage, {
    offset: b.offset,
    rows: k,
    cols: n,
    rs: b.strides[0],
    cs: b.strides[1],
  });
  return true;
}

/**
 * Starts the worker threads; resolves when they are ready. Kernels called before that run on
 * one thread. `count` is the total including the calling thread (default: all cores).
 */
export function startThreads(count: number = navigator.hardwareConcurrency): Promise<void> {
  const heap = getHeap();
  if (!heap || count <= 1) {
    stopPool();
    return Promise.resolve();
  }
  return startPool(heap, count);
}

/** Stops the workers (tests, process exit); kernels keep working on one thread. */
export function stopThreads(): void {
  stopPool();
}

/** What the tier found and uses: wasm SIMD, relaxed SIMD (fused multiply-add), threads. */
export function fastTierInfo(): { simd: boolean; relaxed: boolean; threads: number } {
  const heap = getHeap();
  return { simd: heap !== null, relaxed: heap?.relaxed ?? false, threads: poolThreads() };
}
