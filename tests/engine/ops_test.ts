// Every Tensor op against hand-computed values or a plain-JS reference, one case per line
// (tinygrad's helper_test_op), on every device of tests/_devices.ts. Movement, indexing,
// in-place writes and creation have their own files.

import assert from "node:assert/strict";
import { cat, stack, type Tensor, tensor, where } from "../../engine/mod.ts";
import type { DType } from "../../engine/mod.ts";
import { bad, bcast, i32, matmulRef, nest, ok, reduceRef, table, vals } from "./_op_table.ts";

const gelu = (x: number) =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

// ---- unary ------------------------------------------------------------------------------

const X = [-2, -0.5, 0, 0.5, 2], XP = [0.25, 1, 2, 4];
const UNARY: [string, (t: Tensor) => Tensor, (x: number) => number, number[]][] = [
  ["neg", (t) => t.neg(), (x) => -x, X],
  ["exp", (t) => t.exp(), Math.exp, X],
  ["log", (t) => t.log(), Math.log, XP],
  ["sqrt", (t) => t.sqrt(), Math.sqrt, XP],
  ["rsqrt", (t) => t.rsqrt(), (x) => 1 / Math.sqrt(x), XP],
  ["tanh", (t) => t.tanh(), Math.tanh, X],
  ["abs", (t) => t.abs(), Math.abs, X],
  ["relu", (t) => t.relu(), (x) => Math.max(x, 0), X],
  ["sigmoid", (t) => t.sigmoid(), sigmoid, X],
  ["gelu", (t) => t.gelu(), gelu, [-3, -1, -0.5, 0, 0.5, 1, 3]],
];
// deno-fmt-ignore
table("unary", [
  ...UNARY.map(([name, fn, ref, xs]) => ok(`${name} vs Math`, fn, [xs], xs.map(ref))),
  // The same ops on a transposed (strided) view.
  ...UNARY.map(([name, fn, ref]) =>
    ok(`${name} strided`, (t) => fn(t.transpose()), [[[0.25, 1], [2, 4]]], [[ref(0.25), ref(2)], [ref(1), ref(4)]])
  ),
  ok("exp 0, log 1, sqrt 4", (t) => t.exp().add(t.add(1).log()).add(t.add(4).sqrt()), [[0]], [3]),
  ok("rsqrt 4 = 0.5", (t) => t.rsqrt(), [[4]], [0.5]),
  ok("sigmoid 0 = 0.5", (t) => t.sigmoid(), [0], 0.5),
  // gelu_new (tanh form), values from Python's math at float64; erf-gelu(1) would be 0.841345.
  ok("gelu values", (t) => t.gelu(), [[-3, -1, 0, 1, 3]], [-0.0036373921, -0.1588080094, 0, 0.8411919906, 2.9963626079]),
  ok("int32 sqrt is float32", (t) => t.sqrt(), [i32([1, 4, 9])], [1, 2, 3]),
  ok("int32 neg stays int32", (t) => t.neg(), [i32([1, -2])], [-1, 2], { dtype: "int32" }),
  ok("0-size", (t) => t.exp(), [[]], []),
]);

