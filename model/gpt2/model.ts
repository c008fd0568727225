// GPT-2 read top to bottom, with HuggingFace's module tree and names so nnsight code ports line
// for line. Every submodule runs through `call()` so hooks fire; forward passes are synchronous.

import { arange, attention, type Device, slice, type Tensor } from "../../engine/mod.ts";
import { DecoderForCausalLM } from "../_causal_lm.ts";
import type { CausalLMForwardOptions, DecoderPaths, KVCacheLike } from "../causal_lm.ts";
import { type GPT2Config, parseGPT2Config } from "../config.ts";
import { Activation } from "../layers/activation.ts";
import { ATTENTION_POINTS, attentionBias, weightsObserved } from "../layers/attention.ts";
import { Dropout, Embedding } from "../layers/embedding.ts";
import { MLP_POINTS } from "../layers/mlp.ts";
import { LayerNorm } from "../layers/norm.ts";
import { newParameter } from "../layers/parameter.ts";
import { Module, ModuleList } from "../module.ts";
import { BaseModelOutput } from "../outputs.ts";
import { Conv1D, LMHead } from "./layers.ts";

const ALL = slice();

/** What GPT2Model hands every block (the block's second argument). */
export interface BlockContext {
  /** Additive mask (B|1, 1, T, S): 0 where a query may attend a key, -1e9 elsewhere; null = none. */
  bias: Tensor | null;
  /** The cache to read past keys/values from and append to, if any. */
  cache: KVCacheLike | null;
}

/** Options of a GPT-2 forward pass (the family-agnostic ones). */
export type ForwardOptions = CausalLMForwardOptions;

/**
 * Causal self-attention: c_attn projects to q | k | v, scores are masked and softmaxed (the
 * probabilities pass through `attn_dropout`, whose output is the attention pattern), then
 * merged heads go through c_proj and resid_dropout. Returns `[attn_output (B, T, C), attn_weights
 * (B, nh, T, S)]` as transformers 4.57 does with eager attention (the probabilities after
 * attn_dropout) when a trace observes attn's output or attn_dropout; otherwise the fused kernel
 * runs, attn_dropout is not called and attn_weights is null (docs/tracing.md).
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGPT2Config } from "../config.ts";
 * import { GPT2Attention } from "./model.ts";
 * const attn = new GPT2Attention(parseGPT2Config({ n_embd: 8, n_head: 2 }), 0, "cpu");
 * const [y, probs] = attn.call(zeros([1, 3, 8]), { bias: null, cache: null });
 * y.shape; // [1, 3, 8]; probs is null: no trace observes attn or attn_dropout
 * ```
 */
export class GPT2Attention extends Module {
  /** Projection to queries, keys and values (C -> 3C). */
  readonly c_attn: Conv1D;
  /** Output projection (C -> C). */
  readonly c_proj: Conv1D;
  /** Applied to the attention probabilities (B, nh, T, S). */
  readonly attn_dropout: Dropout;
  /** Applied to the projected output. */
  readonly resid_dropout: Dropout;
  readonly #nHead: number;
  readonly #scale: number;
  readonly #layer: number;

  /** Builds the layer `layer` of a model with `config`. */
  constructor(config: GPT2Config, layer: number, device: Device) {
    super();
    const C = config.n_embd;
    this.#nHead = config.n_head;
    this.#layer = layer;
    const hs = C / config.n_head;
    this.#scale = (config.scale_attn_weights ? 1 / Math.sqrt(hs) : 1) /
      (config.scale_attn_by_inverse_layer_idx ? layer + 1 : 1);
    this.c_attn = this.addModule("c_attn", new Conv1D(C, 3 * C, device));
    this.c_proj = this.addModule("c_proj", new Conv1D(C, C, device));
    this.attn_dropout = this.addModule("attn_dropout", new Dropout());
    this.resid_dropout = this.addModule("resid_dropout", new Dropout());
  }

  /** q, k, v, scores, probs (before attn_dropout), context (before c_proj). */
  override get points(): readonly string[] {
    return ATTENTION_POINTS;
  }

