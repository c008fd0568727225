// The meta device: storages without data. Every kernel is a no-op, so a program runs with
// the same shape checks and errors as on a real device but computes nothing (used by scan()).

import type { Backend, Kernels } from "../backend.ts";
import { ALL_OPS } from "../backend.ts";

const noop = () => {};
const kernels = Object.fromEntries(ALL_OPS.map((op) => [op, noop])) as unknown as Kernels;

/** The meta backend: shapes and dtypes only. */
export const metaBackend: Backend = {
  device: "meta",
  kernels,
  alloc: (size, dtype) => ({ device: "meta", dtype, size, buf: null, version: 0 }),
  fromData: (data) => ({
    device: "meta",
    dtype: data instanceof Int32Array ? "int32" : "float32",
    size: data.length,
    buf: null,
    version: 0,
  }),
  read: () =>
    Promise.reject(
      new TypeError("A tensor on the meta device has no data: it holds shapes only (from scan())"),
    ),
  dispose: () => {},
};
