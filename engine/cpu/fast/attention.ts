// The fast tier's attention: per batch row and chunk of kv heads, the scores come from one
// batched SIMD matmul into a reused scratch block (never [B, H, T, S] at once), rows are masked
// and softmaxed in place, and one more matmul multiplies them by V straight into the output.

import type { AttentionParams, View } from "../../backend.ts";
import { referenceAttention, visibleKeys } from "../attention.ts";
import { referenceKernels } from "../reference.ts";
import { fastMatmulWith } from "./matmul.ts";

/** Floats of the reused scores block (16 MiB): kv heads are taken in chunks that fit. */
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

/** out = a @ b on the SIMD tier, or the reference matmul where the tier declines. */
function mm(out: View, a: View, b: View): void {
  if (!fastMatmulWith(out, a, b)) referenceKernels.matmul(out, a, b);
}

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
  const ob = out.storage.buf as Float32Array;
  // A group's query rows form one [G*T, D] matrix when heads and positions merge; else [G, T, D].
  const flat = T === 1 || qs1 === T * qs2, rs = T === 1 ? qs1 : qs2;
  // kv heads per chunk: one batched matmul each way per chunk, scratch below SCRATCH floats.
  const C = Math.max(1, Math.min(KV, Math.floor(SCRATCH / (G * T * S))));
  for (let b = 0; b < B; b++) {
    for (let g0 = 0; g0 < KV; g0 += C) {
      const c = Math.min(C, KV - g0), h0 = g0 * G, row0 = (b * H + h0) * T; // first output row
      const pbuf = probs ? (probs.storage.buf as Float32Array) : block(c * G * T * S);
      const po = probs ? probs.offset + row0 * S : 0;
      const qo = q.offset + b * qs0 + h0 * qs1;
      const ko = k.offset + b * ks0 + g0 * ks1, vo = v.offset + b * vs0 + g0 * vs1;
      const oo = out.offset + row0 * D;
      const kT = { ...k, offset: ko }, vv = { ...v, offset: vo }, qv = { ...q, offset: qo };
      if (flat) {
        mm(
          view(pbuf, [c, G * T, S], [G * T * S, S, 1], po),
          { ...qv, shape: [c, G * T, D], strides: [G * qs1, rs, qs3] },
          { ...kT, shape: [c, D, S], strides: [ks1, ks3, ks2] },
        ); // (c, G*T, S)
      } else {
        mm(
          view(pbuf, [c, G, T, S], [G * T * S, T * S, S, 1], po),
          { ...qv, shape: [c, G, T, D], strides: [G * qs1, qs1, qs2, qs3] },
          { ...kT, shape: [c, G, D, S], strides: [ks1, 0, ks3, ks2] },
        ); // (c, G, T, S)
      }
      for (let r = 0; r < c * G * T; r++) {
        const h = h0 + Math.floor(r / T), t = r % T;
        const [lo, hi] = visibleKeys(t, T, S, p);
        const base = po + r * S;
        const bo = bias ? bias.offset + b * bs[0] + h * bs[1] + t * bs[2] : 0;
        let max = -Infinity;
        for (let j = lo; j <= hi; j++) {
          let s = Math.fround(pbuf[base + j] * p.scale);
          if (p.softcap !== null) s = Math.fround(Math.tanh(s / p.softcap) * p.softcap);
          if (bb) s = Math.fround(s + bb[bo + j * bs[3]]); // float32, as the composite adds
          pbuf[base + j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = lo; j <= hi; j++) sum += pbuf[base + j] = Math.exp(pbuf[base + j] - max);
        const inv = 1 / sum;
        for (let j = lo; j <= hi; j++) pbuf[base + j] *= inv;
        pbuf.fill(0, base, base + lo);
        pbuf.fill(0, base + hi + 1, base + S);
      }
      mm(
        view(ob, [c, G, T, D], [G * T * D, T * D, D, 1], oo),
        view(pbuf, [c, G, T, S], [G * T * S, T * S, S, 1], po),
        { ...vv, shape: [c, G, S, D], strides: [vs1, 0, vs2, vs3] },
      ); // (c, G, T, D)
    }
  }
}
