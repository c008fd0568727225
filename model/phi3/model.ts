// Phi-3 with transformers 4.57's module tree: model.embed_tokens, model.layers[i].{self_attn.
// {qkv_proj, o_proj}, mlp.{gate_up_proj, down_proj, activation_fn}, input_layernorm,
// post_attention_layernorm, resid_attn_dropout, resid_mlp_dropout}, model.norm,
// model.rotary_emb, lm_head. Synchronous forward.

import type { Device, Tensor } from "../../engine/mod.ts";
import type { DecoderPaths } from "../causal_lm.ts";
import { type CausalLMOptions, modelLayersPaths, ModelTreeForCausalLM } from "../_causal_lm.ts";
import type { AttentionContext } from "../layers/attention.ts";
import { Dropout } from "../layers/embedding.ts";
import { RMSNorm } from "../layers/norm.ts";
import { Module } from "../module.ts";
import { RopeDecoderModel } from "../_rope_decoder.ts";
import { parsePhi3Config, type Phi3Config } from "./config.ts";
import { Phi3Attention, Phi3MLP } from "./layers.ts";

/**
 * One Phi-3 layer (HF Phi3DecoderLayer): Llama's pre-norm residual blocks, each branch through
 * an (inference-time identity) dropout module. Returns the hidden state (B, T, C) as a Tensor,
 * as transformers 4.57 does (`model.layers[i].output`).
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parsePhi3Config } from "./config.ts";
 * import { Phi3DecoderLayer } from "./model.ts";
 * const c = parsePhi3Config({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16 });
 * new Phi3DecoderLayer(c, 0, "cpu").call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null }).shape; // [1, 3, 8]
 * ```
 */
export class Phi3DecoderLayer extends Module {
  /** Fused-qkv attention: output [attn_output, attn_weights]. */
  readonly self_attn: Phi3Attention;
  /** Fused gate/up MLP. */
  readonly mlp: Phi3MLP;
  /** RMSNorm before attention. */
  readonly input_layernorm: RMSNorm;
  /** RMSNorm before the MLP. */
  readonly post_attention_layernorm: RMSNorm;
  /** Dropout of the attention branch (identity at inference). */
  readonly resid_attn_dropout: Dropout;
  /** Dropout of the MLP branch (identity at inference). */
  readonly resid_mlp_dropout: Dropout;

  /** Builds layer `layer` with zero weights on `device`. */
  constructor(config: Phi3Config, layer: number, device: Device) {
    super();
    const c = config;
    this.self_attn = this.addModule("self_attn", new Phi3Attention(c, layer, device));
    this.mlp = this.addModule("mlp", new Phi3MLP(c, device));
    const norm = () => new RMSNorm(c.hidden_size, c.rms_norm_eps, { device });
    this.input_layernorm = this.addModule("input_layernorm", norm());
    this.post_attention_layernorm = this.addModule("post_attention_layernorm", norm());
    this.resid_attn_dropout = this.addModule("resid_attn_dropout", new Dropout());
    this.resid_mlp_dropout = this.addModule("resid_mlp_dropout", new Dropout());
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, ctx: AttentionContext): Tensor {
    const [a] = this.self_attn.call(this.input_layernorm.call(x), ctx); // (B, T, C)
    const h = x.add(this.resid_attn_dropout.call(a));
    const m = this.mlp.call(this.post_attention_layernorm.call(h)); // (B, T, C)
    return h.add(this.resid_mlp_dropout.call(m));
  }
}

/**
 * The decoder stack (HF Phi3Model): embed_tokens, layers, norm, rotary_emb. Returns a
 * BaseModelOutput: `output[0]` is the final norm's output (B, T, C).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { parsePhi3Config } from "./config.ts";
 * import { Phi3Model } from "./model.ts";
 * const c = parsePhi3Config({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 });
 * new Phi3Model(c, "cpu").call(tensor([[1, 2]], undefined, { dtype: "int32" }))[0].shape; // [1, 2, 8]
 * ```
 */
export class Phi3Model extends RopeDecoderModel<Phi3DecoderLayer> {
  /** Builds the stack computing on `device`, weights on `weightDevice` (default `device`). */
  constructor(config: Phi3Config, device: Device, weightDevice: Device = device) {
    const c = config;
    super(
      {
        name: "phi3 model",
        vocabSize: c.vocab_size,
        hiddenSize: c.hidden_size,
        numLayers: c.num_hidden_layers,
        rmsNormEps: c.rms_norm_eps,
        layer: (i, w) => new Phi3DecoderLayer(c, i, w),
        // Longrope tables come out times its attention factor.
        rotary: {
          headDim: c.head_dim,
          base: c.rope_theta,
          partialRotaryFactor: c.partial_rotary_factor,
          scaling: c.rope_scaling,
          bufferDtype: c.dtype,
        },
        // transformers masks every layer with the sliding window when the config has one.
        mask: { window: c.sliding_window },
      },
      device,
      weightDevice,
    );
  }
}

/** Options of the Phi3ForCausalLM constructor. */
export type Phi3ModelOptions = CausalLMOptions;

/** Where Phi-3's parts sit in the module tree. */
export const PHI3_PATHS: DecoderPaths = modelLayersPaths(false);

/**
 * Phi-3 with its LM head (HF Phi3ForCausalLM): ids (B, T) -> logits (B, T, V). The head is
 * untied unless tie_word_embeddings is true.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Phi3ForCausalLM } from "./model.ts";
 * const m = new Phi3ForCausalLM({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 });
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" })).shape; // [1, 2, 10]
 * ```
 */
export class Phi3ForCausalLM extends ModelTreeForCausalLM<Phi3Config, Phi3Model> {
  /** Builds the tree with zero (or placeholder) weights from a config object. */
  constructor(config: Partial<Phi3Config> | Phi3Config = {}, opts: Phi3ModelOptions = {}) {
    const c = parsePhi3Config(config);
    super(c, (c, device, w) => new Phi3Model(c, device, w), {
      paths: PHI3_PATHS,
      heads: { numKvHeads: c.num_key_value_heads, headDim: c.head_dim },
    }, opts);
  }
}
