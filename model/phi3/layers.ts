// Phi-3's fused blocks under HF's names: Phi3Attention (one qkv_proj whose output is q | k | v,
// then rotary, grouped attention, o_proj) and Phi3MLP (one gate_up_proj whose output is
// gate | up, then down_proj(up * act(gate))). Both projections are plain Linear modules.

import { type Device, slice, type Tensor } from "../../engine/mod.ts";
import { Activation } from "../layers/activation.ts";
import {
  attendCausal,
  ATTENTION_POINTS,
  type AttentionContext,
  weightsObserved,
} from "../layers/attention.ts";
import { Linear } from "../layers/linear.ts";
import { MLP_POINTS } from "../layers/mlp.ts";
import { applyRotary } from "../layers/rotary.ts";
import { Module } from "../module.ts";
import type { Phi3Config } from "./config.ts";

const ALL = slice();

/**
 * HF Phi3Attention: qkv_proj's output holds every query head, then every key head, then every
 * value head (`[B, T, (H + 2 KV) * D]`); rotary turns the first partial_rotary_factor of each head;
 * scale head_dim ** -0.5; the sliding-window mask (when the config has one) on every layer.
 * Returns `[attn_output (B, T, C), attn_weights (B, H, T, S) or null]`.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parsePhi3Config } from "./config.ts";
 * import { Phi3Attention } from "./layers.ts";
 * const c = parsePhi3Config({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1 });
 * const [y] = new Phi3Attention(c, 0, "cpu").call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null });
 * y.shape; // [1, 3, 8]
 * ```
 */
export class Phi3Attention extends Module {
  /** hidden -> (heads + 2 kvHeads) * D: q | k | v. */
  readonly qkv_proj: Linear;
  /** heads * D -> hidden. */
  readonly o_proj: Linear;
  readonly #heads: number;
  readonly #kvHeads: number;
  readonly #headDim: number;
  readonly #layer: number;

  /** Builds layer `layer`'s projections (zero weights) on `device`. */
  constructor(config: Phi3Config, layer: number, device: Device) {
    super();
    const C = config.hidden_size, H = config.num_attention_heads;
    const KV = config.num_key_value_heads, D = config.head_dim, lin = { bias: false, device };
    this.#heads = H;
    this.#kvHeads = KV;
    this.#headDim = D;
    this.#layer = layer;
    this.o_proj = this.addModule("o_proj", new Linear(H * D, C, lin));
    this.qkv_proj = this.addModule("qkv_proj", new Linear(C, (H + 2 * KV) * D, lin));
  }

  /** q, k, v (after rotary), scores, probs, context (before o_proj). */
  override get points(): readonly string[] {
    return ATTENTION_POINTS;
  }

  /** x (B, T, C) -> [attn_output (B, T, C), attn_weights (B, H, T, S) or null]. */
  forward(x: Tensor, ctx: AttentionContext): [Tensor, Tensor | null] {
    const [B, T] = x.shape;
    const H = this.#heads, KV = this.#kvHeads, D = this.#headDim;
    const qkv = this.qkv_proj.call(x); // (B, T, (H + 2 KV) * D)
    const part = (from: number, n: number) =>
      qkv.get([ALL, ALL, slice(from * D, (from + n) * D)]).reshape(B, T, n, D).transpose(1, 2); // (B, n, T, D)
    let q = part(0, H), k = part(H, KV);
    if (ctx.positionEmbeddings) {
      const [cos, sin] = ctx.positionEmbeddings; // (B, T, R), R = D * partial_rotary_factor
      q = applyRotary(q, cos, sin);
      k = applyRotary(k, cos, sin);
    }
    q = this.point("q", q);
    k = this.point("k", k);
    const v = this.point("v", part(H + KV, KV));
    const [kAll, vAll] = ctx.cache ? ctx.cache.update(this.#layer, k, v) : [k, v];
    const opts = { scale: D ** -0.5, bias: ctx.bias, module: this };
    const [y, probs] = attendCausal(q, kAll, vAll, opts, weightsObserved(this)); // (B, H, T, D)
    const context = this.point("context", y.transpose(1, 2).reshape(B, T, H * D)); // (B, T, H * D)
    return [this.o_proj.call(context), probs];
  }
}

/**
 * HF Phi3MLP: gate_up_proj (hidden -> 2 * intermediate, gate first), down_proj,
 * activation_fn: down_proj(up * act(gate)). x (B, T, C) -> (B, T, C).
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parsePhi3Config } from "./config.ts";
 * import { Phi3MLP } from "./layers.ts";
 * const c = parsePhi3Config({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16 });
 * new Phi3MLP(c, "cpu").call(zeros([1, 2, 8])).shape; // [1, 2, 8]
 * ```
 */
export class Phi3MLP extends Module {
  /** hidden -> 2 * intermediate: gate | up. */
  readonly gate_up_proj: Linear;
  /** intermediate -> hidden. */
  readonly down_proj: Linear;
  /** The gate's activation (hidden_act). */
  readonly activation_fn: Activation;
  readonly #inter: number;

  /** Builds zero weights on `device`. */
  constructor(config: Phi3Config, device: Device) {
    super();
    const C = config.hidden_size, I = config.intermediate_size, lin = { bias: false, device };
    this.#inter = I;
    this.gate_up_proj = this.addModule("gate_up_proj", new Linear(C, 2 * I, lin));
    this.down_proj = this.addModule("down_proj", new Linear(I, C, lin));
    this.activation_fn = this.addModule("activation_fn", new Activation(config.hidden_act));
  }

  /** `act`, the gated product up * act(gate) (the input of down_proj). */
  override get points(): readonly string[] {
    return MLP_POINTS;
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor): Tensor {
    const I = this.#inter;
    const gu = this.gate_up_proj.call(x); // (B, T, 2I)
    const gate = gu.get([ALL, ALL, slice(0, I)]), up = gu.get([ALL, ALL, slice(I, 2 * I)]); // (B, T, I)
    return this.down_proj.call(this.point("act", up.mul(this.activation_fn.call(gate)))); // (B, T, C)
  }
}
