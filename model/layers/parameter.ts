// Weight allocation shared by every layer: zero-filled (or shape-only on meta) storages marked
// long-lived. Allocates only; never reads or writes weight values.

import { type Device, getBackend, Tensor } from "../../engine/mod.ts";

/**
 * A zero-filled weight of `shape` on `device` (no data on meta), marked long-lived so backends
 * may cache derived layouts of it (packed matmul panels, GPU uploads).
 *
 * @example
 * ```ts
 * import { newParameter } from "./parameter.ts";
 * const w = newParameter([4, 8], "cpu"); // zeros, storage.constant === true
 * ```
 */
export function newParameter(shape: readonly number[], device: Device): Tensor {
  const size = shape.reduce((a, d) => a * d, 1);
  const storage = getBackend(device).alloc(size, "float32");
  storage.constant = true;
  return new Tensor(storage, shape);
}
