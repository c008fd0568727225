// Plain-TypeScript reference kernels: readable, strided, the oracle every other tier and
// device is tested against. Speed is secondary; correctness on any view is not.

import type {
  BinaryKernel,
  Kernels,
  ReduceKernel,
  TypedArray,
  UnaryKernel,
  View,
} from "../backend.ts";
import { eachBatch, eachRow, rowKernel } from "./strided.ts";
import { fusedReferenceKernels } from "./fused_reference.ts";
import { referenceAttention } from "./attention.ts";

const buf = (v: View) => v.storage.buf as TypedArray;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function unary(f: (x: number) => number): UnaryKernel {
  return (out, x) => {
    const o = buf(out), xb = buf(x);
    let oi = out.offset;
    eachRow(x.shape, [x.strides], [x.offset], (offs, n, inner) => {
      const s = inner[0];
      for (let i = 0, xo = offs[0]; i < n; i++, xo += s) o[oi++] = f(xb[xo]);
    });
  };
}

function binary(f: (a: number, b: number) => number): BinaryKernel {
  return (out, a, b) => {
    const o = buf(out), ab = buf(a), bb = buf(b);
    let oi = out.offset;
    eachRow(out.shape, [a.strides, b.strides], [a.offset, b.offset], (offs, n, inner) => {
      const [sa, sb] = inner;
      for (let i = 0, ao = offs[0], bo = offs[1]; i < n; i++, ao += sa, bo += sb) {
        o[oi++] = f(ab[ao], bb[bo]);
      }
    });
  };
}

/** Reduces each last-axis row with `step(acc, value)` from `init`; index kernels keep the first best. */
function reduce(
  init: number,
  step: (acc: number, v: number) => number,
  pickIndex = false,
): ReduceKernel {
  return (out, x) => {
    const o = buf(out), xb = buf(x);
    let oi = out.offset;
    eachRow(x.shape, [x.strides], [x.offset], (offs, n, inner) => {
      let acc = init;
      let best = 0;
      for (let i = 0, xo = offs[0]; i < n; i++, xo += inner[0]) {
        const next = step(acc, xb[xo]);
        if (next !== acc) best = i;
        acc = next;
      }
      o[oi++] = pickIndex ? best : acc;
    });
  };
}

function softmaxRow(log: boolean) {
  return rowKernel((x, xo, s, o, d, n) => {
    let max = -Infinity;
    for (let i = 0; i < n; i++) max = Math.max(max, x[xo + i * s]);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += Math.exp(x[xo + i * s] - max);
    if (log) {
      const lse = Math.log(sum);
      for (let i = 0; i < n; i++) o[d + i] = x[xo + i * s] - max - lse;
    } else {
      for (let i = 0; i < n; i++) o[d + i] = Math.exp(x[xo + i * s] - max) / sum;
    }
  });
}

