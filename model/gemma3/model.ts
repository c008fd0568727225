// Gemma 3 text with transformers 4.57's module tree: model.embed_tokens (scaled), model.layers[i].
// {self_attn.{q_proj, k_proj, v_proj, o_proj, q_norm, k_norm}, mlp, input_layernorm,
// post_attention_layernorm, pre_feedforward_layernorm, post_feedforward_layernorm}, model.norm,
// model.rotary_emb (global), model.rotary_emb_local, lm_head. Synchronous forward.

import type { Device, Tensor } from "../../engine/mod.ts";
import type { CausalLMForwardOptions, DecoderPaths } from "../causal_lm.ts";
import { type CausalLMOptions, modelLayersPaths, ModelTreeForCausalLM } from "../_causal_lm.ts";
import { forwardInputs } from "../_decoder_shape.ts";
import { rotaryContext, stackOutput } from "../_decoder_forward.ts";
import { ScaledEmbedding } from "../layers/embedding.ts";
import { RMSNorm } from "../layers/norm.ts";
import { RotaryEmbedding, roundToDtype } from "../layers/rotary.ts";
import { Module, ModuleList } from "../module.ts";
import type { BaseModelOutput } from "../outputs.ts";
import { Gemma2DecoderLayer } from "../gemma2/model.ts";
import { type Gemma3Config, parseGemma3Config } from "./config.ts";

/**
 * One Gemma 3 layer (HF Gemma3DecoderLayer): Gemma 2's layer (sandwich of (1 + w) RMSNorms around
 * attention and GeGLU MLP) whose attention also has per-head (1 + w) `q_norm`/`k_norm`, applied
 * before rotary; sliding layers use the local rotary tables and the sliding-window mask. Returns a
 * 1-tuple `[hidden (B, T, C)]`, as transformers 4.57 does: `model.layers[i].output[0]`.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGemma3Config } from "./config.ts";
 * import { Gemma3DecoderLayer } from "./model.ts";
 * const c = parseGemma3Config({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16 });
 * const [h] = new Gemma3DecoderLayer(c, 0, "cpu").call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null });
 * h.shape; // [1, 3, 8]
 * ```
 */
export class Gemma3DecoderLayer extends Gemma2DecoderLayer {
  /** Builds layer `layer` with zero weights on `device`. */
  constructor(config: Gemma3Config, layer: number, device: Device) {
    super(config, layer, device, { qkNorm: true });
  }
}

/**
 * The decoder stack (HF Gemma3TextModel): embed_tokens (rows times sqrt(hidden_size) rounded to
 * the stored dtype, as 4.57's Gemma3TextScaledWordEmbedding), layers with full or sliding-window masks, norm, rotary_emb
 * (global: rope_theta, rope_scaling) and rotary_emb_local (rope_local_base_freq). Returns a
 * BaseModelOutput: `output[0]` is the final norm's output (B, T, C).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { parseGemma3Config } from "./config.ts";
 * import { Gemma3TextModel } from "./model.ts";
 * const c = parseGemma3Config({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * new Gemma3TextModel(c, "cpu").call(tensor([[1, 2]], undefined, { dtype: "int32" }))[0].shape; // [1, 2, 8]
 * ```
 */
export class Gemma3TextModel extends Module {
  /** Token embeddings (V, C), scaled on lookup; also the tied head. */
  readonly embed_tokens: ScaledEmbedding;
  /** The decoder layers. */
  readonly layers: ModuleList<Gemma3DecoderLayer>;
  /** Final (1 + w) RMSNorm. */
  readonly norm: RMSNorm;
  /** Rotary tables of the global layers: output [cos, sin] (B, T, head_dim). */
  readonly rotary_emb: RotaryEmbedding;
  /** Rotary tables of the local (sliding) layers: output [cos, sin] (B, T, head_dim). */
  readonly rotary_emb_local: RotaryEmbedding;
  readonly #config: Gemma3Config;
  readonly #device: Device;

  /** Builds the stack computing on `device`, weights on `weightDevice` (default `device`). */
  constructor(config: Gemma3Config, device: Device, weightDevice: Device = device) {
    super();
    const c = config, w = weightDevice;
    this.#config = c;
    this.#device = device;
    this.embed_tokens = this.addModule(
      "embed_tokens",
      // HF's embed_scale buffer: cast to the stored dtype on load (55.5 for hidden 3072 in bf16).
      new ScaledEmbedding(
        c.vocab_size,
        c.hidden_size,
        roundToDtype(Math.sqrt(c.hidden_size), c.dtype),
        w,
      ),
    );
    const layers = Array.from(
      { length: c.num_hidden_layers },
      (_, i) => new Gemma3DecoderLayer(c, i, w),
    );
    this.layers = this.addModule("layers", new ModuleList(layers));
    this.norm = this.addModule(
      "norm",
      new RMSNorm(c.hidden_size, c.rms_norm_eps, { unitOffset: true, device: w }),
    );
    const rope = (base: number, scaling: Gemma3Config["rope_scaling"]) =>
      new RotaryEmbedding({ headDim: c.head_dim, base, scaling, bufferDtype: c.dtype, device });
    this.rotary_emb = this.addModule("rotary_emb", rope(c.rope_theta, c.rope_scaling));
    this.rotary_emb_local = this.addModule("rotary_emb_local", rope(c.rope_local_base_freq, null));
  }

  /** ids (B, T) int32 -> BaseModelOutput (last_hidden_state (B, T, C)). */
  forward(inputIds: Tensor, opts: CausalLMForwardOptions = {}): BaseModelOutput {
    const inputs = forwardInputs("gemma3_text model", inputIds, opts, this.#device);
    let x = this.embed_tokens.call(inputIds); // (B, T, C), already scaled
    const ctx = rotaryContext(x, inputs, opts.attentionMask, this.#device, {
      rotary: this.rotary_emb,
      slidingRotary: this.rotary_emb_local,
      slidingWindow: this.#config.sliding_window,
    });
    for (const layer of this.layers) [x] = layer.call(x, ctx);
    return stackOutput(x, this.norm, inputs.cache, inputs.T);
  }
}

/** Options of the Gemma3ForCausalLM constructor. */
export type Gemma3ModelOptions = CausalLMOptions;

/** Where Gemma 3's parts sit in the module tree. */
export const GEMMA3_PATHS: DecoderPaths = modelLayersPaths(true);

/**
 * Gemma 3 text with its LM head (HF Gemma3ForCausalLM): ids (B, T) -> logits (B, T, V),
 * softcapped as cap * tanh(lm_head(h) / cap) only when final_logit_softcapping is set (it is
 * not by default; `lm_head.output` is the value before capping, as in HF). The head is tied by
 * default.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Gemma3ForCausalLM } from "./model.ts";
 * const m = new Gemma3ForCausalLM({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" })).shape; // [1, 2, 10]
 * ```
 */
export class Gemma3ForCausalLM extends ModelTreeForCausalLM<Gemma3Config, Gemma3TextModel> {
  /** Builds the tree with zero (or placeholder) weights from a config object. */
  constructor(config: Partial<Gemma3Config> | Gemma3Config = {}, opts: Gemma3ModelOptions = {}) {
    const c = parseGemma3Config(config);
    super(c, (c, device, w) => new Gemma3TextModel(c, device, w), {
      paths: GEMMA3_PATHS,
      heads: { numKvHeads: c.num_key_value_heads, headDim: c.head_dim },
      finalSoftcap: (c) => c.final_logit_softcapping,
    }, opts);
  }
}
