/**
 * tsight: look inside a running language model from TypeScript. nnsight's programming
 * model on a pure-TypeScript tensor engine (cpu with WebAssembly SIMD, webgpu, meta).
 *
 * @example
 * ```ts
 * import { tensor } from "@tsight/tsight";
 * const x = tensor([[1, 2], [3, 4]]);
 * console.log(await x.matmul(x).toArray()); // [[7, 10], [15, 22]]
 * ```
 *
 * @module
 */
export * from "./engine/mod.ts";
export * from "./trace/mod.ts";
export * from "./model/mod.ts";
export * from "./viz/mod.ts";
