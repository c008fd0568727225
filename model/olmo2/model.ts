// OLMo 2 with transformers 4.57's module tree: model.embed_tokens, model.layers[i].{self_attn.
// {q_proj, k_proj, v_proj, o_proj, q_norm, k_norm}, mlp, post_attention_layernorm,
// post_feedforward_layernorm}, model.norm, model.rotary_emb, lm_head. Synchronous forward.

import type { Device, Tensor } from "../../engine/mod.ts";
import type { DecoderPaths } from "../causal_lm.ts";
import { type CausalLMOptions, modelLayersPaths, ModelTreeForCausalLM } from "../_causal_lm.ts";
import {
  attendCausal,
  ATTENTION_POINTS,
  type AttentionContext,
  weightsObserved,
} from "../layers/attention.ts";
import { Linear } from "../layers/linear.ts";
import { GatedMLP } from "../layers/mlp.ts";
import { RMSNorm } from "../layers/norm.ts";
import { applyRotary } from "../layers/rotary.ts";
import { Module } from "../module.ts";
import { RopeDecoderModel } from "../_rope_decoder.ts";
import { type Olmo2Config, parseOlmo2Config } from "./config.ts";

/**
 * HF Olmo2Attention: q_norm and k_norm are RMSNorms over the whole projection (all heads
 * together, before the split into heads), then rotary, grouped attention, o_proj. Returns
 * `[attn_output (B, T, C), attn_weights (B, H, T, S)]`.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseOlmo2Config } from "./config.ts";
 * import { Olmo2Attention } from "./model.ts";
 * const c = parseOlmo2Config({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1 });
 * const [y, w] = new Olmo2Attention(c, 0, "cpu").call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null });
 * y.shape; // [1, 3, 8]; w is null: no trace observes this module's output
 * ```
 */
export class Olmo2Attention extends Module {
  /** hidden -> heads * D. */
  readonly q_proj: Linear;
  /** hidden -> kvHeads * D. */
  readonly k_proj: Linear;
  /** hidden -> kvHeads * D. */
  readonly v_proj: Linear;
  /** heads * D -> hidden. */
  readonly o_proj: Linear;
  /** RMSNorm over all query channels (heads * D). */
  readonly q_norm: RMSNorm;
  /** RMSNorm over all key channels (kvHeads * D). */
  readonly k_norm: RMSNorm;
  readonly #heads: number;
  readonly #kvHeads: number;
  readonly #layer: number;

  /** Builds layer `layer`'s projections and norms (zero weights) on `device`. */
  constructor(config: Olmo2Config, layer: number, device: Device) {
    super();
    const C = config.hidden_size, H = config.num_attention_heads, KV = config.num_key_value_heads;
    const D = C / H, lin = { bias: config.attention_bias, device };
    this.#heads = H;
    this.#kvHeads = KV;
    this.#layer = layer;
    this.q_proj = this.addModule("q_proj", new Linear(C, H * D, lin));
    this.k_proj = this.addModule("k_proj", new Linear(C, KV * D, lin));
    this.v_proj = this.addModule("v_proj", new Linear(C, KV * D, lin));
    this.o_proj = this.addModule("o_proj", new Linear(H * D, C, lin));
    this.q_norm = this.addModule("q_norm", new RMSNorm(H * D, config.rms_norm_eps, { device }));
    this.k_norm = this.addModule("k_norm", new RMSNorm(KV * D, config.rms_norm_eps, { device }));
  }

  /** q, k, v (after norms and rotary), scores, probs, context (before o_proj). */
  override get points(): readonly string[] {
    return ATTENTION_POINTS;
  }

  /** x (B, T, C) -> [attn_output (B, T, C), attn_weights (B, H, T, S) or null]. */
  forward(x: Tensor, ctx: AttentionContext): [Tensor, Tensor | null] {
    const [B, T, C] = x.shape;
    const H = this.#heads, KV = this.#kvHeads, D = C / H;
    const heads = (t: Tensor, n: number) => t.reshape(B, T, n, D).transpose(1, 2); // (B, n, T, D)
    let q = heads(this.q_norm.call(this.q_proj.call(x)), H);
    let k = heads(this.k_norm.call(this.k_proj.call(x)), KV);
    let v = heads(this.v_proj.call(x), KV);
    if (ctx.positionEmbeddings) {
      const [cos, sin] = ctx.positionEmbeddings; // (B, T, D)
      q = applyRotary(q, cos, sin);
      k = applyRotary(k, cos, sin);
    }
    q = this.point("q", q);
    k = this.point("k", k);
    v = this.point("v", v);
    const [kAll, vAll] = ctx.cache ? ctx.cache.update(this.#layer, k, v) : [k, v];
    const opts = { scale: D ** -0.5, bias: ctx.bias, module: this };
    const [y, probs] = attendCausal(q, kAll, vAll, opts, weightsObserved(this)); // (B, H, T, D)
    const context = this.point("context", y.transpose(1, 2).reshape(B, T, H * D)); // (B, T, H * D)
    return [this.o_proj.call(context), probs];
  }
}

/**
 * HF Olmo2DecoderLayer, norms after each sublayer: h = x + post_attention_layernorm(attn(x)),
 * h + post_feedforward_layernorm(mlp(h)). Returns the hidden state (B, T, C) as a Tensor, as
 * transformers 4.57 does (`model.layers[i].output`).
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseOlmo2Config } from "./config.ts";
 * import { Olmo2DecoderLayer } from "./model.ts";
 * const c = parseOlmo2Config({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16 });
 * new Olmo2DecoderLayer(c, 0, "cpu").call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null }).shape; // [1, 3, 8]
 * ```
 */
export class Olmo2DecoderLayer extends Module {
  /** Attention with whole-projection q/k norms. */
  readonly self_attn: Olmo2Attention;
  /** gate/up/down projections. */
  readonly mlp: GatedMLP;
  /** RMSNorm of the attention output, before the residual add. */
  readonly post_attention_layernorm: RMSNorm;
  /** RMSNorm of the MLP output, before the residual add. */
  readonly post_feedforward_layernorm: RMSNorm;

