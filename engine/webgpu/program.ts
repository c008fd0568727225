// Records kernel dispatches into one pending command encoder and submits them in batches: a
// pipeline cache keyed by shaderKey and a uniform arena written once per submission.
// Knows nothing of tensors, views or dtypes; kernels arrive as finished programs.

import type { BufferPool } from "./buffer_pool.ts";

/** Words of parameters one dispatch may pass (64 x 4 bytes = one 256-byte uniform slot). */
export const PARAM_WORDS = 64;

/**
 * One dispatch of a generated kernel. Storage bindings come first, in declaration order,
 * then the uniform block `P` at binding `buffers.length`.
 */
export interface Program {
  /** Pipeline cache key: family, op, dtypes, rank, chunk counts; equal keys mean equal code. */
  readonly key: string;
  /** The WGSL source, only built on a cache miss. */
  readonly code: () => string;
  /** One buffer per storage binding. */
  readonly buffers: readonly GPUBuffer[];
  /** At most PARAM_WORDS 32-bit words (i32 or f32 bits) for the uniform block. */
  readonly params: Int32Array;
  /** Workgroup counts (x, y, z), each at most 65535. */
  readonly groups: readonly [number, number, number];
}

/**
 * Encodes dispatches into a pending compute pass. `flush()` submits; it runs on every read,
 * when the uniform arena is full and every `flushEvery` dispatches, so a forward pass goes to
 * the device in a few submissions.
 *
 * @example
 * ```ts
 * import { BufferPool } from "./buffer_pool.ts";
 * import { Recorder } from "./program.ts";
 * const device = await (await navigator.gpu.requestAdapter())!.requestDevice();
 * const rec = new Recorder(device, new BufferPool(device));
 * rec.flush(); // nothing pending: a no-op
 * ```
 */
export class Recorder {
  readonly device: GPUDevice;
  #pool: BufferPool;
  #pipelines = new Map<string, GPUComputePipeline>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #slotBytes: number;
  #slots: number;
  #arena: Int32Array<ArrayBuffer>;
  #arenaBuf: GPUBuffer;
  #used = 0;
  #flushEvery: number;
  /** Submissions so far (the benchmark reports it). */
  submissions = 0;
  /** Dispatches so far. */
  dispatches = 0;

  constructor(
    device: GPUDevice,
    pool: BufferPool,
    opts: { slots?: number; flushEvery?: number } = {},
  ) {
    this.device = device;
    this.#pool = pool;
    this.#slotBytes = Math.max(256, device.limits.minUniformBufferOffsetAlignment);
    this.#slots = opts.slots ?? 2048;
    this.#flushEvery = opts.flushEvery ?? 512;
    this.#arena = new Int32Array((this.#slots * this.#slotBytes) / 4);
    this.#arenaBuf = device.createBuffer({
      size: this.#slots * this.#slotBytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
  }

  /** True while commands are recorded but not submitted. */
  get recording(): boolean {
    return this.#encoder !== null;
  }

  /** Number of distinct pipelines compiled. */
  get pipelineCount(): number {
    return this.#pipelines.size;
  }

  /** Records one dispatch. */
  dispatch(p: Program): void {
    if (this.#used === this.#slots || this.#used >= this.#flushEvery) this.flush();
    const pipeline = this.#pipeline(p);
    const slot = this.#used++;
    const base = (slot * this.#slotBytes) / 4;
    this.#arena.set(p.params, base);
    const entries: GPUBindGroupEntry[] = p.buffers.map((buffer, binding) => ({
      binding,
      resource: { buffer },
    }));
    entries.push({
      binding: p.buffers.length,
      resource: { buffer: this.#arenaBuf, offset: slot * this.#slotBytes, size: PARAM_WORDS * 4 },
    });
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    const pass = this.#computePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(p.groups[0], p.groups[1], p.groups[2]);
    this.dispatches++;
  }

  /** The pending encoder with no open pass, for copies between dispatches. */
  encoder(): GPUCommandEncoder {
    if (this.#pass) {
      this.#pass.end();
      this.#pass = null;
    }
    return this.#encoder ??= this.device.createCommandEncoder();
  }

  /** Submits everything recorded so far (a no-op when nothing is pending). */
  flush(): void {
    if (!this.#encoder) return;
    const encoder = this.encoder();
    if (this.#used > 0) {
      this.device.queue.writeBuffer(
        this.#arenaBuf,
        0,
        this.#arena.buffer,
        0,
        this.#used * this.#slotBytes,
      );
    }
    this.device.queue.submit([encoder.finish()]);
    this.#encoder = null;
    this.#used = 0;
    this.submissions++;
    this.#pool.afterSubmit();
  }

  #computePass(): GPUComputePassEncoder {
    if (this.#pass) return this.#pass;
    return this.#pass = (this.#encoder ??= this.device.createCommandEncoder()).beginComputePass();
  }

  #pipeline(p: Program): GPUComputePipeline {
    let pipeline = this.#pipelines.get(p.key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label: p.key, code: p.code() });
      pipeline = this.device.createComputePipeline({
        label: p.key,
        layout: "auto",
        compute: { module, entryPoint: "main" },
      });
      this.#pipelines.set(p.key, pipeline);
    }
    return pipeline;
  }
}
