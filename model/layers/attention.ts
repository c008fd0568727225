// Causal self-attention shared by the decoder families: the additive mask (causal, padding,
// optional sliding window), scaled scores with optional logit softcapping, grouped kv heads,
// and the q/k/v/o-projection module (Llama, Mistral, Qwen2/3, Gemma 2 and 3). No data is read back.

import { attention, type Device, type Tensor, tensor } from "../../engine/mod.ts";
import type { KVCacheLike } from "../causal_lm.ts";
import { Module } from "../module.ts";
import { Linear } from "./linear.ts";
import { RMSNorm } from "./norm.ts";
import { applyRotary } from "./rotary.ts";

/** Added to the scores of masked keys: exp underflows to 0, and fully masked rows stay finite. */
export const MASKED: number = -1e9;

/**
 * The additive attention mask (B|1, 1, T, S), S = past + T, in cache positions: query i (at
 * past + i) sees key j when j <= past + i, its attentionMask entry is 1, and, with a `window`,
 * past + i - j < window (HF's sliding window). Null when nothing is masked.
 *
 * @example
 * ```ts
 * import { attentionBias } from "./attention.ts";
 * attentionBias(1, 3, 0, undefined, "cpu")!.shape; // [1, 1, 3, 3]
 * attentionBias(1, 1, 5, undefined, "cpu"); // null: one query sees every past key
 * ```
 */
export function attentionBias(
  B: number,
  T: number,
  past: number,
  mask: Tensor | undefined,
  device: Device,
  window: number | null = null,
): Tensor | null {
  const S = past + T;
  let bias: Tensor | null = null;
  const windowed = window !== null && S > window;
  if (T > 1 || windowed) {
    const causal = new Float32Array(T * S);
    for (let i = 0; i < T; i++) {
      causal.fill(MASKED, i * S + past + i + 1, (i + 1) * S);
      if (windowed) causal.fill(MASKED, i * S, i * S + Math.max(0, past + i - window + 1));
    }
    bias = tensor(causal, [1, 1, T, S], { device }); // (1, 1, T, S)
  }
  if (mask) {
    if (mask.ndim !== 2 || mask.shape[0] !== B || mask.shape[1] !== S) {
      throw new RangeError(
        `Attention mask has shape [${mask.shape}], expected [${B}, ${S}] (batch, past + new positions)`,
      );
    }
    const pad = mask.eq(0).astype("float32").mul(MASKED).reshape(B, 1, 1, S); // (B, 1, 1, S)
    bias = bias ? bias.add(pad) : pad; // (B, 1, T, S)
  }
  return bias;
}

/**
 * The points of every family's attention (`attn.source.<name>`): q, k, v of this forward's
 * positions after rotary, before the kv cache and before grouped heads are shared (k, v have
 * kvHeads heads); scores before softmax after scaling, softcap and mask (B, H, T, S); probs
 * (B, H, T, S); context, the merged heads before the output projection (B, T, H * D).
 */
export const ATTENTION_POINTS: readonly string[] = Object.freeze([
  "q",
  "k",
  "v",
  "scores",
  "probs",
  "context",
]);

/**
 * Whether an attention module must build its (B, H, T, S) probabilities: a trace reads its output
 * (attn_weights) or its `scores`/`probs` points. Otherwise the fused kernel runs.
 *
 * @example
 * ```ts
 * import { SelfAttention, weightsObserved } from "./attention.ts";
 * const attn = new SelfAttention({ hiddenSize: 8, numHeads: 2, numKvHeads: 1, headDim: 4, layer: 0 });
 * weightsObserved(attn); // false: no hook installed
 * attn.hook = { points: new Set(["probs"]) };
 * weightsObserved(attn); // true
 * ```
 */
export function weightsObserved(module: Module): boolean {
  return module.outputObserved || module.observes("scores") || module.observes("probs");
}

/** Options of {@link attend}. */
export interface AttendOptions {
  /** Multiplies q k^T (usually 1 / sqrt(headDim)). */
  scale: number;
  /** Additive mask (B|1, 1, T, S), or null. */
  bias: Tensor | null;
  /** Gemma 2's attn_logit_softcapping: scores become cap * tanh(scores / cap). */
  softcap?: number | null;
  /** The module whose points `scores` and `probs` these are (hooks may read or replace them). */
  module?: Module | null;
}

/**
 * Scaled dot-product attention with grouped kv heads (HF's eager_attention_forward): each of
 * the kvHeads key/value heads serves heads / kvHeads query heads.
 * q (B, H, T, D), k and v (B, KV, S, D) -> [output (B, H, T, D), probabilities (B, H, T, S)].
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { attend } from "./attention.ts";
 * const [y, p] = attend(zeros([1, 4, 3, 8]), zeros([1, 2, 3, 8]), zeros([1, 2, 3, 8]), {
 *   scale: 1 / Math.sqrt(8),
 *   bias: null,
 * });
 * p.shape; // [1, 4, 3, 3]
 * ```
 */
