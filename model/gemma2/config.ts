// config.json of Gemma 2 (model_type "gemma2"): HF key names read, Gemma2Config's defaults
// filled in, values checked. Pure data; builds nothing.

import {
  type DecoderConfigFields,
  kvHeadsValue,
  sizeFields,
  tokenFields,
} from "../_config_common.ts";
import type { ActivationName } from "../layers/activation.ts";
import {
  activationValue,
  boolValue,
  intValue,
  optPositiveValue,
  positiveValue,
  withDefaults,
} from "../_config_values.ts";

/** Per layer: whether it attends to every past position or to the last `sliding_window`. */
export type Gemma2LayerType = "full_attention" | "sliding_attention";

/**
 * A parsed Gemma 2 config under HuggingFace key names (what Gemma2Config holds), every
 * optional key resolved.
 *
 * @example
 * ```ts
 * import { parseGemma2Config } from "./config.ts";
 * const c = parseGemma2Config({ model_type: "gemma2", num_hidden_layers: 3 });
 * c.layer_types; // ["sliding_attention", "full_attention", "sliding_attention"]
 * ```
 */
export interface Gemma2Config extends DecoderConfigFields {
  /** Always "gemma2". */
  model_type: "gemma2";
  /** Key/value heads (grouped-query attention). */
  num_key_value_heads: number;
  /** Channels per head (independent of hidden_size / heads). */
  head_dim: number;
  /** Epsilon of every RMSNorm. */
  rms_norm_eps: number;
  /** Rotary base. */
  rope_theta: number;
  /** Scores are scaled by query_pre_attn_scalar ** -0.5 (not head_dim ** -0.5). */
  query_pre_attn_scalar: number;
  /** Window of the sliding-attention layers. */
  sliding_window: number;
  /** Attention scores become cap * tanh(scores / cap), or null. */
  attn_logit_softcapping: number | null;
  /** Logits become cap * tanh(logits / cap), or null. */
  final_logit_softcapping: number | null;
  /** The gate activation (`hidden_activation`, or the older `hidden_act`). */
  hidden_activation: ActivationName;
  /** Biases on q/k/v/o. */
  attention_bias: boolean;
  /** Per layer (default: even layers sliding, odd layers full). */
  layer_types: Gemma2LayerType[];
}

/** Gemma2Config's defaults (gemma-2-9b's shape). */
const DEFAULTS: Record<string, unknown> = {
  vocab_size: 256000,
  hidden_size: 3072,
  intermediate_size: 24576,
  num_hidden_layers: 28,
  num_attention_heads: 16,
  num_key_value_heads: 16,
  head_dim: 256,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  query_pre_attn_scalar: 256,
  sliding_window: 4096,
  attn_logit_softcapping: 50.0,
  final_logit_softcapping: 30.0,
  pad_token_id: 0,
  eos_token_id: 1,
  bos_token_id: 2,
};

const LAYER_TYPES: readonly string[] = ["full_attention", "sliding_attention"];

const isLayerType = (t: unknown): t is Gemma2LayerType =>
  typeof t === "string" && LAYER_TYPES.includes(t);

/**
 * `src.layer_types` (default: every `pattern`-th layer full, the others sliding), one known
 * entry per layer, or a RangeError that quotes the value. Gemma 3 reads its layers the same way.
 *
 * @example
 * ```ts
 * import { gemmaLayerTypes } from "./config.ts";
 * gemmaLayerTypes({}, 3, 2); // ["sliding_attention", "full_attention", "sliding_attention"]
 * ```
 */
export function gemmaLayerTypes(
  src: Record<string, unknown>,
  layers: number,
  pattern: number,
): Gemma2LayerType[] {
  const types = src.layer_types ??
    Array.from(
      { length: layers },
      (_, i) => (i + 1) % pattern ? "sliding_attention" : "full_attention",
    );
  if (!Array.isArray(types) || types.length !== layers) {
    throw new RangeError(
      `Config "layer_types" is "${JSON.stringify(types)}": give one entry per layer (${layers})`,
    );
  }
  for (const t of types) {
    if (!isLayerType(t)) {
      throw new RangeError(
        `Config "layer_types" has "${t}": use "full_attention" or "sliding_attention"`,
      );
    }
  }
  return types;
}

/**
 * Validates a Gemma 2 config.json object and fills in Gemma2Config's defaults. Throws
 * TypeError/RangeError naming the key, the value and what is allowed.
 *
 * @example
 * ```ts
 * import { parseGemma2Config } from "./config.ts";
 * parseGemma2Config({ model_type: "gemma2", query_pre_attn_scalar: 24 }).query_pre_attn_scalar; // 24
 * ```
 */
export function parseGemma2Config(json: unknown): Gemma2Config {
  const src = withDefaults(json, "gemma2", "Gemma 2", DEFAULTS);
  const heads = intValue(src, "num_attention_heads");
  const kv = kvHeadsValue(src, heads);
  const layers = intValue(src, "num_hidden_layers");
  src.hidden_activation ??= src.hidden_act ?? "gelu_pytorch_tanh";
  const types = gemmaLayerTypes(src, layers, 2);
  return {
    model_type: "gemma2",
    ...sizeFields(src),
    num_key_value_heads: kv,
    head_dim: intValue(src, "head_dim"),
    rms_norm_eps: positiveValue(src, "rms_norm_eps"),
    rope_theta: positiveValue(src, "rope_theta"),
    query_pre_attn_scalar: positiveValue(src, "query_pre_attn_scalar"),
    sliding_window: intValue(src, "sliding_window"),
    attn_logit_softcapping: optPositiveValue(src, "attn_logit_softcapping"),
    final_logit_softcapping: optPositiveValue(src, "final_logit_softcapping"),
    hidden_activation: activationValue(src, "hidden_activation"),
    attention_bias: boolValue(src, "attention_bias", false),
    layer_types: types,
    ...tokenFields(src, true),
  };
}
