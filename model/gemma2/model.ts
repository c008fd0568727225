// Gemma 2 with transformers 4.57's module tree: model.embed_tokens, model.layers[i].{self_attn,
// mlp, input_layernorm, post_attention_layernorm, pre_feedforward_layernorm,
// post_feedforward_layernorm}, model.norm, model.rotary_emb, lm_head. Synchronous forward.

import type { Device, Tensor } from "../../engine/mod.ts";
import type { CausalLMForwardOptions, DecoderPaths } from "../causal_lm.ts";
import { type CausalLMOptions, modelLayersPaths, ModelTreeForCausalLM } from "../_causal_lm.ts";
import { forwardInputs } from "../_decoder_shape.ts";
import { rotaryContext, stackOutput } from "../_decoder_forward.ts";
import { type AttentionContext, SelfAttention } from "../layers/attention.ts";
import { Embedding } from "../layers/embedding.ts";
import { GatedMLP } from "../layers/mlp.ts";
import { RMSNorm } from "../layers/norm.ts";
import { RotaryEmbedding } from "../layers/rotary.ts";
import { Module, ModuleList } from "../module.ts";
import type { BaseModelOutput } from "../outputs.ts";
import { type Gemma2Config, parseGemma2Config } from "./config.ts";

/** The config keys a Gemma decoder layer reads (Gemma 2's and Gemma 3's configs both hold them). */
export type GemmaLayerConfig = Pick<
  Gemma2Config,
  | "hidden_size"
  | "intermediate_size"
  | "num_attention_heads"
  | "num_key_value_heads"
  | "head_dim"
  | "rms_norm_eps"
  | "query_pre_attn_scalar"
  | "attn_logit_softcapping"
  | "hidden_activation"
  | "attention_bias"
  | "layer_types"
>;

/**
 * One Gemma 2 layer (HF Gemma2DecoderLayer): x + post_attention_layernorm(attn(input_layernorm(x))),
 * then + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(.))). Returns a 1-tuple
 * `[hidden (B, T, C)]`, as transformers 4.57 does: `model.layers[i].output[0]`.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGemma2Config } from "./config.ts";
 * import { Gemma2DecoderLayer } from "./model.ts";
 * const c = parseGemma2Config({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16 });
 * const [h] = new Gemma2DecoderLayer(c, 0, "cpu").call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null });
 * h.shape; // [1, 3, 8]
 * ```
 */
export class Gemma2DecoderLayer extends Module {
  /** Softcapped grouped-query attention: output [attn_output, attn_weights]. */
  readonly self_attn: SelfAttention;
  /** GeGLU: down_proj(gelu_tanh(gate_proj(x)) * up_proj(x)). */
  readonly mlp: GatedMLP;
  /** (1 + w) RMSNorm before attention. */
  readonly input_layernorm: RMSNorm;
  /** (1 + w) RMSNorm of the attention output, before the residual add. */
  readonly post_attention_layernorm: RMSNorm;
  /** (1 + w) RMSNorm before the MLP. */
  readonly pre_feedforward_layernorm: RMSNorm;
  /** (1 + w) RMSNorm of the MLP output, before the residual add. */
  readonly post_feedforward_layernorm: RMSNorm;

  /**
   * Builds layer `layer` with zero weights on `device`; `qkNorm` adds Gemma 3's per-head (1 + w)
   * q_norm and k_norm.
   */
  constructor(
    config: GemmaLayerConfig,
    layer: number,
    device: Device,
    opts: { qkNorm?: boolean } = {},
  ) {
    super();
    const c = config;
    this.self_attn = this.addModule(
      "self_attn",
      new SelfAttention({
        hiddenSize: c.hidden_size,
        numHeads: c.num_attention_heads,
        numKvHeads: c.num_key_value_heads,
        headDim: c.head_dim,
        layer,
        qkvBias: c.attention_bias,
        outBias: c.attention_bias,
        qkNormEps: opts.qkNorm ? c.rms_norm_eps : null,
        qkNormUnitOffset: true,
        scale: c.query_pre_attn_scalar ** -0.5,
        softcap: c.attn_logit_softcapping,
        sliding: c.layer_types[layer] === "sliding_attention",
        device,
      }),
    );
    this.mlp = this.addModule(
      "mlp",
      new GatedMLP({
        hiddenSize: c.hidden_size,
        intermediateSize: c.intermediate_size,
        activation: c.hidden_activation,
        device,
      }),
    );
    const norm = () => new RMSNorm(c.hidden_size, c.rms_norm_eps, { unitOffset: true, device });
    this.input_layernorm = this.addModule("input_layernorm", norm());
    this.post_attention_layernorm = this.addModule("post_attention_layernorm", norm());
    this.pre_feedforward_layernorm = this.addModule("pre_feedforward_layernorm", norm());
    this.post_feedforward_layernorm = this.addModule("post_feedforward_layernorm", norm());
  }