export function attend(q: Tensor, k: Tensor, v: Tensor, opts: AttendOptions): [Tensor, Tensor] {
  const [B, H, T, D] = q.shape;
  const KV = k.shape[1], S = k.shape[2];
  if (H % KV !== 0) {
    throw new RangeError(`Attention has ${H} query heads and ${KV} kv heads: ${H} % ${KV} != 0`);
  }
  const groups = H / KV;
  // Query heads g*groups .. (g+1)*groups-1 share kv head g: view q as (B, KV, groups*T, D).
  const qg = q.reshape(B, KV, groups * T, D);
  let scores = qg.matmul(k.transpose(-2, -1)).mul(opts.scale); // (B, KV, groups*T, S)
  scores = scores.reshape(B, H, T, S);
  if (opts.softcap) scores = scores.div(opts.softcap).tanh().mul(opts.softcap);
  if (opts.bias) scores = scores.add(opts.bias);
  if (opts.module) scores = opts.module.point("scores", scores);
  let probs = scores.softmax(-1); // (B, H, T, S)
  if (opts.module) probs = opts.module.point("probs", probs);
  const y = probs.reshape(B, KV, groups * T, S).matmul(v).reshape(B, H, T, D); // (B, H, T, D)
  return [y, probs];
}

/**
 * Causal attention for a module: with `weights` (a trace reads the module's output) the eager
 * {@link attend}, whose probabilities become attn_weights; otherwise the fused engine kernel,
 * which never builds (B, H, T, S), and null weights (as transformers' sdpa returns None).
 * `opts.bias` must already hold the causal mask (see {@link attentionBias}); the kernel also
 * skips the keys it hides.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { attendCausal } from "./attention.ts";
 * const q = zeros([1, 4, 3, 8]), kv = zeros([1, 2, 3, 8]);
 * const [y, w] = attendCausal(q, kv, kv, { scale: 0.35, bias: null }, false);
 * y.shape; // [1, 4, 3, 8]; w is null
 * ```
 */
export function attendCausal(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttendOptions,
  weights: boolean,
): [Tensor, Tensor | null] {
  if (weights) return attend(q, k, v, opts);
  const { scale, bias, softcap } = opts;
  const [y] = attention(q, k, v, { scale, bias, softcap: softcap ?? null, causal: true }); // (B, H, T, D)
  return [y, null];
}

/** What a decoder model hands each attention module besides the hidden states. */
export interface AttentionContext {
  /** Rotary tables [cos, sin] (B, T, R) of this forward's positions, or null (no rotary). */
  positionEmbeddings: [Tensor, Tensor] | null;
  /** Additive mask of full-attention layers (B|1, 1, T, S), or null. */
  bias: Tensor | null;
  /** Additive mask of sliding-window layers, or null. */
  slidingBias?: Tensor | null;
  /** Rotary tables of sliding-window layers (Gemma 3's local base), or absent: theirs too. */
  slidingPositionEmbeddings?: [Tensor, Tensor] | null;
  /** The cache to read past keys/values from and append to, if any. */
  cache: KVCacheLike | null;
}

/** Options of {@link SelfAttention}. */
export interface SelfAttentionOptions {
  /** Width of the residual stream. */
  hiddenSize: number;
  /** Query heads. */
  numHeads: number;
  /** Key/value heads (a divisor of numHeads). */
  numKvHeads: number;
  /** Channels per head. */
  headDim: number;
  /** Index of the layer (its slot in the KV cache). */
  layer: number;
  /** Biases on q_proj, k_proj, v_proj (Qwen2, attention_bias). Default false. */
  qkvBias?: boolean;
  /** Bias on o_proj (attention_bias). Default false. */
  outBias?: boolean;
  /** RMSNorm eps of per-head q_norm and k_norm (Qwen3, Gemma 3), or null for none. */
  qkNormEps?: number | null;
  /** q_norm and k_norm scale by (1 + w) (Gemma 3's RMSNorm). Default false. */
  qkNormUnitOffset?: boolean;
  /** Scores multiplier; default 1 / sqrt(headDim). */
  scale?: number;
  /** Attention-logit softcapping (Gemma 2), or null. */
  softcap?: number | null;
  /** Use the context's sliding-window mask (Mistral, Gemma 2's local layers). */
  sliding?: boolean;
  /** Device of the weights; default cpu. */
  device?: Device;
}

/**
 * HF's LlamaAttention and its relatives: q_proj, k_proj, v_proj (optional q_norm, k_norm per
 * head), rotary, grouped attention, o_proj. Returns `[attn_output (B, T, hidden), attn_weights
 * (B, heads, T, S)]`, as transformers 4.57 does with eager attention, when a trace observes the
 * output; otherwise attn_weights is null and the fused kernel runs ({@link attendCausal}).
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { SelfAttention } from "./attention.ts";
 * const attn = new SelfAttention({ hiddenSize: 8, numHeads: 2, numKvHeads: 1, headDim: 4, layer: 0 });
 * const [y, w] = attn.call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null });
 * y.shape; // [1, 3, 8]; w is null: no trace reads this module's output
 * ```
 */
