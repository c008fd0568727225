// The `*ForCausalLM` wrapper every family shares: a decoder stack, an unembedding head, the
// generator, shape, paths and KV cache; forward keeps the last positions, runs the head and
// optionally softcaps. Each family subclasses it (ModelTreeForCausalLM: the model/lm_head tree)
// and names its own children.

import type { Device, Tensor } from "../engine/mod.ts";
import type { CausalLM, CausalLMForwardOptions, DecoderPaths, DecoderShape } from "./causal_lm.ts";
import { Generator } from "./generator.ts";
import { cacheFor, type KVCache } from "./kv_cache.ts";
import type { Embedding } from "./layers/embedding.ts";
import { Linear } from "./layers/linear.ts";
import { keepLastPositions } from "./logits_to_keep.ts";
import { Module } from "./module.ts";
import type { BaseModelOutput } from "./outputs.ts";
import type { DecoderConfigFields } from "./_config_common.ts";
import { decoderShape } from "./_decoder_shape.ts";

/** A decoder stack: ids (B, T) -> BaseModelOutput (last hidden state (B, T, C)). */
export interface DecoderStack extends Module {
  /** ids (B, T) int32 -> BaseModelOutput. */
  forward(inputIds: Tensor, opts?: CausalLMForwardOptions): BaseModelOutput;
}

/** An unembedding head: hidden (B, n, C) -> logits (B, n, V). */
export interface LogitHead extends Module {
  /** h (B, n, C) -> (B, n, V). */
  forward(h: Tensor): Tensor;
}

/** Options of every `*ForCausalLM` constructor. */
export interface CausalLMOptions {
  /** Device the model computes on; default cpu. */
  device?: Device;
  /** Create weights as shape-only placeholders on meta, for a loader that replaces each. */
  empty?: boolean;
}

/** What a family hands {@link DecoderForCausalLM}: its parsed config, children and numbers. */
export interface DecoderParts<C extends object, S extends DecoderStack, H extends LogitHead> {
  /** The parsed config (HF key names). */
  config: C;
  /** Child name of the stack: "model", "gpt_neox", "transformer". */
  stackName: string;
  /** Builds the stack computing on `device`, weights on `weightDevice`. */
  stack(config: C, device: Device, weightDevice: Device): S;
  /** Child name of the head: "lm_head", "embed_out". */
  headName: string;
  /** Builds the head (tied or not) once the stack exists, weights on `weightDevice`. */
  head(config: C, stack: S, weightDevice: Device): H;
  /** Family-agnostic sizes. */
  shape: DecoderShape;
  /** Where the parts sit in the module tree. */
  paths: DecoderPaths;
  /** The cap read at each forward; when not null, logits become cap * tanh(logits / cap) (Gemma). */
  finalSoftcap?(config: C): number | null;
}

/**
 * The paths of a decoder under HF's common tree (model.layers[i].self_attn, model.norm, lm_head,
 * model.embed_tokens); `layerReturnsTuple` is the family's.
 *
 * @example
 * ```ts
 * import { modelLayersPaths } from "./_causal_lm.ts";
 * modelLayersPaths(false).finalNorm; // "model.norm"
 * ```
 */
export function modelLayersPaths(layerReturnsTuple: boolean): DecoderPaths {
  return Object.freeze({
    layers: "model.layers",
    attention: "self_attn",
    mlp: "mlp",
    finalNorm: "model.norm",
    lmHead: "lm_head",
    embed: "model.embed_tokens",
    layerReturnsTuple,
  });
}

/**
 * A bias-free hidden -> vocab Linear whose weight is `embedding`'s when `tied` (HF's
 * tie_word_embeddings).
 *
 * @example
 * ```ts
 * import { Embedding } from "./layers/embedding.ts";
 * import { linearHead } from "./_causal_lm.ts";
 * const e = new Embedding(10, 4, "cpu");
 * linearHead(4, 10, e, true, "cpu").weight === e.weight; // true
 * ```
 */
export function linearHead(
  hiddenSize: number,
  vocabSize: number,
  embedding: Embedding,
  tied: boolean,
  device: Device,
): Linear {
  const head = new Linear(hiddenSize, vocabSize, { bias: false, device });
  if (tied) head.addParameter("weight", embedding.weight);
  return head;
}

/**
 * The shared body of a family's `*ForCausalLM`: adds the stack, the head and `generator` (in that
 * order), and runs ids (B, T) -> logits (B, T, V), (B, n, V) with logitsToKeep n. `lm_head.output`
 * (or the family's head) is the value before any final softcap, as in HF.
 *
 * @example
 * ```ts
 * import { tensor } from "../engine/mod.ts";
 * import { LlamaForCausalLM } from "./llama/model.ts";
 * import { DecoderForCausalLM } from "./_causal_lm.ts";
 * const m = new LlamaForCausalLM({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 });
 * m instanceof DecoderForCausalLM; // true
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" }), { logitsToKeep: 1 }).shape; // [1, 1, 10]
 * ```
 */
