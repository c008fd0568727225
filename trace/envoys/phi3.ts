// The envoy tree of a Phi-3 LanguageModel: `model.model.layers[i].self_attn.qkv_proj`, typed with
// what each `.output` holds in transformers 4.57. Types only.

import type { Envoy } from "../envoy.ts";
import type { AttentionSource, EnvoyList, GeneratorEnvoy, MLPSource } from "./common.ts";

/** `model.layers[i].self_attn`: output [attn_output (B, T, C), attn_weights (B, H, T, S)]. */
export interface Phi3AttentionEnvoy extends Envoy {
  /** q, k, v, scores, probs, context. */
  readonly source: AttentionSource;
  /** Fused projection: output (B, T, (H + 2 KV) * D), every q head, then every k, then every v. */
  readonly qkv_proj: Envoy;
  /** Output projection: input holds the heads side by side (B, T, H * D). */
  readonly o_proj: Envoy;
}
/** `model.layers[i].mlp`: output (B, T, C) before the residual add. */
export interface Phi3MLPEnvoy extends Envoy {
  /** act: up * act(gate), the input of down_proj. */
  readonly source: MLPSource;
  /** Fused projection: output (B, T, 2I), gate then up. */
  readonly gate_up_proj: Envoy;
  /** Down projection: output (B, T, C). */
  readonly down_proj: Envoy;
  /** The gate's activation: output (B, T, I). */
  readonly activation_fn: Envoy;
}
/** `model.layers[i]`: output is the hidden state (B, T, C), a Tensor (not a tuple). */
export interface Phi3LayerEnvoy extends Envoy {
  /** Self-attention. */
  readonly self_attn: Phi3AttentionEnvoy;
  /** Fused gated MLP. */
  readonly mlp: Phi3MLPEnvoy;
  /** RMSNorm before attention. */
  readonly input_layernorm: Envoy;
  /** RMSNorm before the MLP. */
  readonly post_attention_layernorm: Envoy;
  /** Dropout of the attention branch (identity): output is what joins the residual. */
  readonly resid_attn_dropout: Envoy;
  /** Dropout of the MLP branch (identity): output is what joins the residual. */
  readonly resid_mlp_dropout: Envoy;
}
/** `model`: output[0] (`.last_hidden_state`) is the final norm's output (B, T, C). */
export interface Phi3ModelEnvoy extends Envoy {
  /** Token embeddings: output (B, T, C). */
  readonly embed_tokens: Envoy;
  /** The decoder layers. */
  readonly layers: EnvoyList<Phi3LayerEnvoy>;
  /** Final RMSNorm. */
  readonly norm: Envoy;
  /** Rotary tables: output [cos, sin] (B, T, D * partial_rotary_factor). */
  readonly rotary_emb: Envoy;
}
/** The envoys of a Phi-3 LanguageModel's root: `model`, `lm_head`, `generator`. */
export interface Phi3Envoys {
  /** The decoder stack. */
  readonly model: Phi3ModelEnvoy;
  /** The LM head: output is the logits (B, T, V). */
  readonly lm_head: Envoy;
  /** The generator: output is all ids after generate(); `.streamer` each step's ids. */
  readonly generator: GeneratorEnvoy;
}
