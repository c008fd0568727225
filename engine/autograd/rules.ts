// Every backward rule, in one table keyed by op: the primitives of backend.ts's Kernels plus the
// layout edits (views). A rule maps the output's gradient to its inputs' gradients using Tensor
// ops only, so it runs on every device. Rules run with recording off; they never write inputs.

import type { Op } from "../backend.ts";
import type { IndexSpec } from "../index.ts";
import { Tensor, where } from "../tensor.ts";
import { FUSED_RULES, when, zerosOn } from "./fused_rules.ts";

export type { LayerNormData, RmsNormData } from "./fused_rules.ts";
import { attentionRule } from "./attention_grad.ts";

/** Layout edits that make views (no kernel runs): their gradients are layout edits too. */
export type LayoutOp = "expand" | "reshape" | "permute" | "index";

/** Every op the tape records: a primitive or a layout edit. */
export type GradOp = Op | LayoutOp;

/** What a rule sees: the output's gradient, the inputs, the output and the op's data. */
export interface RuleContext {
  /** d(loss)/d(output), the output's shape. */
  readonly g: Tensor;
  /** The inputs as recorded. */
  readonly x: readonly Tensor[];
  /** The output. */
  readonly y: Tensor;
  /** Which inputs need a gradient (others may get null). */
  readonly needs: readonly boolean[];
  /** Op-specific data recorded with the node. */
  readonly data: unknown;
}

/**
 * A backward rule. `reads` names what it reads, so an in-place edit of that after recording is
 * caught; `grads` returns one gradient (or null) per input, each of that input's shape.
 * A null rule marks an op without a gradient (integer results: comparisons, arg-reductions).
 */
export type BackwardRule = {
  readonly reads: "inputs" | "output" | "both" | "none";
  readonly grads: (c: RuleContext) => (Tensor | null)[];
} | null;

/** Data of a "copy" node: `regions[i]` of the output came from input i (after `base`, if any). */
export interface CopyData {
  /** Input 0 is the tensor written into in place; its gradient is g with the regions zeroed. */
  readonly base: boolean;
  /** Where each copied input landed in the output. */
  readonly regions: readonly IndexSpec[];
}

/** Data of a "topk" node. */
export interface TopkData {
  readonly indices: Tensor;
}

/** A gradient summed over the axes that broadcasting added or stretched, to `shape`. */
export function unbroadcast(g: Tensor, shape: readonly number[]): Tensor {
  while (g.ndim > shape.length) g = g.sum(0);
  const off = shape.length - g.ndim; // >0 only for leading unit axes (set drops them)
  for (let i = 0; i < g.ndim; i++) {
    if (shape[i + off] === 1 && g.shape[i] !== 1) g = g.sum(i, true);
  }
  return g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])
    ? g
    : g.reshape(...shape);
}

/** A rule for an elementwise op of one argument. */
const unary = (
  reads: "inputs" | "output" | "both",
  f: (g: Tensor, x: Tensor, y: Tensor) => Tensor,
): BackwardRule => ({ reads, grads: ({ g, x, y }) => [f(g, x[0], y)] });

/** A rule for a broadcasting binary op: each partial is unbroadcast to its input's shape. */
const binary = (
  reads: "inputs" | "output" | "both" | "none",
  da: (g: Tensor, a: Tensor, b: Tensor, y: Tensor) => Tensor,
  db: (g: Tensor, a: Tensor, b: Tensor, y: Tensor) => Tensor,
): BackwardRule => ({
  reads,
  grads: ({ g, x: [a, b], y, needs }) => [
    when(needs[0], () => unbroadcast(da(g, a, b, y), a.shape)),
    when(needs[1], () => unbroadcast(db(g, a, b, y), b.shape)),
  ],
});

/** max/min over the last axis: the gradient goes to the extremes, split evenly between ties. */
const extreme: BackwardRule = {
  reads: "both",
  grads: ({ g, x: [x], y }) => {
    const mask = x.eq(y.unsqueeze(-1)).astype("float32"); // (..., n)
    return [mask.mul(g.unsqueeze(-1)).div(mask.sum(-1, true))];
  },
};

/**
 * The backward rules, keyed by op. Typed `Record<GradOp, ...>`: a primitive added to Kernels
 * without a rule here (or a rule for no op) is a compile error.
 */
