// The envoy tree of a Gemma 2 LanguageModel: `model.model.layers[i].self_attn`, typed with what
// each `.output` holds in transformers 4.57. Types only.

import type { Envoy } from "../envoy.ts";
import type { EnvoyList, GeneratorEnvoy } from "./common.ts";
import type { LlamaAttentionEnvoy, LlamaMLPEnvoy } from "./llama.ts";

/**
 * `model.layers[i]`: output is a 1-tuple `[hidden (B, T, C)]` (read `.output[0]`). The
 * attention (`[attn_output, attn_weights]`, softcapped scores) and the GeGLU MLP have
 * Llama's children.
 */
export interface Gemma2LayerEnvoy extends Envoy {
  /** Self-attention: output [attn_output (B, T, C), attn_weights (B, H, T, S)]. */
  readonly self_attn: LlamaAttentionEnvoy;
  /** GeGLU MLP: output (B, T, C) before post_feedforward_layernorm. */
  readonly mlp: LlamaMLPEnvoy;
  /** (1 + w) RMSNorm before attention. */
  readonly input_layernorm: Envoy;
  /** (1 + w) RMSNorm of the attention output: output is what joins the residual. */
  readonly post_attention_layernorm: Envoy;
  /** (1 + w) RMSNorm before the MLP. */
  readonly pre_feedforward_layernorm: Envoy;
  /** (1 + w) RMSNorm of the MLP output: output is what joins the residual. */
  readonly post_feedforward_layernorm: Envoy;
}
/** `model`: output[0] (`.last_hidden_state`) is the final norm's output (B, T, C). */
export interface Gemma2ModelEnvoy extends Envoy {
  /** Token embeddings: output (B, T, C), before the sqrt(hidden_size) scaling. */
  readonly embed_tokens: Envoy;
  /** The decoder layers. */
  readonly layers: EnvoyList<Gemma2LayerEnvoy>;
  /** Final (1 + w) RMSNorm. */
  readonly norm: Envoy;
  /** Rotary tables: output [cos, sin] (B, T, D). */
  readonly rotary_emb: Envoy;
}
/** The envoys of a Gemma 2 LanguageModel's root: `model`, `lm_head`, `generator`. */
export interface Gemma2Envoys {
  /** The decoder stack. */
  readonly model: Gemma2ModelEnvoy;
  /** The LM head: output is the logits (B, T, V) before final_logit_softcapping. */
  readonly lm_head: Envoy;
  /** The generator: output is all ids after generate(); `.streamer` each step's ids. */
  readonly generator: GeneratorEnvoy;
}