// ---- binary and broadcasting ----------------------------------------------------------------

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
  ["add", (a, b) => a.add(b), (a, b) => a + b],
  ["sub", (a, b) => a.sub(b), (a, b) => a - b],
  ["mul", (a, b) => a.mul(b), (a, b) => a * b],
  ["div", (a, b) => a.div(b), (a, b) => a / b],
  ["pow", (a, b) => a.abs().add(1).pow(b), (a, b) => (Math.abs(a) + 1) ** b],
  ["maximum", (a, b) => a.maximum(b), Math.max],
  ["minimum", (a, b) => a.minimum(b), Math.min],
  ["eq", (a, b) => a.eq(b), (a, b) => +(a === b)],
  ["gt", (a, b) => a.gt(b), (a, b) => +(a > b)],
  ["lt", (a, b) => a.lt(b), (a, b) => +(a < b)],
];
const PAIRS = [[[3, 1], [1, 4]], [[], [2, 3]], [[2, 3], []], [[4], [2, 4]], [[2, 1, 3], [4, 1]]];
const int = (name: string) => ["eq", "gt", "lt"].includes(name) ? "int32" : "float32";
// deno-fmt-ignore
table("binary", [
  ...BINARY.flatMap(([name, fn, ref]) =>
    PAIRS.map(([sa, sb]) => {
      const [a, b] = [vals(sa, 1), vals(sb, 5)];
      return ok(`${name} [${sa}] x [${sb}]`, fn, [a, b], bcast(ref, a, b), { dtype: int(name) });
    })
  ),
  ok("add [3,1] + [1,4]", (a, b) => a.add(b), [[[1], [2], [3]], [[10, 20, 30, 40]]], [[11, 21, 31, 41], [12, 22, 32, 42], [13, 23, 33, 43]]),
  ok("sub keeps operand order", (a, b) => a.sub(b), [[[1], [2]], [10, 20, 30]], [[-9, -19, -29], [-8, -18, -28]]),
  ok("mul by a number", (a) => a.mul(3), [[1, -2]], [3, -6]),
  ok("div", (a, b) => a.div(b), [[1, 2, 3], [2]], [0.5, 1, 1.5]),
  ok("pow", (a, b) => a.pow(b), [[2, 3, 4], [3, 2, 0.5]], [8, 9, 2]),
  ok("scalar tensor + [2,3]", (a, b) => a.add(b), [5, [[0, 1, 2], [3, 4, 5]]], [[5, 6, 7], [8, 9, 10]]),
  ok("scalar + scalar", (a, b) => a.mul(b), [3, 4], 12),
  ok("[0,3] + [3]", (a, b) => a.reshape(0, 3).add(b), [[], [1, 2, 3]], [], { shape: [0, 3] }),
  ok("[2,0] + [2,1]", (a, b) => a.reshape(2, 0).add(b), [[], [[1], [2]]], [], { shape: [2, 0] }),
  ok("[0] * [1]", (a, b) => a.mul(b), [[], [7]], [], { shape: [0] }),
  ok("comparisons give int32", (a, b) => a.eq(b).add(a.gt(b).mul(2)).add(a.lt(b).mul(4)), [[1, 2, 3], [2, 2, 2]], [4, 1, 2], { dtype: "int32" }),
  ok("maximum/minimum", (a, b) => a.maximum(b).sub(a.minimum(b)), [[1, 5, -3], [4, 2, -3]], [3, 3, 0]),
  bad("mismatched shapes", (a, b) => a.add(b), [[[1, 2, 3], [4, 5, 6]], [1, 2, 3, 4]], RangeError, /^add: shapes \[2, 3\] and \[4\] cannot be broadcast \(axis -1: 3 vs 4\)/),
  bad("[2] vs [0]", (a, b) => a.mul(b), [[1, 2], []], RangeError, /^mul: shapes \[2\] and \[0\]/),
  bad("not a tensor", (a) => a.sub("x" as unknown as number), [[1]], TypeError, /^sub: expected a Tensor or a number, got string "x"/),
  bad("an array", (a) => a.div([1] as unknown as number), [[1]], TypeError, /^div: expected a Tensor or a number, got an array \(wrap it with tensor\(\)\)/),
]);

// ---- int32 paths ------------------------------------------------------------------------------

// deno-fmt-ignore
table("int32", [
  ok("int + int stays int32", (a, b) => a.add(b), [i32([1, 2]), i32([3, 4])], [4, 6], { dtype: "int32" }),
  ok("int * int stays int32", (a, b) => a.mul(b).sub(a), [i32([3, -4]), i32([5, 6])], [12, -20], { dtype: "int32" }),
  ok("int + integer number stays int32", (a) => a.add(2), [i32([1, 2])], [3, 4], { dtype: "int32" }),
  ok("int + fractional number is float32", (a) => a.add(0.5), [i32([1, 2])], [1.5, 2.5]),
  ok("int + float tensor is float32", (a, b) => a.add(b), [i32([1, 2]), [0.25, 0.5]], [1.25, 2.5]),
  ok("int / int is float32", (a, b) => a.div(b), [i32([7, 1]), i32([2, 4])], [3.5, 0.25]),
  ok("int pow is float32", (a) => a.pow(2), [i32([3])], [9]),
  ok("int maximum stays int32", (a, b) => a.maximum(b), [i32([1, 9]), i32([5])], [5, 9], { dtype: "int32" }),
  ok("int comparisons are int32", (a, b) => a.gt(b), [i32([1, 9]), [5.5]], [0, 1], { dtype: "int32" }),
  ok("int sum stays int32", (a) => a.sum(), [i32([[1, 2], [3, 4]])], 10, { dtype: "int32" }),
  ok("int max stays int32", (a) => a.max(-1), [i32([[1, 2], [4, 3]])], [2, 4], { dtype: "int32" }),
  ok("int mean is float32", (a) => a.mean(), [i32([1, 2])], 1.5),
  ok("argmax is int32", (a) => a.argmax(-1), [[[0.5, 2], [3, 1]]], [1, 0], { dtype: "int32" }),
  ok("argmax of int32", (a) => a.argmax(), [i32([4, 9, 9, 2])], 1, { dtype: "int32" }),
]);