/** The reference kernel table (cpu tier "reference"). */
export const referenceKernels = {
  neg: unary((x) => -x),
  exp: unary(Math.exp),
  log: unary(Math.log),
  sqrt: unary(Math.sqrt),
  rsqrt: unary((x) => 1 / Math.sqrt(x)),
  tanh: unary(Math.tanh),
  abs: unary(Math.abs),
  relu: unary((x) => (x > 0 ? x : 0)),
  gelu: unary((x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))),
  sigmoid: unary((x) => 1 / (1 + Math.exp(-x))),
  add: binary((a, b) => a + b),
  sub: binary((a, b) => a - b),
  mul: binary((a, b) => a * b),
  div: binary((a, b) => a / b),
  pow: binary(Math.pow),
  maximum: binary((a, b) => (a >= b || Number.isNaN(a) ? a : b)),
  minimum: binary((a, b) => (a <= b || Number.isNaN(a) ? a : b)),
  eq: binary((a, b) => (a === b ? 1 : 0)),
  gt: binary((a, b) => (a > b ? 1 : 0)),
  lt: binary((a, b) => (a < b ? 1 : 0)),
  sum: reduce(0, (acc, v) => acc + v),
  max: reduce(-Infinity, (acc, v) => (v > acc ? v : acc)),
  min: reduce(Infinity, (acc, v) => (v < acc ? v : acc)),
  argmax: reduce(-Infinity, (acc, v) => (v > acc ? v : acc), true),
  argmin: reduce(Infinity, (acc, v) => (v < acc ? v : acc), true),
  cast: (out, x) => {
    const toInt = out.storage.dtype === "int32";
    unary(toInt ? Math.trunc : (v) => v)(out, x);
  },
  copy: (dst, src) => {
    const d = buf(dst), s = buf(src);
    eachRow(dst.shape, [dst.strides, src.strides], [dst.offset, src.offset], (offs, n, inner) => {
      const [sd, ss] = inner;
      for (let i = 0, dO = offs[0], sO = offs[1]; i < n; i++, dO += sd, sO += ss) d[dO] = s[sO];
    });
  },
  fill: (dst, value) => {
    const d = buf(dst);
    eachRow(dst.shape, [dst.strides], [dst.offset], (offs, n, inner) => {
      for (let i = 0, dO = offs[0]; i < n; i++, dO += inner[0]) d[dO] = value;
    });
  },
  where: (out, cond, a, b) => {
    const o = buf(out), c = buf(cond), ab = buf(a), bb = buf(b);
    let oi = out.offset;
    const st = [cond.strides, a.strides, b.strides];
    eachRow(out.shape, st, [cond.offset, a.offset, b.offset], (offs, n, inner) => {
      let [co, ao, bo] = offs;
      for (let i = 0; i < n; i++, co += inner[0], ao += inner[1], bo += inner[2]) {
        o[oi++] = c[co] !== 0 ? ab[ao] : bb[bo];
      }
    });
  },
  matmul: (out, a, b) => {
    // a [..., M, K] @ b [..., K, N] -> out [..., M, N], accumulated in float64 per element.
    const o = buf(out), ab = buf(a), bb = buf(b);
    const r = a.shape.length;
    const [M, K] = [a.shape[r - 2], a.shape[r - 1]];
    const N = b.shape[r - 1];
    const [am, ak] = [a.strides[r - 2], a.strides[r - 1]];
    const [bk, bn] = [b.strides[r - 2], b.strides[r - 1]];
    let oi = out.offset;
    const row = new Float64Array(N);
    eachBatch(a.shape, [a.strides, b.strides], [a.offset, b.offset], 2, ([ao, bo]) => {
      for (let i = 0; i < M; i++) {
        row.fill(0);
        for (let k = 0; k < K; k++) {
          const aik = ab[ao + i * am + k * ak];
          if (aik === 0) continue;
          const base = bo + k * bk;
          for (let j = 0; j < N; j++) row[j] += aik * bb[base + j * bn];
        }
        for (let j = 0; j < N; j++) o[oi++] = row[j];
      }
    });
  },
  softmax: softmaxRow(false),
  logSoftmax: softmaxRow(true),
  layerNorm: (out, x, weight, bias, eps) => {
    const w = buf(weight), bi = buf(bias);
    rowKernel((xs, xo, s, o, d, n) => {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += xs[xo + i * s];
      mean /= n;
      let v = 0;
      for (let i = 0; i < n; i++) v += (xs[xo + i * s] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / n + eps);
      for (let i = 0; i < n; i++) {
        const wi = w[weight.offset + i * weight.strides[0]];
        const bv = bi[bias.offset + i * bias.strides[0]];
        o[d + i] = (xs[xo + i * s] - mean) * inv * wi + bv;
      }
    })(out, x);
  },
  gatherRows: (out, table, ids) => {
    const o = buf(out), t = buf(table), idb = buf(ids);
    const [V, C] = table.shape;
    const [tr, tc] = table.strides;
    let oi = out.offset;
    for (let n = 0; n < ids.shape[0]; n++) {
      const id = idb[ids.offset + n * ids.strides[0]];
      if (id < 0 || id >= V || !Number.isInteger(id)) {
        throw new RangeError(`gatherRows: id ${id} at position ${n} is out of range for ${V} rows`);
      }
      for (let c = 0, to = table.offset + id * tr; c < C; c++, to += tc) o[oi++] = t[to];
    }
  },
  scatterAddRows: (dst, ids, src) => {
    const d = buf(dst), s = buf(src), idb = buf(ids);
    const [V, C] = dst.shape;
    const [dr, dc] = dst.strides, [sr, sc] = src.strides;
    for (let n = 0; n < ids.shape[0]; n++) {
      const id = idb[ids.offset + n * ids.strides[0]];
      if (id < 0 || id >= V || !Number.isInteger(id)) {
        throw new RangeError(
          `scatterAddRows: id ${id} at position ${n} is out of range for ${V} rows`,
        );
      }
      let to = dst.offset + id * dr, so = src.offset + n * sr;
      for (let c = 0; c < C; c++, to += dc, so += sc) d[to] += s[so];
    }
  },
  topk: (values, indices, x, k) => {
    const v = buf(values), ix = buf(indices), xb = buf(x);
    let oi = 0;
    eachRow(x.shape, [x.strides], [x.offset], (offs, n, inner) => {
      const order = Array.from({ length: n }, (_, i) => i);
      const val = (i: number) => xb[offs[0] + i * inner[0]];
      // Descending by value; ties keep the lower index first; NaN sorts first like torch.
      order.sort((p, q) => {
        const a = val(p), b = val(q);
        if (Number.isNaN(a) || Number.isNaN(b)) {
          return Number.isNaN(a) ? (Number.isNaN(b) ? p - q : -1) : 1;
        }
        return b - a || p - q;
      });
      for (let j = 0; j < k; j++, oi++) {
        v[values.offset + oi] = val(order[j]);
        ix[indices.offset + oi] = order[j];
      }
    });
  },
  ...fusedReferenceKernels,
  attention: referenceAttention,
} satisfies Kernels;
