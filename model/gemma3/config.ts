// config.json of Gemma 3 text models (model_type "gemma3_text"): HF key names read (the legacy
// rope_theta / rope_local_base_freq / rope_scaling, or transformers 5's per-layer-type
// rope_parameters), Gemma3TextConfig's defaults filled in, values checked. Pure data.

import {
  type DecoderConfigFields,
  kvHeadsValue,
  sizeFields,
  tokenFields,
} from "../_config_common.ts";
import type { ActivationName } from "../layers/activation.ts";
import type { RopeScaling } from "../layers/rotary.ts";
import { gemmaLayerTypes } from "../gemma2/config.ts";
import {
  activationValue,
  boolValue,
  intValue,
  optPositiveValue,
  positiveValue,
  withDefaults,
} from "../_config_values.ts";

/** Per layer: whether it attends to every past position or to the last `sliding_window`. */
export type Gemma3LayerType = "full_attention" | "sliding_attention";

/**
 * A parsed Gemma 3 text config under HuggingFace key names (what Gemma3TextConfig holds in
 * transformers 4.57), every optional key resolved.
 *
 * @example
 * ```ts
 * import { parseGemma3Config } from "./config.ts";
 * const c = parseGemma3Config({ model_type: "gemma3_text", num_hidden_layers: 7 });
 * c.layer_types[5]; // "full_attention": every 6th layer is global
 * ```
 */
export interface Gemma3Config extends DecoderConfigFields {
  /** Always "gemma3_text". */
  model_type: "gemma3_text";
  /** Key/value heads (grouped-query attention). */
  num_key_value_heads: number;
  /** Channels per head (independent of hidden_size / heads). */
  head_dim: number;
  /** Epsilon of every RMSNorm (q_norm and k_norm too). */
  rms_norm_eps: number;
  /** Rotary base of the global (full-attention) layers. */
  rope_theta: number;
  /** Rotary base of the local (sliding-window) layers. */
  rope_local_base_freq: number;
  /** Rotary scaling of the global layers (linear), or null; local layers never scale. */
  rope_scaling: RopeScaling | null;
  /** Scores are scaled by query_pre_attn_scalar ** -0.5 (not head_dim ** -0.5). */
  query_pre_attn_scalar: number;
  /** Window of the sliding-attention layers. */
  sliding_window: number;
  /** Attention scores become cap * tanh(scores / cap), or null (the default). */
  attn_logit_softcapping: number | null;
  /** Logits become cap * tanh(logits / cap), or null (the default). */
  final_logit_softcapping: number | null;
  /** The gate activation (`hidden_activation`, or the older `hidden_act`). */
  hidden_activation: ActivationName;
  /** Biases on q/k/v/o. */
  attention_bias: boolean;
  /** Per layer (default: every `sliding_window_pattern`-th layer full, the others sliding). */
  layer_types: Gemma3LayerType[];
}

/** Gemma3TextConfig's defaults (gemma-3-4b's text shape). */
const DEFAULTS: Record<string, unknown> = {
  vocab_size: 262208,
  hidden_size: 2304,
  intermediate_size: 9216,
  num_hidden_layers: 26,
  num_attention_heads: 8,
  num_key_value_heads: 4,
  head_dim: 256,
  max_position_embeddings: 131072,
  rms_norm_eps: 1e-6,
  query_pre_attn_scalar: 256,
  sliding_window: 4096,
  attn_logit_softcapping: null,
  final_logit_softcapping: null,
  pad_token_id: 0,
  eos_token_id: 1,
  bos_token_id: 2,
};

const GLOBAL_ROPE: readonly string[] = ["default", "linear"];

type Rope = Record<string, unknown>;
const ropeKind = (r: Rope | null) => (r ? String(r.rope_type ?? r.type ?? "default") : "default");