// ---- reductions -------------------------------------------------------------------------------

const R = vals([2, 3, 4], 3);
const REDUCE: [
  string,
  (t: Tensor, d?: number, k?: boolean) => Tensor,
  (r: number[]) => number,
  DType,
][] = [
  ["sum", (t, d, k) => t.sum(d, k), (r) => r.reduce((a, b) => a + b, 0), "float32"],
  ["mean", (t, d, k) => t.mean(d, k), (r) => r.reduce((a, b) => a + b, 0) / r.length, "float32"],
  ["max", (t, d, k) => t.max(d, k), (r) => Math.max(...r), "float32"],
  ["min", (t, d, k) => t.min(d, k), (r) => Math.min(...r), "float32"],
  ["argmax", (t, d, k) => t.argmax(d, k), (r) => r.indexOf(Math.max(...r)), "int32"],
  ["argmin", (t, d, k) => t.argmin(d, k), (r) => r.indexOf(Math.min(...r)), "int32"],
];
// deno-fmt-ignore
table("reductions", [
  ...REDUCE.flatMap(([name, fn, ref, dtype]) =>
    [undefined, 0, 1, 2, -1, -3].flatMap((d) =>
      [false, true].map((k) =>
        ok(`${name}(${d}, ${k})`, (t) => fn(t, d, k), [R], reduceRef(R, ref, d, k), { dtype })
      )
    )
  ),
  ...REDUCE.map(([name, fn, ref, dtype]) => {
    const want = reduceRef(vals([3, 4]), ref, 0); // dim 0 of the transposed [4, 3] is last-axis
    return ok(`${name} on a transposed view`, (t) => fn(t.transpose(), -1), [vals([3, 4])], want, { dtype });
  }),
  ok("sum of all", (t) => t.sum(), [[[1, 2], [3, 4]]], 10),
  ok("sum(0)", (t) => t.sum(0), [[[1, 2], [3, 4]]], [4, 6]),
  ok("sum(-1, keepdim)", (t) => t.sum(-1, true), [[[1, 2], [3, 4]]], [[3], [7]]),
  ok("mean keepdim of all", (t) => t.mean(undefined, true), [[[1, 2], [3, 6]]], [[3]]),
  ok("argmax ties pick the first", (t) => t.argmax(), [[1, 3, 3]], 1, { dtype: "int32" }),
  ok("argmin ties pick the first", (t) => t.argmin(), [[2, 1, 1]], 1, { dtype: "int32" }),
  ok("argmax of all is a flat index", (t) => t.argmax(), [[[1, 5], [6, 2]]], 2, { dtype: "int32" }),
  ok("sum over an empty axis is 0", (t) => t.reshape(0, 3).sum(0), [[]], [0, 0, 0]),
  bad("axis out of range", (t) => t.sum(2), [[[1]]], RangeError, /^sum: axis 2 is out of range for a tensor of rank 2 \(use -2 to 1\)/),
  bad("negative axis out of range", (t) => t.argmax(-3), [[[1]]], RangeError, /^argmax: axis -3 is out of range/),
  bad("fractional axis", (t) => t.mean(0.5), [[1]], TypeError, /^mean: axis 0.5 is not an integer/),
  bad("max of an empty axis", (t) => t.reshape(0, 3).max(0), [[]], RangeError, /^max: cannot reduce an empty axis 0/),
]);

