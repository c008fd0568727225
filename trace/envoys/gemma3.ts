// The envoy tree of a Gemma 3 text LanguageModel: `model.model.layers[i].self_attn`, typed with
// what each `.output` holds in transformers 4.57. Types only.

import type { Envoy } from "../envoy.ts";
import type { EnvoyList, GeneratorEnvoy } from "./common.ts";
import type { Gemma2LayerEnvoy } from "./gemma2.ts";
import type { LlamaAttentionEnvoy } from "./llama.ts";

/**
 * `model.layers[i]`: output is a 1-tuple `[hidden (B, T, C)]` (read `.output[0]`), Gemma 2's
 * sandwich norms; the attention has per-head (1 + w) `q_norm`/`k_norm` (output (B, H, T, D)).
 */
export interface Gemma3LayerEnvoy extends Gemma2LayerEnvoy {
  /** Self-attention: output [attn_output (B, T, C), attn_weights (B, H, T, S)]. */
  readonly self_attn: LlamaAttentionEnvoy;
}
/** `model`: output[0] (`.last_hidden_state`) is the final norm's output (B, T, C). */
export interface Gemma3ModelEnvoy extends Envoy {
  /** Token embeddings: output (B, T, C), already times sqrt(hidden_size). */
  readonly embed_tokens: Envoy;
  /** The decoder layers. */
  readonly layers: EnvoyList<Gemma3LayerEnvoy>;
  /** Final (1 + w) RMSNorm. */
  readonly norm: Envoy;
  /** Rotary tables of the global layers: output [cos, sin] (B, T, D). */
  readonly rotary_emb: Envoy;
  /** Rotary tables of the local (sliding-window) layers: output [cos, sin] (B, T, D). */
  readonly rotary_emb_local: Envoy;
}
/** The envoys of a Gemma 3 LanguageModel's root: `model`, `lm_head`, `generator`. */
export interface Gemma3Envoys {
  /** The decoder stack. */
  readonly model: Gemma3ModelEnvoy;
  /** The LM head: output is the logits (B, T, V) (before final_logit_softcapping, if set). */
  readonly lm_head: Envoy;
  /** The generator: output is all ids after generate(); `.streamer` each step's ids. */
  readonly generator: GeneratorEnvoy;
}
