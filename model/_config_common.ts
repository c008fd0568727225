// The config.json keys every family but GPT-2 shares under the same HF names (sizes, head tying,
// special ids, dtype): their parsed type and their readers, with the named errors of
// _config_values.ts. Pure functions.

import { boolValue, dtypeValue, idListValue, intValue, optIdValue } from "./_config_values.ts";

/**
 * The parsed keys every family config but GPT-2's holds (HF key names); each family's config
 * extends it with its own.
 *
 * @example
 * ```ts
 * import type { DecoderConfigFields } from "./_config_common.ts";
 * import { parseOlmo2Config } from "./olmo2/config.ts";
 * const c: DecoderConfigFields = parseOlmo2Config({ hidden_size: 64, num_attention_heads: 4 });
 * c.hidden_size; // 64
 * ```
 */
export interface DecoderConfigFields {
  /** HF model_type (each family narrows it to its own). */
  model_type: string;
  /** Width of the residual stream. */
  hidden_size: number;
  /** Width of the MLP. */
  intermediate_size: number;
  /** Decoder layers. */
  num_hidden_layers: number;
  /** Query heads. */
  num_attention_heads: number;
  /** Positions the model was built for. */
  max_position_embeddings: number;
  /** Vocabulary size. */
  vocab_size: number;
  /** The head's weight is the token embedding's. */
  tie_word_embeddings: boolean;
  /** Beginning-of-sequence id or null. */
  bos_token_id: number | null;
  /** End-of-sequence ids (a config may give one or a list). */
  eos_token_id: number[];
  /** Padding id or null. */
  pad_token_id: number | null;
  /** The stored dtype (`dtype`, or the older `torch_dtype`), or null: rotary buffers round to it. */
  dtype: string | null;
}

/** The size keys of {@link DecoderConfigFields}, read from a config with its defaults. */
export type SizeFields = Pick<
  DecoderConfigFields,
  | "hidden_size"
  | "intermediate_size"
  | "num_hidden_layers"
  | "num_attention_heads"
  | "max_position_embeddings"
  | "vocab_size"
>;

/**
 * hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
 * max_position_embeddings and vocab_size of `src` (defaults filled in), each an integer >= 1 or
 * a RangeError that quotes it.
 *
 * @example
 * ```ts
 * import { sizeFields } from "./_config_common.ts";
 * const src = { hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 32, vocab_size: 10 };
 * sizeFields(src).vocab_size; // 10
 * ```
 */
export function sizeFields(src: Record<string, unknown>): SizeFields {
  return {
    hidden_size: intValue(src, "hidden_size"),
    intermediate_size: intValue(src, "intermediate_size"),
    num_hidden_layers: intValue(src, "num_hidden_layers"),
    num_attention_heads: intValue(src, "num_attention_heads"),
    max_position_embeddings: intValue(src, "max_position_embeddings"),
    vocab_size: intValue(src, "vocab_size"),
  };
}

/** The tying, id and dtype keys of {@link DecoderConfigFields}. */
export type TokenFields = Pick<
  DecoderConfigFields,
  "tie_word_embeddings" | "bos_token_id" | "eos_token_id" | "pad_token_id" | "dtype"
>;

/**
 * tie_word_embeddings (`tieDefault` when absent: the family's config class default), the
 * bos/eos/pad ids and the dtype of `src`, with named errors for bad values.
 *
 * @example
 * ```ts
 * import { tokenFields } from "./_config_common.ts";
 * tokenFields({ eos_token_id: 2 }, true); // { tie_word_embeddings: true, bos_token_id: null, eos_token_id: [2], pad_token_id: null, dtype: null }
 * ```
 */
export function tokenFields(src: Record<string, unknown>, tieDefault: boolean): TokenFields {
  return {
    tie_word_embeddings: boolValue(src, "tie_word_embeddings", tieDefault),
    bos_token_id: optIdValue(src, "bos_token_id"),
    eos_token_id: idListValue(src, "eos_token_id"),
    pad_token_id: optIdValue(src, "pad_token_id"),
    dtype: dtypeValue(src),
  };
}

/**
 * `src.num_key_value_heads` as an integer >= 1 dividing `heads` (grouped-query attention), or a
 * RangeError that quotes both.
 *
 * @example
 * ```ts
 * import { kvHeadsValue } from "./_config_common.ts";
 * kvHeadsValue({ num_key_value_heads: 2 }, 8); // 2
 * ```
 */
export function kvHeadsValue(src: Record<string, unknown>, heads: number): number {
  const kv = intValue(src, "num_key_value_heads");
  if (heads % kv !== 0) {
    throw new RangeError(
      `Config "num_attention_heads" (${heads}) is not divisible by "num_key_value_heads" (${kv})`,
    );
  }
  return kv;
}
