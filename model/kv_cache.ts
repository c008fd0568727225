// Keys and values of past positions, per layer, so a decoding step runs on new tokens only; the
// one cache of every family (B, kvHeads, positions, headDim).
// Only Tensor ops (zeros, set, get), so it works on any device; it never reads data back.

import { cat, type Device, release, slice, type Tensor, zeros } from "../engine/mod.ts";
import type { KVCacheLike } from "./causal_lm.ts";

/** The sizes a cache needs from the model config. */
export interface KVCacheShape {
  /** Number of decoder layers. */
  numLayers: number;
  /** Key/value heads per layer. */
  numKvHeads: number;
  /** Channels per head. */
  headDim: number;
}

/** Options of {@link KVCache}. */
export interface KVCacheOptions {
  /** Rows in the batch. */
  batch: number;
  /** Positions to preallocate; the cache grows (doubling) past it. Default 64. */
  capacity?: number;
  /** Device of the buffers; default cpu. */
  device?: Device;
}

/**
 * Per-layer key and value buffers (B, nh, capacity, hs), filled front to back. During one
 * forward every layer appends the same T positions with `update`; the model then calls
 * `advance(T)`, so `length` is the number of positions all layers hold.
 *
 * @example
 * ```ts
 * import { zeros } from "../engine/mod.ts";
 * import { KVCache } from "./kv_cache.ts";
 * const cache = new KVCache({ numLayers: 1, numKvHeads: 2, headDim: 4 }, { batch: 1, capacity: 8 });
 * const [k, v] = cache.update(0, zeros([1, 2, 3, 4]), zeros([1, 2, 3, 4]));
 * cache.advance(3);
 * console.log(k.shape, cache.length); // [1, 2, 3, 4] 3
 * ```
 */
export class KVCache implements KVCacheLike {
  /** Rows in the batch. */
  readonly batch: number;
  readonly #shape: KVCacheShape;
  readonly #device: Device;
  #keys: Tensor[];
  #values: Tensor[];
  #capacity: number;
  #length = 0;

  /** Allocates zeroed buffers for `capacity` positions. */
  constructor(shape: KVCacheShape, opts: KVCacheOptions) {
    const capacity = opts.capacity ?? 64;
    if (!Number.isInteger(opts.batch) || opts.batch < 1) {
      throw new RangeError(`KVCache batch is ${opts.batch}: it must be a positive integer`);
    }
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`KVCache capacity is ${capacity}: it must be a positive integer`);
    }
    this.batch = opts.batch;
    this.#shape = shape;
    this.#device = opts.device ?? "cpu";
    this.#capacity = capacity;
    this.#keys = this.#alloc(capacity);
    this.#values = this.#alloc(capacity);
  }

  /** Positions every layer holds (the past length seen by the next forward). */
  get length(): number {
    return this.#length;
  }
  /** Positions that fit before the buffers grow. */
  get capacity(): number {
    return this.#capacity;
  }

  #alloc(capacity: number): Tensor[] {
    const { numLayers: nLayer, numKvHeads: nHead, headDim: headSize } = this.#shape;
    const shape = [this.batch, nHead, capacity, headSize]; // (B, nh, cap, hs)
    return Array.from({ length: nLayer }, () => zeros(shape, { device: this.#device }));
  }

  /**
   * Every key and value buffer (B, nh, capacity, hs): return them from a `tidy` that may grow
   * the cache, so the scope does not free them.
   */
  get tensors(): readonly Tensor[] {
    return [...this.#keys, ...this.#values];
  }

  /** Frees the buffers' device memory (webgpu), except buffers someone `keep`s (a trace). */
  dispose(): void {
    for (const t of this.tensors) release(t);
  }

  #grow(needed: number): void {
    const capacity = Math.max(needed, 2 * this.#capacity);
    const keep = [slice(), slice(), slice(0, this.#length)];
    const move = (old: Tensor[]) =>
      this.#alloc(capacity).map((t, i) => {
        t.set(keep, old[i].get(keep));
        release(old[i]);
        return t;
      });
    this.#keys = move(this.#keys);
    this.#values = move(this.#values);
    this.#capacity = capacity;
  }

  /**
   * Writes layer `layer`'s new keys and values (B, nh, T, hs) after the `length` positions
   * already held and returns views of all of them (B, nh, length + T, hs). When the new keys
   * or values need a gradient, the buffers hold detached copies and the result joins the past
   * (constants) to the new ones: each decoding step's backward pass stays inside that step.
   */
  update(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const [B, nh, T, hs] = k.shape;
    const { numLayers: nLayer, numKvHeads: nHead, headDim: headSize } = this.#shape;
    if (!(layer >= 0 && layer < nLayer)) {
      throw new RangeError(`KVCache layer ${layer} is out of range: the cache has ${nLayer}`);
    }
    if (k.ndim !== 4 || B !== this.batch || nh !== nHead || hs !== headSize) {
      throw new RangeError(
        `KVCache.update: keys have shape [${
          k.shape.join(", ")
        }], expected [${this.batch}, ${nHead}, T, ${headSize}]`,
      );
    }
    const end = this.#length + T;
    if (end > this.#capacity) this.#grow(end);
    const fresh = [slice(), slice(), slice(this.#length, end)];
    const held = [slice(), slice(), slice(0, end)];
    const keys = this.#keys[layer].set(fresh, k.detach()); // (B, nh, cap, hs)
    const values = this.#values[layer].set(fresh, v.detach()); // (B, nh, cap, hs)
    if (!k.needsGrad && !v.needsGrad) return [keys.get(held), values.get(held)];
    if (this.#length === 0) return [k, v];
    const past = [slice(), slice(), slice(0, this.#length)];
    return [cat([keys.get(past), k], 2), cat([values.get(past), v], 2)]; // (B, nh, length + T, hs)
  }

  /** Commits `T` positions written by `update` on every layer. */
  advance(T: number): void {
    this.#length += T;
  }
}

/**
 * A KV cache sized from a model's shape (kv heads, head dim, layers) on its device: what every
 * family's `newCache` returns.
 *
 * @example
 * ```ts
 * import { cacheFor } from "./kv_cache.ts";
 * const c = cacheFor({ numLayers: 2, numKvHeads: 1, headDim: 4 }, "cpu", { batch: 1 });
 * c.capacity; // 64
 * ```
 */
export function cacheFor(
  shape: KVCacheShape,
  device: Device,
  opts: { batch: number; capacity?: number },
): KVCache {
  const { numLayers, numKvHeads, headDim } = shape;
  return new KVCache({ numLayers, numKvHeads, headDim }, { ...opts, device });
}