/** The rope of each layer type: transformers 5's rope_parameters, else the legacy keys. */
function ropeOf(src: Record<string, unknown>): { global: Rope | null; local: Rope | null } {
  const rp = src.rope_parameters;
  if (rp !== null && rp !== undefined && (typeof rp !== "object" || Array.isArray(rp))) {
    throw new TypeError(
      `Config "rope_parameters" is "${JSON.stringify(rp)}": give an object per layer type`,
    );
  }
  const p = (rp ?? {}) as Record<string, unknown>;
  const nested = "full_attention" in p || "sliding_attention" in p;
  const global = (nested ? p.full_attention : rp) as Rope | null | undefined;
  return {
    global: global ?? (src.rope_scaling as Rope | null | undefined) ?? null,
    local: nested ? (p.sliding_attention as Rope | null | undefined) ?? null : null,
  };
}

/**
 * Validates a Gemma 3 text config.json object and fills in Gemma3TextConfig's defaults. Throws
 * TypeError/RangeError naming the key, the value and what is allowed; the multimodal
 * `model_type: "gemma3"` config is refused (load the text-only checkpoint).
 *
 * @example
 * ```ts
 * import { parseGemma3Config } from "./config.ts";
 * const c = parseGemma3Config({ rope_scaling: { rope_type: "linear", factor: 8 } });
 * [c.rope_theta, c.rope_local_base_freq, c.rope_scaling?.factor]; // [1000000, 10000, 8]
 * ```
 */
export function parseGemma3Config(json: unknown): Gemma3Config {
  if ((json as Record<string, unknown> | null)?.model_type === "gemma3") {
    throw new RangeError(
      `model_type "gemma3" is the multimodal Gemma3ForConditionalGeneration: tsight loads the text-only Gemma 3 (model_type "gemma3_text", Gemma3ForCausalLM, e.g. google/gemma-3-1b-it or gemma-3-270m)`,
    );
  }
  const src = withDefaults(json, "gemma3_text", "Gemma 3", DEFAULTS);
  const heads = intValue(src, "num_attention_heads");
  const kv = kvHeadsValue(src, heads);
  if (src.use_bidirectional_attention === true) {
    throw new RangeError(
      `Config "use_bidirectional_attention" is "true": tsight runs Gemma 3 causally only; use a causal checkpoint`,
    );
  }
  const layers = intValue(src, "num_hidden_layers");
  src.hidden_activation ??= src.hidden_act ?? "gelu_pytorch_tanh";
  src.sliding_window_pattern ??= src._sliding_window_pattern ?? 6;
  const pattern = intValue(src, "sliding_window_pattern");
  const types = gemmaLayerTypes(src, layers, pattern);
  const { global, local } = ropeOf(src);
  if (!GLOBAL_ROPE.includes(ropeKind(global))) {
    throw new RangeError(
      `Unsupported rope_scaling type "${
        ropeKind(global)
      }" for Gemma 3's global layers: tsight supports "default" and "linear"`,
    );
  }
  if (ropeKind(local) !== "default") {
    throw new RangeError(
      `Unsupported rope_parameters.sliding_attention type "${
        ropeKind(local)
      }": Gemma 3's local layers rotate without scaling ("default")`,
    );
  }
  src.rope_theta = global?.rope_theta ?? src.rope_theta ?? 1_000_000;
  src.rope_local_base_freq = local?.rope_theta ?? src.rope_local_base_freq ?? 10_000;
  const linear = ropeKind(global) === "linear", factor = global?.factor;
  if (linear && !(typeof factor === "number" && factor > 0 && Number.isFinite(factor))) {
    throw new RangeError(
      `Config "rope_scaling.factor" is "${factor}": it must be a positive number`,
    );
  }
  return {
    model_type: "gemma3_text",
    ...sizeFields(src),
    num_key_value_heads: kv,
    head_dim: intValue(src, "head_dim"),
    rms_norm_eps: positiveValue(src, "rms_norm_eps"),
    rope_theta: positiveValue(src, "rope_theta"),
    rope_local_base_freq: positiveValue(src, "rope_local_base_freq"),
    rope_scaling: linear ? { rope_type: "linear", factor: factor as number } : null,
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
