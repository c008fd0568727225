// The gated feed-forward block of Llama-style decoders: down(act(gate(x)) * up(x)). The
// activation is configurable (silu for Llama/Qwen/Mistral, gelu_pytorch_tanh for Gemma).

import type { Device, Tensor } from "../../engine/mod.ts";
import { Module } from "../module.ts";
import { Activation, type ActivationName } from "./activation.ts";
import { Linear } from "./linear.ts";

/**
 * The point of every family's MLP (`mlp.source.act`): the activation's output, and for gated
 * MLPs the gated product act(gate(x)) * up(x), i.e. the input of the down projection (B, T, I).
 */
export const MLP_POINTS: readonly string[] = Object.freeze(["act"]);

/** Options of {@link GatedMLP}. */
export interface GatedMLPOptions {
  /** Width of the residual stream. */
  hiddenSize: number;
  /** Width of the gated hidden layer. */
  intermediateSize: number;
  /** The activation of the gate (HF hidden_act / hidden_activation). */
  activation: ActivationName;
  /** Biases on the three projections (mlp_bias). Default false. */
  bias?: boolean;
  /** Device of the weights; default cpu. */
  device?: Device;
}

/**
 * HF's LlamaMLP: gate_proj, up_proj, down_proj, act_fn. x (B, T, C) -> (B, T, C).
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { GatedMLP } from "./mlp.ts";
 * const mlp = new GatedMLP({ hiddenSize: 8, intermediateSize: 16, activation: "silu" });
 * mlp.call(zeros([1, 2, 8])).shape; // [1, 2, 8]
 * ```
 */
export class GatedMLP extends Module {
  /** hidden -> intermediate, through the activation. */
  readonly gate_proj: Linear;
  /** hidden -> intermediate. */
  readonly up_proj: Linear;
  /** intermediate -> hidden. */
  readonly down_proj: Linear;
  /** The gate's activation. */
  readonly act_fn: Activation;
  /** Builds zero weights on `opts.device`. */
  constructor(opts: GatedMLPOptions) {
    super();
    const lin = { bias: opts.bias ?? false, device: opts.device ?? "cpu" };
    const C = opts.hiddenSize, I = opts.intermediateSize;
    this.gate_proj = this.addModule("gate_proj", new Linear(C, I, lin));
    this.up_proj = this.addModule("up_proj", new Linear(C, I, lin));
    this.down_proj = this.addModule("down_proj", new Linear(I, C, lin));
    this.act_fn = this.addModule("act_fn", new Activation(opts.activation));
  }
  /** `act`, the gated product ({@link MLP_POINTS}). */
  override get points(): readonly string[] {
    return MLP_POINTS;
  }
  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor): Tensor {
    const gate = this.act_fn.call(this.gate_proj.call(x)); // (B, T, I)
    return this.down_proj.call(this.point("act", gate.mul(this.up_proj.call(x)))); // (B, T, C)
  }
}
