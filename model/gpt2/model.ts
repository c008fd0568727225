// GPT-2 read top to bottom, with HuggingFace's module tree and names so nnsight code ports line
// for line. Every submodule runs through `call()` so hooks fire; forward passes are synchronous.

import { arange, type Device, slice, type Tensor, tensor } from "../../engine/mod.ts";
import { type GPT2Config, parseGPT2Config } from "../config.ts";
import { Module, ModuleList } from "../module.ts";
import type { KVCache } from "./kv_cache.ts";
import { Generator } from "./generator.ts";
import {
  Activation,
  Conv1D,
  Dropout,
  Embedding,
  LayerNorm,
  LMHead,
  newParameter,
} from "./layers.ts";

const ALL = slice();
/** Added to attention scores of masked keys: exp underflows to 0, and fully masked rows stay finite. */
const MASKED = -1e9;

/** What GPT2Model hands every block (the block's second argument). */
export interface BlockContext {
  /** Additive mask (B|1, 1, T, S): 0 where a query may attend a key, -1e9 elsewhere; null = none. */
  bias: Tensor | null;
  /** The cache to read past keys/values from and append to, if any. */
  cache: KVCache | null;
}

/** A layer's keys and values (B, nh, S, hs) after this forward, or null without a cache. */
export type Present = [Tensor, Tensor] | null;

/** Options of a GPT-2 forward pass. */
export interface ForwardOptions {
  /** (B, S) int32, 1 for real tokens and 0 for padding; S = past + T. */
  attentionMask?: Tensor;
  /** (B, T) int32 positions; default past..past+T-1 for every row (HF GPT2Model). */
  positionIds?: Tensor;
  /** Past keys/values; the forward appends this call's T positions to it. */
  cache?: KVCache;
}

/**
 * Causal self-attention: c_attn projects to q | k | v, scores are masked and softmaxed (the
 * probabilities pass through `attn_dropout`, whose output is the attention pattern), then
 * merged heads go through c_proj and resid_dropout. Returns `[output (B, T, C), present]`.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGPT2Config } from "../config.ts";
 * import { GPT2Attention } from "./model.ts";
 * const attn = new GPT2Attention(parseGPT2Config({ n_embd: 8, n_head: 2 }), 0, "cpu");
 * const [y] = attn.call(zeros([1, 3, 8]), { bias: null, cache: null }) as [unknown];
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

  /** x (B, T, C) -> [y (B, T, C), present]. */
  forward(x: Tensor, ctx: BlockContext): [Tensor, Present] {
    const [B, T, C] = x.shape;
    const nh = this.#nHead, hs = C / nh;
    const qkv = this.c_attn.call(x) as Tensor; // (B, T, 3C)
    const heads = (i: number) =>
      qkv.get([ALL, ALL, slice(i * C, (i + 1) * C)]) // (B, T, C)
        .reshape(B, T, nh, hs) // (B, T, nh, hs), a view unless a hook made qkv strided
        .transpose(1, 2); // (B, nh, T, hs)
    const q = heads(0), kNew = heads(1), vNew = heads(2);
    const present: Present = ctx.cache ? ctx.cache.update(this.#layer, kNew, vNew) : null;
    const [k, v] = present ?? [kNew, vNew]; // (B, nh, S, hs) each
    let att = q.mul(this.#scale).matmul(k.transpose(-2, -1)); // (B, nh, T, S)
    if (ctx.bias) att = att.add(ctx.bias); // (B, nh, T, S)
    att = att.softmax(-1);
    att = this.attn_dropout.call(att) as Tensor; // (B, nh, T, S)
    let y = att.matmul(v); // (B, nh, T, hs)
    y = y.transpose(1, 2).reshape(B, T, C); // (B, T, C), heads side by side
    y = this.c_proj.call(y) as Tensor; // (B, T, C)
    y = this.resid_dropout.call(y) as Tensor;
    return [y, present];
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

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor): Tensor {
    let h = this.c_fc.call(x) as Tensor; // (B, T, 4C)
    h = this.act.call(h) as Tensor; // (B, T, 4C)
    h = this.c_proj.call(h) as Tensor; // (B, T, C)
    return this.dropout.call(h) as Tensor;
  }
}

/**
 * One transformer block, pre-norm: x + attn(ln_1(x)), then + mlp(ln_2(x)).
 * Returns `[hidden (B, T, C), present]`, so `h[i].output[0]` is the hidden state.
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
    this.ln_1 = this.addModule("ln_1", new LayerNorm(C, eps, device));
    this.attn = this.addModule("attn", new GPT2Attention(config, layer, device));
    this.ln_2 = this.addModule("ln_2", new LayerNorm(C, eps, device));
    this.mlp = this.addModule("mlp", new GPT2MLP(config, device));
  }

  /** x (B, T, C) -> [x' (B, T, C), present]. */
  forward(x: Tensor, ctx: BlockContext): [Tensor, Present] {
    const h = this.ln_1.call(x) as Tensor; // (B, T, C)
    const [a, present] = this.attn.call(h, ctx) as [Tensor, Present];
    x = x.add(a); // (B, T, C)
    const m = this.mlp.call(this.ln_2.call(x)) as Tensor; // (B, T, C)
    return [x.add(m), present];
  }
}

