// GPT-2's leaf modules: Conv1D, LayerNorm, Embedding, Dropout (identity) and the MLP activation.
// Pure tensor ops on whatever device the weights live on; nothing here reads data back.

import { type Device, getBackend, Tensor } from "../../engine/mod.ts";
import type { Activation as ActivationName } from "../config.ts";
import { Module } from "../module.ts";

/**
 * A zero-filled weight of `shape` on `device` (no data on meta), marked long-lived so backends
 * may cache derived layouts of it (packed matmul panels, GPU uploads).
 *
 * @example
 * ```ts
 * import { newParameter } from "./layers.ts";
 * const w = newParameter([4, 8], "cpu"); // zeros, storage.constant === true
 * ```
 */
export function newParameter(shape: readonly number[], device: Device): Tensor {
  const size = shape.reduce((a, d) => a * d, 1);
  const storage = getBackend(device).alloc(size, "float32");
  storage.constant = true;
  return new Tensor(storage, shape);
}

/**
 * HuggingFace's Conv1D: a linear layer whose weight is stored [in, out], so forward is x @ W + b.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Conv1D } from "./layers.ts";
 * const fc = new Conv1D(2, 3, "cpu");
 * fc.call(tensor([[[1, 2]]])); // (1, 1, 3) zeros until weights are loaded
 * ```
 */
export class Conv1D extends Module {
  /** Creates zero weights [nx, nf] and bias [nf]. */
  constructor(nx: number, nf: number, device: Device) {
    super();
    this.addParameter("weight", newParameter([nx, nf], device));
    this.addParameter("bias", newParameter([nf], device));
  }
  /** The [in, out] weight. */
  get weight(): Tensor {
    return this.parameter("weight");
  }
  /** The [out] bias. */
  get bias(): Tensor {
    return this.parameter("bias");
  }
  /** x (..., nx) -> x @ W + b (..., nf), as one 2-D matmul over the flattened leading axes. */
  forward(x: Tensor): Tensor {
    const w = this.weight;
    const lead = x.shape.slice(0, -1);
    const x2 = x.reshape(-1, x.shape[x.ndim - 1]); // (N, nx)
    return x2.matmul(w).add(this.bias).reshape(...lead, w.shape[1]); // (..., nf)
  }
}

/**
 * LayerNorm over the last axis with a learned gain and bias.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { LayerNorm } from "./layers.ts";
 * const ln = new LayerNorm(2, 1e-5, "cpu");
 * ln.call(tensor([[1, 3]])); // zeros until weights are loaded (gain 0)
 * ```
 */
export class LayerNorm extends Module {
  /** The epsilon added to the variance. */
  readonly eps: number;
  /** Creates zero gain and bias of size `n`. */
  constructor(n: number, eps: number, device: Device) {
    super();
    this.eps = eps;
    this.addParameter("weight", newParameter([n], device));
    this.addParameter("bias", newParameter([n], device));
  }
  /** (..., C) -> (..., C) normalised over C. */
  forward(x: Tensor): Tensor {
    return x.layerNorm(this.parameter("weight"), this.parameter("bias"), this.eps);
  }
}

/**
 * A lookup table: int32 ids (any shape) -> rows of `weight` (..., C).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Embedding } from "./layers.ts";
 * const wte = new Embedding(10, 4, "cpu");
 * console.log(wte.forward(tensor([[1, 2]], undefined, { dtype: "int32" })).shape); // [1, 2, 4]
 * ```
 */
export class Embedding extends Module {
  /** Creates a zero table [n, dim]. */
  constructor(n: number, dim: number, device: Device) {
    super();
    this.addParameter("weight", newParameter([n, dim], device));
  }
  /** The [n, dim] table. */
  get weight(): Tensor {
    return this.parameter("weight");
  }
  /** ids (...) int32 -> (..., dim). */
  forward(ids: Tensor): Tensor {
    const w = this.weight;
    return w.indexSelect(0, ids.reshape(-1)).reshape(...ids.shape, w.shape[1]);
  }
}

/**
 * Dropout at inference: the identity, kept as a module so hooks still see its output
 * (`attn.attn_dropout.output` is the attention pattern, as in HuggingFace).
 *
 * @example
 * ```ts
 * import { Dropout } from "./layers.ts";
 * new Dropout().call(1); // 1
 * ```
 */
export class Dropout extends Module {
  /** Returns x unchanged. */
  forward<T>(x: T): T {
    return x;
  }
}

