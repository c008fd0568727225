// MLP activations by HuggingFace's ACT2FN names (tanh and exact GELU, relu, silu, quick_gelu) as
// composites of tensor ops, so each runs on every device. Elementwise only.

import type { Tensor } from "../../engine/mod.ts";
import { Module } from "../module.ts";

/** Activation names a config may give (`hidden_act`, `activation_function`); the tanh forms are one function. */
export const ACTIVATIONS = [
  "gelu_new",
  "gelu_pytorch_tanh",
  "gelu_fast",
  "gelu",
  "relu",
  "silu",
  "quick_gelu",
] as const;

/** One of {@link ACTIVATIONS}. */
export type ActivationName = typeof ACTIVATIONS[number];

const SQRT1_2 = Math.SQRT1_2;
// Chebyshev fit of erfc (Numerical Recipes `erfcc`): fractional error < 1.2e-7 for all z >= 0.
const ERFC_COEFFS = [
  -1.26551223,
  1.00002368,
  0.37409196,
  0.09678418,
  -0.18628806,
  0.27886807,
  -1.13520398,
  1.48851587,
  -0.82215223,
  0.17087277,
];

/**
 * Exact (erf) GELU, 0.5x(1 + erf(x/sqrt 2)), as a composite of tensor ops so it runs on every
 * device. Uses erfc of |x|/sqrt 2 (relative error < 1.2e-7), so the negative tail keeps its
 * relative accuracy instead of cancelling in 1 + erf.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { geluExact } from "./activation.ts";
 * await geluExact(tensor([1])).data(); // [0.8413447]
 * ```
 */
export function geluExact(x: Tensor): Tensor {
  const z = x.abs().mul(SQRT1_2); // |x| / sqrt 2
  const t = z.mul(0.5).add(1).pow(-1); // 1 / (1 + z/2)
  let poly = t.mul(ERFC_COEFFS[9]);
  for (let i = 8; i >= 1; i--) poly = poly.add(ERFC_COEFFS[i]).mul(t);
  const erfc = t.mul(poly.add(ERFC_COEFFS[0]).sub(z.mul(z)).exp()); // erfc(|x| / sqrt 2)
  // 1 + erf(x/sqrt 2) = erfc(|z|) for x < 0, 2 - erfc(|z|) otherwise.
  const onePlusErf = erfc.where(x.lt(0), erfc.neg().add(2));
  return x.mul(onePlusErf).mul(0.5);
}

/**
 * The MLP activation named by `config.activation_function` (HuggingFace's ACT2FN):
 * gelu_new / gelu_pytorch_tanh / gelu_fast (tanh GELU), gelu (exact erf), relu, silu, quick_gelu.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Activation } from "./activation.ts";
 * new Activation("relu").call(tensor([-1, 2])); // [0, 2]
 * ```
 */
export class Activation extends Module {
  /** The function applied. */
  readonly kind: ActivationName;
  /** Picks the function; throws RangeError for an unknown name. */
  constructor(kind: ActivationName) {
    super();
    if (!ACTIVATION_FNS[kind]) {
      throw new RangeError(
        `Unknown activation "${kind}": use one of ${Object.keys(ACTIVATION_FNS).join(", ")}`,
      );
    }
    this.kind = kind;
  }
  /** Applies the activation elementwise. */
  forward(x: Tensor): Tensor {
    return ACTIVATION_FNS[this.kind](x);
  }
}

const ACTIVATION_FNS: Record<ActivationName, (x: Tensor) => Tensor> = {
  gelu_new: (x) => x.gelu(),
  gelu_pytorch_tanh: (x) => x.gelu(),
  gelu_fast: (x) => x.gelu(),
  gelu: geluExact,
  relu: (x) => x.relu(),
  silu: (x) => x.mul(x.sigmoid()),
  quick_gelu: (x) => x.mul(x.mul(1.702).sigmoid()),
};
