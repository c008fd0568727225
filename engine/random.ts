// Seeded pseudo-random numbers for reproducible init and sampling: a 32-bit PCG-style
// generator (mulberry32) with Box-Muller normals. Not cryptographic.

/**
 * A seeded generator of uniform and normal numbers.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const rng = new Rng(42);
 * const u = rng.uniform(); // in [0, 1)
 * const z = rng.normal();  // standard normal
 * ```
 */
export class Rng {
  #state: number;
  #spare: number | null = null;

  /** Starts from a seed (any number; the same seed gives the same sequence). */
  constructor(seed: number) {
    this.#state = (Math.floor(seed) ^ 0x9e3779b9) >>> 0;
  }
  /** A uniform number in [0, 1). */
  uniform(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /**
   * Fills `out` with normal numbers of the given mean and std, in one tight loop (Marsaglia's
   * polar method: no trigonometry, two values per accepted pair). Much faster than calling
   * `normal()` per element; the sequence differs from `normal()`'s.
   */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    let t = this.#state;
    const next = () => {
      t = (t + 0x6d2b79f5) >>> 0;
      let z = Math.imul(t ^ (t >>> 15), t | 1);
      z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
      return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
    };
    for (let i = 0; i < out.length;) {
      const u = 2 * next() - 1, v = 2 * next() - 1;
      const s = u * u + v * v;
      if (s >= 1 || s === 0) continue;
      const f = std * Math.sqrt(-2 * Math.log(s) / s);
      out[i++] = mean + u * f;
      if (i < out.length) out[i++] = mean + v * f;
    }
    this.#state = t;
    return out;
  }
  /** A standard normal number (Box-Muller). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    const u = 1 - this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
}