  /** x (B, T, C) -> [x' (B, T, C)]. */
  forward(x: Tensor, ctx: AttentionContext): [Tensor] {
    const [a] = this.self_attn.call(this.input_layernorm.call(x), ctx); // (B, T, C)
    const h = x.add(this.post_attention_layernorm.call(a)); // (B, T, C)
    const m = this.mlp.call(this.pre_feedforward_layernorm.call(h)); // (B, T, C)
    return [h.add(this.post_feedforward_layernorm.call(m))];
  }
}

/**
 * The decoder stack (HF Gemma2Model): embed_tokens (unscaled, as 4.57's nn.Embedding), the
 * embeddings times sqrt(hidden_size), layers with full or sliding-window masks, norm,
 * rotary_emb. Returns a BaseModelOutput: `output[0]` is the final norm's output (B, T, C).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { parseGemma2Config } from "./config.ts";
 * import { Gemma2Model } from "./model.ts";
 * const c = parseGemma2Config({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * new Gemma2Model(c, "cpu").call(tensor([[1, 2]], undefined, { dtype: "int32" }))[0].shape; // [1, 2, 8]
 * ```
 */
export class Gemma2Model extends Module {
  /** Token embeddings (V, C), also the tied head. */
  readonly embed_tokens: Embedding;
  /** The decoder layers. */
  readonly layers: ModuleList<Gemma2DecoderLayer>;
  /** Final (1 + w) RMSNorm. */
  readonly norm: RMSNorm;
  /** Rotary tables: output [cos, sin] (B, T, head_dim). */
  readonly rotary_emb: RotaryEmbedding;
  readonly #config: Gemma2Config;
  readonly #device: Device;

  /** Builds the stack computing on `device`, weights on `weightDevice` (default `device`). */
  constructor(config: Gemma2Config, device: Device, weightDevice: Device = device) {
    super();
    const c = config, w = weightDevice;
    this.#config = c;
    this.#device = device;
    this.embed_tokens = this.addModule(
      "embed_tokens",
      new Embedding(c.vocab_size, c.hidden_size, w),
    );
    const layers = Array.from(
      { length: c.num_hidden_layers },
      (_, i) => new Gemma2DecoderLayer(c, i, w),
    );
    this.layers = this.addModule("layers", new ModuleList(layers));
    this.norm = this.addModule(
      "norm",
      new RMSNorm(c.hidden_size, c.rms_norm_eps, { unitOffset: true, device: w }),
    );
    this.rotary_emb = this.addModule(
      "rotary_emb",
      new RotaryEmbedding({
        headDim: c.head_dim,
        base: c.rope_theta,
        bufferDtype: c.dtype,
        device,
      }),
    );
  }

  /** ids (B, T) int32 -> BaseModelOutput (last_hidden_state (B, T, C)). */
  forward(inputIds: Tensor, opts: CausalLMForwardOptions = {}): BaseModelOutput {
    const inputs = forwardInputs("gemma2 model", inputIds, opts, this.#device);
    const embeds = this.embed_tokens.call(inputIds); // (B, T, C)
    const ctx = rotaryContext(embeds, inputs, opts.attentionMask, this.#device, {
      rotary: this.rotary_emb,
      slidingWindow: this.#config.sliding_window,
    });
    // HF multiplies by sqrt(hidden) in the activations' dtype: float32 here.
    let x = embeds.mul(Math.sqrt(this.#config.hidden_size)); // (B, T, C)
    for (const layer of this.layers) [x] = layer.call(x, ctx);
    return stackOutput(x, this.norm, inputs.cache, inputs.T);
  }
}

/** Options of the Gemma2ForCausalLM constructor. */
export type Gemma2ModelOptions = CausalLMOptions;

/** Where Gemma 2's parts sit in the module tree. */
export const GEMMA2_PATHS: DecoderPaths = modelLayersPaths(true);

/**
 * Gemma 2 with its LM head (HF Gemma2ForCausalLM): ids (B, T) -> logits (B, T, V), softcapped
 * as cap * tanh(lm_head(h) / cap) when final_logit_softcapping is set (`lm_head.output` is the
 * value before capping, as in HF). Weights start at zero; the head is tied by default.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Gemma2ForCausalLM } from "./model.ts";
 * const m = new Gemma2ForCausalLM({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" })).shape; // [1, 2, 10]
 * ```
 */
export class Gemma2ForCausalLM extends ModelTreeForCausalLM<Gemma2Config, Gemma2Model> {
  /** Builds the tree with zero (or placeholder) weights from a config object. */
  constructor(config: Partial<Gemma2Config> | Gemma2Config = {}, opts: Gemma2ModelOptions = {}) {
    const c = parseGemma2Config(config);
    super(c, (c, device, w) => new Gemma2Model(c, device, w), {
      paths: GEMMA2_PATHS,
      heads: { numKvHeads: c.num_key_value_heads, headDim: c.head_dim },
      finalSoftcap: (c) => c.final_logit_softcapping,
    }, opts);
  }
}
