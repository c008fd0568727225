// The family-agnostic contract of a decoder-only language model: what generation, batching, the
// KV cache, loading and LanguageModel need from any family. Types only; no family is named here.

import type { Device, Tensor } from "../engine/mod.ts";
import type { Generator } from "./generator.ts";
import type { Module } from "./module.ts";

/**
 * The numbers the rest of the stack reads from any family's config, under one set of names
 * (each family maps its HuggingFace keys onto these: GPT-2's `n_layer`, Llama's
 * `num_hidden_layers`, ...).
 */
export interface DecoderShape {
  /** HuggingFace `model_type`, e.g. "gpt2", "llama", "gemma2". */
  readonly modelType: string;
  /** Number of decoder layers. */
  readonly numLayers: number;
  /** Width of the residual stream. */
  readonly hiddenSize: number;
  /** Query heads per layer. */
  readonly numHeads: number;
  /** Key/value heads per layer (equal to numHeads without grouped-query attention). */
  readonly numKvHeads: number;
  /** Width of one head (not always hiddenSize / numHeads: Qwen3, Gemma). */
  readonly headDim: number;
  /** Positions the model can embed (n_positions / max_position_embeddings). */
  readonly maxPositions: number;
  /** Vocabulary size: token ids lie in [0, vocabSize). */
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or null. */
  readonly bosTokenId: number | null;
  /** End-of-sequence ids (the first is the default pad); empty when the config names none. */
  readonly eosTokenIds: readonly number[];
  /** Padding id from the config, or null (generation then pads with the first eos id). */
  readonly padTokenId: number | null;
}

/**
 * Where the parts every family has sit in its module tree, as dotted paths (tools such as the
 * logit lens and attention plots use these instead of naming a family).
 */
export interface DecoderPaths {
  /** The ModuleList of decoder layers: "transformer.h", "model.layers", "gpt_neox.layers". */
  readonly layers: string;
  /** The attention module inside one layer: "attn", "self_attn", "attention". */
  readonly attention: string;
  /** The MLP inside one layer: "mlp". */
  readonly mlp: string;
  /** The final norm: "transformer.ln_f", "model.norm", "gpt_neox.final_layer_norm". */
  readonly finalNorm: string;
  /** The unembedding: "lm_head", "embed_out". */
  readonly lmHead: string;
  /** The token embedding: "transformer.wte", "model.embed_tokens", "gpt_neox.embed_in". */
  readonly embed: string;
  /**
   * Whether a decoder layer returns a tuple whose element 0 is the hidden state (GPT-2,
   * GPT-NeoX, Gemma 2 under transformers 4.57) rather than the hidden state itself (Llama).
   */
  readonly layerReturnsTuple: boolean;
}

/** Options of one forward pass over token ids. */
export interface CausalLMForwardOptions {
  /** (B, S) int32, 1 for real tokens and 0 for padding; S = past + T. */
  attentionMask?: Tensor;
  /** (B, T) int32 positions; default past..past+T-1 for every row. */
  positionIds?: Tensor;
  /** Past keys/values; the forward appends this call's T positions to it. */
  cache?: KVCacheLike;
  /**
   * HF's logits_to_keep: the head runs on the last n positions only, so logits are (B, n, V);
   * 0 or undefined keeps every position. Base models ignore it.
   */
  logitsToKeep?: number;
}

/** Per-layer keys and values of past positions, as the attention modules use them. */
export interface KVCacheLike {
  /** Positions already held. */
  readonly length: number;
  /**
   * Appends keys/values (B, kvHeads, T, headDim) of `layer` and returns all held so far
   * (B, kvHeads, length + T, headDim) each.
   */
  update(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor];
  /** Called once per forward, after every layer appended its T positions. */
  advance(T: number): void;
  /**
   * The cache's buffers, for a `tidy` that may grow the cache to return so they are not freed
   * (optional: a cache without device buffers has none).
   */
  readonly tensors?: readonly Tensor[];
  /** Frees the cache's device memory. */
  dispose(): void;
}

/**
 * A decoder-only language model of any family: a Module tree under HuggingFace's exact names
 * whose `forward(ids, opts)` returns logits (B, T, V), with the `generator` module (and its
 * `streamer` child) that generate() calls so traces can observe the ids.
 */
export interface CausalLM extends Module {
  /** The family's parsed config, HuggingFace key names. */
  readonly config: object;
  /** The numbers generation and batching need, under family-agnostic names. */
  readonly shape: DecoderShape;
  /** Dotted paths of the layers, final norm, unembedding and embedding. */
  readonly paths: DecoderPaths;
  /** The device the weights live on. */
  readonly device: Device;
  /** Identity module generate() calls with all ids; its child `streamer` sees each step. */
  readonly generator: Generator;
  /** A fresh KV cache for `batch` rows on this model's device. */
  newCache(opts: { batch: number; capacity?: number }): KVCacheLike;
  /** ids (B, T) int32 -> logits (B, T, V). */
  forward(inputIds: Tensor, opts?: CausalLMForwardOptions): Tensor;
}