// ---- softmax, logSoftmax, layerNorm ------------------------------------------------------------

const S = vals([2, 3, 4], 2);
const ONES = nest(Array(24).fill(1), [2, 3, 4]);
const expShift = (t: Tensor, d: number) => t.sub(t.max(d, true)).exp();
// deno-fmt-ignore
table("softmax", [
  ok("softmax [1,2,3]", (t) => t.softmax(), [[1, 2, 3]], [0.0900305732, 0.2447284711, 0.6652409558]),
  ok("softmax is shift invariant", (t) => t.softmax(), [[1000, 1001]], [0.2689414214, 0.7310585786]),
  ok("logSoftmax equal logits", (t) => t.logSoftmax(), [[1000, 1000]], [-Math.LN2, -Math.LN2]),
  ok("int32 softmax is float32", (t) => t.softmax(0), [i32([0, 0])], [0.5, 0.5]),
  ...[0, 1, 2, -1, -3].flatMap((d) => [
    ok(`softmax(${d}) rows sum to 1`, (t) => t.softmax(d).sum(d), [S], reduceRef(ONES, (r) => r.length / r.length, d)),
    ok(`logSoftmax(${d}) = log(softmax)`, (t) => t.logSoftmax(d).sub(t.softmax(d).log()).abs().max(), [S], 0),
    ok(`softmax(${d}) = exp(x - max) / sum`, (t) => t.softmax(d).sub(expShift(t, d).div(expShift(t, d).sum(d, true))).abs().max(), [S], 0),
  ]),
  bad("softmax axis out of range", (t) => t.softmax(2), [[[1]]], RangeError, /^softmax: axis 2 is out of range/),
]);

const LX = [[1, 2, 3, 4], [2, 2, 2, 2], [-1, 0.5, 0, 4.5]], LW = [1, 2, 1, 0.5], LB = [0, 0, 1, -1];
const lnRef = (x: number[][], w: number[], b: number[], eps: number) =>
  x.map((r) => {
    const m = r.reduce((s, v) => s + v, 0) / r.length;
    const v = r.reduce((s, q) => s + (q - m) ** 2, 0) / r.length;
    return r.map((q, i) => ((q - m) / Math.sqrt(v + eps)) * w[i] + b[i]);
  });
// deno-fmt-ignore
table("layerNorm", [
  // Row 0: mean 2.5, var 1.25; row 1 is constant so only the bias survives.
  ok("hand values", (x, w, b) => x.layerNorm(w, b), [LX.slice(0, 2), LW, LB], [[-1.3416354, -0.8944236, 1.4472118, -0.3291823], [0, 0, 1, -1]]),
  ok("vs JS, eps 0.1", (x, w, b) => x.layerNorm(w, b, 0.1), [LX, LW, LB], lnRef(LX, LW, LB, 0.1)),
  ok("strided input", (x, w, b) => x.transpose().layerNorm(w, b), [[[1, 2], [2, 2], [3, 2], [4, 2]], LW, LB], lnRef(LX.slice(0, 2), LW, LB, 1e-5)),
  bad("wrong weight shape", (x, w, b) => x.layerNorm(w, b), [LX, [1, 1, 1], LB], RangeError, /^layerNorm: weight has shape \[3\], expected \[4\] for input \[3, 4\]/),
  bad("wrong bias rank", (x, w, b) => x.layerNorm(w, b.reshape(1, 4)), [LX, LW, LB], RangeError, /^layerNorm: bias has shape \[1, 4\], expected \[4\]/),
]);

// ---- matmul -----------------------------------------------------------------------------------

