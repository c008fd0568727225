// Every backward rule against central finite differences, one line per case, on every device
// (cpu/reference, cpu/fast, webgpu); a last test checks that the cases reach every rule.

import assert from "node:assert/strict";
import {
  attention,
  BACKWARD,
  cat,
  slice,
  stack,
  type Tensor,
  tensor,
  where,
} from "../../engine/mod.ts";
import { away, gc, type GradCase, gradTable, ints, pos, tapeOps } from "./_grad_table.ts";

const UNARY: GradCase[] = [
  gc("neg", (x) => x.neg(), [[2, 3]]),
  gc("exp", (x) => x.exp(), [[2, 3]]),
  gc("log", (x) => x.log(), [pos(2, 3)]),
  gc("sqrt", (x) => x.sqrt(), [pos(2, 3)]),
  gc("rsqrt", (x) => x.rsqrt(), [pos(2, 3)]),
  gc("tanh", (x) => x.tanh(), [[2, 3]]),
  gc("abs", (x) => x.abs(), [away(2, 3)]),
  gc("relu", (x) => x.relu(), [away(2, 3)]),
  gc("gelu", (x) => x.gelu(), [[3, 4]]),
  gc("sigmoid", (x) => x.sigmoid(), [[2, 3]]),
  gc("exp of a transposed view", (x) => x.transpose().exp(), [[2, 3]]),
];

const BINARY: GradCase[] = [
  gc("add [2,3] + [3]", (a, b) => a.add(b), [[2, 3], [3]]),
  gc("add a scalar", (a) => a.add(2), [[2, 3]]),
  gc("sub [2,1] - [1,3]", (a, b) => a.sub(b), [[2, 1], [1, 3]]),
  gc("mul [2,3] * [2,1]", (a, b) => a.mul(b), [[2, 3], [2, 1]]),
  gc("mul x * x", (a) => a.mul(a), [[2, 3]]),
  gc("div", (a, b) => a.div(b), [[2, 3], away(3)]),
  gc("pow", (a, b) => a.pow(b), [pos(2, 3), [2, 3]]),
  gc("pow by a number", (a) => a.pow(3), [[2, 3]]),
  gc("maximum", (a, b) => a.maximum(b), [[2, 3], [2, 3]]),
  gc("minimum, broadcast", (a, b) => a.minimum(b), [[2, 3], [3]]),
  gc("where(cond, a, b), broadcast", (c, a, b) => where(c, a, b), [
    ints([1, 0, 1, 0, 0, 1], [2, 3]),
    [2, 3],
    [3],
  ]),
  gc("where with a number", (c, a) => where(c, 0.5, a), [ints([1, 0, 1], [3]), [2, 3]]),
  gc(
    "comparisons give no gradient",
    (a, b) => a.mul(a.gt(b)).add(a.lt(b)).add(a.eq(b)),
    [[2, 3], [2, 3]],
  ),
];

const REDUCE: GradCase[] = [
  gc("sum all", (x) => x.sum(), [[2, 3]]),
  gc("sum dim 0", (x) => x.sum(0), [[2, 3]]),
  gc("sum dim -1 keepdim", (x) => x.sum(-1, true), [[2, 3, 2]]),
  gc("mean dim 1", (x) => x.mean(1), [[2, 3, 2]]),
  gc("max dim -1", (x) => x.max(-1), [[3, 4]]),
  gc("max all", (x) => x.max(), [[3, 4]]),
  gc("min dim 0", (x) => x.min(0), [[3, 4]]),
  gc("arg-reductions give no gradient", (x) => x.mul(x.argmax(-1, true)), [[3, 4]]),
];

