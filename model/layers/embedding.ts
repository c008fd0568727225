// torch.nn.Embedding: a lookup table of rows; ids of any shape in, rows out (Gemma 3's scaled
// variant multiplies them by a constant). Dropout at inference.

import type { Device, Tensor } from "../../engine/mod.ts";
import { Module } from "../module.ts";
import { newParameter } from "./parameter.ts";

/**
 * A lookup table: int32 ids (any shape) -> rows of `weight` (..., dim).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Embedding } from "./embedding.ts";
 * const wte = new Embedding(10, 4, "cpu");
 * wte.call(tensor([[1, 2]], undefined, { dtype: "int32" })).shape; // [1, 2, 4]
 * ```
 */
export class Embedding extends Module {
  /** Creates a zero table [n, dim]. */
  constructor(n: number, dim: number, device: Device = "cpu") {
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
 * An embedding whose rows come out times a constant (HF's Gemma3TextScaledWordEmbedding: the
 * scale is sqrt(hidden_size) in the table's dtype, float32 here), so `embed_tokens.output` is
 * already scaled.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { ScaledEmbedding } from "./embedding.ts";
 * const e = new ScaledEmbedding(10, 4, Math.sqrt(4), "cpu");
 * e.call(tensor([[1, 2]], undefined, { dtype: "int32" })).shape; // [1, 2, 4]
 * ```
 */
export class ScaledEmbedding extends Embedding {
  /** The factor every row is multiplied by. */
  readonly scale: number;
  /** Creates a zero table [n, dim] scaled by `scale` on lookup. */
  constructor(n: number, dim: number, scale: number, device: Device = "cpu") {
    super(n, dim, device);
    this.scale = Math.fround(scale);
  }
  /** ids (...) int32 -> scale * rows (..., dim). */
  override forward(ids: Tensor): Tensor {
    return super.forward(ids).mul(this.scale);
  }
}

/**
 * Dropout at inference: the identity, kept as a module so hooks still see its output
 * (`attn.attn_dropout.output` is GPT-2's attention pattern, as in HuggingFace).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { Dropout } from "./embedding.ts";
 * new Dropout().call(tensor([1])); // the same tensor
 * ```
 */
export class Dropout extends Module {
  /** Returns x unchanged. */
  forward(x: Tensor): Tensor {
    return x;
  }
}
