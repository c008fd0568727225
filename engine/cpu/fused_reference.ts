// Reference kernels of the fused row primitives (rmsNorm, rotary and the backward kernels of the
// norms, softmaxes and gelu): plain strided loops accumulating in float64, the oracle of the tiers.

import type { FusedRowKernels, TypedArray, View } from "../backend.ts";
import { eachBatch } from "./strided.ts";

const buf = (v: View) => v.storage.buf as TypedArray;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Calls `fn` per last-axis row with the row start in each view; rows of `out` are contiguous. */
function rows(
  views: readonly View[],
  fn: (offs: number[], inner: number[], n: number, d: number) => void,
): void {
  const shape = views[0].shape, n = shape[shape.length - 1] ?? 1;
  const inner = views.map((v) => v.strides[v.strides.length - 1] ?? 0);
  let d = 0;
  eachBatch(shape, views.map((v) => v.strides), views.map((v) => v.offset), 1, (offs) => {
    fn(offs, inner, n, d);
    d += n;
  });
}

/** Per-channel scale w[i] + offset of a [C] weight view. */
function scaleOf(weight: View, offset: number): Float64Array {
  const w = buf(weight), n = weight.shape[0], s = weight.strides[0];
  return Float64Array.from({ length: n }, (_, i) => w[weight.offset + i * s] + offset);
}

/** The fused row kernels of the reference tier. */
export const fusedReferenceKernels: FusedRowKernels = {
  rmsNorm: (out, x, weight, eps, offset) => {
    const o = buf(out), xb = buf(x), w = scaleOf(weight, offset);
    rows([x], ([xo], [s], n, d) => {
      let ss = 0;
      for (let i = 0; i < n; i++) ss += xb[xo + i * s] ** 2;
      const r = 1 / Math.sqrt(ss / n + eps);
      for (let i = 0; i < n; i++) o[out.offset + d + i] = xb[xo + i * s] * r * w[i];
    });
  },
  rotary: (out, x, cos, sin) => {
    const o = buf(out), xb = buf(x), cb = buf(cos), sb = buf(sin);
    const R = cos.shape[cos.shape.length - 1], h = R / 2;
    const cs = cos.strides[cos.strides.length - 1], ss = sin.strides[sin.strides.length - 1];
    rows([x, cos, sin], ([xo, co, so], [s], n, d) => {
      const at = (i: number) => xb[xo + i * s];
      const od = out.offset + d;
      for (let i = 0; i < h; i++) {
        const a = at(i), b = at(i + h);
        o[od + i] = a * cb[co + i * cs] - b * sb[so + i * ss];
        o[od + i + h] = b * cb[co + (i + h) * cs] + a * sb[so + (i + h) * ss];
      }
      for (let i = R; i < n; i++) o[od + i] = at(i);
    });
  },
  rmsNormGrad: (dx, g, x, weight, eps, offset) => {
    const o = buf(dx), gb = buf(g), xb = buf(x), w = scaleOf(weight, offset);
    rows([x, g], ([xo, go], [s, gs], n, d) => {
      let ss = 0, dot = 0;
      for (let i = 0; i < n; i++) {
        const xi = xb[xo + i * s];
        ss += xi * xi;
        dot += gb[go + i * gs] * w[i] * xi;
      }
      const r = 1 / Math.sqrt(ss / n + eps);
      const k = (dot / n) * r * r; // mean(gw * xhat) * rstd, folded onto x
      for (let i = 0; i < n; i++) {
        o[dx.offset + d + i] = r * (gb[go + i * gs] * w[i] - xb[xo + i * s] * k);
      }
    });
  },
  layerNormGrad: (dx, g, x, weight, eps) => {
    const o = buf(dx), gb = buf(g), xb = buf(x), w = scaleOf(weight, 0);
    rows([x, g], ([xo, go], [s, gs], n, d) => {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += xb[xo + i * s];
      mean /= n;
      let v = 0, sg = 0, dot = 0;
      for (let i = 0; i < n; i++) {
        const c = xb[xo + i * s] - mean, gw = gb[go + i * gs] * w[i];
        v += c * c;
        sg += gw;
        dot += gw * c;
      }
      const r = 1 / Math.sqrt(v / n + eps);
      const mg = sg / n, k = (dot / n) * r * r;
      for (let i = 0; i < n; i++) {
        const c = xb[xo + i * s] - mean;
        o[dx.offset + d + i] = r * (gb[go + i * gs] * w[i] - mg - c * k);
      }
    });
  },
  softmaxGrad: (dx, g, y) => {
    const o = buf(dx), gb = buf(g), yb = buf(y);
    rows([y, g], ([yo, go], [s, gs], n, d) => {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += gb[go + i * gs] * yb[yo + i * s];
      for (let i = 0; i < n; i++) {
        o[dx.offset + d + i] = yb[yo + i * s] * (gb[go + i * gs] - dot);
      }
    });
  },
  logSoftmaxGrad: (dx, g, y) => {
    const o = buf(dx), gb = buf(g), yb = buf(y);
    rows([y, g], ([yo, go], [s, gs], n, d) => {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += gb[go + i * gs];
      for (let i = 0; i < n; i++) {
        o[dx.offset + d + i] = gb[go + i * gs] - Math.exp(yb[yo + i * s]) * sum;
      }
    });
  },
  geluGrad: (dx, g, x) => {
    const o = buf(dx), gb = buf(g), xb = buf(x);
    rows([x, g], ([xo, go], [s, gs], n, d) => {
      for (let i = 0; i < n; i++) {
        const v = xb[xo + i * s], t = Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
        const du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * v * v);
        o[dx.offset + d + i] = gb[go + i * gs] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du);
      }
    });
  },
};
