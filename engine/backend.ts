// The seam between Tensor and the devices: storages, strided views and the closed set of
// primitive kernels every backend implements. Backends never see a Tensor.

/** Element types a tensor can hold. */
export type DType = "float32" | "int32";

/** Devices a tensor can live on. */
export type Device = "cpu" | "webgpu" | "meta";

/** Host-side typed array for a dtype. */
export type TypedArray = Float32Array | Int32Array;

/**
 * A flat allocation on one device. `version` counts in-place writes so caches keyed by
 * storage (packed weight panels, GPU uploads) can tell when they are stale.
 */
export interface Storage {
  /** The device holding the data. */
  readonly device: Device;
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Backend-specific handle: a typed array on cpu, a GPU buffer on webgpu, null on meta. */
  readonly buf: unknown;
  /** Incremented by every in-place write. */
  version: number;
  /** Set for long-lived weights so backends may cache derived layouts of them. */
  constant?: boolean;
}

/** A strided window onto a storage: element (i0, i1, ...) is at offset + sum(ik * strides[k]). */
export interface View {
  /** The storage viewed. */
  readonly storage: Storage;
  /** Size of each axis. */
  readonly shape: readonly number[];
  /** Elements to step per unit of each axis (0 for a broadcast axis, negative for reversed). */
  readonly strides: readonly number[];
  /** Position of element (0, ..., 0). */
  readonly offset: number;
}

/** Elementwise functions of one argument; `gelu` is the tanh form (GPT-2's gelu_new). */
export const UNARY_OPS = [
  "neg",
  "exp",
  "log",
  "sqrt",
  "rsqrt",
  "tanh",
  "abs",
  "relu",
  "gelu",
  "sigmoid",
] as const;
/** Elementwise functions of two broadcast arguments. Comparisons return int32 0/1. */
export const BINARY_OPS = [
  "add",
  "sub",
  "mul",
  "div",
  "pow",
  "maximum",
  "minimum",
  "eq",
  "gt",
  "lt",
] as const;
/** Reductions over the last axis of a view. `argmax`/`argmin` return int32. */
export const REDUCE_OPS = ["sum", "max", "min", "argmax", "argmin"] as const;

/** Name of a unary elementwise op. */
export type UnaryOp = typeof UNARY_OPS[number];
/** Name of a binary elementwise op. */
export type BinaryOp = typeof BINARY_OPS[number];
/** Name of a last-axis reduction. */
export type ReduceOp = typeof REDUCE_OPS[number];

/** Scalars of the fused attention kernel (see `Kernels.attention`). */
export interface AttentionParams {
  /** Multiplies q k^T. */
  readonly scale: number;
  /** Query i (at position S - T + i) sees key j only when j <= S - T + i. */
  readonly causal: boolean;
  /** With causal: query i also sees key j only when S - T + i - j < window; null for none. */
  readonly window: number | null;
  /** Scores become softcap * tanh(scores / softcap) before the bias; null for none. */
  readonly softcap: number | null;
}

/** out[i] = f(x[i]); `out` is contiguous with x's shape. */
export type UnaryKernel = (out: View, x: View) => void;
/** out[i] = f(a[i], b[i]); a and b are already broadcast (0 strides) to out's shape. */
export type BinaryKernel = (out: View, a: View, b: View) => void;
/** out[...] = reduce(x[..., :]); out has x's shape without its last axis. */
export type ReduceKernel = (out: View, x: View) => void;

/**
 * The primitive kernels. Every input is a view (any strides, 0 for broadcast axes); every
 * `out` is a contiguous view of a fresh storage unless the op says otherwise. Shapes are
 * checked before a kernel runs, so kernels do no validation.
 */
export type Kernels =
  & { [K in UnaryOp]: UnaryKernel }
  & { [K in BinaryOp]: BinaryKernel }
  & { [K in ReduceOp]: ReduceKernel }
  & {
    /** out[i] = x[i] converted to out's dtype (float32 to int32 truncates toward zero). */
    cast: (out: View, x: View) => void;
    /** Strided copy: dst may be any view (in-place writes), src is broadcast to dst's shape. */
    copy: (dst: View, src: View) => void;
    /** dst[...] = value, for any view. */
    fill: (dst: View, value: number) => void;
    /** out = cond != 0 ? a : b, all broadcast to out's shape. */
    where: (out: View, cond: View, a: View, b: View) => void;
    /** Batched matmul: a [..., M, K] @ b [..., K, N] -> out [..., M, N]; batch dims equal. */
    matmul: (out: View, a: View, b: View) => void;
    /** Softmax over the last axis. */
    softmax: (out: View, x: View) => void;
    /** Log-softmax over the last axis. */
    logSoftmax: (out: View, x: View) => void;
    /** LayerNorm over the last axis with weight and bias of shape [C]. */
    layerNorm: (out: View, x: View, weight: View, bias: View, eps: number) => void;
    /** out[n, :] = table[ids[n], :]; table [V, C], ids int32 [N], out [N, C]. */
    gatherRows: (out: View, table: View, ids: View) => void;
    /**
     * dst[ids[n], :] += src[n, :] in place, in order of n (repeated ids accumulate); dst [V, C]
     * any view, ids int32 [N], src [N, C]. The adjoint of gatherRows.
     */
    scatterAddRows: (dst: View, ids: View, src: View) => void;
    /** Largest k along the last axis, sorted descending: values and int32 indices [..., k]. */
    topk: (values: View, indices: View, x: View, k: number) => void;
    // ---- fused attention (engine/attention.ts) ----
    /**
     * Scaled dot-product attention with grouped kv heads: q [B, H, T, D], k and v [B, KV, S, D]
     * (H % KV == 0; query head h reads kv head floor(h / (H / KV))), bias null or broadcast (0
     * strides) to [B, H, T, S]. Keys hidden by `causal`/`window` get probability 0; others get
     * softmax(softcap(scale q k^T) + bias). out [B, H, T, D] contiguous; probs, when not null,
     * a contiguous [B, H, T, S] that receives the probabilities.
     */
    attention: (
      out: View,
      probs: View | null,
      q: View,
      k: View,
      v: View,
      bias: View | null,
      params: AttentionParams,
    ) => void;
  }
  & FusedRowKernels;

