// The family-agnostic DecoderShape of a decoder whose config uses the common HF key names
// (num_hidden_layers, num_attention_heads, ...), and the inputs of one forward. Shared by the
// families other than GPT-2; builds no modules.

import { arange, type Device, type Tensor } from "../engine/mod.ts";
import type { CausalLMForwardOptions, DecoderShape, KVCacheLike } from "./causal_lm.ts";

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

/** What a decoder stack's forward derives from its ids and options before embedding. */
export interface ForwardInputs {
  /** Batch rows. */
  B: number;
  /** New positions in this call. */
  T: number;
  /** Positions the cache already holds. */
  past: number;
  /** The cache, or null. */
  cache: KVCacheLike | null;
  /** (B, T) int32: the given positions, or past..past+T-1 for every row. */
  positionIds: Tensor;
}

/**
 * Checks that `inputIds` is an int32 (B, T) tensor (a TypeError naming `who` otherwise) and
 * resolves the cache and default positions of one forward.
 *
 * @example
 * ```ts
 * import { tensor } from "../engine/mod.ts";
 * import { forwardInputs } from "./_decoder_shape.ts";
 * const ids = tensor([[1, 2]], undefined, { dtype: "int32" });
 * forwardInputs("gpt_neox model", ids, {}, "cpu").positionIds.shape; // [1, 2]
 * ```
 */
export function forwardInputs(
  who: string,
  inputIds: Tensor,
  opts: CausalLMForwardOptions,
  device: Device,
): ForwardInputs {
  if (inputIds.ndim !== 2 || inputIds.dtype !== "int32") {
    throw new TypeError(
      `${who}: input ids must be an int32 (B, T) tensor, got ${inputIds.dtype} [${inputIds.shape}]`,
    );
  }
  const [B, T] = inputIds.shape;
  const cache = opts.cache ?? null;
  const past = cache?.length ?? 0;
  const positionIds = opts.positionIds ??
    arange(past, past + T, 1, { device }).reshape(1, T).expand(B, T); // (B, T)
  return { B, T, past, cache, positionIds };
}