const A = [[1, 2, 3], [4, 5, 6]], B = [[7, 8], [9, 10], [11, 12]];
const BA = vals([2, 1, 2, 3]) as number[][][][], BB = vals([3, 3, 2], 4) as number[][][];
// deno-fmt-ignore
table("matmul", [
  ok("[2,3] @ [3,2]", (a, b) => a.matmul(b), [A, B], [[58, 64], [139, 154]]),
  ok("[3] @ [3,2]", (a, b) => a.matmul(b), [[1, 2, 3], B], [58, 64]),
  ok("[2,3] @ [3]", (a, b) => a.matmul(b), [A, [1, 0, 1]], [4, 10]),
  ok("[3] @ [3]", (a, b) => a.matmul(b), [[1, 2, 3], [4, 5, 6]], 32),
  ok("b transposed view", (a, b) => a.matmul(b.transpose()), [A, [[7, 9, 11], [8, 10, 12]]], [[58, 64], [139, 154]]),
  ok("a transposed view", (a, b) => a.transpose().matmul(b), [[[1, 4], [2, 5], [3, 6]], B], [[58, 64], [139, 154]]),
  ok("int32 operands give float32", (a, b) => a.matmul(b), [i32(A), i32(B)], [[58, 64], [139, 154]]),
  ok("K = 0 gives zeros", (a, b) => a.reshape(2, 0).matmul(b.reshape(0, 2)), [[], []], [[0, 0], [0, 0]]),
  ok("batch broadcast [2,1,2,3] @ [3,3,2]", (a, b) => a.matmul(b), [BA, BB], BA.map((x) => BB.map((y) => matmulRef(x[0], y)))),
  ok("[2,3] @ [3,3,2] broadcasts a", (a, b) => a.matmul(b), [A, BB], BB.map((y) => matmulRef(A, y))),
  bad("inner mismatch", (a, b) => a.matmul(b), [A, A], RangeError, /^matmul: shapes \[2, 3\] and \[2, 3\] do not match \(3 != 2\)/),
  bad("batch mismatch", (a, b) => a.matmul(b), [vals([2, 2, 3]), BB], RangeError, /^matmul: shapes \[2\] and \[3\] cannot be broadcast/),
  bad("0-d operand", (a, b) => a.matmul(b), [2, A], TypeError, /^matmul: .*at least one axis.*\[\]/),
]);

// ---- indexSelect, topk, where, cat, stack -----------------------------------------------------

const T3 = [[0, 1], [10, 11], [20, 21]];
// deno-fmt-ignore
table("indexSelect and topk", [
  ok("indexSelect dim 0", (t, i) => t.indexSelect(0, i), [T3, i32([2, 0, 2])], [[20, 21], [0, 1], [20, 21]]),
  ok("indexSelect dim -1", (t, i) => t.indexSelect(-1, i), [T3, i32([1])], [[1], [11], [21]]),
  ok("indexSelect middle dim", (t, i) => t.indexSelect(1, i), [vals([2, 3, 2]), i32([2, 0])], (vals([2, 3, 2]) as number[][][]).map((m) => [m[2], m[0]])),
  ok("indexSelect int32 table", (t, i) => t.indexSelect(0, i), [i32([5, 6, 7]), i32([2, 2])], [7, 7], { dtype: "int32" }),
  ok("indexSelect no ids", (t, i) => t.indexSelect(0, i), [T3, i32([])], [], { shape: [0, 2] }),
  bad("indexSelect float ids", (t, i) => t.indexSelect(0, i), [T3, [1, 2]], TypeError, /^indexSelect: ids must be a 1-D int32 tensor, got float32 \[2\]/),
  bad("indexSelect axis", (t, i) => t.indexSelect(2, i), [T3, i32([0])], RangeError, /^indexSelect: axis 2 is out of range/),
  ok("topk values", (t) => t.topk(2).values, [[1, 3, 2, 3]], [3, 3]),
  ok("topk ties keep the lower index", (t) => t.topk(3).indices, [[1, 3, 2, 3]], [1, 3, 2], { dtype: "int32" }),
  ok("topk dim 0 values", (t) => t.topk(2, 0).values, [[[1, 5], [4, 2], [3, 3]]], [[4, 5], [3, 3]]),
  ok("topk dim 0 indices", (t) => t.topk(2, 0).indices, [[[1, 5], [4, 2], [3, 3]]], [[1, 0], [2, 2]], { dtype: "int32" }),
  ok("topk int32 keeps int32", (t) => t.topk(1).values, [i32([[4, 9], [8, 1]])], [[9], [8]], { dtype: "int32" }),
  ok("topk k = 0", (t) => t.topk(0).values, [[1, 2]], [], { shape: [0] }),
  ok("topk k = n sorts", (t) => t.topk(4).values, [[1, -1, 7, 2]], [7, 2, 1, -1]),
  bad("topk k > n", (t) => t.topk(5).values, [[1, 3, 2, 3]], RangeError, /^topk: k = 5 is out of range for an axis of size 4/),
  bad("topk k < 0", (t) => t.topk(-1).values, [[1]], RangeError, /^topk: k = -1 is out of range/),
  bad("topk axis", (t) => t.topk(1, 1).values, [[1]], RangeError, /^topk: axis 1 is out of range/),
]);

