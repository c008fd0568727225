// config.json of the Llama-style families (llama, mistral, qwen2, qwen3): HF key names read,
// defaults of each family's config class filled in, values checked. Pure data; builds nothing.

import { type ActivationName, ACTIVATIONS } from "../layers/activation.ts";
import type { RopeScaling } from "../layers/rotary.ts";
import { boolValue, intValue } from "../_config_values.ts";
import {
  type DecoderConfigFields,
  kvHeadsValue,
  sizeFields,
  tokenFields,
} from "../_config_common.ts";

/** The model_type values this parser reads. */
export const LLAMA_LIKE_TYPES = ["llama", "mistral", "qwen2", "qwen3"] as const;

/** One of {@link LLAMA_LIKE_TYPES}. */
export type LlamaLikeType = typeof LLAMA_LIKE_TYPES[number];

/**
 * A parsed Llama-style config under HuggingFace key names (what LlamaConfig, MistralConfig,
 * Qwen2Config and Qwen3Config hold), every optional key resolved.
 *
 * @example
 * ```ts
 * import { parseLlamaConfig } from "./config.ts";
 * const c = parseLlamaConfig({ model_type: "qwen3", hidden_size: 32, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16 });
 * c.head_dim; // 16
 * ```
 */
export interface LlamaConfig extends DecoderConfigFields {
  /** Which family: "llama", "mistral", "qwen2" or "qwen3". */
  model_type: LlamaLikeType;
  /** Key/value heads (grouped-query attention). */
  num_key_value_heads: number;
  /** Channels per head (default hidden_size / num_attention_heads). */
  head_dim: number;
  /** Epsilon of every RMSNorm. */
  rms_norm_eps: number;
  /** Rotary base. */
  rope_theta: number;
  /** Rotary scaling (linear, llama3), or null. */
  rope_scaling: RopeScaling | null;
  /** Fraction of each head that rotates. */
  partial_rotary_factor: number;
  /** Biases on q/k/v/o (Llama, Qwen3). Qwen2 always has q/k/v biases and no o bias. */
  attention_bias: boolean;
  /** Biases on the MLP projections (Llama). */
  mlp_bias: boolean;
  /** The MLP activation. */
  hidden_act: ActivationName;
  /** Sliding-window width of the layers that use one, or null. */
  sliding_window: number | null;
  /** Per layer: "full_attention" or "sliding_attention". */
  layer_types: ("full_attention" | "sliding_attention")[];
}

const DEFAULTS: Record<LlamaLikeType, Partial<Record<string, unknown>>> = {
  llama: {
    hidden_size: 4096,
    intermediate_size: 11008,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    max_position_embeddings: 2048,
    vocab_size: 32000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
    bos_token_id: 1,
    eos_token_id: 2,
  },
  mistral: {
    hidden_size: 4096,
    intermediate_size: 14336,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    max_position_embeddings: 4096 * 32,
    vocab_size: 32000,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
    sliding_window: 4096,
    bos_token_id: 1,
    eos_token_id: 2,
  },
  qwen2: {
    hidden_size: 4096,
    intermediate_size: 22016,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    max_position_embeddings: 32768,
    vocab_size: 151936,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
  },
  qwen3: {
    hidden_size: 4096,
    intermediate_size: 22016,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 32,
    head_dim: 128,
    max_position_embeddings: 32768,
    vocab_size: 151936,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: false,
  },
};

/**
 * Validates a Llama, Mistral, Qwen2 or Qwen3 config.json object and fills in the defaults of
 * its config class. Throws TypeError/RangeError naming the key, the value and what is allowed.
 *
 * @example
 * ```ts
 * import { parseLlamaConfig } from "./config.ts";
 * const c = parseLlamaConfig({ model_type: "mistral", hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, num_hidden_layers: 2 });
 * c.sliding_window; // 4096
 * ```
 */
export function parseLlamaConfig(json: unknown): LlamaConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(`Config is "${JSON.stringify(json)}": pass the object in config.json`);
  }
  const raw = json as Record<string, unknown>;
  const type = (raw.model_type ?? "llama") as LlamaLikeType;
  if (!LLAMA_LIKE_TYPES.includes(type)) {
    throw new RangeError(
      `model_type "${raw.model_type}" is not a Llama-style family: use one of ${
        LLAMA_LIKE_TYPES.map((t) => `"${t}"`).join(", ")
      }`,
    );
  }
  const src: Record<string, unknown> = { ...DEFAULTS[type] };
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) src[k] = v;
  const hidden = intValue(src, "hidden_size");
  const heads = intValue(src, "num_attention_heads");
  src.num_key_value_heads ??= heads;
  src.head_dim ??= hidden / heads;
  const kv = kvHeadsValue(src, heads);
  const layers = intValue(src, "num_hidden_layers");
  const act = src.hidden_act ?? "silu";
  if (!ACTIVATIONS.includes(act as ActivationName)) {
    throw new RangeError(
      `Unsupported hidden_act "${act}": use one of ${ACTIVATIONS.map((a) => `"${a}"`).join(", ")}`,
    );
  }
  const eps = src.rms_norm_eps;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new RangeError(`Config "rms_norm_eps" is "${eps}": it must be a positive number`);
  }
  // transformers 5 writes rope_theta and the scaling together as rope_parameters.
  const rp = (src.rope_parameters ?? null) as (RopeScaling & { rope_theta?: number }) | null;
  const theta = src.rope_theta ?? rp?.rope_theta ?? 10000;
  if (typeof theta !== "number" || !(theta > 0)) {
    throw new RangeError(`Config "rope_theta" is "${theta}": it must be a positive number`);
  }
  // Sliding windows: Mistral on every layer; Qwen2/Qwen3 only where layer_types says so.
  let window = src.sliding_window === undefined ? null : src.sliding_window as number | null;
  if ((type === "qwen2" || type === "qwen3") && !src.use_sliding_window) window = null;
  if (window !== null) window = intValue({ sliding_window: window }, "sliding_window");
  let layerTypes = src.layer_types as LlamaConfig["layer_types"] | undefined;
  if (type === "mistral" || !Array.isArray(layerTypes)) {
    layerTypes = Array.from(
      { length: layers },
      (_, i) =>
        window !== null && (type === "mistral" || i >= ((src.max_window_layers as number) ?? 0))
          ? "sliding_attention"
          : "full_attention",
    );
  }
  if (layerTypes.length !== layers) {
    throw new RangeError(
      `Config "layer_types" has ${layerTypes.length} entries for ${layers} layers: give one per layer`,
    );
  }
  const partial = src.partial_rotary_factor ?? 1;
  if (typeof partial !== "number" || !(partial > 0 && partial <= 1)) {
    throw new RangeError(`Config "partial_rotary_factor" is "${partial}": it must be in (0, 1]`);
  }
  return {
    model_type: type,
    ...sizeFields(src),
    num_key_value_heads: kv,
    head_dim: intValue(src, "head_dim"),
    rms_norm_eps: eps,
    rope_theta: theta,
    rope_scaling: (src.rope_scaling ?? (rp && rp.rope_type !== "default" ? rp : null)) as
      | RopeScaling
      | null,
    partial_rotary_factor: partial,
    attention_bias: boolValue(src, "attention_bias", false),
    mlp_bias: boolValue(src, "mlp_bias", false),
    hidden_act: act as ActivationName,
    sliding_window: window,
    layer_types: layerTypes.map((t) => (window === null ? "full_attention" : t)),
    ...tokenFields(src, false),
  };
}
