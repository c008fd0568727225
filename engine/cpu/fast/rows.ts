// Runs the SIMD row kernels of row_kernels.ts: copies rows into the wasm heap padded to a
// multiple of 4 floats, calls the module on this thread, copies results out. Each entry
// returns false (doing nothing) without wasm SIMD or below MIN_ELEMS, and the caller falls back.

import type { View } from "../../backend.ts";
import { numel } from "../../layout.ts";
import { eachRow } from "../strided.ts";
import { buildRowModule } from "./row_kernels.ts";
import { getHeap, type WasmHeap } from "./wasm_heap.ts";

/** Below this many elements the compiled JavaScript loops win (copies and call overhead). */
export const MIN_ELEMS = 256;

type Fn = (...args: number[]) => void;
interface RowModule {
  heap: WasmHeap;
  rms: Fn;
  ln: Fn;
  softmax: Fn;
  gelu: Fn;
}

let mod: RowModule | null | undefined;

/** The row module bound to the fast tier's heap memory; null without wasm SIMD. */
function rowModule(): RowModule | null {
  if (mod !== undefined) return mod;
  const heap = getHeap();
  if (!heap) return (mod = null);
  const bytes = buildRowModule({ initial: 1, maximum: 65536 }) as Uint8Array<ArrayBuffer>;
  const { exports: e } = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { memory: heap.memory },
  });
  const fn = (name: string) => e[name] as Fn;
  return (mod = { heap, rms: fn("rms"), ln: fn("ln"), softmax: fn("softmax"), gelu: fn("gelu") });
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
  call: (m: RowModule, s: { rows: number; n: number; np: number }, addr: number[]) => void,
): boolean {
  const m = rowModule(), s = rowShape(out, x);
  if (!m || !s || vecs.some(([v]) => !f32buf(v))) return false;
  const block = s.rows * s.np * 4;
  const xAt = m.heap.scratch(2 * block + vecs.length * s.np * 4);
  const addr = [xAt, xAt + block, ...vecs.map((_, i) => xAt + 2 * block + i * s.np * 4)];
  const f32 = m.heap.f32();
  rowsIn(f32, xAt / 4, x, s.np, pad);
  vecs.forEach(([v, off], i) => vecIn(f32, addr[2 + i] / 4, v, s.np, off));
  call(m, s, addr);
  rowsOut(out, m.heap.f32(), addr[1] / 4, s);
  m.heap.trimScratch();
  return true;
}

/** rmsNorm on the SIMD tier. */
export function simdRmsNorm(out: View, x: View, w: View, eps: number, offset: number): boolean {
  return run(out, x, 0, [[w, offset]], (m, s, [xa, oa, wa]) => {
    m.rms(xa, oa, wa, s.np * 4, s.rows, 1 / s.n, eps);
  });
}

/** layerNorm on the SIMD tier. */
export function simdLayerNorm(out: View, x: View, w: View, b: View, eps: number): boolean {
  return run(out, x, 0, [[w, 0], [b, 0]], (m, s, [xa, oa, wa, ba]) => {
    m.ln(xa, oa, wa, ba, s.np * 4, s.rows, 1 / s.n, eps, s.np - s.n);
  });
}

/** softmax on the SIMD tier (padding is -inf, which contributes exp = 0). */
export function simdSoftmax(out: View, x: View): boolean {
  return run(out, x, -Infinity, [], (m, s, [xa, oa]) => m.softmax(xa, oa, s.np * 4, s.rows));
}

/** gelu (tanh form) on the SIMD tier, elementwise over a contiguous x. */
export function simdGelu(out: View, x: View): boolean {
  const flat = { ...x, shape: [numel(x.shape)], strides: [1] };
  let expect = 1;
  for (let d = x.shape.length - 1; d >= 0; d--) {
    if (x.shape[d] !== 1 && x.strides[d] !== expect) return false;
    expect *= x.shape[d];
  }
  return run(out, flat, 0, [], (m, s, [xa, oa]) => m.gelu(xa, oa, s.np * 4));
}
