// The reference attention kernel: one query row at a time in float64, strided views, masked keys
// skipped. The oracle the fast tier and webgpu are tested against; also the fast tier's fallback.

import type { AttentionParams, TypedArray, View } from "../backend.ts";

const buf = (v: View) => v.storage.buf as TypedArray;

/** The keys query t of T sees among S: [lo, hi] inclusive (causal offset S - T, window). */
export function visibleKeys(t: number, T: number, S: number, p: AttentionParams): [number, number] {
  if (!p.causal) return [0, S - 1];
  const at = S - T + t; // the query's position among the keys
  const lo = p.window === null ? 0 : Math.max(0, at - p.window + 1);
  return [lo, Math.min(S - 1, at)];
}

/**
 * out [B, H, T, D] (contiguous) = softmax(softcap(scale q k^T) + bias) v over the visible keys,
 * probs [B, H, T, S] (contiguous, zeros where hidden) when given.
 */
export function referenceAttention(
  out: View,
  probs: View | null,
  q: View,
  k: View,
  v: View,
  bias: View | null,
  p: AttentionParams,
): void {
  const [B, H, T, D] = q.shape;
  const KV = k.shape[1], S = k.shape[2], groups = H / KV;
  const o = buf(out), qb = buf(q), kb = buf(k), vb = buf(v);
  const pb = probs ? buf(probs) : null, bb = bias ? buf(bias) : null;
  const [qs0, qs1, qs2, qs3] = q.strides, [ks0, ks1, ks2, ks3] = k.strides;
  const [vs0, vs1, vs2, vs3] = v.strides;
  const bs = bias ? bias.strides : [0, 0, 0, 0];
  const scores = new Float64Array(S), acc = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / groups);
      const kBase = k.offset + b * ks0 + g * ks1, vBase = v.offset + b * vs0 + g * vs1;
      for (let t = 0; t < T; t++) {
        const qo = q.offset + b * qs0 + h * qs1 + t * qs2;
        const bo = bias ? bias.offset + b * bs[0] + h * bs[1] + t * bs[2] : 0;
        const [lo, hi] = visibleKeys(t, T, S, p);
        let max = -Infinity;
        for (let j = lo; j <= hi; j++) {
          let s = 0;
          for (let d = 0, ko = kBase + j * ks2; d < D; d++, ko += ks3) {
            s += qb[qo + d * qs3] * kb[ko];
          }
          s = Math.fround(Math.fround(s) * p.scale);
          if (p.softcap !== null) s = Math.fround(Math.tanh(s / p.softcap) * p.softcap);
          if (bb) s = Math.fround(s + bb[bo + j * bs[3]]); // float32, as the composite adds
          scores[j] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let j = lo; j <= hi; j++) sum += scores[j] = Math.exp(scores[j] - max);
        acc.fill(0);
        for (let j = lo; j <= hi; j++) {
          const w = scores[j] / sum;
          scores[j] = w;
          for (let d = 0, vo = vBase + j * vs2; d < D; d++, vo += vs3) acc[d] += w * vb[vo];
        }
        const row = (b * H + h) * T + t;
        for (let d = 0; d < D; d++) o[out.offset + row * D + d] = acc[d];
        if (pb) {
          const po = probs!.offset + row * S;
          for (let j = 0; j < S; j++) pb[po + j] = j >= lo && j <= hi ? scores[j] : 0;
        }
      }
    }
  }
}
