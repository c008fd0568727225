// Runs the SIMD row kernels of row_kernels.ts: copies rows into the wasm heap padded to a
// multiple of 4 floats, cuts them into task records for the worker pool, copies results out.
// Each entry returns false (doing nothing) without wasm SIMD or below MIN_ELEMS: callers fall back.

import type { View } from "../../backend.ts";
import { numel } from "../../layout.ts";
import { eachRow } from "../strided.ts";
import { poolThreads, RECORD_INTS, runUnits } from "./threads.ts";
import { getHeap, ROW_DRIVER_BASE, type WasmHeap } from "./wasm_heap.ts";

/** Below this many elements the compiled JavaScript loops win (copies and call overhead). */
export const MIN_ELEMS = 256;

/** Below this many elements one thread does the whole op (a pool round costs more). */
const THREAD_ELEMS = 1 << 15;
/** Task units per thread, as matmul cuts them: a descheduled thread's share can be picked up. */
const UNITS_PER_THREAD = 4;
const ROW = { rms: 0, ln: 1, softmax: 2, gelu: 3, sigmoid: 4 } as const;

const bits = new Int32Array(1), asFloat = new Float32Array(bits.buffer);
/** A float's bits as an i32 (row kernels take float parameters so). */
function f32bits(v: number): number {
  asFloat[0] = v;
  return bits[0];
}

/**
 * Runs row kernel `k` over `rows` rows of `bytes` each: `args(r0, n)` gives a record's
 * arguments for rows [r0, r0 + n). Rows are split across the pool's threads when large.
 */
function dispatch(
  heap: WasmHeap,
  k: keyof typeof ROW,
  rows: number,
  size: number,
  args: (r0: number, n: number) => number[],
): void {
  const threads = size < THREAD_ELEMS ? 1 : poolThreads();
  const units = Math.max(1, Math.min(rows, threads === 1 ? 1 : threads * UNITS_PER_THREAD));
  const recs = new Int32Array(units * RECORD_INTS);
  for (let u = 0; u < units; u++) {
    const r0 = Math.floor((u * rows) / units), r1 = Math.floor(((u + 1) * rows) / units);
    recs[u * RECORD_INTS] = ROW_DRIVER_BASE + ROW[k];
    recs.set(args(r0, r1 - r0), u * RECORD_INTS + 1);
  }
  runUnits(heap, recs, units, { steps: 1, threads });
}

const f32buf = (v: View) => v.storage.buf instanceof Float32Array ? v.storage.buf : null;

/** Rows, width and padded width of a float32 view's last axis, or null when it does not apply. */
function rowShape(out: View, x: View): { rows: number; n: number; np: number } | null {
  const size = numel(x.shape);
  if (x.shape.length === 0 || size < MIN_ELEMS || !f32buf(x) || !f32buf(out)) return null;
  const n = x.shape[x.shape.length - 1];
  return { rows: size / n, n, np: Math.ceil(n / 4) * 4 };
}

/** Copies x's rows to float index d of f32 with row stride np, filling the padding with `pad`. */
function rowsIn(f32: Float32Array, d: number, x: View, np: number, pad: number): void {
  const xb = x.storage.buf as Float32Array;
  eachRow(x.shape, [x.strides], [x.offset], (offs, n, inner) => {
    if (inner[0] === 1) f32.set(xb.subarray(offs[0], offs[0] + n), d);
    else for (let i = 0, p = offs[0]; i < n; i++, p += inner[0]) f32[d + i] = xb[p];
    if (np > n) f32.fill(pad, d + n, d + np);
    d += np;
  });
}

/** Copies rows of stride np at float index d of f32 into out's contiguous rows of n. */
function rowsOut(
  out: View,
  f32: Float32Array,
  d: number,
  s: { rows: number; n: number; np: number },
) {
  const o = out.storage.buf as Float32Array;
  const { rows, n, np } = s;
  if (np === n) return o.set(f32.subarray(d, d + rows * n), out.offset);
  for (let r = 0; r < rows; r++) {
    o.set(f32.subarray(d + r * np, d + r * np + n), out.offset + r * n);
  }
}

/** A [C] view's values plus `offset`, zero-padded to np, at float index d. */
function vecIn(f32: Float32Array, d: number, v: View, np: number, offset = 0): void {
  const b = v.storage.buf as Float32Array, n = v.shape[0], s = v.strides[0];
  for (let i = 0; i < n; i++) f32[d + i] = b[v.offset + i * s] + offset;
  f32.fill(0, d + n, d + np);
}

/**
 * Lays out [x rows | out rows | `vecs` padded vectors] in scratch, runs `call` with their byte
 * addresses, copies the result out. False when the tier declines.
 */