const ROWS: GradCase[] = [
  gc("softmax", (x) => x.softmax(), [[3, 5]]),
  gc("softmax dim 0", (x) => x.softmax(0), [[3, 5]]),
  gc("logSoftmax", (x) => x.logSoftmax(), [[3, 5]]),
  gc("layerNorm (x, weight, bias)", (x, w, b) => x.layerNorm(w, b), [[2, 3, 6], [6], [6]]),
  gc("layerNorm eps 0.1", (x, w, b) => x.layerNorm(w, b, 0.1), [[4, 5], [5], [5]]),
  gc("rmsNorm (x, weight)", (x, w) => x.rmsNorm(w), [[2, 3, 6], [6]]),
  gc("rmsNorm Gemma offset, eps 0.1", (x, w) => x.rmsNorm(w, { eps: 0.1, offset: 1 }), [
    [4, 5],
    [5],
  ]),
  gc("rmsNorm of a transposed view", (x, w) => x.transpose().rmsNorm(w), [[5, 3], [5]]),
  gc("rotary (x, cos, sin), tables broadcast", (x, c, s) => x.rotary(c, s), [
    [2, 2, 3, 4],
    [2, 1, 3, 4],
    [2, 1, 3, 4],
  ]),
  gc(
    "rotary partial (R = 4 of D = 6), permuted x",
    (x, c, s) => x.permute(0, 2, 1, 3).rotary(c, s),
    [[1, 3, 2, 6], [3, 4], [3, 4]],
  ),
  gc("matmul [2,3] @ [3,4]", (a, b) => a.matmul(b), [[2, 3], [3, 4]]),
  gc("matmul batched, broadcast", (a, b) => a.matmul(b), [[2, 2, 3], [3, 2]]),
  gc("matmul batched both", (a, b) => a.matmul(b), [[2, 1, 2, 3], [1, 2, 3, 2]]),
  gc("matmul vec @ mat", (a, b) => a.matmul(b), [[3], [3, 2]]),
  gc("matmul mat @ vec", (a, b) => a.matmul(b), [[2, 3], [3]]),
  gc("matmul vec @ vec", (a, b) => a.matmul(b), [[3], [3]]),
  gc("matmul M = 4, b strided (webgpu row4 kernel)", (a, b) => a.matmul(b.transpose()), [
    [4, 3],
    [5, 3],
  ]),
  gc("matmul of transposed views", (a, b) => a.transpose().matmul(b.transpose()), [[3, 2], [
    4,
    3,
  ]]),
];

const GATHER: GradCase[] = [
  gc("indexSelect dim 0, repeated ids", (t, i) => t.indexSelect(0, i), [
    [4, 3],
    ints([2, 0, 2, 3]),
  ]),
  gc("indexSelect dim 1", (t, i) => t.indexSelect(1, i), [[2, 4, 3], ints([3, 1, 3])]),
  gc("indexAdd dim 0, repeated ids", (t, i, s) => t.indexAdd(0, i, s), [
    [4, 3],
    ints([1, 1, 3]),
    [3, 3],
  ]),
  gc("indexAdd dim 1", (t, i, s) => t.indexAdd(1, i, s), [[2, 3], ints([2, 0]), [2, 2]]),
  gc("topk values", (x) => x.topk(2).values, [[3, 5]]),
  gc("topk dim 0", (x) => x.topk(2, 0).values, [[4, 3]]),
];

const MOVEMENT: GradCase[] = [
  gc("expand", (x) => x.expand(2, 3, 4), [[3, 1]]),
  gc("reshape", (x, w) => x.reshape(3, 2).mul(w), [[2, 3], [2]]),
  gc("reshape of a transposed view (copies)", (x) => x.transpose().reshape(-1), [[2, 3]]),
  gc("view", (x) => x.view(6), [[2, 3]]),
  gc("flatten", (x) => x.flatten(), [[2, 3]]),
  gc("permute", (x) => x.permute(2, 0, 1), [[2, 3, 2]]),
  gc("transpose", (x) => x.transpose(0, 1), [[2, 3]]),
  gc("squeeze, unsqueeze", (x) => x.squeeze().unsqueeze(0).squeeze(0), [[2, 1, 3]]),
  gc("get ':, -1'", (x) => x.get(":, -1"), [[2, 3]]),
  gc("get with a step and null", (x) => x.get(["...", slice(null, null, -2), null]), [[2, 5]]),
  gc("get twice overlapping", (x) => x.get("0").add(x.get(":, 1").sum()), [[2, 3]]),
  gc("clone", (x) => x.clone(), [[2, 3]]),
  gc("contiguous of a view", (x) => x.transpose().contiguous(), [[2, 3]]),
  gc("cat dim 0", (a, b) => cat([a, b]), [[1, 3], [2, 3]]),
  gc("cat dim 1, same tensor twice", (a) => cat([a, a.exp()], 1), [[2, 2]]),
  gc("stack", (a, b) => stack([a, b], 1), [[2, 3], [2, 3]]),
  gc("set a region from a tensor", (x, v) => x.mul(1).set(":, 1", v), [[2, 3], [2]]),
  gc("set broadcasts the value", (x, v) => x.mul(2).set("0", v), [[2, 3], [1, 1]]),
  gc(
    "set into a tensor without gradient",
    (v, z) => z.astype("float32").set("1", v),
    [[2], ints([0, 0, 0, 0], [2, 2])],
  ),
  gc("fill a region", (x) => x.mul(x).set("1, :", 0.5), [[2, 3]]),
  gc("fill all", (x) => x.mul(3).fill(2).add(x), [[2, 3]]),
];

