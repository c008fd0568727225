// The envoy tree of a GPT-2 LanguageModel (`model.transformer.h[i].attn`), typed for editors:
// what each module's `.output` holds under transformers 4.57. Types only.

import type { Envoy } from "../envoy.ts";
import type { AttentionSource, EnvoyList, GeneratorEnvoy, MLPSource } from "./common.ts";

/** `transformer.h[i].attn`: output [attn_output (B, T, C), attn_weights (B, nh, T, S)]. */
export interface AttentionEnvoy extends Envoy {
  /** q, k, v, scores, probs, context. */
  readonly source: AttentionSource;
  /** Projection to q | k | v: output (B, T, 3C). */
  readonly c_attn: Envoy;
  /** Output projection: input holds the heads side by side (B, T, nh * hs). */
  readonly c_proj: Envoy;
  /** Its output is the attention pattern (B, nh, T, S). */
  readonly attn_dropout: Envoy;
  /** Dropout after c_proj (an identity at inference). */
  readonly resid_dropout: Envoy;
}
/** `transformer.h[i].mlp`: output (B, T, C) before the residual add. */
export interface MLPEnvoy extends Envoy {
  /** act: the input of the down projection. */
  readonly source: MLPSource;
  /** Up projection: output (B, T, 4C). */
  readonly c_fc: Envoy;
  /** GELU: output (B, T, 4C). */
  readonly act: Envoy;
  /** Down projection: output (B, T, C). */
  readonly c_proj: Envoy;
  /** Dropout (an identity at inference). */
  readonly dropout: Envoy;
}
/** `transformer.h[i]`: output is the 1-tuple [hidden (B, T, C)]. */
export interface BlockEnvoy extends Envoy {
  /** LayerNorm before attention. */
  readonly ln_1: Envoy;
  /** Self-attention. */
  readonly attn: AttentionEnvoy;
  /** LayerNorm before the MLP. */
  readonly ln_2: Envoy;
  /** Feed-forward block. */
  readonly mlp: MLPEnvoy;
}
/** `transformer`: output[0] (`.last_hidden_state`) is ln_f's output (B, T, C). */
export interface TransformerEnvoy extends Envoy {
  /** Token embeddings: output (B, T, C). */
  readonly wte: Envoy;
  /** Position embeddings: output (B|1, T, C). */
  readonly wpe: Envoy;
  /** Dropout on the summed embeddings: output is the residual stream's start. */
  readonly drop: Envoy;
  /** The blocks. */
  readonly h: EnvoyList<BlockEnvoy>;
  /** Final LayerNorm. */
  readonly ln_f: Envoy;
}
/** The envoys of a GPT-2 LanguageModel's root: `transformer`, `lm_head`, `generator`. */
export interface GPT2Envoys {
  /** The transformer: embeddings, blocks `h`, final LayerNorm. */
  readonly transformer: TransformerEnvoy;
  /** The LM head: output is the logits (B, T, V). */
  readonly lm_head: Envoy;
  /** The generator: output is all ids after generate(); `.streamer` each step's ids. */
  readonly generator: GeneratorEnvoy;
}
