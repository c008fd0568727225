// The cpu device: host typed arrays as storage and two kernel tiers: the plain-TypeScript
// reference (the oracle) and the fast tier (compiled loops, WebAssembly SIMD matmul; default). Synchronous reads are allowed here.

import type { Backend, DType, Kernels, Storage, TypedArray, View } from "../backend.ts";
import { typedArrayFor } from "../backend.ts";
import { referenceKernels } from "./reference.ts";
import { compiledKernels } from "./compiled.ts";
import { fastMatmul, prepackPanels } from "./fast/mod.ts";
import { simdGelu, simdLayerNorm, simdRmsNorm, simdSigmoid, simdSoftmax } from "./fast/rows.ts";
import { fastAttention } from "./fast/attention.ts";
import { gatherPackedRows, packedWeight, type RowFill } from "./fast/packed_weight.ts";

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

/**
 * Packs a weight that will be a matmul's right operand `b` (K, N) (a constant float32 cpu
 * tensor or a transposed view of one) for the fast tier now, so the first forward does not
 * pay for it. False, doing nothing, on the reference tier or where matmul would not pack it.
 *
 * @example
 * ```ts
 * import { prepackMatmulOperand } from "./backend.ts";
 * import { zeros } from "../mod.ts";
 * prepackMatmulOperand(zeros([4, 4])); // false: not a constant weight
 * ```
 */
export function prepackMatmulOperand(b: View): boolean {
  return tier === "fast" && b.storage.device === "cpu" && prepackPanels(b);
}

/**
 * A constant float32 cpu weight, stored (rows, cols), that is a matmul's right operand as is
 * (`transposed` false) or transposed (true: nn.Linear's and a tied head's), built straight into
 * the fast tier's packed panels from `fill` (asked for rows [r0, r1) a few MiB at a time), with
 * no host copy until something reads its values (which then stays). Embedding lookups of a
 * transposed one read the panels. Null, calling nothing, on the reference tier, without wasm
 * SIMD or where matmul would not pack it: the caller then makes a plain weight.
 *
 * @example
 * ```ts
 * import { packedMatmulWeight } from "./backend.ts";
 * import { Tensor } from "../tensor.ts";
 * const s = packedMatmulWeight(128, 128, true, (dst, r0) => dst.fill(r0));
 * if (s) new Tensor(s, [128, 128]).dataSync()[128 * 127]; // 127: row 127 read back
 * ```
 */
export function packedMatmulWeight(
  rows: number,
  cols: number,
  transposed: boolean,
  fill: RowFill,
): Storage | null {
  return tier === "fast" ? packedWeight(rows, cols, transposed, fill) : null;
}

/** The fast tier: compiled elementwise/row loops and the WebAssembly SIMD matmul. */
const fastKernels: Kernels = {
  ...referenceKernels,
  ...compiledKernels,
  matmul: (out: View, a: View, b: View) => {
    if (!fastMatmul(out, a, b)) referenceKernels.matmul(out, a, b);
  },
  // SIMD row kernels (fast/rows.ts); each declines small or SIMD-less cases to the loops above.
  softmax: (out, x) => simdSoftmax(out, x) || compiledKernels.softmax(out, x),
  gelu: (out, x) => simdGelu(out, x) || compiledKernels.gelu(out, x),
  sigmoid: (out, x) => simdSigmoid(out, x) || compiledKernels.sigmoid(out, x),
  layerNorm: (out, x, w, b, eps) =>
    simdLayerNorm(out, x, w, b, eps) || compiledKernels.layerNorm(out, x, w, b, eps),
  rmsNorm: (out, x, w, eps, offset) =>
    simdRmsNorm(out, x, w, eps, offset) || referenceKernels.rmsNorm(out, x, w, eps, offset),
  attention: fastAttention,
  gatherRows: (out, table, ids) =>
    gatherPackedRows(out, table, ids) || referenceKernels.gatherRows(out, table, ids),
};

function storage(buf: TypedArray, dtype: DType): Storage {
  return { device: "cpu", dtype, size: buf.length, buf, version: 0 };
}

/** The cpu backend. */
export const cpuBackend: Backend = {
  device: "cpu",
  get kernels(): Kernels {
    return tier === "fast" ? fastKernels : referenceKernels;
  },
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
