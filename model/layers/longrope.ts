// LongRoPE (rope_type "longrope", Phi-3.5 / Phi-4-mini and the 128k Phi-3 checkpoints) in its
// short regime: per-frequency short_factor divisors and the attention factor cos/sin are scaled
// by, as transformers' _compute_longrope_parameters; positions past the original context are a
// named error (transformers switches every position to long_factor there).

import type { RopeScaling } from "./rotary.ts";

/** A checked longrope config: what the tables need. */
export interface Longrope {
  /** Divisors of the inverse frequencies (rotaryDim / 2 of them). */
  shortFactor: number[];
  /** Multiplies cos and sin. */
  attentionFactor: number;
  /** Positions the short regime covers: original_max_position_embeddings. */
  limit: number;
}

const positive = (x: unknown) => typeof x === "number" && x > 0 && Number.isFinite(x);

/**
 * The short regime of a longrope `rope_scaling` for `half` frequencies, checked: short_factor and
 * long_factor lists of `half` positive numbers, original_max_position_embeddings, factor (the
 * caller fills it in as max_position_embeddings / original when the config has none), and the
 * attention factor, given or sqrt(1 + ln(factor) / ln(original)) (1 when factor <= 1).
 *
 * @example
 * ```ts
 * import { longrope } from "./longrope.ts";
 * const l = longrope({ rope_type: "longrope", short_factor: [1, 2], long_factor: [3, 4], factor: 32, original_max_position_embeddings: 4096 }, 2);
 * [l.limit, l.attentionFactor.toFixed(4)]; // [4096, "1.1902"]
 * ```
 */
export function longrope(s: RopeScaling, half: number): Longrope {
  for (const key of ["short_factor", "long_factor"] as const) {
    const list = s[key];
    if (!Array.isArray(list) || list.length !== half || !list.every(positive)) {
      throw new RangeError(
        `rope_scaling "${key}" is "${
          JSON.stringify(list)
        }": longrope needs ${half} positive numbers (one per rotated frequency)`,
      );
    }
  }
  const original = s.original_max_position_embeddings, factor = s.factor;
  if (!Number.isSafeInteger(original) || !(original! > 0)) {
    throw new RangeError(
      `rope_scaling "original_max_position_embeddings" is "${original}": longrope needs the pretraining context length`,
    );
  }
  if (!positive(factor)) {
    throw new RangeError(`rope_scaling "factor" is "${factor}": it must be a positive number`);
  }
  const given = s.attention_factor;
  if (given !== undefined && given !== null && !positive(given)) {
    throw new RangeError(`rope_scaling "attention_factor" is "${given}": it must be positive`);
  }
  const attentionFactor = given ??
    (factor! <= 1 ? 1 : Math.sqrt(1 + Math.log(factor!) / Math.log(original!)));
  return { shortFactor: s.short_factor!, attentionFactor, limit: original! };
}

/**
 * Inverse frequencies 1 / (short_factor[i] * base^(2i / dim)) in transformers' float32 steps.
 *
 * @example
 * ```ts
 * import { longropeInvFreq } from "./longrope.ts";
 * longropeInvFreq([2, 4], 10000, 4); // Float64Array [0.5, 0.0025]
 * ```
 */
export function longropeInvFreq(shortFactor: number[], base: number, dim: number): Float64Array {
  const f = Math.fround;
  return Float64Array.from(
    shortFactor,
    (ext, i) => f(1 / f(f(ext) * f(Math.pow(base, f(f(2 * i) / dim))))),
  );
}

/**
 * The RangeError for a forward reaching `n` positions past a longrope table's short regime.
 *
 * @example
 * ```ts
 * import { longropeLimitError } from "./longrope.ts";
 * longropeLimitError(4097, 4096).message.startsWith("4097 positions"); // true
 * ```
 */
export function longropeLimitError(n: number, limit: number): RangeError {
  return new RangeError(
    `${n} positions exceed original_max_position_embeddings (${limit}): past it transformers' longrope switches every position to long_factor, which tsight does not implement; keep prompt and generated tokens within ${limit}`,
  );
}
