/**
 * tsight's tensor engine: float32/int32 tensors on the cpu (plain TypeScript reference
 * kernels plus a WebAssembly SIMD tier), webgpu and meta (shapes only) devices.
 *
 * @example
 * ```ts
 * import { tensor } from "./mod.ts";
 * const x = tensor([[1, 2], [3, 4]]);
 * console.log(await x.softmax(-1).get("0").toArray());
 * ```
 *
 * @module
 */
export { cat, stack, Tensor, where } from "./tensor.ts";
export type { NestedArray, TensorLike } from "./tensor.ts";
export { arange, full, ones, randn, tensor, zeros } from "./creation.ts";
export type { TensorOptions } from "./creation.ts";
export { parseIndex, resolveSlice, slice } from "./index.ts";
export type { IndexItem, IndexSpec, ResolvedSlice, Slice } from "./index.ts";
export { Rng } from "./random.ts";
export { cpuTier, packedMatmulWeight, prepackMatmulOperand, setCpuTier } from "./cpu/backend.ts";
export { isPackedOnly, type RowFill } from "./cpu/fast/packed_weight.ts";
export type { CpuTier } from "./cpu/backend.ts";
export { getBackend, hasBackend, registerBackend } from "./devices.ts";
export type {
  AttentionParams,
  Backend,
  BinaryKernel,
  BinaryOp,
  Device,
  DType,
  FusedRowKernels,
  Kernels,
  Op,
  ReduceKernel,
  ReduceOp,
  Storage,
  TypedArray,
  UnaryKernel,
  UnaryOp,
  View,
} from "./backend.ts";
export { ALL_OPS, BINARY_OPS, FUSED_ROW_OPS, REDUCE_OPS, UNARY_OPS } from "./backend.ts";
export { grad, valueAndGrad } from "./autograd/api.ts";
export type { GradOptions, Grads, ValueAndGrad } from "./autograd/api.ts";
export { noGrad, zeroGrad } from "./autograd/tape.ts";
export type { BackwardOptions } from "./autograd/tape.ts";
export type { GradHook, GradNode } from "./autograd/state.ts";
export { BACKWARD } from "./autograd/rules.ts";
export type { BackwardRule, GradOp, LayoutOp, RuleContext } from "./autograd/rules.ts";
export { Adam, AdamW, SGD } from "./optim.ts";
export { attention, attentionComposite } from "./attention.ts";
export type { AttentionOptions } from "./attention.ts";
export type { AdamOptions, Optimizer, SGDOptions } from "./optim.ts";
export { allocatedSince, allocationMark, isKept, keep, release, tidy } from "./scope.ts";
export { initWebGPU, liveBuffers, readAll, resolveDevice, webgpuStats } from "./webgpu/mod.ts";
export type {
  InitWebGPUOptions,
  PoolStats,
  WebGPUBackendOptions,
  WebGPUStats,
} from "./webgpu/mod.ts";
export { fastTierInfo, startThreads, stopThreads } from "./cpu/fast/mod.ts";
