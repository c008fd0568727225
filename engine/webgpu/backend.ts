// The webgpu device: storages as pooled GPU buffers (split across several buffers past one
// binding's limit), kernels recorded into a pending encoder, and reads as the only sync.
// Never touches navigator.gpu: it is handed a GPUDevice (see mod.ts for the lazy setup).

import type { Backend, DType, Storage, TypedArray } from "../backend.ts";
import { BufferPool, type PoolStats } from "./buffer_pool.ts";
import type { Host, Kernel } from "./kernels/_common.ts";
import { webgpuKernels } from "./kernels/mod.ts";
import { Recorder } from "./program.ts";
import { track } from "../scope.ts";

/** What `Storage.buf` holds on webgpu. */
export interface GpuHandle {
  /** The buffers, each holding `chunkElems` elements (the last one the rest). */
  readonly chunks: readonly GPUBuffer[];
  /** Set on a reused buffer until it is zeroed or fully overwritten. */
  needsZero: boolean;
  disposed: boolean;
}

/** Options of a webgpu backend. */
export interface WebGPUBackendOptions {
  /**
   * Largest storage binding in bytes; defaults to the device's `maxStorageBufferBindingSize`.
   * Lower it to test the splitting of large storages with small tensors.
   */
  maxBindingBytes?: number;
  /** Bytes of released buffers the pool keeps for reuse (default 1 GiB). */
  poolLimitBytes?: number;
  /** Dispatches recorded before an automatic submission (default 512). */
  flushEvery?: number;
}

/** Counters for tests and benchmarks. */
export interface WebGPUStats extends PoolStats {
  /** Storages allocated and not yet disposed. */
  live: number;
  /** Compiled pipelines (one per shader key). */
  pipelines: number;
  /** Command buffers submitted. */
  submissions: number;
  /** Kernel dispatches recorded. */
  dispatches: number;
  /** GPU-to-CPU reads, each one waiting for the GPU (~11 ms in Deno): `read` and `readMany` calls. */
  syncs: number;
}

/** One range to read back. */
export interface ReadRequest {
  /** The storage to read. */
  storage: Storage;
  /** First element. */
  offset: number;
  /** Number of elements. */
  size: number;
}

/** The webgpu backend with its memory counters and batched readback. */
export interface WebGPUBackend extends Backend {
  /** The GPUDevice everything is recorded on. */
  readonly gpu: GPUDevice;
  /** Elements per buffer of a split storage. */
  readonly chunkElems: number;
  /** Storages allocated and not yet disposed. */
  liveBuffers(): number;
  /** Pool, pipeline and submission counters. */
  stats(): WebGPUStats;
  /** Submits recorded work now. */
  flush(): void;
  /** Reads several ranges with one submission and one map (one GPU-to-CPU sync). */
  readMany(reqs: readonly ReadRequest[]): Promise<TypedArray[]>;
}

// GPUBufferUsage values as literals, so loading this module needs no WebGPU globals:
// STORAGE | COPY_SRC | COPY_DST and MAP_READ | COPY_DST.
const STORAGE_USAGE = 0x80 | 0x04 | 0x08;
const READ_USAGE = 0x01 | 0x08;

/**
 * A webgpu backend on `device`; `registerBackend` it to make tensors use it.
 *
 * @example
 * ```ts
 * import { createWebGPUBackend } from "./backend.ts";
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const be = createWebGPUBackend(device);
 * const s = be.fromData(Float32Array.of(1, 2, 3));
 * console.log(await be.read(s, 0, 3)); // Float32Array [1, 2, 3]
 * be.dispose(s);
 * ```
 */
