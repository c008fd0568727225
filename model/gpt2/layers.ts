// GPT-2's own leaf modules: Conv1D (weights stored [in, out]) and the tied LM head. The shared
// blocks (Embedding, LayerNorm, Dropout, Activation) come from model/layers/.

import type { Device, Tensor } from "../../engine/mod.ts";
import { Module } from "../module.ts";
import type { Embedding } from "../layers/embedding.ts";
import { newParameter } from "../layers/parameter.ts";

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
  /** The right operand of forward's matmul: W (nx, nf). */
  override matmulOperands(): Tensor[] {
    return [this.weight];
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
 * The language-model head: logits = h @ W^T with W (V, C). Tied (the default) W is the
 * embedding table `transformer.wte.weight`, read through a transposed view, never copied.
 *
 * @example
 * ```ts
 * import { Embedding } from "../layers/embedding.ts";
 * import { LMHead } from "./layers.ts";
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
  /** The right operand of forward's matmul: W.T (C, V). */
  override matmulOperands(): Tensor[] {
    return [this.weight.transpose()];
  }
  /** h (B, T, C) -> logits (B, T, V). */
  forward(h: Tensor): Tensor {
    const w = this.weight; // (V, C)
    const [B, T, C] = h.shape;
    return h.reshape(B * T, C).matmul(w.transpose()).reshape(B, T, w.shape[0]); // (B, T, V)
  }
}
