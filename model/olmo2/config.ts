// config.json of OLMo 2 (model_type "olmo2"): HF key names read (rope_theta, or the newer
// rope_parameters), Olmo2Config's defaults filled in, values checked. Pure data.

import { type DecoderConfigFields, sizeFields, tokenFields } from "../_config_common.ts";
import type { ActivationName } from "../layers/activation.ts";
import type { RopeScaling } from "../layers/rotary.ts";
import {
  activationValue,
  boolValue,
  intValue,
  positiveValue,
  withDefaults,
} from "../_config_values.ts";

/**
 * A parsed OLMo 2 config under HuggingFace key names (what Olmo2Config holds).
 *
 * @example
 * ```ts
 * import { parseOlmo2Config } from "./config.ts";
 * parseOlmo2Config({ model_type: "olmo2", num_attention_heads: 4 }).num_key_value_heads; // 4
 * ```
 */
export interface Olmo2Config extends DecoderConfigFields {
  /** Always "olmo2". */
  model_type: "olmo2";
  /** Key/value heads (grouped-query attention). */
  num_key_value_heads: number;
  /** Epsilon of every RMSNorm. */
  rms_norm_eps: number;
  /** Rotary base (`rope_theta`, or `rope_parameters.rope_theta`). */
  rope_theta: number;
  /** Rotary scaling (linear, llama3), or null. */
  rope_scaling: RopeScaling | null;
  /** Biases on q/k/v/o. */
  attention_bias: boolean;
  /** The MLP activation. */
  hidden_act: ActivationName;
}

/** Olmo2Config's defaults. */
const DEFAULTS: Record<string, unknown> = {
  vocab_size: 50304,
  hidden_size: 4096,
  intermediate_size: 11008,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  hidden_act: "silu",
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  pad_token_id: 1,
  eos_token_id: 50279,
};

/**
 * Validates an OLMo 2 config.json object and fills in Olmo2Config's defaults. Throws
 * TypeError/RangeError naming the key, the value and what is allowed.
 *
 * @example
 * ```ts
 * import { parseOlmo2Config } from "./config.ts";
 * parseOlmo2Config({ rope_parameters: { rope_theta: 500000 } }).rope_theta; // 500000
 * ```
 */
export function parseOlmo2Config(json: unknown): Olmo2Config {
  const src = withDefaults(json, "olmo2", "OLMo 2", DEFAULTS);
  const rope = (src.rope_parameters ?? {}) as Record<string, unknown>;
  src.rope_theta ??= rope.rope_theta ?? 10000;
  const ropeType = rope.rope_type ?? "default";
  src.rope_scaling ??= ropeType === "default" ? null : rope;
  const heads = intValue(src, "num_attention_heads");
  src.num_key_value_heads ??= heads;
  const kv = intValue(src, "num_key_value_heads");
  const hidden = intValue(src, "hidden_size");
  if (heads % kv !== 0 || hidden % heads !== 0) {
    throw new RangeError(
      `Config "num_attention_heads" (${heads}) must divide "hidden_size" (${hidden}) and be divisible by "num_key_value_heads" (${kv})`,
    );
  }
  return {
    model_type: "olmo2",
    ...sizeFields(src),
    num_key_value_heads: kv,
    rms_norm_eps: positiveValue(src, "rms_norm_eps"),
    rope_theta: positiveValue(src, "rope_theta"),
    rope_scaling: (src.rope_scaling ?? null) as RopeScaling | null,
    attention_bias: boolValue(src, "attention_bias", false),
    hidden_act: activationValue(src, "hidden_act"),
    ...tokenFields(src, false),
  };
}
