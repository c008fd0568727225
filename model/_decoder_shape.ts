// The family-agnostic DecoderShape and KV cache of a decoder whose config uses the common HF key
// names (num_hidden_layers, num_attention_heads, ...). Shared by the Gemma 2 and GPT-NeoX models.

import type { Device } from "../engine/mod.ts";
import type { DecoderShape } from "./causal_lm.ts";
import { KVCache } from "./kv_cache.ts";

/** The config keys {@link decoderShape} reads (HF names; ids already parsed). */
export interface CommonDecoderConfig {
  /** HF model_type. */
  model_type: string;
  /** Decoder layers. */
  num_hidden_layers: number;
  /** Width of the residual stream. */
  hidden_size: number;
  /** Query heads. */
  num_attention_heads: number;
  /** Positions the model was built for. */
  max_position_embeddings: number;
  /** Vocabulary size. */
  vocab_size: number;
  /** Beginning-of-sequence id or null. */
  bos_token_id: number | null;
  /** End-of-sequence ids. */
  eos_token_id: number[];
  /** Padding id or null. */
  pad_token_id: number | null;
}

/**
 * A DecoderShape from a parsed config; `numKvHeads` and `headDim` default to the heads and
 * hidden_size / heads (no grouped-query attention).
 *
 * @example
 * ```ts
 * import { decoderShape } from "./_decoder_shape.ts";
 * const s = decoderShape({ model_type: "x", num_hidden_layers: 2, hidden_size: 8, num_attention_heads: 2, max_position_embeddings: 16, vocab_size: 10, bos_token_id: null, eos_token_id: [], pad_token_id: null });
 * s.headDim; // 4
 * ```
 */
export function decoderShape(
  c: CommonDecoderConfig,
  heads: { numKvHeads?: number; headDim?: number } = {},
): DecoderShape {
  return {
    modelType: c.model_type,
    numLayers: c.num_hidden_layers,
    hiddenSize: c.hidden_size,
    numHeads: c.num_attention_heads,
    numKvHeads: heads.numKvHeads ?? c.num_attention_heads,
    headDim: heads.headDim ?? c.hidden_size / c.num_attention_heads,
    maxPositions: c.max_position_embeddings,
    vocabSize: c.vocab_size,
    bosTokenId: c.bos_token_id,
    eosTokenIds: c.eos_token_id,
    padTokenId: c.pad_token_id,
  };
}

/**
 * A KV cache sized by `shape` for `batch` rows on `device`.
 *
 * @example
 * ```ts
 * import { decoderShape, newKVCache } from "./_decoder_shape.ts";
 * const s = decoderShape({ model_type: "x", num_hidden_layers: 2, hidden_size: 8, num_attention_heads: 2, max_position_embeddings: 16, vocab_size: 10, bos_token_id: null, eos_token_id: [], pad_token_id: null });
 * newKVCache(s, "cpu", { batch: 1 }).length; // 0
 * ```
 */
export function newKVCache(
  shape: DecoderShape,
  device: Device,
  opts: { batch: number; capacity?: number },
): KVCache {
  const { numLayers, numKvHeads, headDim } = shape;
  return new KVCache({ numLayers, numKvHeads, headDim }, { ...opts, device });
}
