// The envoy tree of a Llama-style LanguageModel (Llama, Mistral, Qwen2, Qwen3):
// `model.model.layers[i].self_attn`, typed with what each `.output` holds in transformers 4.57.

import type { Envoy } from "../envoy.ts";
import type { AttentionSource, EnvoyList, GeneratorEnvoy, MLPSource } from "./common.ts";

/** `model.layers[i].self_attn`: output [attn_output (B, T, C), attn_weights (B, H, T, S)]. */
export interface LlamaAttentionEnvoy extends Envoy {
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
  /** Qwen3 only: per-head RMSNorm of the queries, output (B, T, H, D). */
  readonly q_norm: Envoy;
  /** Qwen3 only: per-head RMSNorm of the keys, output (B, T, KV, D). */
  readonly k_norm: Envoy;
}
/** `model.layers[i].mlp`: output (B, T, C) before the residual add. */
export interface LlamaMLPEnvoy extends Envoy {
  /** act: the input of the down projection. */
  readonly source: MLPSource;
  /** Gate projection: output (B, T, I). */
  readonly gate_proj: Envoy;
  /** Up projection: output (B, T, I). */
  readonly up_proj: Envoy;
  /** Down projection: output (B, T, C). */
  readonly down_proj: Envoy;
  /** The gate's activation: output (B, T, I). */
  readonly act_fn: Envoy;
}
/** `model.layers[i]`: output is the hidden state (B, T, C), a Tensor (not a tuple). */
export interface LlamaLayerEnvoy extends Envoy {
  /** Self-attention. */
  readonly self_attn: LlamaAttentionEnvoy;
  /** Gated MLP. */
  readonly mlp: LlamaMLPEnvoy;
  /** RMSNorm before attention. */
  readonly input_layernorm: Envoy;
  /** RMSNorm before the MLP. */
  readonly post_attention_layernorm: Envoy;
}
/** `model`: output[0] (`.last_hidden_state`) is the final norm's output (B, T, C). */
export interface LlamaModelEnvoy extends Envoy {
  /** Token embeddings: output (B, T, C). */
  readonly embed_tokens: Envoy;
  /** The decoder layers. */
  readonly layers: EnvoyList<LlamaLayerEnvoy>;
  /** Final RMSNorm. */
  readonly norm: Envoy;
  /** Rotary tables: output [cos, sin] (B, T, D). */
  readonly rotary_emb: Envoy;
}
/** The envoys of a Llama-style LanguageModel's root: `model`, `lm_head`, `generator`. */
export interface LlamaEnvoys {
  /** The decoder stack. */
  readonly model: LlamaModelEnvoy;
  /** The LM head: output is the logits (B, T, V). */
  readonly lm_head: Envoy;
  /** The generator: output is all ids after generate(); `.streamer` each step's ids. */
  readonly generator: GeneratorEnvoy;
}
