// The webgpu kernel table: every primitive of engine/backend.ts's Kernels, generated as WGSL
// by family. Assembles the families only; recording and memory belong to the backend.

import type { Kernels } from "../../backend.ts";
import type { Host } from "./_common.ts";
import { attentionKernel } from "./attention.ts";
import { elementwiseKernels } from "./elementwise.ts";
import { gatherKernels } from "./gather.ts";
import { matmulKernel } from "./matmul.ts";
import { fusedRowKernels } from "./norm.ts";
import { reduceKernels } from "./reduce.ts";
import { rowKernels } from "./rows.ts";

export type { Host } from "./_common.ts";

/**
 * The kernel table for one webgpu backend.
 *
 * @example
 * ```ts
 * import { type Host, webgpuKernels } from "./mod.ts";
 * // The webgpu backend builds its table from its Host (device, buffer pool, pipeline cache).
 * function tableOf(host: Host) {
 *   return webgpuKernels(host); // kernels.matmul(out, a, b) records a dispatch
 * }
 * console.log(typeof tableOf); // "function"
 * ```
 */
export function webgpuKernels(host: Host): Kernels {
  return {
    ...elementwiseKernels(host),
    ...reduceKernels(host),
    ...rowKernels(host),
    ...gatherKernels(host),
    matmul: matmulKernel(host),
    ...fusedRowKernels(host),
    attention: attentionKernel(host),
  } satisfies Kernels;
}