const SQRT1_2 = Math.SQRT1_2;
// Chebyshev fit of erfc (Numerical Recipes `erfcc`): fractional error < 1.2e-7 for all z >= 0.
const ERFC_COEFFS = [
  -1.26551223,
  1.00002368,
  0.37409196,
  0.09678418,
  -0.18628806,
  0.27886807,
  -1.13520398,
  1.48851587,
  -0.82215223,
  0.17087277,
];

/**
 * Exact (erf) GELU, 0.5x(1 + erf(x/sqrt 2)), as a composite of tensor ops so it runs on every
 * device. Uses erfc of |x|/sqrt 2 (relative error < 1.2e-7), so the negative tail keeps its
 * relative accuracy instead of cancelling in 1 + erf.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { geluExact } from "./layers.ts";
 * await geluExact(tensor([1])).data(); // [0.8413447]
 * ```
 */
export function geluExact(x: Tensor): Tensor {
  const z = x.abs().mul(SQRT1_2); // |x| / sqrt 2
  const t = z.mul(0.5).add(1).pow(-1); // 1 / (1 + z/2)
  let poly = t.mul(ERFC_COEFFS[9]);
  for (let i = 8; i >= 1; i--) poly = poly.add(ERFC_COEFFS[i]).mul(t);
  const erfc = t.mul(poly.add(ERFC_COEFFS[0]).sub(z.mul(z)).exp()); // erfc(|x| / sqrt 2)
  // 1 + erf(x/sqrt 2) = erfc(|z|) for x < 0, 2 - erfc(|z|) otherwise.
  const onePlusErf = erfc.where(x.lt(0), erfc.neg().add(2));
  return x.mul(onePlusErf).mul(0.5);
}

/**
 * The MLP activation named by `config.activation_function` (HuggingFace's ACT2FN):
 * gelu_new / gelu_pytorch_tanh / gelu_fast (tanh GELU), gelu (exact erf), relu, silu, quick_gelu.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Activation } from "./layers.ts";
 * new Activation("relu").call(tensor([-1, 2])); // [0, 2]
 * ```
 */
export class Activation extends Module {
  /** The function applied. */
  readonly kind: ActivationName;
  /** Picks the function; throws RangeError for an unknown name. */
  constructor(kind: ActivationName) {
    super();
    if (!ACTIVATION_FNS[kind]) {
      throw new RangeError(
        `Unknown activation "${kind}": use one of ${Object.keys(ACTIVATION_FNS).join(", ")}`,
      );
    }
    this.kind = kind;
  }
  /** Applies the activation elementwise. */
  forward(x: Tensor): Tensor {
    return ACTIVATION_FNS[this.kind](x);
  }
}

const ACTIVATION_FNS: Record<ActivationName, (x: Tensor) => Tensor> = {
  gelu_new: (x) => x.gelu(),
  gelu_pytorch_tanh: (x) => x.gelu(),
  gelu_fast: (x) => x.gelu(),
  gelu: geluExact,
  relu: (x) => x.relu(),
  silu: (x) => x.mul(x.sigmoid()),
  quick_gelu: (x) => x.mul(x.mul(1.702).sigmoid()),
};

/**
 * The language-model head: logits = h @ W^T with W (V, C). Tied (the default) W is the
 * embedding table `transformer.wte.weight`, read through a transposed view, never copied.
 *
 * @example
 * ```ts
 * import { Embedding, LMHead } from "./layers.ts";
 * const head = new LMHead(new Embedding(10, 4, "cpu"));
 * head.tied; // true
 * ```
 */
export class LMHead extends Module {
  readonly #wte: Embedding;
  #tied = true;
  /** Uses `wte`'s table until `untie` gives the head its own weight. */
  constructor(wte: Embedding) {
    super();
    this.#wte = wte;
  }
  /** Whether the head reads the embedding table. */
  get tied(): boolean {
    return this.#tied;
  }
  /** The (V, C) weight. */
  get weight(): Tensor {
    return this.#tied ? this.#wte.weight : this.parameter("weight");
  }
  /** Gives the head its own (V, C) weight, registered as `lm_head.weight` (an untied checkpoint). */
  untie(weight: Tensor): void {
    this.addParameter("weight", weight);
    this.#tied = false;
  }
  /** h (B, T, C) -> logits (B, T, V). */
  forward(h: Tensor): Tensor {
    const w = this.weight; // (V, C)
    const [B, T, C] = h.shape;
    return h.reshape(B * T, C).matmul(w.transpose()).reshape(B, T, w.shape[0]); // (B, T, V)
  }
}
