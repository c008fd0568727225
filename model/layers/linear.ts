// torch.nn.Linear: weight [out, in] (the layout save_pretrained writes), optional bias [out].
// One 2-D matmul over the flattened leading axes; no data is read back.

import type { Device, Tensor } from "../../engine/mod.ts";
import { Module } from "../module.ts";
import { newParameter } from "./parameter.ts";

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Register a bias [out] (default true, as torch.nn.Linear). */
  bias?: boolean;
  /** Device of the (zero) weights; default cpu. */
  device?: Device;
}

/**
 * y = x W^T + b with W [out, in], as torch.nn.Linear.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { Linear } from "./linear.ts";
 * const proj = new Linear(8, 4, { bias: false });
 * proj.call(zeros([1, 3, 8])).shape; // [1, 3, 4]
 * ```
 */
export class Linear extends Module {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Creates zero weight [out, in] and, unless `bias` is false, zero bias [out]. */
  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super();
    const device = opts.device ?? "cpu";
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.addParameter("weight", newParameter([outFeatures, inFeatures], device));
    if (opts.bias ?? true) this.addParameter("bias", newParameter([outFeatures], device));
  }
  /** The [out, in] weight. */
  get weight(): Tensor {
    return this.parameter("weight");
  }
  /** Whether a bias is registered. */
  get hasBias(): boolean {
    return this.namedParameters().some(([p]) => p.endsWith("bias"));
  }
  /** The right operand of forward's matmul: W.T (in, out). */
  override matmulOperands(): Tensor[] {
    return [this.weight.transpose()];
  }
  /** x (..., in) -> (..., out). */
  forward(x: Tensor): Tensor {
    const w = this.weight; // (out, in)
    const lead = x.shape.slice(0, -1);
    let y = x.reshape(-1, this.inFeatures).matmul(w.transpose()); // (N, out)
    if (this.hasBias) y = y.add(this.parameter("bias"));
    return y.reshape(...lead, this.outFeatures); // (..., out)
  }
}
