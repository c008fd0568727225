// The fast tier's attention: per batch row and chunk of kv heads, the scores come from one
// batched SIMD matmul into a scores block (never [B, H, T, S] at once), rows are masked and
// softmaxed in place, and one more matmul multiplies them by V straight into the output. Without
// probabilities to return the block lives in the wasm heap, so scores never leave it.

import type { AttentionParams, View } from "../../backend.ts";
import { referenceAttention, visibleKeys } from "../attention.ts";
import { referenceKernels } from "../reference.ts";
import { type FastMatmulOptions, fastMatmulWith } from "./matmul.ts";
import { heapSoftmax, simdSoftmax } from "./rows.ts";
import { getHeap, HeapFullError, type WasmHeap } from "./wasm_heap.ts";

/** Floats of the scores block (16 MiB): kv heads are taken in chunks that fit. */
const SCRATCH = 1 << 22;
let scratch = new Float32Array(0);

function block(size: number): Float32Array {
  if (scratch.length < size) scratch = new Float32Array(size);
  return scratch;
}

function view(buf: Float32Array, shape: number[], strides: number[], offset: number): View {
  const storage = { device: "cpu" as const, dtype: "float32" as const, size: buf.length, buf };
  return { storage: { ...storage, version: 0 }, shape, strides, offset };
}

/** What `maskRows` needs besides the rows: sizes, kernel scalars and the additive bias. */
interface RowCtx {
  T: number;
  S: number;
  p: AttentionParams;
  bias: Float32Array | null;
  /** The bias strides (zeros without one) and offset. */
  bs: readonly number[];
  bo: number;
}

/**
 * Rows of a scores block at float `po` of `buf`, `ld` floats apart (heads from h0, batch row
 * b, T queries per head), ready for a softmax: scaled, softcapped and biased over each query's
 * visible keys, -inf elsewhere up to `ld` (exp of -inf is 0, so hidden keys get exactly 0).
 * With `widths`, row r's softmax covers only its first widths[r] floats (its visible keys
 * rounded up to 4) and the rest of the row is 0 already.
 */
function maskRows(
  buf: Float32Array,
  po: number,
  ld: number,
  rows: number,
  h0: number,
  b: number,
  c: RowCtx,
  widths?: Int32Array,
): void {
  const { T, S, p, bias } = c;
  const scale = p.scale, cap = p.softcap, bs3 = c.bs[3];
  for (let r = 0; r < rows; r++) {
    const h = h0 + Math.floor(r / T), t = r % T;
    const [lo, hi] = visibleKeys(t, T, S, p);
    const base = po + r * ld;
    if (cap !== null) {
      for (let j = base + lo; j <= base + hi; j++) {
        buf[j] = Math.tanh(Math.fround(buf[j] * scale) / cap) * cap; // stores round to float32
      }
    }
    // One pass: float32 scale, then float32 bias add, as the composite rounds them.
    const bo = bias ? c.bo + b * c.bs[0] + h * c.bs[1] + t * c.bs[2] : 0;
    if (bias && cap !== null) {
      for (let j = base + lo, i = bo + lo * bs3; j <= base + hi; j++, i += bs3) buf[j] += bias[i];
    } else if (bias) {
      for (let j = base + lo, i = bo + lo * bs3; j <= base + hi; j++, i += bs3) {
        buf[j] = Math.fround(buf[j] * scale) + bias[i];
      }
    } else if (cap === null) {
      for (let j = base + lo; j <= base + hi; j++) buf[j] *= scale;
    }
    const w = widths ? Math.min(ld, (hi + 4) & ~3) : ld;
    if (widths) widths[r] = w;
    buf.fill(-Infinity, base, base + lo);
    buf.fill(-Infinity, base + hi + 1, base + w);
    buf.fill(0, base + w, base + ld);
  }
}

/** softmax over [rows, S] rows at float `po` of a host buffer: SIMD, else scalar. */
function softmaxHost(buf: Float32Array, po: number, rows: number, S: number): void {
  const rowsView = view(buf, [rows, S], [S, 1], po); // (rows, S)
  if (simdSoftmax(rowsView, rowsView)) return;
  for (let r = 0; r < rows; r++) {
    const base = po + r * S;
    let max = -Infinity, sum = 0;
    for (let j = 0; j < S; j++) if (buf[base + j] > max) max = buf[base + j];
    for (let j = 0; j < S; j++) sum += buf[base + j] = Math.exp(buf[base + j] - max);
    const inv = 1 / sum;
    for (let j = 0; j < S; j++) buf[base + j] *= inv;
  }
}

/** out = a @ b on the SIMD tier, or the reference matmul where the tier declines. */
function mm(out: View, a: View, b: View): void {
  if (!fastMatmulWith(out, a, b)) referenceKernels.matmul(out, a, b);
}

/** Heap matmul (A and/or C in the heap); throws where the tier declines (callers fall back). */
function heapMm(out: View, a: View, b: View, at: FastMatmulOptions): void {
  if (!fastMatmulWith(out, a, b, { ...at, minWork: 0 })) throw new HeapDeclined();
}

class HeapDeclined extends Error {}

/**
 * Same contract as `Kernels.attention`. Small problems (decode with a short cache) go to the
 * reference kernel, which skips masked keys and needs no scratch.
 */