  /** x (B, T, C) -> [attn_output (B, T, C), attn_weights (B, nh, T, S) or null]. */
  forward(x: Tensor, ctx: BlockContext): [Tensor, Tensor | null] {
    const [B, T, C] = x.shape;
    const nh = this.#nHead, hs = C / nh;
    const qkv = this.c_attn.call(x); // (B, T, 3C)
    const heads = (i: number) =>
      qkv.get([ALL, ALL, slice(i * C, (i + 1) * C)]) // (B, T, C)
        .reshape(B, T, nh, hs) // (B, T, nh, hs), a view unless a hook made qkv strided
        .transpose(1, 2); // (B, nh, T, hs)
    const q = this.point("q", heads(0));
    const kNew = this.point("k", heads(1)), vNew = this.point("v", heads(2));
    const [k, v] = ctx.cache ? ctx.cache.update(this.#layer, kNew, vNew) : [kNew, vNew]; // (B, nh, S, hs)
    if (!weightsObserved(this) && this.attn_dropout.hook === null) {
      // Nobody reads the pattern: the fused kernel, causal keys skipped, no (B, nh, T, S).
      const [fy] = attention(q, k, v, { scale: this.#scale, bias: ctx.bias, causal: true });
      const merged = this.point("context", fy.transpose(1, 2).reshape(B, T, C)); // (B, T, C)
      return [this.resid_dropout.call(this.c_proj.call(merged)), null];
    }
    let att = q.mul(this.#scale).matmul(k.transpose(-2, -1)); // (B, nh, T, S)
    if (ctx.bias) att = att.add(ctx.bias); // (B, nh, T, S)
    att = this.point("probs", this.point("scores", att).softmax(-1));
    att = this.attn_dropout.call(att); // (B, nh, T, S)
    let y = att.matmul(v); // (B, nh, T, hs)
    y = this.point("context", y.transpose(1, 2).reshape(B, T, C)); // (B, T, C), heads side by side
    y = this.c_proj.call(y); // (B, T, C)
    y = this.resid_dropout.call(y);
    return [y, att];
  }
}

/**
 * The feed-forward block: c_fc (C -> 4C), activation, c_proj (4C -> C), dropout.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGPT2Config } from "../config.ts";
 * import { GPT2MLP } from "./model.ts";
 * new GPT2MLP(parseGPT2Config({ n_embd: 8, n_head: 2 }), "cpu").call(zeros([1, 3, 8]));
 * ```
 */
export class GPT2MLP extends Module {
  /** Expansion C -> 4C (n_inner). */
  readonly c_fc: Conv1D;
  /** The activation named by config.activation_function. */
  readonly act: Activation;
  /** Projection 4C -> C. */
  readonly c_proj: Conv1D;
  /** Identity at inference. */
  readonly dropout: Dropout;

  /** Builds the MLP of a model with `config`. */
  constructor(config: GPT2Config, device: Device) {
    super();
    const C = config.n_embd, inner = config.n_inner ?? 4 * C;
    this.c_fc = this.addModule("c_fc", new Conv1D(C, inner, device));
    this.act = this.addModule("act", new Activation(config.activation_function));
    this.c_proj = this.addModule("c_proj", new Conv1D(inner, C, device));
    this.dropout = this.addModule("dropout", new Dropout());
  }

  /** `act`: the activation's output ({@link MLP_POINTS}). */
  override get points(): readonly string[] {
    return MLP_POINTS;
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor): Tensor {
    let h = this.c_fc.call(x); // (B, T, 4C)
    h = this.point("act", this.act.call(h)); // (B, T, 4C)
    h = this.c_proj.call(h); // (B, T, C)
    return this.dropout.call(h);
  }
}

/**
 * One transformer block, pre-norm: x + attn(ln_1(x)), then + mlp(ln_2(x)).
 * Returns the 1-tuple `[hidden (B, T, C)]` (transformers 4.57), so `h[i].output[0]` is the
 * hidden state.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGPT2Config } from "../config.ts";
 * import { GPT2Block } from "./model.ts";
 * const block = new GPT2Block(parseGPT2Config({ n_embd: 8, n_head: 2 }), 0, "cpu");
 * block.call(zeros([1, 3, 8]), { bias: null, cache: null });
 * ```
 */
export class GPT2Block extends Module {
  /** LayerNorm before attention. */
  readonly ln_1: LayerNorm;
  /** Causal self-attention. */
  readonly attn: GPT2Attention;
  /** LayerNorm before the MLP. */
  readonly ln_2: LayerNorm;
  /** Feed-forward block. */
  readonly mlp: GPT2MLP;

  /** Builds block `layer` of a model with `config`. */
  constructor(config: GPT2Config, layer: number, device: Device) {
    super();
    const C = config.n_embd, eps = config.layer_norm_epsilon;
    this.ln_1 = this.addModule("ln_1", new LayerNorm(C, eps, { device }));
    this.attn = this.addModule("attn", new GPT2Attention(config, layer, device));
    this.ln_2 = this.addModule("ln_2", new LayerNorm(C, eps, { device }));
    this.mlp = this.addModule("mlp", new GPT2MLP(config, device));
  }

  /** x (B, T, C) -> [x' (B, T, C)]. */
  forward(x: Tensor, ctx: BlockContext): [Tensor] {
    const h = this.ln_1.call(x); // (B, T, C)
    const [a] = this.attn.call(h, ctx);
    x = x.add(a); // (B, T, C)
    const m = this.mlp.call(this.ln_2.call(x)); // (B, T, C)
    return [x.add(m)];
  }
}

/**
 * The transformer: embeddings, blocks, final LayerNorm. Returns a BaseModelOutput like
 * HuggingFace's GPT2Model: `output[0]` (and `.last_hidden_state`) is ln_f's output.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { parseGPT2Config } from "../config.ts";
 * import { GPT2Model } from "./model.ts";
 * const m = new GPT2Model(parseGPT2Config({ n_layer: 1, n_embd: 8, n_head: 2, vocab_size: 10 }), "cpu");
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" }))[0].shape; // [1, 2, 8]
 * ```
 */
export class GPT2Model extends Module {
  /** Token embeddings (V, C); also the tied LM head. */
  readonly wte: Embedding;
  /** Position embeddings (n_positions, C). */
  readonly wpe: Embedding;
  /** Identity at inference; its output is the embeddings wte[ids] + wpe[pos]. */
  readonly drop: Dropout;
  /** The blocks h.0 ... h.{n_layer-1}. */
  readonly h: ModuleList<GPT2Block>;
  /** Final LayerNorm. */
  readonly ln_f: LayerNorm;
  readonly #device: Device;

  /**
   * Builds the transformer of a model with `config` computing on `device`; its weights are
   * created on `weightDevice` (default `device`; "meta" for placeholders a loader replaces).
   */
  constructor(config: GPT2Config, device: Device, weightDevice: Device = device) {
    super();
    const C = config.n_embd, w = weightDevice;
    this.#device = device;
    this.wte = this.addModule("wte", new Embedding(config.vocab_size, C, w));
    this.wpe = this.addModule("wpe", new Embedding(config.n_positions, C, w));
    this.drop = this.addModule("drop", new Dropout());
    const blocks = Array.from({ length: config.n_layer }, (_, i) => new GPT2Block(config, i, w));
    this.h = this.addModule("h", new ModuleList(blocks));
    this.ln_f = this.addModule("ln_f", new LayerNorm(C, config.layer_norm_epsilon, { device: w }));
  }

  /** ids (B, T) int32 -> BaseModelOutput (last_hidden_state = ln_f output (B, T, C)). */
  forward(inputIds: Tensor, opts: ForwardOptions = {}): BaseModelOutput {
    const [B, T] = inputIds.shape;
    if (inputIds.ndim !== 2 || inputIds.dtype !== "int32") {
      throw new TypeError(
        `GPT2Model: input ids must be an int32 (B, T) tensor, got ${inputIds.dtype} [${inputIds.shape}]`,
      );
    }
    const cache = opts.cache ?? null;
    const past = cache?.length ?? 0;
    const positionIds = opts.positionIds ??
      arange(past, past + T, 1, { device: this.#device }).reshape(1, T); // (1, T)
    const tok = this.wte.call(inputIds); // (B, T, C)
    const pos = this.wpe.call(positionIds); // (B|1, T, C)
    let x = this.drop.call(tok.add(pos)); // (B, T, C)
    const ctx: BlockContext = {
      bias: attentionBias(B, T, past, opts.attentionMask, this.#device),
      cache,
    };
    for (const block of this.h) x = block.call(x, ctx)[0];
    cache?.advance(T);
    return new BaseModelOutput(this.ln_f.call(x), cache);
  }
}

/** Where GPT-2's parts sit in its module tree. */
export const GPT2_PATHS: DecoderPaths = Object.freeze({
  layers: "transformer.h",
  attention: "attn",
  mlp: "mlp",
  finalNorm: "transformer.ln_f",
  lmHead: "lm_head",
  embed: "transformer.wte",
  layerReturnsTuple: true,
});

/** Options of the GPT2LMHeadModel constructor. */
export interface GPT2ModelOptions {
  /** Where the (zero) weights are created; "meta" holds shapes only. Default cpu. */
  device?: Device;
  /**
   * Create the weights as shape-only placeholders (no memory, on "meta") instead of zeros, for
   * a loader (`loadWeights`, `initRandom`) that replaces every one; until then the model cannot
   * run. Saves allocating a second copy of the weights (~500 MB for GPT-2 small). Default false.
   */
  empty?: boolean;
}

/**
 * GPT-2 with its language-model head: ids (B, T) -> logits (B, T, V) at every position.
 * Weights start at zero; load them with `loadWeights` or `initRandom` (or use `loadGPT2`).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { GPT2LMHeadModel } from "./model.ts";
 * const model = new GPT2LMHeadModel({ n_layer: 2, n_embd: 16, n_head: 2, vocab_size: 50 });
 * const logits = model.call(tensor([[1, 2, 3]], undefined, { dtype: "int32" })); // (1, 3, 50)
 * model.transformer.h.at(-1).attn.path; // "transformer.h.1.attn"
 * ```
 */
export class GPT2LMHeadModel extends DecoderForCausalLM<GPT2Config, GPT2Model, LMHead> {
  /** The transformer (embeddings, blocks, ln_f). */
  readonly transformer: GPT2Model = this.stack;
  /** Logits from ln_f output, tied to transformer.wte by default. */
  readonly lm_head: LMHead = this.head;

  /** Builds the module tree with zero (or placeholder) weights; `config` is parsed (defaults = GPT-2 small). */
  constructor(config: Partial<GPT2Config> | GPT2Config = {}, opts: GPT2ModelOptions = {}) {
    const c = parseGPT2Config(config);
    super({
      config: c,
      stackName: "transformer",
      stack: (c, device, w) => new GPT2Model(c, device, w),
      headName: "lm_head",
      head: (c, transformer, w) => {
        const head = new LMHead(transformer.wte);
        if (!c.tie_word_embeddings) head.untie(newParameter([c.vocab_size, c.n_embd], w));
        return head;
      },
      shape: {
        modelType: "gpt2",
        numLayers: c.n_layer,
        hiddenSize: c.n_embd,
        numHeads: c.n_head,
        numKvHeads: c.n_head,
        headDim: c.n_embd / c.n_head,
        maxPositions: c.n_positions,
        vocabSize: c.vocab_size,
        bosTokenId: c.bos_token_id,
        eosTokenIds: c.eos_token_id === null ? [] : [c.eos_token_id],
        padTokenId: null,
      },
      paths: GPT2_PATHS,
    }, opts);
  }
}
