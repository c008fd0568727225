/**
 * The webgpu device, loaded lazily behind feature detection: nothing here touches
 * `navigator.gpu` until `initWebGPU()` or `resolveDevice()` runs, so cpu-only programs never
 * start WebGPU. Also the explicit memory scope (`tidy`, `keep`) and the live-buffer count.
 *
 * @example
 * ```ts
 * import { initWebGPU, liveBuffers, resolveDevice, tidy } from "./mod.ts";
 * import { tensor } from "../creation.ts";
 * const device = await resolveDevice("auto"); // "webgpu" on a hardware adapter, else "cpu"
 * if (await initWebGPU()) {
 *   const before = liveBuffers();
 *   const y = tidy(() => tensor([1, 2], undefined, { device: "webgpu" }).exp().sum());
 *   console.log(await y.item(), liveBuffers() - before); // 10.1073..., 1
 *   y.dispose();
 * }
 * ```
 *
 * @module
 */

import type { Device, Storage, TypedArray } from "../backend.ts";
import { getBackend, hasBackend, registerBackend } from "../devices.ts";
import type { Tensor } from "../tensor.ts";
import type { WebGPUBackend, WebGPUBackendOptions, WebGPUStats } from "./backend.ts";

export { isKept, keep, release, tidy } from "../scope.ts";
export type { ReadRequest, WebGPUBackend, WebGPUBackendOptions, WebGPUStats } from "./backend.ts";
export type { PoolStats } from "./buffer_pool.ts";

/** Options of `initWebGPU`. */
export interface InitWebGPUOptions extends WebGPUBackendOptions {
  /** Accept a software (fallback) adapter such as llvmpipe; default true (forcing webgpu). */
  allowFallback?: boolean;
  /** Passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
}

let adapterPromise: Promise<GPUAdapter | null> | null = null;
let initPromise: Promise<boolean> | null = null;

/** The adapter, requested once; null where WebGPU is missing. */
function adapter(powerPreference?: GPUPowerPreference): Promise<GPUAdapter | null> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return Promise.resolve(null);
  return adapterPromise ??= gpu.requestAdapter({ powerPreference }).catch(() => null);
}

/** True for a software adapter (llvmpipe, SwiftShader, WARP). */
function isFallback(a: GPUAdapter): boolean {
  const info = (a as { info?: { isFallbackAdapter?: boolean } }).info;
  return info?.isFallbackAdapter ?? (a as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
    false;
}

/**
 * Requests the adapter and device once per process, builds the webgpu backend and registers
 * it. Resolves to false (registering nothing) when there is no usable adapter.
 *
 * @example
 * ```ts
 * import { initWebGPU } from "./mod.ts";
 * if (!(await initWebGPU())) console.log("no WebGPU here; using the cpu");
 * ```
 */
export function initWebGPU(opts: InitWebGPUOptions = {}): Promise<boolean> {
  if (hasBackend("webgpu")) return Promise.resolve(true);
  return initPromise ??= (async () => {
    const a = await adapter(opts.powerPreference);
    if (!a || (opts.allowFallback === false && isFallback(a))) {
      initPromise = null;
      return false;
    }
    const device = await a.requestDevice({
      requiredLimits: {
        maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
        maxBufferSize: a.limits.maxBufferSize,
        maxStorageBuffersPerShaderStage: a.limits.maxStorageBuffersPerShaderStage,
      },
    });
    const { createWebGPUBackend } = await import("./backend.ts");
    registerBackend(createWebGPUBackend(device, opts));
    return true;
  })();
}

/**
 * Turns a device choice into a device: `"auto"` is webgpu only on a hardware adapter
 * (`isFallbackAdapter` false), else cpu; `"webgpu"` forces it (also on a software adapter)
 * and throws where there is none; `"cpu"` and `"meta"` never touch WebGPU.
 *
 * @example
 * ```ts
 * import { resolveDevice } from "./mod.ts";
 * console.log(await resolveDevice("auto")); // "cpu" on llvmpipe
 * ```
 */
export async function resolveDevice(choice: Device | "auto"): Promise<Device> {
  if (choice === "cpu" || choice === "meta") return choice;
  if (choice === "webgpu") {
    if (await initWebGPU()) return "webgpu";
    throw new Error(
      'Device "webgpu" is not available: no WebGPU adapter was found (run Deno with --unstable-webgpu, or use device "cpu")',
    );
  }
  if (choice !== "auto") {
    throw new TypeError(`Unknown device "${choice}": use "auto", "cpu", "webgpu" or "meta"`);
  }
  const a = await adapter();
  if (!a || isFallback(a)) return "cpu";
  return (await initWebGPU()) ? "webgpu" : "cpu";
}

/** The registered webgpu backend, or null before `initWebGPU()`. */
export function webgpuBackend(): WebGPUBackend | null {
  return hasBackend("webgpu") ? getBackend("webgpu") as WebGPUBackend : null;
}

/**
 * Number of webgpu storages allocated and not yet disposed (0 before `initWebGPU()`); tests
 * assert it returns to its starting value.
 *
 * @example
 * ```ts
 * import { liveBuffers } from "./mod.ts";
 * const before = liveBuffers();
 * // ... run and dispose ...
 * console.log(liveBuffers() === before);
 * ```
 */
export function liveBuffers(): number {
  return webgpuBackend()?.liveBuffers() ?? 0;
}

/**
 * Pool, pipeline and submission counters of the webgpu backend (null before init).
 *
 * @example
 * ```ts
 * import { webgpuStats } from "./mod.ts";
 * console.log(webgpuStats()?.pipelines);
 * ```
 */
export function webgpuStats(): WebGPUStats | null {
  return webgpuBackend()?.stats() ?? null;
}

/**
 * Reads several tensors with one GPU-to-CPU sync for all of those on webgpu (a trace's saved
 * values); cpu tensors are copied directly. Resolves to row-major copies in order.
 *
 * @example
 * ```ts
 * import { readAll } from "./mod.ts";
 * import { tensor } from "../creation.ts";
 * const [a, b] = await readAll([tensor([1, 2]), tensor([3])]);
 * ```
 */
export async function readAll(tensors: readonly Tensor[]): Promise<TypedArray[]> {
  const out: TypedArray[] = new Array(tensors.length);
  const gpu: { i: number; t: Tensor; temp: boolean }[] = [];
  await Promise.all(tensors.map(async (t, i) => {
    if (t.device !== "webgpu") out[i] = await t.data();
    else {
      const c = t.contiguous();
      gpu.push({ i, t: c, temp: c !== t });
    }
  }));
  if (gpu.length === 0) return out;
  const be = getBackend("webgpu") as WebGPUBackend;
  const reqs = gpu.map(({ t }) => ({
    storage: t.storage as Storage,
    offset: t.offset,
    size: t.size,
  }));
  try {
    const data = await be.readMany(reqs);
    gpu.forEach(({ i }, j) => (out[i] = data[j]));
  } finally {
    for (const g of gpu) if (g.temp) g.t.dispose();
  }
  return out;
}