export abstract class DecoderForCausalLM<
  C extends object,
  S extends DecoderStack,
  H extends LogitHead,
> extends Module implements CausalLM {
  /** The parsed config (HF key names). */
  readonly config: C;
  /** The device the model computes on. */
  readonly device: Device;
  /** Identity generate() calls; `streamer` sees each step. */
  readonly generator: Generator;
  /** Family-agnostic sizes. */
  readonly shape: DecoderShape;
  /** Paths of layers, norm, head and embedding. */
  readonly paths: DecoderPaths;
  /** The decoder stack, under the family's child name. */
  protected readonly stack: S;
  /** The unembedding, under the family's child name. */
  protected readonly head: H;
  readonly #finalSoftcap: (config: C) => number | null;

  /** Builds the tree with zero (or placeholder) weights from the family's parts. */
  protected constructor(parts: DecoderParts<C, S, H>, opts: CausalLMOptions = {}) {
    super();
    const c = this.config = parts.config;
    this.device = opts.device ?? "cpu";
    const w: Device = opts.empty ? "meta" : this.device;
    this.stack = this.addModule(parts.stackName, parts.stack(c, this.device, w));
    this.head = this.addModule(parts.headName, parts.head(c, this.stack, w));
    this.generator = this.addModule("generator", new Generator());
    this.shape = parts.shape;
    this.paths = parts.paths;
    this.#finalSoftcap = parts.finalSoftcap ?? (() => null);
  }

  /** A KV cache for `batch` rows on this model's device. */
  newCache(opts: { batch: number; capacity?: number }): KVCache {
    return cacheFor(this.shape, this.device, opts);
  }

  /** ids (B, T) int32 -> logits (B, T, V), (B, n, V) with logitsToKeep n, softcapped if set. */
  forward(inputIds: Tensor, opts: CausalLMForwardOptions = {}): Tensor {
    const stack: DecoderStack = this.stack, head: LogitHead = this.head;
    const h = keepLastPositions(stack.call(inputIds, opts)[0], opts.logitsToKeep); // (B, n, C)
    const logits = head.call(h); // (B, n, V)
    const cap = this.#finalSoftcap(this.config);
    return cap === null ? logits : logits.div(cap).tanh().mul(cap);
  }
}

/** What a model/lm_head family adds to {@link ModelTreeForCausalLM}'s defaults. */
export interface ModelTreeOptions<C> {
  /** Where the parts sit (the family's `layerReturnsTuple`). */
  paths: DecoderPaths;
  /** Key/value heads and head width, as `decoderShape` takes them (default: no GQA). */
  heads?: { numKvHeads?: number; headDim?: number };
  /** The cap read at each forward (Gemma's final_logit_softcapping); default none. */
  finalSoftcap?(config: C): number | null;
}

/**
 * A family under HF's common tree: the stack as `model`, a bias-free `lm_head` that shares
 * `model.embed_tokens.weight` when tie_word_embeddings, the shape from the common config keys.
 *
 * @example
 * ```ts
 * import { Phi3ForCausalLM } from "./phi3/model.ts";
 * import { ModelTreeForCausalLM } from "./_causal_lm.ts";
 * const m = new Phi3ForCausalLM({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10, tie_word_embeddings: true });
 * m instanceof ModelTreeForCausalLM && m.lm_head.weight === m.model.embed_tokens.weight; // true
 * ```
 */
export abstract class ModelTreeForCausalLM<
  C extends DecoderConfigFields,
  S extends DecoderStack & { readonly embed_tokens: Embedding },
> extends DecoderForCausalLM<C, S, Linear> {
  /** The decoder stack. */
  readonly model: S = this.stack;
  /** hidden -> vocab (no bias). */
  readonly lm_head: Linear = this.head;

  /** Builds the tree with zero (or placeholder) weights: `stack` builds the family's stack. */
  protected constructor(
    config: C,
    stack: (config: C, device: Device, weightDevice: Device) => S,
    tree: ModelTreeOptions<C>,
    opts: CausalLMOptions = {},
  ) {
    super({
      config,
      stackName: "model",
      stack,
      headName: "lm_head",
      head: (c, m, w) =>
        linearHead(c.hidden_size, c.vocab_size, m.embed_tokens, c.tie_word_embeddings, w),
      shape: decoderShape(config, tree.heads),
      paths: tree.paths,
      finalSoftcap: tree.finalSoftcap,
    }, opts);
  }
}
