// Normalisations over the last axis: LayerNorm (gain and optional bias) and RMSNorm (Llama's
// w * x / rms(x), or Gemma's (1 + w) * x / rms(x)), each one fused engine primitive on the
// weights' device.

import type { Device, Tensor } from "../../engine/mod.ts";
import { Module } from "../module.ts";
import { newParameter } from "./parameter.ts";

/** Options of {@link LayerNorm}. */
export interface LayerNormOptions {
  /** Register a bias (default true). */
  bias?: boolean;
  /** Device of the weights; default cpu. */
  device?: Device;
}

/**
 * LayerNorm over the last axis with a learned gain and (optional) bias.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { LayerNorm } from "./norm.ts";
 * const ln = new LayerNorm(2, 1e-5);
 * ln.call(tensor([[1, 3]])); // zeros until weights are loaded (gain 0)
 * ```
 */
export class LayerNorm extends Module {
  /** The epsilon added to the variance. */
  readonly eps: number;
  readonly #bias: boolean;
  /** Creates zero gain (and bias) of size `n`. */
  constructor(n: number, eps: number, opts: LayerNormOptions | Device = {}) {
    super();
    const o = typeof opts === "string" ? { device: opts } : opts;
    const device = o.device ?? "cpu";
    this.eps = eps;
    this.#bias = o.bias ?? true;
    this.addParameter("weight", newParameter([n], device));
    if (this.#bias) this.addParameter("bias", newParameter([n], device));
  }
  /** (..., C) -> (..., C) normalised over C. */
  forward(x: Tensor): Tensor {
    const w = this.parameter("weight");
    if (this.#bias) return x.layerNorm(w, this.parameter("bias"), this.eps);
    return x.layerNorm(w, w.mul(0), this.eps);
  }
}

/** Options of {@link RMSNorm}. */
export interface RMSNormOptions {
  /** Scale by (1 + weight) instead of weight (Gemma's RMSNorm, weights stored as w - 1). */
  unitOffset?: boolean;
  /** Device of the weight; default cpu. */
  device?: Device;
}

/**
 * Root-mean-square norm over the last axis: x / sqrt(mean(x^2) + eps) * w (LlamaRMSNorm), or
 * * (1 + w) with `unitOffset` (Gemma2RMSNorm).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { RMSNorm } from "./norm.ts";
 * const norm = new RMSNorm(2, 1e-6, { unitOffset: true });
 * await norm.call(tensor([[3, 4]])).data(); // ~[0.8485, 1.1314] (weight 0 -> scale 1)
 * ```
 */
export class RMSNorm extends Module {
  /** The epsilon added to the mean square. */
  readonly eps: number;
  /** Whether the scale is 1 + weight. */
  readonly unitOffset: boolean;
  /** Creates a zero weight of size `n`. */
  constructor(n: number, eps: number, opts: RMSNormOptions = {}) {
    super();
    this.eps = eps;
    this.unitOffset = opts.unitOffset ?? false;
    this.addParameter("weight", newParameter([n], opts.device ?? "cpu"));
  }
  /** (..., C) -> (..., C). */
  forward(x: Tensor): Tensor {
    // One fused pass over C (the engine's rmsNorm primitive), float32 as HF computes it.
    return x.rmsNorm(this.parameter("weight"), { eps: this.eps, offset: this.unitOffset ? 1 : 0 });
  }
}