function run(
  out: View,
  x: View,
  pad: number,
  vecs: [View, number][],
  call: (h: WasmHeap, s: { rows: number; n: number; np: number }, addr: number[]) => void,
): boolean {
  const heap = getHeap(), s = rowShape(out, x);
  if (!heap || !s || vecs.some(([v]) => !f32buf(v))) return false;
  const block = s.rows * s.np * 4;
  const xAt = heap.scratch(2 * block + vecs.length * s.np * 4);
  const addr = [xAt, xAt + block, ...vecs.map((_, i) => xAt + 2 * block + i * s.np * 4)];
  const f32 = heap.f32();
  rowsIn(f32, xAt / 4, x, s.np, pad);
  vecs.forEach(([v, off], i) => vecIn(f32, addr[2 + i] / 4, v, s.np, off));
  call(heap, s, addr);
  rowsOut(out, heap.f32(), addr[1] / 4, s);
  heap.trimScratch();
  return true;
}

/** rmsNorm on the SIMD tier. */
export function simdRmsNorm(out: View, x: View, w: View, eps: number, offset: number): boolean {
  return run(out, x, 0, [[w, offset]], (h, s, [xa, oa, wa]) => {
    const b = s.np * 4, f = [f32bits(1 / s.n), f32bits(eps)];
    dispatch(h, "rms", s.rows, s.rows * s.np, (r, n) => [xa + r * b, oa + r * b, wa, b, n, ...f]);
  });
}

/** layerNorm on the SIMD tier. */
export function simdLayerNorm(out: View, x: View, w: View, bias: View, eps: number): boolean {
  return run(out, x, 0, [[w, 0], [bias, 0]], (h, s, [xa, oa, wa, ba]) => {
    const b = s.np * 4, f = [f32bits(1 / s.n), f32bits(eps), f32bits(s.np - s.n)];
    dispatch(h, "ln", s.rows, s.rows * s.np, (r, n) => [
      xa + r * b,
      oa + r * b,
      wa,
      ba,
      b,
      n,
      ...f,
    ]);
  });
}

/** softmax on the SIMD tier (padding is -inf, which contributes exp = 0). */
export function simdSoftmax(out: View, x: View): boolean {
  return run(out, x, -Infinity, [], (h, s, [xa, oa]) => {
    const b = s.np * 4;
    dispatch(h, "softmax", s.rows, s.rows * s.np, (r, n) => [xa + r * b, oa + r * b, b, n]);
  });
}

/** gelu (tanh form) on the SIMD tier, elementwise over a contiguous x, in blocks of 4 floats. */
export function simdGelu(out: View, x: View): boolean {
  return elementwise("gelu", out, x);
}

/** sigmoid on the SIMD tier, elementwise over a contiguous x (silu is x times it). */
export function simdSigmoid(out: View, x: View): boolean {
  return elementwise("sigmoid", out, x);
}

/** An elementwise row kernel over a contiguous x, in blocks of 4 floats. */
function elementwise(k: "gelu" | "sigmoid", out: View, x: View): boolean {
  const flat = { ...x, shape: [numel(x.shape)], strides: [1] };
  let expect = 1;
  for (let d = x.shape.length - 1; d >= 0; d--) {
    if (x.shape[d] !== 1 && x.strides[d] !== expect) return false;
    expect *= x.shape[d];
  }
  return run(out, flat, 0, [], (h, s, [xa, oa]) => {
    dispatch(h, k, s.np / 4, s.np, (r, n) => [xa + r * 16, oa + r * 16, n * 16]);
  });
}

/**
 * softmax in place over rows already in the heap, `ld` bytes apart from byte `addr`: row r
 * covers its first widths[r] floats (a multiple of 4, padded with -inf), the fused attention's
 * causal scores. Rows go to the pool in runs of ROWS_PER_UNIT, one record per row.
 */
export function heapSoftmax(heap: WasmHeap, addr: number, ld: number, widths: Int32Array): void {
  const rows = widths.length, units = Math.ceil(rows / ROWS_PER_UNIT);
  let size = 0;
  for (let r = 0; r < rows; r++) size += widths[r];
  const recs = new Int32Array(units * ROWS_PER_UNIT * RECORD_INTS); // past `rows`: 0 rows, no-ops
  for (let r = 0; r < units * ROWS_PER_UNIT; r++) {
    const i = r * RECORD_INTS, x = addr + r * ld;
    recs[i] = ROW_DRIVER_BASE + ROW.softmax;
    if (r < rows) recs.set([x, x, widths[r] * 4, 1], i + 1);
  }
  const threads = size < THREAD_ELEMS ? 1 : poolThreads();
  runUnits(heap, recs, units, { steps: ROWS_PER_UNIT, threads });
}

/** Rows of `heapSoftmax` one task unit takes. */
const ROWS_PER_UNIT = 16;
