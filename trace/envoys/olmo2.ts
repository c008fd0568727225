// The envoy tree of an OLMo 2 LanguageModel: `model.model.layers[i].self_attn`, typed with what
// each `.output` holds in transformers 4.57. Types only.

import type { Envoy } from "../envoy.ts";
import type { AttentionSource, EnvoyList, GeneratorEnvoy } from "./common.ts";
import type { LlamaMLPEnvoy } from "./llama.ts";

/** `model.layers[i].self_attn`: output [attn_output (B, T, C), attn_weights (B, H, T, S)]. */
export interface Olmo2AttentionEnvoy extends Envoy {
  /** q, k, v, scores, probs, context. */
  readonly source: AttentionSource;
  /** Queries: output (B, T, H * D). */
  readonly q_proj: Envoy;
  /** Keys: output (B, T, KV * D). */
  readonly k_proj: Envoy;
  /** Values: output (B, T, KV * D). */
  readonly v_proj: Envoy;
  /** Output projection: input holds the heads side by side (B, T, H * D). */
  readonly o_proj: Envoy;
  /** RMSNorm over all query channels: output (B, T, H * D). */
  readonly q_norm: Envoy;
  /** RMSNorm over all key channels: output (B, T, KV * D). */
  readonly k_norm: Envoy;
}
/** `model.layers[i]`: output is the hidden state (B, T, C), a Tensor (not a tuple). */
export interface Olmo2LayerEnvoy extends Envoy {
  /** Self-attention. */
  readonly self_attn: Olmo2AttentionEnvoy;
  /** Gated MLP. */
  readonly mlp: LlamaMLPEnvoy;
  /** RMSNorm of the attention output: output is what joins the residual. */
  readonly post_attention_layernorm: Envoy;
  /** RMSNorm of the MLP output: output is what joins the residual. */
  readonly post_feedforward_layernorm: Envoy;
}
/** `model`: output[0] (`.last_hidden_state`) is the final norm's output (B, T, C). */
export interface Olmo2ModelEnvoy extends Envoy {
  /** Token embeddings: output (B, T, C). */
  readonly embed_tokens: Envoy;
  /** The decoder layers. */
  readonly layers: EnvoyList<Olmo2LayerEnvoy>;
  /** Final RMSNorm. */
  readonly norm: Envoy;
  /** Rotary tables: output [cos, sin] (B, T, D). */
  readonly rotary_emb: Envoy;
}
/** The envoys of an OLMo 2 LanguageModel's root: `model`, `lm_head`, `generator`. */
export interface Olmo2Envoys {
  /** The decoder stack. */
  readonly model: Olmo2ModelEnvoy;
  /** The LM head: output is the logits (B, T, V). */
  readonly lm_head: Envoy;
  /** The generator: output is all ids after generate(); `.streamer` each step's ids. */
  readonly generator: GeneratorEnvoy;
}
