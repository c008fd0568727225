// Rotary position embeddings: the cos/sin tables of HuggingFace's RotaryEmbedding (default,
// `linear`, `llama3` and short-regime `longrope` rope_scaling, partial rotary), and applying them.
// Tables are computed on the host with transformers' float32 roundings, uploaded once per growth.

import { type Device, keep, type Tensor, tensor } from "../../engine/mod.ts";
import { Module } from "../module.ts";
import { longrope, longropeInvFreq, longropeLimitError } from "./longrope.ts";

/** A config's `rope_scaling` (HF key names); `rope_type` or the legacy `type` picks the kind. */
export interface RopeScaling {
  /** "default", "linear", "llama3" or "longrope". */
  rope_type?: string;
  /** Legacy name of rope_type. */
  type?: string;
  /** Positions are divided by it (linear), or long wavelengths are (llama3). */
  factor?: number;
  /** llama3: wavelengths longer than original / low_freq_factor are scaled by 1 / factor. */
  low_freq_factor?: number;
  /** llama3: wavelengths shorter than original / high_freq_factor are kept. */
  high_freq_factor?: number;
  /** llama3, longrope: the context length the model was trained with. */
  original_max_position_embeddings?: number;
  /** longrope: divisors of the inverse frequencies within the original context. */
  short_factor?: number[];
  /** longrope: divisors past the original context (checked, not used: see longrope.ts). */
  long_factor?: number[];
  /** longrope: multiplies cos and sin (default from factor). */
  attention_factor?: number;
}

/** Options of {@link RotaryEmbedding}. */
export interface RotaryOptions {
  /** Channels of one head. */
  headDim: number;
  /** rope_theta (default 10000). */
  base?: number;
  /** Fraction of each head that rotates (GPT-NeoX rotary_pct, partial_rotary_factor); default 1. */
  partialRotaryFactor?: number;
  /** rope_scaling from the config, or null. */
  scaling?: RopeScaling | null;
  /**
   * The dtype the checkpoint stores (config.json `dtype` / `torch_dtype`): transformers casts
   * the inv_freq buffer to it when loading, so a bfloat16 or float16 checkpoint rotates by
   * rounded frequencies. Default "float32".
   */
  bufferDtype?: string | null;
  /** Device of the tables; default cpu. */
  device?: Device;
}

const SUPPORTED = ["default", "linear", "llama3", "longrope"];

/**
 * The inverse frequencies (rotaryDim / 2) of a rope config, as HF's ROPE_INIT_FUNCTIONS compute
 * them. Throws a RangeError naming the unsupported `rope_type`.
 *
 * @example
 * ```ts
 * import { ropeInvFreq } from "./rotary.ts";
 * ropeInvFreq({ headDim: 4, base: 10000 }); // Float64Array [1, 0.01]
 * ```
 */
export function ropeInvFreq(opts: RotaryOptions): Float64Array {
  const inv = scaledInvFreq(opts);
  // transformers 4.57's longrope update puts back its float32 copy (original_inv_freq) on every
  // forward within the original context, so a longrope table is never rounded.
  const s = opts.scaling;
  if (s && (s.rope_type ?? s.type) === "longrope") return inv;
  const dtype = opts.bufferDtype ?? "float32";
  if (dtype === "bfloat16") return inv.map(bf16Round);
  if (dtype === "float16") return inv.map(f16Round);
  return inv;
}

/**
 * `x` rounded to a checkpoint's stored dtype ("bfloat16", "float16"; anything else: float32), as
 * transformers casts a float buffer when it loads a model in that dtype (rotary inv_freq, Gemma
 * 3's embed_scale).
 *
 * @example
 * ```ts
 * import { roundToDtype } from "./rotary.ts";
 * roundToDtype(Math.sqrt(3072), "bfloat16"); // 55.5
 * ```
 */
export function roundToDtype(x: number, dtype: string | null | undefined): number {
  if (dtype === "bfloat16") return bf16Round(x);
  if (dtype === "float16") return f16Round(x);
  return Math.fround(x);
}

/** Rounds to the nearest bfloat16 (ties to even), as torch's cast does. */
function bf16Round(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return new Float32Array(u.buffer)[0];
}

/** Rounds to the nearest float16. */
function f16Round(x: number): number {
  return (Math as unknown as { f16round(x: number): number }).f16round(x);
}

