// Batches token-id rows of different lengths by padding on the left, as nnsight and HF generate()
// do: input ids, attention mask and position ids (cumsum(mask) - 1). Runs no model.

import { type Device, type Tensor, tensor } from "../engine/mod.ts";
import { checkTokenId } from "./validate.ts";

/** A left-padded batch, as tensors and as the host arrays they were made from. */
export interface Batch {
  /** (B, T) int32, pads first. */
  inputIds: Tensor;
  /** (B, T) int32, 0 at pads, 1 at tokens. */
  attentionMask: Tensor;
  /** (B, T) int32, cumsum(mask) - 1 clamped at 0: each row's first token is at position 0. */
  positionIds: Tensor;
  /** Tokens per row (before padding). */
  lengths: number[];
  /** Padded length T. */
  width: number;
  /** The padded ids on the host (B * T, row-major), so callers need not read them back. */
  hostIds: Int32Array;
}

/**
 * Checks rows of token ids: a non-empty array of non-empty arrays of integers in [0, vocab)
 * (int32 when no vocab is given; a TokenIdError otherwise). A flat array is taken as one row.
 *
 * @example
 * ```ts
 * import { normalizeRows } from "./batch.ts";
 * normalizeRows([1, 2, 3]); // [[1, 2, 3]]
 * ```
 */
export function normalizeRows(
  input: readonly number[] | readonly (readonly number[])[],
  vocabSize = Infinity,
): number[][] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new TypeError(
      `Expected token ids as a non-empty array of rows, got ${JSON.stringify(input)}`,
    );
  }
  const rows = (typeof input[0] === "number" ? [input] : input) as unknown[];
  return rows.map((row, r) => {
    if (!Array.isArray(row) || row.length === 0) {
      throw new TypeError(
        `Row ${r} is ${JSON.stringify(row)}: each row needs at least one token id`,
      );
    }
    row.forEach((id, i) => checkTokenId(id, vocabSize, `Row ${r}, position ${i}`));
    return [...row] as number[];
  });
}

/**
 * Pads rows on the left with `padId` to one length and builds the attention mask and the
 * position ids (cumsum(mask) - 1, clamped at 0), so every row's tokens get the positions they
 * would have alone. Both `generate()` and a batched forward use it. Ids (and the pad id, when a
 * row is padded) must lie in [0, opts.vocabSize).
 *
 * @example
 * ```ts
 * import { prepareBatch } from "./batch.ts";
 * const b = prepareBatch([[5, 6, 7], [8]], 0);
 * await b.inputIds.toArray();    // [[5, 6, 7], [0, 0, 8]]
 * await b.positionIds.toArray(); // [[0, 1, 2], [0, 0, 0]]
 * ```
 */
export function prepareBatch(
  rows: readonly (readonly number[])[],
  padId: number,
  opts: { device?: Device; vocabSize?: number } = {},
): Batch {
  const checked = normalizeRows(rows, opts.vocabSize);
  const B = checked.length;
  const T = Math.max(...checked.map((r) => r.length));
  if (checked.some((r) => r.length < T)) {
    checkTokenId(padId, opts.vocabSize ?? Infinity, "The pad id");
  }
  const ids = new Int32Array(B * T).fill(padId);
  const mask = new Int32Array(B * T);
  const pos = new Int32Array(B * T);
  checked.forEach((row, b) => {
    const start = b * T + T - row.length; // first real token of row b
    ids.set(row, start);
    for (let i = 0; i < row.length; i++) {
      mask[start + i] = 1;
      pos[start + i] = i;
    }
  });
  const device = opts.device;
  return {
    inputIds: tensor(ids.slice(), [B, T], { device }),
    attentionMask: tensor(mask, [B, T], { device }),
    positionIds: tensor(pos, [B, T], { device }),
    lengths: checked.map((r) => r.length),
    width: T,
    hostIds: ids,
  };
}