/**
 * Fused row primitives (norms, rotary embeddings and their backward kernels): each replaces a
 * chain of elementwise ops and reductions with one pass over the last axis. Kept in one block.
 */
export interface FusedRowKernels {
  /** out = x * rsqrt(mean(x^2, -1) + eps) * (weight + offset); weight [C]. */
  rmsNorm: (out: View, x: View, weight: View, eps: number, offset: number) => void;
  /**
   * HF's rotate_half rotary embedding on the first R channels of the last axis; the rest pass
   * through. x (..., D); cos and sin broadcast to (..., R), R even and <= D; out (..., D).
   * out[i] = x[i] cos[i] - x[i + R/2] sin[i], out[i + R/2] = x[i + R/2] cos[i + R/2] +
   * x[i] sin[i + R/2] for i < R/2.
   */
  rotary: (out: View, x: View, cos: View, sin: View) => void;
  /**
   * rmsNorm's input gradient: g, x contiguous (..., C); dx (..., C) = rstd * (gw - xhat *
   * mean(gw * xhat)) with gw = g * (weight + offset), xhat = x * rstd.
   */
  rmsNormGrad: (dx: View, g: View, x: View, weight: View, eps: number, offset: number) => void;
  /**
   * layerNorm's input gradient: g, x contiguous (..., C); dx = rstd * (gw - mean(gw) - xhat *
   * mean(gw * xhat)) with gw = g * weight, xhat = (x - mean(x)) * rstd.
   */
  layerNormGrad: (dx: View, g: View, x: View, weight: View, eps: number) => void;
  /** softmax's input gradient from its output y: g, y contiguous (..., n); dx = y (g - sum(g y)). */
  softmaxGrad: (dx: View, g: View, y: View) => void;
  /** logSoftmax's input gradient from its output y: g, y contiguous; dx = g - e^y sum(g). */
  logSoftmaxGrad: (dx: View, g: View, y: View) => void;
  /** gelu's (tanh form) input gradient, elementwise: g, x contiguous; dx = g gelu'(x). */
  geluGrad: (dx: View, g: View, x: View) => void;
}

/** The fused row primitives' names. */
export const FUSED_ROW_OPS = [
  "rmsNorm",
  "rotary",
  "rmsNormGrad",
  "layerNormGrad",
  "softmaxGrad",
  "logSoftmaxGrad",
  "geluGrad",
] as const;

/** One primitive's name. */
export type Op = keyof Kernels;

/** Every primitive's name, checked at compile time to be exactly the keys of Kernels. */
export const ALL_OPS = [
  ...UNARY_OPS,
  ...BINARY_OPS,
  ...REDUCE_OPS,
  "cast",
  "copy",
  "fill",
  "where",
  "matmul",
  "softmax",
  "logSoftmax",
  "layerNorm",
  "gatherRows",
  "scatterAddRows",
  "topk",
  ...FUSED_ROW_OPS,
  "attention",
] as const satisfies readonly Op[];
type MissingOps = Exclude<Op, typeof ALL_OPS[number]>;
const _allOpsListed: MissingOps extends never ? true : MissingOps = true;
void _allOpsListed;

/** What a device provides: allocation, transfer, and the kernel table. */
export interface Backend {
  /** The device this backend serves. */
  readonly device: Device;
  /** The primitive kernels. */
  readonly kernels: Kernels;
  /** A new zero-filled storage of `size` elements. */
  alloc(size: number, dtype: DType): Storage;
  /** A storage holding a copy of (or, on cpu, adopting) `data`. */
  fromData(data: TypedArray, opts?: { adopt?: boolean }): Storage;
  /** Copies a contiguous range of a storage to the host. */
  read(storage: Storage, offset: number, size: number): Promise<TypedArray>;
  /** Synchronous read, only where the device allows it (cpu, meta throws). */
  readSync?(storage: Storage, offset: number, size: number): TypedArray;
  /** Frees device memory now (cpu and meta: no-op). */
  dispose(storage: Storage): void;
}

/** Bytes per element of a dtype. */
export function dtypeBytes(_dtype: DType): number {
  return 4;
}

/** A host typed array of a dtype. */
export function typedArrayFor(dtype: DType, size: number): TypedArray {
  return dtype === "float32" ? new Float32Array(size) : new Int32Array(size);
}