function scaledInvFreq(opts: RotaryOptions): Float64Array {
  const dim = Math.floor(opts.headDim * (opts.partialRotaryFactor ?? 1));
  const base = opts.base ?? 10000;
  // float32 steps, as transformers computes inv_freq (its float64 references inherit them).
  const f = Math.fround;
  const inv = Float64Array.from(
    { length: dim / 2 },
    (_, i) => f(1 / f(Math.pow(base, f(f(2 * i) / dim)))),
  );
  const s = opts.scaling;
  const kind = s ? (s.rope_type ?? s.type ?? "default") : "default";
  if (!SUPPORTED.includes(kind)) {
    throw new RangeError(
      `Unsupported rope_scaling type "${kind}": tsight supports ${
        SUPPORTED.map((k) => `"${k}"`).join(", ")
      }`,
    );
  }
  if (kind === "default" || !s) return inv;
  if (kind === "longrope") return longropeInvFreq(longrope(s, dim / 2).shortFactor, base, dim);
  const factor = s.factor ?? 1;
  if (!(factor > 0)) throw new RangeError(`rope_scaling "factor" is "${factor}": it must be > 0`);
  if (kind === "linear") return inv.map((f) => f / factor);
  // llama3: long wavelengths slowed by factor, short kept, a smooth blend in between.
  const low = s.low_freq_factor ?? 1, high = s.high_freq_factor ?? 4;
  const original = s.original_max_position_embeddings ?? 8192;
  const lowWavelen = original / low, highWavelen = original / high;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen > lowWavelen) return f / factor;
    if (wavelen < highWavelen) return f;
    const smooth = (original / wavelen - low) / (high - low);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

/**
 * HF's `*RotaryEmbedding`: `forward(x, positionIds)` returns `[cos, sin]`, each
 * (B, T, rotaryDim), the rows of the position table at `positionIds`. The table covers
 * positions up to `ensure(n)`; it grows (doubling) when asked for more.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { RotaryEmbedding } from "./rotary.ts";
 * const rope = new RotaryEmbedding({ headDim: 4 });
 * const [cos, sin] = rope.call(tensor([0]), tensor([[0, 1]], undefined, { dtype: "int32" }));
 * cos.shape; // [1, 2, 4]
 * ```
 */
export class RotaryEmbedding extends Module {
  /** Rotated channels per head (headDim times the partial factor). */
  readonly rotaryDim: number;
  readonly #invFreq: Float64Array;
  readonly #device: Device;
  /** cos and sin are multiplied by it (longrope's attention factor; else 1). */
  readonly #scale: number = 1;
  /** Positions the tables may cover (longrope's original context; else unbounded). */
  readonly #limit: number = Infinity;
  #cos: Tensor | null = null;
  #sin: Tensor | null = null;
  #rows = 0;

  /** Computes the inverse frequencies; tables are built on first use. */
  constructor(opts: RotaryOptions) {
    super();
    this.#invFreq = ropeInvFreq(opts);
    this.rotaryDim = 2 * this.#invFreq.length;
    this.#device = opts.device ?? "cpu";
    const s = opts.scaling;
    if (s && (s.rope_type ?? s.type) === "longrope") {
      const l = longrope(s, this.#invFreq.length);
      this.#scale = l.attentionFactor;
      this.#limit = l.limit;
    }
  }

  /** Makes the tables cover positions [0, n); past a longrope limit, a RangeError. */
  ensure(n: number): void {
    if (n > this.#limit) throw longropeLimitError(n, this.#limit);
    if (n <= this.#rows) return;
    const rows = Math.max(n, 2 * this.#rows, 64);
    const d = this.rotaryDim, half = d / 2;
    const cos = new Float32Array(rows * d), sin = new Float32Array(rows * d);
    for (let p = 0; p < rows; p++) {
      for (let i = 0; i < half; i++) {
        const a = Math.fround(p * this.#invFreq[i]); // float32 product, as HF's autocast-free matmul
        cos[p * d + i] = cos[p * d + half + i] = Math.cos(a) * this.#scale;
        sin[p * d + i] = sin[p * d + half + i] = Math.sin(a) * this.#scale;
      }
    }
    this.#cos?.dispose();
    this.#sin?.dispose();
    // Kept: the tables may grow inside a step's tidy, and must outlive it.
    this.#cos = keep(tensor(cos, [rows, d], { device: this.#device }));
    this.#sin = keep(tensor(sin, [rows, d], { device: this.#device }));
    this.#cos.storage.constant = this.#sin.storage.constant = true;
    this.#rows = rows;
  }

  /** x (only its device matters in HF too), positionIds (B, T) int32 -> [cos, sin] (B, T, rotaryDim). */
  forward(_x: Tensor, positionIds: Tensor): [Tensor, Tensor] {
    if (this.#rows === 0) this.ensure(1);
    const [B, T] = positionIds.shape;
    const flat = positionIds.reshape(-1);
    const pick = (t: Tensor) => t.indexSelect(0, flat).reshape(B, T, this.rotaryDim);
    return [pick(this.#cos!), pick(this.#sin!)];
  }
}

/**
 * Rotates the first rotaryDim channels of each head by the angles of `cos`/`sin` (HF's
 * apply_rotary_pos_emb with rotate_half); the remaining channels pass through (partial rotary).
 * x (B, H, T, D), cos/sin (B, T, R) with R <= D -> (B, H, T, D).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { applyRotary } from "./rotary.ts";
 * const x = tensor([[[[1, 0]]]]); // (1, 1, 1, 2)
 * const c = tensor([[[0, 0]]]), s = tensor([[[1, 1]]]); // a quarter turn
 * await applyRotary(x, c, s).data(); // [0, 1]
 * ```
 */
export function applyRotary(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  // One fused pass (the engine's rotary primitive); partial rotary passes channels R.. through.
  return x.rotary(cos.unsqueeze(1), sin.unsqueeze(1)); // (B, 1, T, R) broadcast over H
}
