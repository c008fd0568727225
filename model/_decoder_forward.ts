// The parts of a rotary decoder stack's forward that every family repeats: rotary tables and
// attention masks of one call (the AttentionContext its layers share), and the final norm's
// BaseModelOutput once the cache has advanced. Builds no modules.

import type { Device, Tensor } from "../engine/mod.ts";
import type { ForwardInputs } from "./_decoder_shape.ts";
import type { KVCacheLike } from "./causal_lm.ts";
import { attentionBias, type AttentionContext } from "./layers/attention.ts";
import type { RotaryEmbedding } from "./layers/rotary.ts";
import type { Module } from "./module.ts";
import { BaseModelOutput } from "./outputs.ts";

/** What differs between the families' contexts; absent keys stay absent from the context. */
export interface RotaryContextOptions {
  /** The rotary tables of every layer (of the global layers when `slidingRotary` is set). */
  rotary: RotaryEmbedding;
  /** Separate tables of the sliding-window layers (Gemma 3's local base). */
  slidingRotary?: RotaryEmbedding;
  /** Window of the mask every layer uses (Phi-3); default none. */
  window?: number | null;
  /**
   * Window of the sliding-window layers' own mask: a number builds `slidingBias`, null sets it to
   * null (they use `bias`), absent leaves the key out.
   */
  slidingWindow?: number | null;
}

/**
 * Grows the rotary tables to past + T positions, runs them on `x` (B, T, C) at the inputs'
 * positions and builds the additive masks: the AttentionContext of one forward.
 *
 * @example
 * ```ts
 * import { tensor, zeros } from "../engine/mod.ts";
 * import { forwardInputs } from "./_decoder_shape.ts";
 * import { rotaryContext } from "./_decoder_forward.ts";
 * import { RotaryEmbedding } from "./layers/rotary.ts";
 * const ids = tensor([[1, 2, 3]], undefined, { dtype: "int32" });
 * const inputs = forwardInputs("demo model", ids, {}, "cpu");
 * const rotary = new RotaryEmbedding({ headDim: 4, base: 10000, device: "cpu" });
 * const ctx = rotaryContext(zeros([1, 3, 8]), inputs, undefined, "cpu", { rotary });
 * ctx.bias?.shape; // [1, 1, 3, 3]
 * ```
 */
export function rotaryContext(
  x: Tensor,
  inputs: ForwardInputs,
  mask: Tensor | undefined,
  device: Device,
  o: RotaryContextOptions,
): AttentionContext {
  const { B, T, past, cache, positionIds } = inputs;
  o.rotary.ensure(past + T);
  o.slidingRotary?.ensure(past + T);
  const ctx: AttentionContext = {
    positionEmbeddings: o.rotary.call(x, positionIds), // [cos, sin] (B, T, R)
    bias: attentionBias(B, T, past, mask, device, o.window ?? null), // (B|1, 1, T, S)
    cache,
  };
  if (o.slidingRotary) ctx.slidingPositionEmbeddings = o.slidingRotary.call(x, positionIds);
  if (o.slidingWindow !== undefined) {
    ctx.slidingBias = o.slidingWindow === null
      ? null
      : attentionBias(B, T, past, mask, device, o.slidingWindow);
  }
  return ctx;
}

/** A final norm: hidden (B, T, C) -> (B, T, C). */
export interface FinalNorm extends Module {
  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor): Tensor;
}

/**
 * The end of a stack's forward: advances the cache by this call's T positions and wraps the final
 * norm of `x` (B, T, C) with the cache.
 *
 * @example
 * ```ts
 * import { zeros } from "../engine/mod.ts";
 * import { stackOutput } from "./_decoder_forward.ts";
 * import { RMSNorm } from "./layers/norm.ts";
 * stackOutput(zeros([1, 2, 4]), new RMSNorm(4, 1e-6, { device: "cpu" }), null, 2)[0].shape; // [1, 2, 4]
 * ```
 */
export function stackOutput(
  x: Tensor,
  norm: FinalNorm,
  cache: KVCacheLike | null,
  T: number,
): BaseModelOutput {
  cache?.advance(T);
  return new BaseModelOutput(norm.call(x), cache);
}
