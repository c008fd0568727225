// Reuses GPU buffers keyed by (size bucket, usage) so a decoding loop stops creating buffers
// after its first step. Knows nothing of tensors or kernels; only of GPUBuffers and submissions.

/** Counts a pool reports (tests assert on them). */
export interface PoolStats {
  /** Buffers handed out and not yet released. */
  inUse: number;
  /** Released buffers waiting in the pool for reuse. */
  pooled: number;
  /** Bytes held by pooled buffers. */
  pooledBytes: number;
  /** Buffers ever created with `device.createBuffer`. */
  created: number;
  /** Acquisitions served from the pool. */
  reused: number;
}

/** A buffer taken from the pool, with whether it was reused (its contents are then stale). */
export interface Acquired {
  buffer: GPUBuffer;
  reused: boolean;
}

/**
 * Byte size a request is rounded up to: at least 256, then to one of 8 steps per power of
 * two, so sizes that grow by a little each step (a KV cache) still hit the pool.
 *
 * @example
 * ```ts
 * import { bucketBytes } from "./buffer_pool.ts";
 * console.log(bucketBytes(100), bucketBytes(1000)); // 256 1024
 * ```
 */
export function bucketBytes(bytes: number): number {
  if (bytes <= 256) return 256;
  const step = 2 ** Math.max(5, Math.floor(Math.log2(bytes)) - 3);
  return Math.ceil(bytes / step) * step;
}

/**
 * A pool of GPU buffers. Buffers released while commands that use them are still being
 * recorded wait in a pending list until `afterSubmit()`, so a buffer is never handed out
 * again (and overwritten by `queue.writeBuffer`) before the work that reads it is submitted.
 *
 * @example
 * ```ts
 * import { BufferPool } from "./buffer_pool.ts";
 * const adapter = await navigator.gpu.requestAdapter();
 * const pool = new BufferPool(await adapter!.requestDevice());
 * const { buffer } = pool.acquire(1024, GPUBufferUsage.STORAGE);
 * pool.release(buffer, GPUBufferUsage.STORAGE, false);
 * console.log(pool.stats().pooled); // 1
 * ```
 */
export class BufferPool {
  #device: GPUDevice;
  #free = new Map<string, GPUBuffer[]>();
  #pending: [GPUBuffer, string][] = [];
  #limitBytes: number;
  #stats: PoolStats = { inUse: 0, pooled: 0, pooledBytes: 0, created: 0, reused: 0 };

  /** `limitBytes` caps what the pool keeps; buffers released past it are destroyed. */
  constructor(device: GPUDevice, opts: { limitBytes?: number } = {}) {
    this.#device = device;
    this.#limitBytes = opts.limitBytes ?? 1024 * 1024 * 1024;
  }

  /**
   * A buffer of at least `bytes` bytes with exactly `usage`, rounded up by `bucketBytes` but
   * never past `maxBytes` (a binding limit).
   */
  acquire(bytes: number, usage: number, maxBytes = Infinity): Acquired {
    const size = Math.max(Math.min(bucketBytes(bytes), maxBytes), Math.ceil(bytes / 4) * 4);
    const key = `${size}:${usage}`;
    const list = this.#free.get(key);
    const buffer = list?.pop();
    this.#stats.inUse++;
    if (buffer) {
      this.#stats.pooled--;
      this.#stats.pooledBytes -= size;
      this.#stats.reused++;
      return { buffer, reused: true };
    }
    this.#stats.created++;
    return { buffer: this.#device.createBuffer({ size, usage }), reused: false };
  }

  /** Gives a buffer back; `recording` says commands using it are not yet submitted. */
  release(buffer: GPUBuffer, usage: number, recording: boolean): void {
    this.#stats.inUse--;
    const key = `${buffer.size}:${usage}`;
    if (recording) this.#pending.push([buffer, key]);
    else this.#put(buffer, key);
  }

  /** Moves buffers released during the last recording into the pool. */
  afterSubmit(): void {
    for (const [buffer, key] of this.#pending) this.#put(buffer, key);
    this.#pending.length = 0;
  }

  /** Destroys every pooled buffer (in-use buffers are untouched). */
  drain(): void {
    this.afterSubmit();
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    this.#stats.pooled = 0;
    this.#stats.pooledBytes = 0;
  }

  /** A snapshot of the counters. */
  stats(): PoolStats {
    return { ...this.#stats };
  }

  #put(buffer: GPUBuffer, key: string): void {
    if (this.#stats.pooledBytes + buffer.size > this.#limitBytes) {
      buffer.destroy();
      return;
    }
    let list = this.#free.get(key);
    if (!list) this.#free.set(key, list = []);
    list.push(buffer);
    this.#stats.pooled++;
    this.#stats.pooledBytes += buffer.size;
  }
}
