// config.json of GPT-NeoX / Pythia (model_type "gpt_neox"): HF key names read (rotary_pct and
// rotary_emb_base, or their newer names), GPTNeoXConfig's defaults filled in, values checked.

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
 * A parsed GPT-NeoX config under HuggingFace key names (what GPTNeoXConfig holds), every
 * optional key resolved.
 *
 * @example
 * ```ts
 * import { parseGPTNeoXConfig } from "./config.ts";
 * parseGPTNeoXConfig({ model_type: "gpt_neox", rotary_pct: 0.25 }).rotary_pct; // 0.25
 * ```
 */
export interface GPTNeoXConfig extends DecoderConfigFields {
  /** embed_out.weight is embed_in.weight (false for Pythia). */
  tie_word_embeddings: boolean;
  /** Always "gpt_neox". */
  model_type: "gpt_neox";
  /** Epsilon of every LayerNorm. */
  layer_norm_eps: number;
  /** Fraction of each head that rotates (`rotary_pct`, or `partial_rotary_factor`). */
  rotary_pct: number;
  /** Rotary base (`rotary_emb_base`, or `rope_theta`). */
  rotary_emb_base: number;
  /** Rotary scaling (linear, llama3), or null. */
  rope_scaling: RopeScaling | null;
  /** x + attn(ln1(x)) + mlp(ln2(x)) when true; sequential residuals when false. */
  use_parallel_residual: boolean;
  /** The MLP activation. */
  hidden_act: ActivationName;
  /** Biases on query_key_value and dense. */
  attention_bias: boolean;
}

/** GPTNeoXConfig's defaults (gpt-neox-20b's shape). */
const DEFAULTS: Record<string, unknown> = {
  vocab_size: 50432,
  hidden_size: 6144,
  num_hidden_layers: 44,
  num_attention_heads: 64,
  intermediate_size: 24576,
  hidden_act: "gelu",
  max_position_embeddings: 2048,
  layer_norm_eps: 1e-5,
  bos_token_id: 0,
  eos_token_id: 2,
};

/**
 * Validates a GPT-NeoX config.json object and fills in GPTNeoXConfig's defaults. Throws
 * TypeError/RangeError naming the key, the value and what is allowed.
 *
 * @example
 * ```ts
 * import { parseGPTNeoXConfig } from "./config.ts";
 * parseGPTNeoXConfig({ use_parallel_residual: false }).use_parallel_residual; // false
 * ```
 */
export function parseGPTNeoXConfig(json: unknown): GPTNeoXConfig {
  const src = withDefaults(json, "gpt_neox", "GPT-NeoX", DEFAULTS);
  src.rotary_pct ??= src.partial_rotary_factor ?? 0.25;
  src.rotary_emb_base ??= src.rope_theta ?? 10000;
  const hidden = intValue(src, "hidden_size");
  const heads = intValue(src, "num_attention_heads");
  if (hidden % heads !== 0) {
    throw new RangeError(
      `Config "hidden_size" (${hidden}) is not divisible by "num_attention_heads" (${heads})`,
    );
  }
  const pct = src.rotary_pct;
  if (typeof pct !== "number" || !(pct > 0 && pct <= 1)) {
    throw new RangeError(`Config "rotary_pct" is "${pct}": it must be in (0, 1]`);
  }
  if (Math.floor((hidden / heads) * pct) < 2) {
    throw new RangeError(
      `Config "rotary_pct" is "${pct}": it rotates fewer than 2 of the ${
        hidden / heads
      } channels of a head`,
    );
  }
  return {
    model_type: "gpt_neox",
    ...sizeFields(src),
    layer_norm_eps: positiveValue(src, "layer_norm_eps"),
    rotary_pct: pct,
    rotary_emb_base: positiveValue(src, "rotary_emb_base"),
    rope_scaling: (src.rope_scaling ?? null) as RopeScaling | null,
    use_parallel_residual: boolValue(src, "use_parallel_residual", true),
    hidden_act: activationValue(src, "hidden_act"),
    attention_bias: boolValue(src, "attention_bias", true),
    ...tokenFields(src, false),
  };
}
