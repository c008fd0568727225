// The cpu fast tier's elementwise and row kernels: one loop compiled per op with `new
// Function`, so each op has its own monomorphic inner loop (a shared closure calling `f(x)` per
// element is megamorphic and ~10x slower), plus tight contiguous paths for rows.

import type { BinaryOp, Kernels, TypedArray, UnaryOp, View } from "../backend.ts";
import { isContiguous, numel } from "../layout.ts";
import { eachBatch, eachRow, rowKernel } from "./strided.ts";

const buf = (v: View) => v.storage.buf as TypedArray;

/** Each unary op as an expression of `x` (float64 arithmetic, rounded on store). */
const UNARY_EXPR: Record<UnaryOp, string> = {
  neg: "-x",
  exp: "Math.exp(x)",
  log: "Math.log(x)",
  sqrt: "Math.sqrt(x)",
  rsqrt: "1 / Math.sqrt(x)",
  tanh: "Math.tanh(x)",
  abs: "Math.abs(x)",
  relu: "x > 0 ? x : 0",
  // gelu_new as x * sigmoid(2z): the same function as 0.5x(1 + tanh z), one exp instead of a
  // tanh (faster in V8), no cancellation for negative x; |exponent| <= 80 keeps exp on its
  // fast path and changes nothing in float32.
  gelu: `x / (1 + Math.exp(Math.min(80, Math.max(-80, ${
    -2 * Math.sqrt(2 / Math.PI)
  } * (x + 0.044715 * x * x * x)))))`,
  sigmoid: "1 / (1 + Math.exp(-x))",
};

/** Each binary op as an expression of `x` and `y`; NaN propagates through maximum/minimum. */
const BINARY_EXPR: Record<BinaryOp, string> = {
  add: "x + y",
  sub: "x - y",
  mul: "x * y",
  div: "x / y",
  pow: "Math.pow(x, y)",
  maximum: "x >= y || x !== x ? x : y",
  minimum: "x <= y || x !== x ? x : y",
  eq: "x === y ? 1 : 0",
  gt: "x > y ? 1 : 0",
  lt: "x < y ? 1 : 0",
};

type Row1 = (o: TypedArray, oi: number, a: TypedArray, ao: number, sa: number, n: number) => void;
type Row2 = (
  o: TypedArray,
  oi: number,
  a: TypedArray,
  ao: number,
  sa: number,
  b: TypedArray,
  bo: number,
  sb: number,
  n: number,
) => void;

function unary(expr: string) {
  const row = new Function(
    "o, oi, a, ao, sa, n",
    `for (let i = 0; i < n; i++, ao += sa) { const x = a[ao]; o[oi + i] = ${expr}; }`,
  ) as Row1;
  return (out: View, x: View) => {
    const o = buf(out), xb = buf(x);
    if (isContiguous(x.shape, x.strides)) {
      return row(o, out.offset, xb, x.offset, 1, numel(x.shape));
    }
    let oi = out.offset;
    eachRow(x.shape, [x.strides], [x.offset], (offs, n, inner) => {
      row(o, oi, xb, offs[0], inner[0], n);
      oi += n;
    });
  };
}

function binary(expr: string) {
  const row = new Function(
    "o, oi, a, ao, sa, b, bo, sb, n",
    `for (let i = 0; i < n; i++, ao += sa, bo += sb) { const x = a[ao], y = b[bo]; o[oi + i] = ${expr}; }`,
  ) as Row2;
  return (out: View, a: View, b: View) => {
    const o = buf(out), ab = buf(a), bb = buf(b);
    if (isContiguous(a.shape, a.strides) && isContiguous(b.shape, b.strides)) {
      return row(o, out.offset, ab, a.offset, 1, bb, b.offset, 1, numel(out.shape));
    }
    let oi = out.offset;
    eachRow(out.shape, [a.strides, b.strides], [a.offset, b.offset], (offs, n, inner) => {
      row(o, oi, ab, offs[0], inner[0], bb, offs[1], inner[1], n);
      oi += n;
    });
  };
}

function softmaxRow(x: TypedArray, xo: number, s: number, o: TypedArray, oi: number, n: number) {
  let max = -Infinity;
  for (let i = 0, p = xo; i < n; i++, p += s) if (x[p] > max) max = x[p];
  let sum = 0;
  for (let i = 0, p = xo; i < n; i++, p += s) {
    // Below -104, exp underflows float32 to 0; skipping it avoids V8's slow path for the huge
    // negative scores that attention masks produce.
    const d = x[p] - max;
    const e = d < -104 ? 0 : Math.exp(d);
    o[oi + i] = e;
    sum += e;
  }
  // o holds float32-rounded exponentials; dividing those keeps rows summing to 1 within 1e-7.
  const inv = 1 / sum;
  for (let i = 0; i < n; i++) o[oi + i] *= inv;
}