  /** Builds layer `layer` with zero weights on `device`. */
  constructor(config: Olmo2Config, layer: number, device: Device) {
    super();
    const c = config;
    this.self_attn = this.addModule("self_attn", new Olmo2Attention(c, layer, device));
    this.mlp = this.addModule(
      "mlp",
      new GatedMLP({
        hiddenSize: c.hidden_size,
        intermediateSize: c.intermediate_size,
        activation: c.hidden_act,
        device,
      }),
    );
    const norm = () => new RMSNorm(c.hidden_size, c.rms_norm_eps, { device });
    this.post_attention_layernorm = this.addModule("post_attention_layernorm", norm());
    this.post_feedforward_layernorm = this.addModule("post_feedforward_layernorm", norm());
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, ctx: AttentionContext): Tensor {
    const [a] = this.self_attn.call(x, ctx); // (B, T, C)
    const h = x.add(this.post_attention_layernorm.call(a));
    return h.add(this.post_feedforward_layernorm.call(this.mlp.call(h))); // (B, T, C)
  }
}

/**
 * The decoder stack (HF Olmo2Model): embed_tokens, layers, norm, rotary_emb. Returns a
 * BaseModelOutput: `output[0]` is the final norm's output (B, T, C).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { parseOlmo2Config } from "./config.ts";
 * import { Olmo2Model } from "./model.ts";
 * const c = parseOlmo2Config({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 });
 * new Olmo2Model(c, "cpu").call(tensor([[1, 2]], undefined, { dtype: "int32" }))[0].shape; // [1, 2, 8]
 * ```
 */
export class Olmo2Model extends RopeDecoderModel<Olmo2DecoderLayer> {
  /** Builds the stack computing on `device`, weights on `weightDevice` (default `device`). */
  constructor(config: Olmo2Config, device: Device, weightDevice: Device = device) {
    const c = config;
    super(
      {
        name: "olmo2 model",
        vocabSize: c.vocab_size,
        hiddenSize: c.hidden_size,
        numLayers: c.num_hidden_layers,
        rmsNormEps: c.rms_norm_eps,
        layer: (i, w) => new Olmo2DecoderLayer(c, i, w),
        rotary: {
          headDim: c.hidden_size / c.num_attention_heads,
          base: c.rope_theta,
          scaling: c.rope_scaling,
          bufferDtype: c.dtype,
        },
      },
      device,
      weightDevice,
    );
  }
}

/** Options of the Olmo2ForCausalLM constructor. */
export type Olmo2ModelOptions = CausalLMOptions;

/** Where OLMo 2's parts sit in the module tree. */
export const OLMO2_PATHS: DecoderPaths = modelLayersPaths(false);

/**
 * OLMo 2 with its LM head (HF Olmo2ForCausalLM): ids (B, T) -> logits (B, T, V). The head is
 * untied unless tie_word_embeddings is true.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Olmo2ForCausalLM } from "./model.ts";
 * const m = new Olmo2ForCausalLM({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 });
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" })).shape; // [1, 2, 10]
 * ```
 */
export class Olmo2ForCausalLM extends ModelTreeForCausalLM<Olmo2Config, Olmo2Model> {
  /** Builds the tree with zero (or placeholder) weights from a config object. */
  constructor(config: Partial<Olmo2Config> | Olmo2Config = {}, opts: Olmo2ModelOptions = {}) {
    const c = parseOlmo2Config(config);
    super(c, (c, device, w) => new Olmo2Model(c, device, w), {
      paths: OLMO2_PATHS,
      heads: { numKvHeads: c.num_key_value_heads },
    }, opts);
  }
}
