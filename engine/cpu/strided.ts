// Walks strided views row by row so reference kernels can keep a tight inner loop.
// Knows nothing of ops; only of shapes, strides and offsets.

import type { TypedArray, View } from "../backend.ts";
import { numel } from "../layout.ts";

/**
 * Calls `fn` once per innermost row of `shape`, in row-major order, with the start offset of
 * that row in each of the views described by `strides`/`offsets`, the row length and the
 * innermost stride of each view. `offs` is reused between calls: read it, do not keep it.
 */
export function eachRow(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  fn: (offs: number[], n: number, inner: number[]) => void,
): void {
  const total = numel(shape);
  if (total === 0) return;
  const rank = shape.length;
  if (rank === 0) {
    fn([...offsets], 1, strides.map(() => 0));
    return;
  }
  const n = shape[rank - 1];
  const inner = strides.map((s) => s[rank - 1]);
  const idx = new Array<number>(rank - 1).fill(0);
  const offs = [...offsets];
  const rows = total / n;
  for (let r = 0; r < rows; r++) {
    fn(offs, n, inner);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]++;
      for (let k = 0; k < offs.length; k++) offs[k] += strides[k][d];
      if (idx[d] < shape[d]) break;
      for (let k = 0; k < offs.length; k++) offs[k] -= strides[k][d] * shape[d];
      idx[d] = 0;
    }
  }
}

/** Calls `fn` with the offsets of each batch item of views whose last `tail` axes are a matrix. */
export function eachBatch(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  tail: number,
  fn: (offs: number[]) => void,
): void {
  const batchShape = shape.slice(0, shape.length - tail);
  if (batchShape.length === 0) {
    fn([...offsets]);
    return;
  }
  // A batch is a "row" of length 1 over the batch axes plus a trailing unit axis.
  eachRow(
    [...batchShape, 1],
    strides.map((s) => [...s.slice(0, batchShape.length), 0]),
    offsets,
    (offs) => fn(offs),
  );
}

/** A kernel that runs `fn` on each last-axis row of x, writing out's contiguous row at `oi`. */
export function rowKernel(
  fn: (x: TypedArray, xo: number, s: number, o: TypedArray, oi: number, n: number) => void,
): (out: View, x: View) => void {
  return (out, x) => {
    const o = out.storage.buf as TypedArray, xb = x.storage.buf as TypedArray;
    let oi = out.offset;
    eachRow(x.shape, [x.strides], [x.offset], (offs, n, inner) => {
      fn(xb, offs[0], inner[0], o, oi, n);
      oi += n;
    });
  };
}