export const BACKWARD: Readonly<Record<GradOp, BackwardRule>> = {
  // ---- unary: x -> y --------------------------------------------------------------------
  neg: unary("inputs", (g) => g.neg()),
  exp: unary("output", (g, _x, y) => g.mul(y)),
  log: unary("inputs", (g, x) => g.div(x)),
  sqrt: unary("output", (g, _x, y) => g.div(y.mul(2))),
  rsqrt: unary("output", (g, _x, y) => g.mul(y.mul(y).mul(y)).mul(-0.5)),
  tanh: unary("output", (g, _x, y) => g.mul(y.mul(y).neg().add(1))),
  abs: unary("inputs", (g, x) => g.mul(x.gt(0).sub(x.lt(0)))),
  relu: unary("inputs", (g, x) => g.mul(x.gt(0))),
  sigmoid: unary("output", (g, _x, y) => g.mul(y.mul(y.neg().add(1)))),

  // ---- binary: (a, b) -> y, broadcast ------------------------------------------------------
  add: binary("none", (g) => g, (g) => g),
  sub: binary("none", (g) => g, (g) => g.neg()),
  mul: binary("inputs", (g, _a, b) => g.mul(b), (g, a) => g.mul(a)),
  div: binary("inputs", (g, _a, b) => g.div(b), (g, a, b) => g.mul(a).div(b.mul(b)).neg()),
  pow: binary(
    "both",
    (g, a, b) => g.mul(b).mul(a.pow(b.sub(1))),
    (g, a, _b, y) => g.mul(y).mul(a.log()),
  ),
  // Ties split the gradient evenly, as torch does.
  maximum: binary(
    "inputs",
    (g, a, b) => g.mul(a.gt(b).add(a.eq(b).mul(0.5))),
    (g, a, b) => g.mul(a.lt(b).add(a.eq(b).mul(0.5))),
  ),
  minimum: binary(
    "inputs",
    (g, a, b) => g.mul(a.lt(b).add(a.eq(b).mul(0.5))),
    (g, a, b) => g.mul(a.gt(b).add(a.eq(b).mul(0.5))),
  ),
  eq: null,
  gt: null,
  lt: null,

  // ---- last-axis reductions: x (..., n) -> y (...) -----------------------------------------
  sum: { reads: "none", grads: ({ g, x: [x] }) => [g.unsqueeze(-1).expand(...x.shape)] },
  max: extreme,
  min: extreme,
  argmax: null,
  argmin: null,

  // ---- data movement -----------------------------------------------------------------------
  /** float32 -> float32 only: integer tensors never carry gradients. */
  cast: { reads: "none", grads: ({ g }) => [g] },
  /** clone, cat and in-place set: see CopyData. */
  copy: {
    reads: "none",
    grads: ({ g, x, needs, data }) => {
      const { base, regions } = data as CopyData;
      const out: (Tensor | null)[] = [];
      if (base) {
        out.push(when(needs[0], () => {
          const gb = g.clone();
          for (const r of regions) gb.set(r, 0);
          return gb;
        }));
      }
      const first = base ? 1 : 0;
      for (let i = first; i < x.length; i++) {
        out.push(when(needs[i], () => unbroadcast(g.get(regions[i - first]), x[i].shape)));
      }
      return out;
    },
  },
  /** In-place fill of a region of input 0 (`set(index, number)`). */
  fill: {
    reads: "none",
    grads: ({ g, data }) => [g.clone().set(data as IndexSpec, 0)],
  },
  /** (cond, a, b) -> y; cond is an integer mask. */
  where: {
    reads: "inputs",
    grads: ({ g, x: [cond, a, b], needs }) => [
      null,
      when(needs[1], () => unbroadcast(where(cond, g, 0), a.shape)),
      when(needs[2], () => unbroadcast(where(cond, 0, g), b.shape)),
    ],
  },

  // ---- matmul: a (..., M, K) @ b (..., K, N) -> y (..., M, N), batch axes broadcast ----------
  matmul: {
    reads: "inputs",
    grads: ({ g, x: [a, b], needs }) => [
      when(needs[0], () => unbroadcast(g.matmul(b.transpose(-1, -2)), a.shape)),
      when(needs[1], () => unbroadcast(a.transpose(-1, -2).matmul(g), b.shape)),
    ],
  },

  // ---- fused rows: analytic gradients over the last axis (fused_rules.ts) ------------------
  ...FUSED_RULES,

  // ---- gathers: table [V, C], ids [N] -> y [N, C] ------------------------------------------
  gatherRows: {
    reads: "inputs",
    grads: ({ g, x: [table, ids] }) => {
      const out = zerosOn(g, table.shape); // scattered into directly: no copy of a vocab table
      g.backend.kernels.scatterAddRows(out.asView(), ids.asView(), g.asView());
      return [out, null];
    },
  },
  /** indexAdd: (dst [V, C], ids [N], src [N, C]) -> dst + scatter(src). */
  scatterAddRows: {
    reads: "inputs",
    grads: ({ g, x: [_dst, ids], needs }) => [g, null, when(needs[2], () => g.indexSelect(0, ids))],
  },
  /** x (..., n) -> values (..., k); the gradient goes back to the picked positions. */
  topk: {
    reads: "none",
    grads: ({ g, x: [x], data }) => {
      const n = x.shape[x.ndim - 1], k = g.shape[g.ndim - 1], rows = g.size / Math.max(k, 1);
      const base = new Int32Array(rows * k);
      for (let r = 0; r < rows; r++) base.fill(r * n, r * k, (r + 1) * k);
      const offsets = new Tensor(g.backend.fromData(base, { adopt: true }), [rows * k]);
      const ids = (data as TopkData).indices.reshape(-1).add(offsets); // [rows * k] int32
      const flat = zerosOn(g, [rows * n, 1]).indexAdd(0, ids, g.reshape(-1, 1));
      return [flat.reshape(...x.shape)];
    },
  },

  // ---- fused attention: see attention_grad.ts ---------------------------------------------
  attention: attentionRule,

  // ---- layout edits (views) ---------------------------------------------------------------
  expand: { reads: "none", grads: ({ g, x: [x] }) => [unbroadcast(g, x.shape)] },
  /** reshape, view, squeeze, unsqueeze, flatten. */
  reshape: { reads: "none", grads: ({ g, x: [x] }) => [g.reshape(...x.shape)] },
  permute: {
    reads: "none",
    grads: ({ g, data }) => {
      const dims = data as number[];
      const inv = new Array<number>(dims.length);
      dims.forEach((d, i) => (inv[d] = i));
      return [g.permute(...inv)];
    },
  },
  /** get(index): the gradient lands in the selected region of zeros. */
  index: {
    reads: "none",
    grads: ({ g, x: [x], data }) => [zerosOn(g, x.shape).set(data as IndexSpec, g)],
  },
};