/**
 * The transformer: embeddings, blocks, final LayerNorm. Returns `[hidden (B, T, C), presents]`
 * like HuggingFace's `GPT2Model(..., return_dict=False)`: element 0 is ln_f's output.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { parseGPT2Config } from "../config.ts";
 * import { GPT2Model } from "./model.ts";
 * const m = new GPT2Model(parseGPT2Config({ n_layer: 1, n_embd: 8, n_head: 2, vocab_size: 10 }), "cpu");
 * const [h] = m.call(tensor([[1, 2]], undefined, { dtype: "int32" })) as [unknown];
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
    this.ln_f = this.addModule("ln_f", new LayerNorm(C, config.layer_norm_epsilon, w));
  }

  /** ids (B, T) int32 -> [ln_f output (B, T, C), presents per layer]. */
  forward(inputIds: Tensor, opts: ForwardOptions = {}): [Tensor, Present[]] {
    const [B, T] = inputIds.shape;
    if (inputIds.ndim !== 2 || inputIds.dtype !== "int32") {
      throw new TypeError(
        `GPT2Model: input ids must be an int32 (B, T) tensor, got ${inputIds.dtype} [${
          inputIds.shape.join(", ")
        }]`,
      );
    }
    const cache = opts.cache ?? null;
    const past = cache?.length ?? 0;
    const positionIds = opts.positionIds ??
      arange(past, past + T, 1, { device: this.#device }).reshape(1, T); // (1, T)
    const tok = this.wte.call(inputIds) as Tensor; // (B, T, C)
    const pos = this.wpe.call(positionIds) as Tensor; // (B|1, T, C)
    let x = this.drop.call(tok.add(pos)) as Tensor; // (B, T, C)
    const ctx: BlockContext = {
      bias: attentionBias(B, T, past, opts.attentionMask, this.#device),
      cache,
    };
    const presents: Present[] = [];
    for (const block of this.h) {
      const out = block.call(x, ctx) as [Tensor, Present];
      x = out[0];
      presents.push(out[1]);
    }
    cache?.advance(T);
    return [this.ln_f.call(x) as Tensor, presents];
  }
}

/**
 * The additive attention mask (B|1, 1, T, S), S = past + T: query i sees keys j <= past + i,
 * and no key whose attentionMask entry is 0. Null when nothing is masked (one query, no mask).
 */
function attentionBias(
  B: number,
  T: number,
  past: number,
  mask: Tensor | undefined,
  device: Device,
): Tensor | null {
  const S = past + T;
  let bias: Tensor | null = null;
  if (T > 1) {
    const causal = new Float32Array(T * S);
    for (let i = 0; i < T; i++) causal.fill(MASKED, i * S + past + i + 1, (i + 1) * S);
    bias = tensor(causal, [1, 1, T, S], { device }); // (1, 1, T, S)
  }
  if (mask) {
    if (mask.ndim !== 2 || mask.shape[0] !== B || mask.shape[1] !== S) {
      throw new RangeError(
        `GPT2Model: attention mask has shape [${
          mask.shape.join(", ")
        }], expected [${B}, ${S}] (batch, past + new positions)`,
      );
    }
    const pad = mask.eq(0).astype("float32").mul(MASKED).reshape(B, 1, 1, S); // (B, 1, 1, S)
    bias = bias ? bias.add(pad) : pad; // (B, 1, T, S)
  }
  return bias;
}

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
 * const logits = model.call(tensor([[1, 2, 3]], undefined, { dtype: "int32" })) as unknown;
 * model.transformer.h.at(-1).attn.path; // "transformer.h.1.attn"
 * ```
 */
export class GPT2LMHeadModel extends Module {
  /** The validated config (HuggingFace key names). */
  readonly config: GPT2Config;
  /** The device the weights were created on. */
  readonly device: Device;
  /** The transformer (embeddings, blocks, ln_f). */
  readonly transformer: GPT2Model;
  /** Logits from ln_f output, tied to transformer.wte by default. */
  readonly lm_head: LMHead;
  /** Identity called by generate() with all ids; its child streamer sees each step. */
  readonly generator: Generator;

  /** Builds the module tree with zero (or placeholder) weights; `config` is parsed (defaults = GPT-2 small). */
  constructor(config: Partial<GPT2Config> | GPT2Config = {}, opts: GPT2ModelOptions = {}) {
    super();
    this.config = parseGPT2Config(config);
    this.device = opts.device ?? "cpu";
    const weights: Device = opts.empty ? "meta" : this.device;
    this.transformer = this.addModule(
      "transformer",
      new GPT2Model(this.config, this.device, weights),
    );
    this.lm_head = this.addModule("lm_head", new LMHead(this.transformer.wte));
    if (!this.config.tie_word_embeddings) {
      this.lm_head.untie(newParameter([this.config.vocab_size, this.config.n_embd], weights));
    }
    this.generator = this.addModule("generator", new Generator());
  }

  /** ids (B, T) int32 -> logits (B, T, V). */
  forward(inputIds: Tensor, opts: ForwardOptions = {}): Tensor {
    const [h] = this.transformer.call(inputIds, opts) as [Tensor, Present[]]; // (B, T, C)
    return this.lm_head.call(h) as Tensor; // (B, T, V)
  }
}