function logSoftmaxRow(x: TypedArray, xo: number, s: number, o: TypedArray, oi: number, n: number) {
  let max = -Infinity;
  for (let i = 0, p = xo; i < n; i++, p += s) if (x[p] > max) max = x[p];
  let sum = 0;
  for (let i = 0, p = xo; i < n; i++, p += s) {
    const d = x[p] - max;
    if (d > -104) sum += Math.exp(d);
  }
  const shift = max + Math.log(sum);
  for (let i = 0, p = xo; i < n; i++, p += s) o[oi + i] = x[p] - shift;
}

/** Rotary with the rotation pairs in registers; x, cos and sin rows at any inner stride. */
function rotary(out: View, x: View, cos: View, sin: View): void {
  const o = buf(out), xb = buf(x), cb = buf(cos), sb = buf(sin);
  const r = x.shape.length, D = x.shape[r - 1], R = cos.shape[r - 1], h = R / 2;
  const [sx, sc, ss] = [x.strides[r - 1], cos.strides[r - 1], sin.strides[r - 1]];
  let d = out.offset;
  const views = [x.strides, cos.strides, sin.strides];
  eachBatch(x.shape, views, [x.offset, cos.offset, sin.offset], 1, ([xo, co, so]) => {
    for (let i = 0; i < h; i++) {
      const a = xb[xo + i * sx], b = xb[xo + (i + h) * sx];
      o[d + i] = a * cb[co + i * sc] - b * sb[so + i * ss];
      o[d + i + h] = b * cb[co + (i + h) * sc] + a * sb[so + (i + h) * ss];
    }
    for (let i = R; i < D; i++) o[d + i] = xb[xo + i * sx];
    d += D;
  });
}

/**
 * gelu's input gradient over contiguous g and x (the rule passes them so): gelu'(x) = s + 2x s
 * (1 - s) du with s = sigmoid(2u), one exp per element instead of the reference's tanh.
 */
function geluGrad(dx: View, g: View, x: View): void {
  const o = buf(dx), gb = buf(g), xb = buf(x), n = numel(x.shape);
  const [oo, go, xo] = [dx.offset, g.offset, x.offset];
  const c = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < n; i++) {
    const v = xb[xo + i];
    const e = Math.exp(Math.min(80, Math.max(-80, -2 * c * (v + 0.044715 * v * v * v))));
    const s = 1 / (1 + e);
    o[oo + i] = gb[go + i] * (s + 2 * v * s * (1 - s) * c * (1 + 3 * 0.044715 * v * v));
  }
}

/** Compiled kernels that replace the reference ones in the fast tier. */
export const compiledKernels = {
  ...Object.fromEntries(
    Object.entries(UNARY_EXPR).map(([op, expr]) => [op, unary(expr)]),
  ) as Pick<Kernels, UnaryOp>,
  ...Object.fromEntries(
    Object.entries(BINARY_EXPR).map(([op, expr]) => [op, binary(expr)]),
  ) as Pick<Kernels, BinaryOp>,
  rotary,
  geluGrad,
  softmax: rowKernel(softmaxRow),
  logSoftmax: rowKernel(logSoftmaxRow),
  layerNorm: (out: View, x: View, weight: View, bias: View, eps: number) => {
    const w = buf(weight), b = buf(bias);
    const [wo, ws, bo, bs] = [weight.offset, weight.strides[0], bias.offset, bias.strides[0]];
    rowKernel((xs, xo, s, o, oi, n) => {
      let mean = 0;
      for (let i = 0, p = xo; i < n; i++, p += s) mean += xs[p];
      mean /= n;
      let v = 0;
      for (let i = 0, p = xo; i < n; i++, p += s) {
        const d = xs[p] - mean;
        v += d * d;
      }
      const inv = 1 / Math.sqrt(v / n + eps);
      for (let i = 0, p = xo; i < n; i++, p += s) {
        o[oi + i] = (xs[p] - mean) * inv * w[wo + i * ws] + b[bo + i * bs];
      }
    })(out, x);
  },
} satisfies Partial<Kernels>;