export class SelfAttention extends Module {
  /** hidden -> heads * headDim. */
  readonly q_proj: Linear;
  /** hidden -> kvHeads * headDim. */
  readonly k_proj: Linear;
  /** hidden -> kvHeads * headDim. */
  readonly v_proj: Linear;
  /** heads * headDim -> hidden. */
  readonly o_proj: Linear;
  /** Per-head RMSNorm of the queries (Qwen3; Gemma 3's scales by 1 + w), or undefined. */
  readonly q_norm?: RMSNorm;
  /** Per-head RMSNorm of the keys (Qwen3; Gemma 3's scales by 1 + w), or undefined. */
  readonly k_norm?: RMSNorm;
  readonly #o: Required<
    Omit<SelfAttentionOptions, "device" | "qkNormEps" | "qkNormUnitOffset">
  >;

  /** Builds the projections (zero weights) on `opts.device`. */
  constructor(opts: SelfAttentionOptions) {
    super();
    const { hiddenSize: C, numHeads: H, numKvHeads: KV, headDim: D } = opts;
    const device = opts.device ?? "cpu";
    const qkv = { bias: opts.qkvBias ?? false, device };
    this.q_proj = this.addModule("q_proj", new Linear(C, H * D, qkv));
    this.k_proj = this.addModule("k_proj", new Linear(C, KV * D, qkv));
    this.v_proj = this.addModule("v_proj", new Linear(C, KV * D, qkv));
    this.o_proj = this.addModule(
      "o_proj",
      new Linear(H * D, C, { bias: opts.outBias ?? false, device }),
    );
    if (opts.qkNormEps != null) {
      const norm = { unitOffset: opts.qkNormUnitOffset ?? false, device };
      this.q_norm = this.addModule("q_norm", new RMSNorm(D, opts.qkNormEps, norm));
      this.k_norm = this.addModule("k_norm", new RMSNorm(D, opts.qkNormEps, norm));
    }
    this.#o = {
      hiddenSize: C,
      numHeads: H,
      numKvHeads: KV,
      headDim: D,
      layer: opts.layer,
      qkvBias: opts.qkvBias ?? false,
      outBias: opts.outBias ?? false,
      scale: opts.scale ?? 1 / Math.sqrt(D),
      softcap: opts.softcap ?? null,
      sliding: opts.sliding ?? false,
    };
  }

  /** q, k, v, scores, probs, context ({@link ATTENTION_POINTS}). */
  override get points(): readonly string[] {
    return ATTENTION_POINTS;
  }

  /** Whether this layer uses the sliding-window mask. */
  get sliding(): boolean {
    return this.#o.sliding;
  }

  /** x (B, T, hidden) -> [attn_output (B, T, hidden), attn_weights (B, heads, T, S) or null]. */
  forward(x: Tensor, ctx: AttentionContext): [Tensor, Tensor | null] {
    const [B, T] = x.shape;
    const { numHeads: H, numKvHeads: KV, headDim: D } = this.#o;
    const split = (t: Tensor, n: number, norm?: RMSNorm) => {
      let h = t.reshape(B, T, n, D); // (B, T, n, D)
      if (norm) h = norm.call(h);
      return h.transpose(1, 2); // (B, n, T, D)
    };
    let q = split(this.q_proj.call(x), H, this.q_norm);
    let k = split(this.k_proj.call(x), KV, this.k_norm);
    const rope = this.#o.sliding
      ? (ctx.slidingPositionEmbeddings ?? ctx.positionEmbeddings)
      : ctx.positionEmbeddings;
    if (rope) {
      const [cos, sin] = rope;
      q = applyRotary(q, cos, sin);
      k = applyRotary(k, cos, sin);
    }
    q = this.point("q", q); // (B, H, T, D)
    k = this.point("k", k); // (B, KV, T, D)
    const vNew = this.point("v", split(this.v_proj.call(x), KV)); // (B, KV, T, D)
    const [kAll, vAll] = ctx.cache ? ctx.cache.update(this.#o.layer, k, vNew) : [k, vNew];
    const bias = this.#o.sliding ? (ctx.slidingBias ?? ctx.bias) : ctx.bias;
    const opts = { scale: this.#o.scale, bias, softcap: this.#o.softcap, module: this };
    const [y, probs] = attendCausal(q, kAll, vAll, opts, weightsObserved(this));
    const merged = this.point("context", y.transpose(1, 2).reshape(B, T, H * D)); // (B, T, H * D)
    return [this.o_proj.call(merged), probs];
  }
}
