// The backward rules of the fused row primitives (softmax, logSoftmax, gelu, layerNorm, rmsNorm,
// rotary): each input gradient is one fused backward kernel (or a rotary) on the output's device;
// parameter gradients are Tensor ops. Spread into rules.ts's BACKWARD table; imports nothing of it.

import type { View } from "../backend.ts";
import { slice } from "../index.ts";
import { cat, Tensor } from "../tensor.ts";
import type { BackwardRule, GradOp } from "./rules.ts";

/** Data of a "layerNorm" node. */
export interface LayerNormData {
  readonly eps: number;
}

/** Data of an "rmsNorm" node. */
export interface RmsNormData {
  readonly eps: number;
  readonly offset: number;
}

/** A float32 zero tensor on `like`'s device. */
export function zerosOn(like: Tensor, shape: readonly number[]): Tensor {
  let n = 1;
  for (const d of shape) n *= d;
  return new Tensor(like.backend.alloc(n, "float32"), shape);
}

/** Only where the input needs it: spares work for inputs without gradients. */
export const when = (need: boolean, f: () => Tensor): Tensor | null => (need ? f() : null);

/** Runs a fused input-gradient kernel on contiguous g and x (or y) into a fresh (..., C). */
function rowGrad(g: Tensor, x: Tensor, run: (dx: View, g: View, x: View) => void): Tensor {
  const dx = zerosOn(g, x.shape);
  run(dx.asView(), g.contiguous().asView(), x.contiguous().asView());
  return dx;
}

/** The fused primitives' rules and the backward kernels' (null: never on a tape). */
export const FUSED_RULES = {
  /** The tanh-form gelu, elementwise: one fused kernel. */
  gelu: { reads: "inputs", grads: ({ g, x: [x] }) => [rowGrad(g, x, g.backend.kernels.geluGrad)] },
  /** softmax and logSoftmax: one fused kernel each, from the output. */
  softmax: {
    reads: "output",
    grads: ({ g, y }) => [rowGrad(g, y, g.backend.kernels.softmaxGrad)],
  },
  logSoftmax: {
    reads: "output",
    grads: ({ g, y }) => [rowGrad(g, y, g.backend.kernels.logSoftmaxGrad)],
  },
  /**
   * (x (..., C), weight [C], bias [C]) -> y; x's gradient is the fused layerNormGrad kernel,
   * the parameters' come from xhat, recomputed from x.
   */
  layerNorm: {
    reads: "inputs",
    grads: ({ g, x: [x, w], needs, data }) => {
      const { eps } = data as LayerNormData;
      const C = x.shape[x.ndim - 1];
      const rows = (t: Tensor) => t.reshape(-1, C).sum(0); // [C]
      const xhat = () => {
        const xc = x.sub(x.mean(-1, true)); // (..., C)
        return xc.mul(xc.mul(xc).mean(-1, true).add(eps).rsqrt());
      };
      return [
        when(
          needs[0],
          () =>
            rowGrad(
              g,
              x,
              (dx, gv, xv) => g.backend.kernels.layerNormGrad(dx, gv, xv, w.asView(), eps),
            ),
        ),
        when(needs[1], () => rows(g.mul(xhat()))),
        when(needs[2], () => rows(g)),
      ];
    },
  },
  /** (x (..., C), weight [C]) -> y; x's gradient is the fused rmsNormGrad kernel. */
  rmsNorm: {
    reads: "inputs",
    grads: ({ g, x: [x, w], needs, data }) => {
      const { eps, offset } = data as RmsNormData;
      const C = x.shape[x.ndim - 1];
      return [
        when(
          needs[0],
          () =>
            rowGrad(
              g,
              x,
              (dx, gv, xv) => g.backend.kernels.rmsNormGrad(dx, gv, xv, w.asView(), eps, offset),
            ),
        ),
        when(needs[1], () => {
          const xhat = x.mul(x.mul(x).mean(-1, true).add(eps).rsqrt()); // (..., C)
          return g.mul(xhat).reshape(-1, C).sum(0);
        }),
      ];
    },
  },
  /**
   * (x (..., D), cos, sin (..., R) as expanded) -> y. The transpose of a rotation: x's gradient
   * is rotary(g, cos, sin') with sin' = -(sin's halves swapped), which is -sin for HF's tables.
   */
  rotary: {
    reads: "inputs",
    grads: ({ g, x: [x, c, s], needs }) => {
      const R = c.shape[c.ndim - 1], h = R / 2;
      const half = (t: Tensor, a: number, b: number) => t.get(["...", slice(a, b)]);
      return [
        when(needs[0], () => g.rotary(c, cat([half(s, h, R), half(s, 0, h)], -1).neg())),
        when(needs[1], () => half(g, 0, R).mul(half(x, 0, R))),
        when(needs[2], () => half(g, 0, R).mul(cat([half(x, h, R).neg(), half(x, 0, h)], -1))),
      ];
    },
  },
  /** Backward kernels: rules run with recording off, so they are never on a tape. */
  rmsNormGrad: null,
  layerNormGrad: null,
  softmaxGrad: null,
  logSoftmaxGrad: null,
  geluGrad: null,
} satisfies Partial<Record<GradOp, BackwardRule>>;
