// Refuses to pick a token from logits that hold NaN or ±Inf: counts finite logits per row on the
// device, beside what the picker reads back, so the check costs no extra readback or sync.

import { cat, type Tensor } from "../engine/mod.ts";

/**
 * The logits a decoding step picks from hold NaN or ±Inf, so no token can be chosen (a greedy
 * pick would silently be token 0). The message names the step and row; a traced generate adds
 * the interventions recorded for that step (`interventions`).
 *
 * @example
 * ```ts
 * import { NonFiniteLogitsError } from "./finite.ts";
 * const e = new NonFiniteLogitsError({ step: 2, row: 0, count: 50257, vocabSize: 50257 });
 * console.log(e.step, e instanceof RangeError); // 2 true
 * ```
 */
export class NonFiniteLogitsError extends RangeError {
  /** The decoding step (0 = the prompt pass). */
  readonly step: number;
  /** The batch row whose logits are not finite. */
  readonly row: number;
  /** How many of the row's logits are NaN or ±Inf. */
  readonly count: number;
  /** How many logits the row has (V). */
  readonly vocabSize: number;
  /** Descriptions of the interventions recorded for the step (traced generate only). */
  readonly interventions: readonly string[];
  /**
   * Makes the error.
   *
   * @param info the step, the row, how many of its `vocabSize` logits are non-finite, and the
   *   interventions recorded for the step, if any
   */
  constructor(
    info: {
      step: number;
      row: number;
      count: number;
      vocabSize: number;
      interventions?: readonly string[];
    },
  ) {
    const ivs = info.interventions ?? [];
    const cause = ivs.length
      ? `interventions recorded for this step: ${ivs.join("; ")}`
      : "no intervention edited this step; check the weights and any hooks";
    super(
      `Step ${info.step} of generation: ${info.count} of row ${info.row}'s ${info.vocabSize} logits are NaN or ±Inf, so no token can be picked (${cause})`,
    );
    this.name = "NonFiniteLogitsError";
    this.step = info.step;
    this.row = info.row;
    this.count = info.count;
    this.vocabSize = info.vocabSize;
    this.interventions = ivs;
  }
}

/** The two halves of a token picker (generate.ts): device-side prepare, host-side choose. */
export interface TokenPicker {
  /** (B, V) logits -> a small tensor to read back. */
  prepare(last: Tensor): Tensor;
  /** The read-back data of `prepare`'s result -> one id per row. */
  choose(data: ArrayLike<number>, B: number): Int32Array;
}

/**
 * Wraps a picker so each step also counts every row's finite logits on the device: `prepare`
 * returns the picker's tensor (B, W) with one more column, the count (B, W + 1), and `choose`
 * throws a {@link NonFiniteLogitsError} naming the step (the n-th call) when a count is short of
 * V. Counting is |x| < Inf, which is false for NaN and ±Inf alike.
 *
 * @example
 * ```ts
 * import { tensor } from "../engine/mod.ts";
 * import { guardFinite } from "./finite.ts";
 * const pick = guardFinite({
 *   prepare: (last) => last.argmax(-1),
 *   choose: (data) => Int32Array.from(data),
 * });
 * const data = await pick.prepare(tensor([[0, 2, 1]])).data();
 * pick.choose(data, 1); // Int32Array [1]
 * ```
 */
export function guardFinite(picker: TokenPicker): TokenPicker {
  let step = -1, V = 0, W = 0;
  return {
    prepare: (last) => {
      const [B] = last.shape;
      V = last.shape[1];
      let picked = picker.prepare(last).reshape(B, -1); // (B, W)
      const finite = last.abs().lt(Infinity).sum(-1, true); // (B, 1) int32
      W = picked.shape[1];
      if (picked.dtype !== "int32") picked = picked.astype("float32");
      return cat([picked, finite.astype(picked.dtype)], -1); // (B, W + 1)
    },
    choose: (data, B) => {
      step++;
      const inner = new Float64Array(B * W);
      for (let b = 0; b < B; b++) {
        const count = data[b * (W + 1) + W];
        if (count !== V) {
          throw new NonFiniteLogitsError({ step, row: b, count: V - count, vocabSize: V });
        }
        for (let j = 0; j < W; j++) inner[b * W + j] = data[b * (W + 1) + j];
      }
      return picker.choose(inner, B);
    },
  };
}