// deno-fmt-ignore
table("where, cat, stack", [
  ok("where", (c, a, b) => where(c, a, b), [i32([1, 0, 1]), [1, 2, 3], [10, 20, 30]], [1, 20, 3]),
  ok("where broadcasts", (c, a) => where(c, a, 0), [i32([[1], [0]]), [1, 2, 3]], [[1, 2, 3], [0, 0, 0]]),
  ok("where numbers", (c) => where(c, 1.5, -1), [[0, 2]], [-1, 1.5]),
  ok("x.where(cond, y)", (c, a) => a.where(c, -1), [i32([0, 1]), [5, 6]], [-1, 6]),
  bad("where shapes", (c, a, b) => where(c, a, b), [i32([1, 0]), [1, 2, 3], 0], RangeError, /^where: shapes \[2\] and \[3\] cannot be broadcast/),
  ok("cat dim 0", (a, b) => cat([a, b]), [[[1, 2]], [[3, 4], [5, 6]]], [[1, 2], [3, 4], [5, 6]]),
  ok("cat dim -1", (a, b) => cat([a, b], -1), [[[1], [2]], [[3, 4], [5, 6]]], [[1, 3, 4], [2, 5, 6]]),
  ok("cat views", (a) => cat([a.transpose(), a.get("1:, ::-1")], 0), [[[1, 2], [3, 4]]], [[1, 3], [2, 4], [4, 3]]),
  ok("cat int32 stays int32", (a, b) => cat([a, b]), [i32([1]), i32([2, 3])], [1, 2, 3], { dtype: "int32" }),
  ok("cat int32 + float32 is float32", (a, b) => cat([a, b]), [i32([1]), [2.5]], [1, 2.5]),
  ok("cat one tensor", (a) => cat([a]), [[1, 2]], [1, 2]),
  ok("stack dim 0", (a, b) => stack([a, b]), [[1, 2], [3, 4]], [[1, 2], [3, 4]]),
  ok("stack dim -1", (a, b) => stack([a, b], -1), [[1, 2], [3, 4]], [[1, 3], [2, 4]]),
  ok("stack scalars", (a, b) => stack([a, b]), [1, 2], [1, 2]),
  bad("cat nothing", () => cat([]), [], RangeError, /^cat: needs at least one tensor/),
  bad("cat shapes", (a, b) => cat([a, b]), [[[1, 2]], [[1, 2, 3]]], RangeError, /^cat: shapes \[1, 2\] and \[1, 3\] differ outside axis 0/),
  bad("cat ranks", (a, b) => cat([a, b]), [[[1, 2]], [1, 2]], RangeError, /^cat: shapes \[1, 2\] and \[2\]/),
  bad("cat axis", (a, b) => cat([a, b], 2), [[[1]], [[1]]], RangeError, /^cat: axis 2 is out of range/),
  bad("cat scalars", (a, b) => cat([a, b]), [1, 2], RangeError, /^cat: axis 0 is out of range for a tensor of rank 0/),
  bad("stack nothing", () => stack([]), [], RangeError, /^stack: needs at least one tensor/),
  bad("stack shapes", (a, b) => stack([a, b]), [[1, 2], [1, 2, 3]], RangeError, /^stack: shapes \[2\] and \[3\] differ/),
  bad("stack axis", (a, b) => stack([a, b], 3), [[1], [2]], RangeError, /^stack: axis 3 is out of range for a tensor of rank 2/),
]);

// indexSelect ids are checked by the kernel, which only the cpu can do before reading back.
Deno.test("indexSelect: an id out of range is a RangeError naming it", () => {
  const t = tensor([[1, 2], [3, 4]]);
  assert.throws(() => t.indexSelect(0, tensor([0, 2], undefined, { dtype: "int32" })), {
    name: "RangeError",
    message: /id 2 at position 1 is out of range for 2 rows/,
  });
});
