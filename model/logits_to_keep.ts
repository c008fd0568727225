// `logitsToKeep` (HF's logits_to_keep): the unembedding runs only on the last n positions of the
// final hidden state. Shared by every family's forward; validate.ts checks the value.

import type { Tensor } from "../engine/mod.ts";
import { checkLogitsToKeep } from "./validate.ts";

/**
 * The last `n` positions of hidden states (B, T, C) -> (B, min(n, T), C); `h` itself when n is
 * undefined, 0 or at least T (as HF: 0 keeps every position).
 *
 * @example
 * ```ts
 * import { zeros } from "../engine/mod.ts";
 * import { keepLastPositions } from "./logits_to_keep.ts";
 * keepLastPositions(zeros([2, 5, 4]), 1).shape; // [2, 1, 4]
 * ```
 */
export function keepLastPositions(h: Tensor, n: number | undefined): Tensor {
  const T = h.shape[1];
  if (checkLogitsToKeep(n) === undefined || n === 0 || n! >= T) return h;
  return h.get(`:, ${T - n!}:`); // (B, n, C)
}
