// The decoder stack Llama, Phi-3 and OLMo 2 share under HF's names: embed_tokens, layers, norm
// (RMSNorm) and one rotary_emb; forward = embed, rotary tables and masks, layers, final norm.
// Each family supplies its layer and its mask option.

import type { Device, Tensor } from "../engine/mod.ts";
import { rotaryContext, stackOutput } from "./_decoder_forward.ts";
import { forwardInputs } from "./_decoder_shape.ts";
import type { CausalLMForwardOptions } from "./causal_lm.ts";
import type { AttentionContext } from "./layers/attention.ts";
import { Embedding } from "./layers/embedding.ts";
import { RMSNorm } from "./layers/norm.ts";
import { RotaryEmbedding, type RotaryOptions } from "./layers/rotary.ts";
import { Module, ModuleList } from "./module.ts";
import type { BaseModelOutput } from "./outputs.ts";

/** A decoder layer of such a stack: hidden (B, T, C) and the attention context -> (B, T, C). */
export interface RopeDecoderLayer extends Module {
  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor, ctx: AttentionContext): Tensor;
}

/**
 * The masks of a stack (rotaryContext's options): `window` masks every layer (Phi-3);
 * `slidingWindow` builds the sliding-window layers' own mask (a number), sets it to null, or
 * (absent) leaves it out.
 */
export interface RopeDecoderMask {
  /** Window of the mask every layer uses. */
  window?: number | null;
  /** Window of the sliding-window layers' mask. */
  slidingWindow?: number | null;
}

/** What a family tells {@link RopeDecoderModel}. */
export interface RopeDecoderParts<L extends RopeDecoderLayer> {
  /** Names the model in input errors ("llama model"). */
  name: string;
  /** Vocabulary size (V). */
  vocabSize: number;
  /** Width of the residual stream (C). */
  hiddenSize: number;
  /** Number of decoder layers. */
  numLayers: number;
  /** Eps of the final RMSNorm. */
  rmsNormEps: number;
  /** Layer `i` with weights on `weightDevice`. */
  layer: (i: number, weightDevice: Device) => L;
  /** The rotary tables' options (the device is the stack's). */
  rotary: Omit<RotaryOptions, "device">;
  /** The masks' windows; default none. */
  mask?: RopeDecoderMask;
}

/**
 * The shared stack: ids (B, T) int32 -> BaseModelOutput (last_hidden_state (B, T, C)), with
 * HF's module names.
 *
 * @example
 * ```ts
 * import { tensor } from "../engine/mod.ts";
 * import { RopeDecoderModel } from "./_rope_decoder.ts";
 * import { Module } from "./module.ts";
 * import type { Tensor } from "../engine/mod.ts";
 * class Identity extends Module { forward(x: Tensor) { return x; } }
 * const m = new RopeDecoderModel({
 *   name: "toy model", vocabSize: 10, hiddenSize: 4, numLayers: 1, rmsNormEps: 1e-6,
 *   layer: () => new Identity(), rotary: { headDim: 4, base: 10000 },
 * }, "cpu");
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" }))[0].shape; // [1, 2, 4]
 * ```
 */
export class RopeDecoderModel<L extends RopeDecoderLayer> extends Module {
  /** Token embeddings (V, C). */
  readonly embed_tokens: Embedding;
  /** The decoder layers. */
  readonly layers: ModuleList<L>;
  /** Final RMSNorm. */
  readonly norm: RMSNorm;
  /** Rotary tables: output [cos, sin] (B, T, R). */
  readonly rotary_emb: RotaryEmbedding;
  readonly #name: string;
  readonly #mask: RopeDecoderMask;
  readonly #device: Device;

  /** Builds the stack computing on `device`, weights on `weightDevice` (default `device`). */
  constructor(parts: RopeDecoderParts<L>, device: Device, weightDevice: Device = device) {
    super();
    const w = weightDevice;
    this.#name = parts.name;
    this.#mask = parts.mask ?? {};
    this.#device = device;
    this.embed_tokens = this.addModule(
      "embed_tokens",
      new Embedding(parts.vocabSize, parts.hiddenSize, w),
    );
    const layers = Array.from({ length: parts.numLayers }, (_, i) => parts.layer(i, w));
    this.layers = this.addModule("layers", new ModuleList(layers));
    this.norm = this.addModule(
      "norm",
      new RMSNorm(parts.hiddenSize, parts.rmsNormEps, { device: w }),
    );
    this.rotary_emb = this.addModule(
      "rotary_emb",
      new RotaryEmbedding({ ...parts.rotary, device }),
    );
  }

  /** ids (B, T) int32 -> BaseModelOutput (last_hidden_state (B, T, C)). */
  forward(inputIds: Tensor, opts: CausalLMForwardOptions = {}): BaseModelOutput {
    const inputs = forwardInputs(this.#name, inputIds, opts, this.#device);
    let x = this.embed_tokens.call(inputIds); // (B, T, C)
    const ctx = rotaryContext(x, inputs, opts.attentionMask, this.#device, {
      rotary: this.rotary_emb,
      ...this.#mask,
    });
    for (const layer of this.layers) {
      const l: RopeDecoderLayer = layer;
      x = l.call(x, ctx); // (B, T, C)
    }
    return stackOutput(x, this.norm, inputs.cache, inputs.T);
  }
}
