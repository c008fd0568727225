// The cpu device: host typed arrays as storage, reference kernels, and the WebAssembly SIMD
// tier for matmul when it is enabled (the default). Synchronous reads are allowed here.

import type { Backend, DType, Kernels, Storage, TypedArray, View } from "../backend.ts";
import { typedArrayFor } from "../backend.ts";
import { referenceKernels } from "./reference.ts";
import { fastMatmul } from "./fast/mod.ts";

/** Which cpu kernels run: the plain-TypeScript oracle or the SIMD fast tier. */
export type CpuTier = "reference" | "fast";

let tier: CpuTier = "fast";

/** Selects the cpu kernel tier (tests compare the two). Returns the previous tier. */
export function setCpuTier(next: CpuTier): CpuTier {
  const prev = tier;
  tier = next;
  return prev;
}

/** The cpu kernel tier in use. */
export function cpuTier(): CpuTier {
  return tier;
}

const kernels: Kernels = {
  ...referenceKernels,
  matmul: (out: View, a: View, b: View) => {
    if (tier === "fast" && fastMatmul(out, a, b)) return;
    referenceKernels.matmul(out, a, b);
  },
};

function storage(buf: TypedArray, dtype: DType): Storage {
  return { device: "cpu", dtype, size: buf.length, buf, version: 0 };
}

/** The cpu backend. */
export const cpuBackend: Backend = {
  device: "cpu",
  kernels,
  alloc: (size, dtype) => storage(typedArrayFor(dtype, size), dtype),
  fromData: (data, opts) =>
    storage(
      opts?.adopt ? data : data.slice(),
      data instanceof Int32Array ? "int32" : "float32",
    ),
  read: (s, offset, size) => Promise.resolve((s.buf as TypedArray).slice(offset, offset + size)),
  readSync: (s, offset, size) => (s.buf as TypedArray).slice(offset, offset + size),
  dispose: () => {},
};
