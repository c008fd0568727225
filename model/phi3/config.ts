// config.json of Phi-3 (model_type "phi3"): HF key names read (rope_theta, rope_scaling and
// partial_rotary_factor, or transformers 5's rope_parameters), Phi3Config's defaults filled in,
// values checked; longrope ("su", "yarn" as Phi3Config maps them) in its short regime. Pure data.

import {
  type DecoderConfigFields,
  kvHeadsValue,
  sizeFields,
  tokenFields,
} from "../_config_common.ts";
import type { ActivationName } from "../layers/activation.ts";
import { longrope } from "../layers/longrope.ts";
import type { RopeScaling } from "../layers/rotary.ts";
import { activationValue, intValue, positiveValue, withDefaults } from "../_config_values.ts";

/**
 * A parsed Phi-3 config under HuggingFace key names (what Phi3Config holds).
 *
 * @example
 * ```ts
 * import { parsePhi3Config } from "./config.ts";
 * const c = parsePhi3Config({ model_type: "phi3", sliding_window: 2047 });
 * [c.num_key_value_heads, c.head_dim, c.sliding_window]; // [32, 96, 2047]
 * ```
 */
export interface Phi3Config extends DecoderConfigFields {
  /** Width of the gated MLP (gate_up_proj has twice as many outputs). */
  intermediate_size: number;
  /** Always "phi3". */
  model_type: "phi3";
  /** Key/value heads (grouped-query attention; default num_attention_heads). */
  num_key_value_heads: number;
  /** Channels per head (`head_dim`, default hidden_size / num_attention_heads). */
  head_dim: number;
  /** Epsilon of every RMSNorm. */
  rms_norm_eps: number;
  /** Rotary base (`rope_theta`, or `rope_parameters.rope_theta`). */
  rope_theta: number;
  /** Fraction of each head that rotates (Phi-4-mini: 0.75). */
  partial_rotary_factor: number;
  /**
   * longrope scaling (short_factor, long_factor, original_max_position_embeddings, factor filled
   * in as max / original when absent), or null for plain rotary.
   */
  rope_scaling: RopeScaling | null;
  /** Every layer sees keys less than this many cache positions back, or null (no window). */
  sliding_window: number | null;
  /** The MLP activation. */
  hidden_act: ActivationName;
}

/** Phi3Config's defaults (Phi-3-mini's shape). */
const DEFAULTS: Record<string, unknown> = {
  vocab_size: 32064,
  hidden_size: 3072,
  intermediate_size: 8192,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  hidden_act: "silu",
  max_position_embeddings: 4096,
  rms_norm_eps: 1e-5,
  bos_token_id: 1,
  eos_token_id: 32000,
  pad_token_id: 32000,
  sliding_window: null,
  original_max_position_embeddings: 4096,
};

/** Phi3Config maps these rope types to "longrope". */
const LONGROPE = ["longrope", "su", "yarn"];

/**
 * Validates a Phi-3 config.json object and fills in Phi3Config's defaults. Throws
 * TypeError/RangeError naming the key, the value and what is allowed. A `rope_scaling` (or
 * `rope_parameters`) of type "longrope", "su" or "yarn" (Phi-3.5, Phi-4-mini, the 128k Phi-3)
 * becomes longrope, checked here; other types are a RangeError.
 *
 * @example
 * ```ts
 * import { parsePhi3Config } from "./config.ts";
 * parsePhi3Config({ rope_parameters: { rope_theta: 250000, partial_rotary_factor: 0.75 } }).partial_rotary_factor; // 0.75
 * ```
 */
export function parsePhi3Config(json: unknown): Phi3Config {
  const src = withDefaults(json, "phi3", "Phi-3", DEFAULTS);
  const rp = src.rope_parameters ?? null;
  if (rp !== null && (typeof rp !== "object" || Array.isArray(rp))) {
    throw new TypeError(`Config "rope_parameters" is "${JSON.stringify(rp)}": give an object`);
  }
  const rope = (rp ?? {}) as Record<string, unknown>;
  const scaling = (src.rope_scaling ?? null) as Record<string, unknown> | null;
  if (scaling !== null && (typeof scaling !== "object" || Array.isArray(scaling))) {
    throw new TypeError(`Config "rope_scaling" is "${JSON.stringify(scaling)}": give an object`);
  }
  // transformers 5 writes the scaling into rope_parameters; older configs into rope_scaling.
  const given = scaling ?? rope;
  const kind = String(given.rope_type ?? given.type ?? "default");
  if (kind !== "default" && !LONGROPE.includes(kind)) {
    throw new RangeError(
      `Unsupported ${
        scaling ? "rope_scaling" : "rope_parameters"
      } type "${kind}" for Phi-3: tsight supports plain rotary ("default" or null) and "longrope" (also spelled "su")`,
    );
  }
  src.rope_theta ??= rope.rope_theta ?? 10000;
  src.partial_rotary_factor ??= rope.partial_rotary_factor ?? 1;
  const partial = src.partial_rotary_factor;
  if (typeof partial !== "number" || !(partial > 0 && partial <= 1)) {
    throw new RangeError(`Config "partial_rotary_factor" is "${partial}": it must be in (0, 1]`);
  }
  const heads = intValue(src, "num_attention_heads");
  src.num_key_value_heads ??= heads;
  const kv = kvHeadsValue(src, heads);
  const hidden = intValue(src, "hidden_size");
  src.head_dim ??= hidden / heads;
  const headDim = intValue(src, "head_dim");
  const maxPositions = intValue(src, "max_position_embeddings");
  let ropeScaling: RopeScaling | null = null;
  if (kind !== "default") {
    const original = given.original_max_position_embeddings ??
      src.original_max_position_embeddings;
    ropeScaling = {
      ...(given as RopeScaling),
      rope_type: "longrope",
      original_max_position_embeddings: original as number,
      factor: (given.factor ?? maxPositions / (original as number)) as number,
    };
    longrope(ropeScaling, Math.floor(headDim * partial) / 2); // named errors now, not at build
  }
  if (headDim * partial < 2) {
    throw new RangeError(
      `Config "partial_rotary_factor" is "${partial}": with head_dim ${headDim} no channel rotates`,
    );
  }
  return {
    model_type: "phi3",
    ...sizeFields(src),
    num_key_value_heads: kv,
    head_dim: headDim,
    rms_norm_eps: positiveValue(src, "rms_norm_eps"),
    rope_theta: positiveValue(src, "rope_theta"),
    partial_rotary_factor: partial,
    rope_scaling: ropeScaling,
    sliding_window: src.sliding_window === null ? null : intValue(src, "sliding_window"),
    hidden_act: activationValue(src, "hidden_act"),
    ...tokenFields(src, false),
  };
}
