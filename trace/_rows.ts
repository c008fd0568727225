// The rows of the batch each invoke sees: narrows a batch value to an invoke's rows and merges a
// replacement back into them, leaving the other rows alone. Knows nothing of graphs or events.

import { cat, slice, Tensor } from "../engine/mod.ts";
import { mapLeaves } from "./_tree.ts";
import { fmtShape, kindOf } from "./_ops.ts";
import type { InvokeRows } from "./run_plan.ts";

/**
 * The invokes of one batch of `batchSize` rows. Invoke -1 (nodes recorded outside any invoke)
 * and an invoke that holds every row see values whole.
 *
 * @example
 * ```ts ignore
 * const batch = new BatchRows([{ start: 0, size: 1 }, { start: 1, size: 2 }], 3);
 * batch.narrow(h, 1); // h.get([slice(1, 3)]) for an h of shape [3, ...]
 * ```
 */
export class BatchRows {
  readonly #invokes: readonly InvokeRows[];
  readonly #batchSize: number;

  /** The batch of `batchSize` rows that `invokes` share. */
  constructor(invokes: readonly InvokeRows[], batchSize: number) {
    this.#invokes = invokes;
    this.#batchSize = batchSize;
  }

  /** The rows of invoke `i` when they are not the whole batch, else null. */
  of(i: number): InvokeRows | null {
    if (i < 0) return null;
    const r = this.#invokes[i];
    return r.start === 0 && r.size === this.#batchSize ? null : r;
  }

  /** `v` as invoke `i` sees it: the invoke's rows of batch-sized tensors (views). */
  narrow(v: unknown, i: number): unknown {
    const rows = this.of(i);
    return rows ? narrowTo(v, rows, this.#batchSize) : v;
  }

  /** `cur` with invoke `i`'s rows replaced by `repl` (see {@link mergeInto}). */
  merge(cur: unknown, repl: unknown, i: number): unknown {
    return mergeInto(cur, repl, this.of(i), this.#batchSize);
  }
}

/** The rows of an invoke of batch-sized tensors (views), walking tuples and object literals. */
function narrowTo(v: unknown, rows: InvokeRows, B: number): unknown {
  return mapLeaves(
    v,
    (x) =>
      x instanceof Tensor && x.ndim > 0 && x.shape[0] === B
        ? x.get([slice(rows.start, rows.start + rows.size)])
        : x,
  );
}

/**
 * Puts `repl` in place of `cur`. With `rows` (an invoke that is part of a batch of `B`), only
 * those rows of batch-sized tensors are replaced; tuples are merged element by element.
 * Tensors must keep their shape: the module after this one expects it.
 */
function mergeInto(cur: unknown, repl: unknown, rows: InvokeRows | null, B: number): unknown {
  if (Array.isArray(cur) && Array.isArray(repl) && cur.length === repl.length) {
    return cur.map((c, i) => mergeInto(c, repl[i], rows, B));
  }
  if (!(cur instanceof Tensor)) return repl;
  if (!(repl instanceof Tensor)) {
    throw new TypeError(
      `the replacement is ${kindOf(repl)} but the value it replaces is a Tensor ${
        fmtShape(cur.shape)
      }`,
    );
  }
  const batched = rows !== null && cur.ndim > 0 && cur.shape[0] === B;
  const want = batched ? [rows.size, ...cur.shape.slice(1)] : cur.shape;
  if (repl.shape.length !== want.length || repl.shape.some((d, k) => d !== want[k])) {
    throw new RangeError(
      `the replacement has shape ${fmtShape(repl.shape)} but the value it replaces has shape ${
        fmtShape(want)
      }${
        batched
          ? ` (rows ${rows.start} to ${rows.start + rows.size - 1} of ${fmtShape(cur.shape)})`
          : ""
      }: the shapes must match`,
    );
  }
  const r = repl.device === cur.device ? repl : repl.to(cur.device);
  if (!batched) return r;
  const parts = [
    cur.get([slice(0, rows.start)]),
    r.astype(cur.dtype),
    cur.get([slice(rows.start + rows.size)]),
  ].filter((p) => p.shape[0] > 0);
  return cat(parts, 0);
}