export function fastAttention(
  out: View,
  probs: View | null,
  q: View,
  k: View,
  v: View,
  bias: View | null,
  p: AttentionParams,
): void {
  const [B, H, T, D] = q.shape;
  const KV = k.shape[1], S = k.shape[2], G = H / KV;
  const f32 = [out, q, k, v].every((x) => x.storage.buf instanceof Float32Array);
  if (!f32 || G * T * S * D < 1 << 14) return referenceAttention(out, probs, q, k, v, bias, p);
  const [qs0, qs1, qs2, qs3] = q.strides, [ks0, ks1, ks2, ks3] = k.strides;
  const [vs0, vs1, vs2, vs3] = v.strides;
  const bb = bias ? (bias.storage.buf as Float32Array) : null, bs = bias?.strides ?? [0, 0, 0, 0];
  const ctx: RowCtx = { T, S, p, bias: bb, bs, bo: bias?.offset ?? 0 };
  const ob = out.storage.buf as Float32Array;
  // A group's query rows form one [G*T, D] matrix when heads and positions merge; else [G, T, D].
  const flat = T === 1 || qs1 === T * qs2, rs = T === 1 ? qs1 : qs2;
  // kv heads per chunk: one batched matmul each way per chunk, scores below SCRATCH floats.
  const C = Math.max(1, Math.min(KV, Math.floor(SCRATCH / (G * T * S))));
  // Without probs to return, scores stay in the heap, rows padded to the panel width (every
  // query sees a key when S >= T, so no row is all -inf).
  let heap = probs || (p.causal && S < T) ? null : getHeap();
  const ld = heap ? Math.ceil(S / (heap.config.nv * 4)) * heap.config.nv * 4 : S;
  let sAddr = 0;
  try {
    if (heap) sAddr = heap.alloc(C * G * T * ld * 4);
  } catch (e) {
    if (!(e instanceof HeapFullError)) throw e;
    heap = null; // scores go through a host block instead
  }
  try {
    for (let b = 0; b < B; b++) {
      for (let g0 = 0; g0 < KV; g0 += C) {
        const c = Math.min(C, KV - g0), h0 = g0 * G, row0 = (b * H + h0) * T; // first output row
        const qo = q.offset + b * qs0 + h0 * qs1;
        const ko = k.offset + b * ks0 + g0 * ks1, vo = v.offset + b * vs0 + g0 * vs1;
        const kT = { ...k, offset: ko }, vv = { ...v, offset: vo }, qv = { ...q, offset: qo };
        const qm = flat
          ? { ...qv, shape: [c, G * T, D], strides: [G * qs1, rs, qs3] }
          : { ...qv, shape: [c, G, T, D], strides: [G * qs1, qs1, qs2, qs3] };
        const km = flat
          ? { ...kT, shape: [c, D, S], strides: [ks1, ks3, ks2] }
          : { ...kT, shape: [c, G, D, S], strides: [ks1, 0, ks3, ks2] };
        const sShape = flat ? [c, G * T, S] : [c, G, T, S];
        const sStrides = flat ? [G * T * S, S, 1] : [G * T * S, T * S, S, 1];
        const pv = { ...vv, shape: [c, G, S, D], strides: [vs1, 0, vs2, vs3] };
        const o = view(ob, [c, G, T, D], [G * T * D, T * D, D, 1], out.offset + row0 * D);
        if (heap) {
          heapChunk(heap, sAddr, ld, { qm, km, pv, o, sShape, sStrides }, c * G * T, h0, b, ctx);
          continue;
        }
        const pbuf = probs ? (probs.storage.buf as Float32Array) : block(c * G * T * S);
        const po = probs ? probs.offset + row0 * S : 0;
        mm(view(pbuf, sShape, sStrides, po), qm, km); // (c, G*T, S) or (c, G, T, S)
        maskRows(pbuf, po, S, c * G * T, h0, b, ctx);
        softmaxHost(pbuf, po, c * G * T, S);
        mm(o, view(pbuf, [c, G, T, S], [G * T * S, T * S, S, 1], po), pv); // (c, G, T, D)
      }
    }
  } catch (e) {
    if (!(e instanceof HeapDeclined)) throw e;
    referenceAttention(out, probs, q, k, v, bias, p); // the tier declined: redo it all
  } finally {
    if (heap) heap.free(sAddr);
  }
}

/** One chunk with its scores at byte `sAddr` of the heap, rows `ld` floats apart. */
function heapChunk(
  heap: WasmHeap,
  sAddr: number,
  ld: number,
  m: { qm: View; km: View; pv: View; o: View; sShape: number[]; sStrides: number[] },
  rows: number,
  h0: number,
  b: number,
  ctx: RowCtx,
): void {
  const at = { addr: sAddr, ld: ld * 4 };
  // Causal: score row r (query r % T) needs keys up to its last visible one, and its
  // probabilities are zero past it, so both matmuls skip the hidden triangle.
  const { T, S, p } = ctx;
  const upTo = p.causal ? (r: number) => visibleKeys(r % T, T, S, p)[1] + 1 : undefined;
  // The views over the heap only carry shapes: the matmul reads and writes at `at`.
  const shapes = (shape: number[], strides: number[]) => view(heap.f32(), shape, strides, 0);
  heapMm(shapes(m.sShape, m.sStrides), m.qm, m.km, { cAt: at, colsUpTo: upTo }); // (rows, ld)
  const widths = new Int32Array(rows);
  maskRows(heap.f32(), sAddr / 4, ld, rows, h0, b, ctx, widths);
  heapSoftmax(heap, sAddr, ld * 4, widths);
  const [c, G] = m.o.shape;
  const probs = shapes([c, G, T, S], [G * T * S, T * S, S, 1]);
  heapMm(m.o, probs, m.pv, { aAt: at, kUpTo: upTo }); // (c, G, T, D)
}
