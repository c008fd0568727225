// The Llama-style decoders (Llama, Mistral, Qwen2, Qwen3) with transformers 4.57's module tree:
// model.embed_tokens, model.layers[i].{input_layernorm, self_attn, post_attention_layernorm,
// mlp}, model.norm, model.rotary_emb, lm_head. Synchronous forward; every submodule via call().

import type { Device, Tensor } from "../../engine/mod.ts";
import { type CausalLMOptions, modelLayersPaths, ModelTreeForCausalLM } from "../_causal_lm.ts";
import type { DecoderPaths } from "../causal_lm.ts";
import { type AttentionContext, SelfAttention } from "../layers/attention.ts";
import { GatedMLP } from "../layers/mlp.ts";
import { RMSNorm } from "../layers/norm.ts";
import { Module } from "../module.ts";
import { RopeDecoderModel } from "../_rope_decoder.ts";
import { type LlamaConfig, parseLlamaConfig } from "./config.ts";

/**
 * One decoder layer (HF LlamaDecoderLayer and its Mistral/Qwen twins): pre-norm attention and
 * gated MLP, each added to the residual. Returns the hidden state (B, T, C) as a Tensor, as
 * transformers 4.57 does: `model.layers[i].output` is the residual stream.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseLlamaConfig } from "./config.ts";
 * import { LlamaDecoderLayer } from "./model.ts";
 * const c = parseLlamaConfig({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16 });
 * const layer = new LlamaDecoderLayer(c, 0, "cpu");
 * layer.call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null }).shape; // [1, 3, 8]
 * ```
 */
export class LlamaDecoderLayer extends Module {
  /** Grouped-query self-attention: output [attn_output, attn_weights]. */
  readonly self_attn: SelfAttention;
  /** gate/up/down projections. */
  readonly mlp: GatedMLP;
  /** RMSNorm before attention. */
  readonly input_layernorm: RMSNorm;
  /** RMSNorm before the MLP. */
  readonly post_attention_layernorm: RMSNorm;

  /** Builds layer `layer` with zero weights on `device`. */
  constructor(config: LlamaConfig, layer: number, device: Device) {
    super();
    const c = config, qwen2 = c.model_type === "qwen2", mistral = c.model_type === "mistral";
    this.self_attn = this.addModule(
      "self_attn",
      new SelfAttention({
        hiddenSize: c.hidden_size,
        numHeads: c.num_attention_heads,
        numKvHeads: c.num_key_value_heads,
        headDim: c.head_dim,
        layer,
        qkvBias: qwen2 || (!mistral && c.attention_bias),
        outBias: !qwen2 && !mistral && c.attention_bias,
        qkNormEps: c.model_type === "qwen3" ? c.rms_norm_eps : null,
        sliding: c.layer_types[layer] === "sliding_attention",
        device,
      }),
    );
    this.mlp = this.addModule(
      "mlp",
      new GatedMLP({
        hiddenSize: c.hidden_size,
        intermediateSize: c.intermediate_size,
        activation: c.hidden_act,
        bias: c.model_type === "llama" && c.mlp_bias,
        device,
      }),
    );
    const norm = () => new RMSNorm(c.hidden_size, c.rms_norm_eps, { device });
    this.input_layernorm = this.addModule("input_layernorm", norm());
    this.post_attention_layernorm = this.addModule("post_attention_layernorm", norm());
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, ctx: AttentionContext): Tensor {
    const [a] = this.self_attn.call(this.input_layernorm.call(x), ctx); // (B, T, C)
    const h = x.add(a);
    return h.add(this.mlp.call(this.post_attention_layernorm.call(h))); // (B, T, C)
  }
}

/**
 * The decoder stack (HF LlamaModel): embed_tokens, layers, norm, rotary_emb. Returns a
 * BaseModelOutput: `output[0]` is the final norm's output (B, T, C).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { parseLlamaConfig } from "./config.ts";
 * import { LlamaModel } from "./model.ts";
 * const c = parseLlamaConfig({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 });
 * new LlamaModel(c, "cpu").call(tensor([[1, 2]], undefined, { dtype: "int32" }))[0].shape; // [1, 2, 8]
 * ```
 */
export class LlamaModel extends RopeDecoderModel<LlamaDecoderLayer> {
  /** Builds the stack computing on `device`, weights on `weightDevice` (default `device`). */
  constructor(config: LlamaConfig, device: Device, weightDevice: Device = device) {
    const c = config;
    super(
      {
        name: `${c.model_type} model`,
        vocabSize: c.vocab_size,
        hiddenSize: c.hidden_size,
        numLayers: c.num_hidden_layers,
        rmsNormEps: c.rms_norm_eps,
        layer: (i, w) => new LlamaDecoderLayer(c, i, w),
        rotary: {
          headDim: c.head_dim,
          base: c.rope_theta,
          partialRotaryFactor: c.partial_rotary_factor,
          scaling: c.rope_scaling,
          bufferDtype: c.dtype,
        },
        mask: { slidingWindow: c.sliding_window },
      },
      device,
      weightDevice,
    );
  }
}

/** Options of the LlamaForCausalLM constructor. */
export type LlamaModelOptions = CausalLMOptions;

/** Where the Llama-style families' parts sit in the module tree. */
export const LLAMA_PATHS: DecoderPaths = modelLayersPaths(false);

/**
 * A Llama-style decoder with its LM head (HF LlamaForCausalLM, MistralForCausalLM,
 * Qwen2ForCausalLM, Qwen3ForCausalLM): ids (B, T) -> logits (B, T, V). Weights start at zero;
 * a tied head reads `model.embed_tokens.weight` once loaded.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { LlamaForCausalLM } from "./model.ts";
 * const m = new LlamaForCausalLM({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 });
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" })).shape; // [1, 2, 10]
 * ```
 */
export class LlamaForCausalLM extends ModelTreeForCausalLM<LlamaConfig, LlamaModel> {
  /** Builds the tree with zero (or placeholder) weights from a config object. */
  constructor(config: Partial<LlamaConfig> | LlamaConfig = {}, opts: LlamaModelOptions = {}) {
    const c = parseLlamaConfig(config);
    super(c, (c, device, w) => new LlamaModel(c, device, w), {
      paths: LLAMA_PATHS,
      heads: { numKvHeads: c.num_key_value_heads, headDim: c.head_dim },
    }, opts);
  }
}