const COMPOSITE: GradCase[] = [
  gc("attention-like", (q, k, v) => {
    const att = q.matmul(k.transpose()).mul(1 / Math.sqrt(4)).softmax(); // (2, 3, 3)
    return att.matmul(v).gelu(); // (2, 3, 4)
  }, [[2, 3, 4], [2, 3, 4], [2, 3, 4]]),
  gc("cross entropy", (logits, ids) => {
    const lp = logits.logSoftmax(); // (3, 5)
    return lp.get(":, 0").add(lp.get(":, 2")).mean().neg().add(ids.sum().mul(0));
  }, [[3, 5], ints([1])]),
];

/** The fused attention primitive (engine/attention.ts): q, k, v and the additive bias. */
const ATTENTION: GradCase[] = [
  gc(
    "attention causal, GQA, cache offset, bias",
    (q, k, v, bias) => attention(q, k, v, { causal: true, bias })[0],
    [[1, 4, 3, 4], [1, 2, 5, 4], [1, 2, 5, 4], [
      1,
      1,
      3,
      5,
    ]],
  ),
  gc(
    "attention window and softcap",
    (q, k, v) => attention(q, k, v, { causal: true, window: 2, softcap: 1.5, scale: 0.8 })[0],
    [[1, 2, 3, 4], [1, 1, 4, 4], [1, 1, 4, 4]],
  ),
  gc(
    "attention strided q, not causal",
    (q, k, v) => attention(q.transpose(1, 2), k, v)[0].mul(v.sum()),
    [[2, 3, 2, 4], [2, 2, 3, 4], [2, 2, 3, 4]],
  ),
];

const GROUPS: [string, GradCase[]][] = [
  ["unary", UNARY],
  ["binary", BINARY],
  ["reductions", REDUCE],
  ["rows and matmul", ROWS],
  ["gathers", GATHER],
  ["movement", MOVEMENT],
  ["composites", COMPOSITE],
  ["attention", ATTENTION],
];
for (const [name, cases] of GROUPS) gradTable(name, cases);

Deno.test("the gradient table reaches every backward rule", () => {
  const seen = new Set<string>();
  for (const [, cases] of GROUPS) {
    for (const c of cases) {
      const xs = c.inputs.map((s) =>
        Array.isArray(s)
          ? tensor(new Float32Array(s.reduce((a, b) => a * b, 1)).fill(0.5), s).requiresGrad()
          : "int" in s
          ? tensor(Int32Array.from(s.int), s.shape ?? [s.int.length])
          : tensor(new Float32Array(s.shape.reduce((a, b) => a * b, 1)).fill(0.5), s.shape)
            .requiresGrad()
      );
      for (const op of tapeOps(c.fn(...xs) as Tensor)) seen.add(op);
    }
  }
  // cast only ever records float32 -> float32, which astype skips: no case can reach it.
  const reachable = Object.entries(BACKWARD).filter(([op, r]) => r !== null && op !== "cast");
  const missing = reachable.map(([op]) => op).filter((op) => !seen.has(op));
  assert.deepEqual(missing, [], `ops without a gradient case: ${missing.join(", ")}`);
});
