// The envoy tree of a GPT-NeoX / Pythia LanguageModel: `model.gpt_neox.layers[i].attention`,
// typed with what each `.output` holds in transformers 4.57. Types only.

import type { Envoy } from "../envoy.ts";
import type { AttentionSource, EnvoyList, GeneratorEnvoy, MLPSource } from "./common.ts";

/** `gpt_neox.layers[i].attention`: output [attn_output (B, T, C), attn_weights (B, H, T, S)]. */
export interface GPTNeoXAttentionEnvoy extends Envoy {
  /** q, k, v, scores, probs, context. */
  readonly source: AttentionSource;
  /** Fused projection: output (B, T, 3C), per head [q | k | v]. */
  readonly query_key_value: Envoy;
  /** Output projection: input holds the heads side by side (B, T, C). */
  readonly dense: Envoy;
}
/** `gpt_neox.layers[i].mlp`: output (B, T, C) before the residual add. */
export interface GPTNeoXMLPEnvoy extends Envoy {
  /** act: the input of the down projection. */
  readonly source: MLPSource;
  /** Expansion: output (B, T, I). */
  readonly dense_h_to_4h: Envoy;
  /** Projection back: output (B, T, C). */
  readonly dense_4h_to_h: Envoy;
  /** The activation: output (B, T, I). */
  readonly act: Envoy;
}
/** `gpt_neox.layers[i]`: output is a 1-tuple `[hidden (B, T, C)]` (read `.output[0]`). */
export interface GPTNeoXLayerEnvoy extends Envoy {
  /** LayerNorm before attention. */
  readonly input_layernorm: Envoy;
  /** LayerNorm before the MLP (of the layer input when the residual is parallel). */
  readonly post_attention_layernorm: Envoy;
  /** Identity on the attention output. */
  readonly post_attention_dropout: Envoy;
  /** Identity on the MLP output. */
  readonly post_mlp_dropout: Envoy;
  /** Fused-projection attention. */
  readonly attention: GPTNeoXAttentionEnvoy;
  /** The MLP. */
  readonly mlp: GPTNeoXMLPEnvoy;
}
/** `gpt_neox`: output[0] (`.last_hidden_state`) is final_layer_norm's output (B, T, C). */
export interface GPTNeoXModelEnvoy extends Envoy {
  /** Token embeddings: output (B, T, C). */
  readonly embed_in: Envoy;
  /** Identity on the embeddings. */
  readonly emb_dropout: Envoy;
  /** The layers. */
  readonly layers: EnvoyList<GPTNeoXLayerEnvoy>;
  /** Final LayerNorm. */
  readonly final_layer_norm: Envoy;
  /** Rotary tables: output [cos, sin] (B, T, rotary dims). */
  readonly rotary_emb: Envoy;
}
/** The envoys of a GPT-NeoX LanguageModel's root: `gpt_neox`, `embed_out`, `generator`. */
export interface GPTNeoXEnvoys {
  /** The decoder stack. */
  readonly gpt_neox: GPTNeoXModelEnvoy;
  /** The untied LM head: output is the logits (B, T, V). */
  readonly embed_out: Envoy;
  /** The generator: output is all ids after generate(); `.streamer` each step's ids. */
  readonly generator: GeneratorEnvoy;
}