export function createWebGPUBackend(
  device: GPUDevice,
  opts: WebGPUBackendOptions = {},
): WebGPUBackend {
  const limit = Math.min(
    opts.maxBindingBytes ?? Infinity,
    device.limits.maxStorageBufferBindingSize,
    device.limits.maxBufferSize,
  );
  // A multiple of 4 elements, so vec4 reads never straddle two buffers.
  const chunkElems = Math.floor(limit / 16) * 4;
  const pool = new BufferPool(device, { limitBytes: opts.poolLimitBytes });
  const rec = new Recorder(device, pool, { flushEvery: opts.flushEvery });
  const errors: string[] = [];
  device.addEventListener("uncapturederror", (e) => {
    errors.push((e as GPUUncapturedErrorEvent).error.message);
  });
  let live = 0;
  let syncs = 0;

  const handle = (s: Storage): GpuHandle => {
    const h = s.buf as GpuHandle;
    if (h.disposed) {
      throw new Error(
        `webgpu: a ${s.dtype} tensor of ${s.size} elements was used after dispose(): keep it (or return it from tidy) while it is still needed`,
      );
    }
    return h;
  };
  const zero = (h: GpuHandle) => {
    const enc = rec.encoder();
    for (const b of h.chunks) enc.clearBuffer(b);
    h.needsZero = false;
  };
  const make = (size: number, dtype: DType): Storage => {
    const n = Math.max(1, Math.ceil(size / chunkElems));
    let reused = false;
    const chunks = Array.from({ length: n }, (_, c) => {
      const elems = Math.max(1, Math.min(chunkElems, size - c * chunkElems));
      const got = pool.acquire(elems * 4, STORAGE_USAGE, chunkElems * 4);
      reused ||= got.reused;
      return got.buffer;
    });
    const buf: GpuHandle = { chunks, needsZero: reused, disposed: false };
    const s: Storage = { device: "webgpu", dtype, size, buf, version: 0 };
    live++;
    track(s);
    return s;
  };
  const dispose = (s: Storage) => {
    const h = s.buf as GpuHandle;
    if (h.disposed) return;
    h.disposed = true;
    live--;
    for (const b of h.chunks) pool.release(b, STORAGE_USAGE, rec.recording);
  };
  const throwErrors = () => {
    if (errors.length === 0) return;
    const msg = errors.splice(0).join("; ");
    throw new Error(`webgpu: the device reported an error: ${msg}`);
  };

  const host: Host = {
    chunkElems,
    chunks: (s) => handle(s).chunks.length,
    alloc: make,
    release: dispose,
    run: (k: Kernel) => {
      const buffers: GPUBuffer[] = [];
      for (const b of k.bindings) {
        const h = handle(b.storage);
        if (h.needsZero) {
          if (b.write && b.full) h.needsZero = false;
          else zero(h);
        }
        buffers.push(...h.chunks);
      }
      const max = device.limits.maxStorageBuffersPerShaderStage;
      if (buffers.length > max) {
        throw new RangeError(
          `webgpu ${k.key}: needs ${buffers.length} storage bindings, the device allows ${max}: use smaller tensors`,
        );
      }
      rec.dispatch({ key: k.key, code: k.code, buffers, params: k.params, groups: k.groups });
    },
  };

  const readMany = async (reqs: readonly ReadRequest[]): Promise<TypedArray[]> => {
    const total = reqs.reduce((n, r) => n + r.size, 0) * 4;
    if (total === 0) return reqs.map((r) => newArray(r.storage.dtype, 0));
    syncs++;
    const staging = pool.acquire(total, READ_USAGE).buffer;
    const enc = rec.encoder();
    let at = 0;
    for (const { storage, offset, size } of reqs) {
      const h = handle(storage);
      if (h.needsZero) zero(h);
      for (let i = offset; i < offset + size;) {
        const c = Math.floor(i / chunkElems);
        const n = Math.min(offset + size, (c + 1) * chunkElems) - i;
        enc.copyBufferToBuffer(h.chunks[c], (i - c * chunkElems) * 4, staging, at, n * 4);
        at += n * 4;
        i += n;
      }
    }
    rec.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ, 0, total);
    } catch (e) {
      throwErrors();
      throw e;
    }
    const bytes = staging.getMappedRange(0, total).slice(0);
    staging.unmap();
    pool.release(staging, READ_USAGE, false);
    throwErrors();
    let pos = 0;
    return reqs.map((r) => {
      const out = r.storage.dtype === "float32"
        ? new Float32Array(bytes, pos, r.size)
        : new Int32Array(bytes, pos, r.size);
      pos += r.size * 4;
      return out;
    });
  };

  return {
    device: "webgpu",
    gpu: device,
    chunkElems,
    kernels: webgpuKernels(host),
    alloc: make,
    fromData: (data) => {
      const dtype: DType = data instanceof Int32Array ? "int32" : "float32";
      const s = make(data.length, dtype);
      const h = s.buf as GpuHandle;
      // writeBuffer takes ArrayBuffer-backed views only; data from shared memory is copied.
      const src = (data.buffer instanceof ArrayBuffer ? data : data.slice()) as
        | Float32Array<ArrayBuffer>
        | Int32Array<ArrayBuffer>;
      for (let c = 0; c < h.chunks.length; c++) {
        const start = c * chunkElems;
        const n = Math.min(chunkElems, data.length - start);
        if (n > 0) device.queue.writeBuffer(h.chunks[c], 0, src, start, n);
      }
      h.needsZero = false;
      return s;
    },
    read: async (s, offset, size) => (await readMany([{ storage: s, offset, size }]))[0],
    readMany,
    dispose,
    liveBuffers: () => live,
    stats: () => ({
      ...pool.stats(),
      live,
      pipelines: rec.pipelineCount,
      submissions: rec.submissions,
      dispatches: rec.dispatches,
      syncs,
    }),
    flush: () => rec.flush(),
  };
}

function newArray(dtype: DType, n: number): TypedArray {
  return dtype === "float32" ? new Float32Array(n) : new Int32Array(n);
}
