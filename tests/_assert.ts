// Numeric assertions for tests: compare tensors or arrays against expected values with a
// stated tolerance |got - exp| <= atol + rtol * |exp|, printing the first differences and the
// max difference on failure.

import { Tensor } from "../engine/mod.ts";
import type { NestedArray } from "../engine/mod.ts";

/** Tolerance for `assertClose`: |got - exp| <= atol + rtol * |exp|. */
export interface Tolerance {
  atol?: number;
  rtol?: number;
  /** Prefix for the failure message. */
  msg?: string;
}

type Numeric = Tensor | NestedArray | ArrayLike<number>;

async function flat(x: Numeric): Promise<{ values: ArrayLike<number>; shape?: readonly number[] }> {
  if (x instanceof Tensor) return { values: await x.data(), shape: x.shape };
  if (typeof x === "number") return { values: [x] };
  if (Array.isArray(x)) return { values: (x as unknown[]).flat(Infinity as 1) as number[] };
  return { values: x as ArrayLike<number> };
}

/** Asserts element-wise closeness (and equal shapes when both are tensors). */
export async function assertClose(
  got: Numeric,
  expected: Numeric,
  tol: Tolerance = {},
): Promise<void> {
  const { atol = 1e-5, rtol = 1e-5, msg = "values differ" } = tol;
  const g = await flat(got), e = await flat(expected);
  if (g.shape && e.shape && g.shape.join() !== e.shape.join()) {
    throw new Error(`${msg}: shape [${g.shape}] != expected [${e.shape}]`);
  }
  if (g.values.length !== e.values.length) {
    throw new Error(`${msg}: ${g.values.length} values, expected ${e.values.length}`);
  }
  let maxDiff = 0, maxAt = -1, bad = 0;
  const firsts: string[] = [];
  for (let i = 0; i < e.values.length; i++) {
    const a = g.values[i], b = e.values[i];
    const d = Math.abs(a - b);
    const ok = d <= atol + rtol * Math.abs(b) || (Number.isNaN(a) && Number.isNaN(b)) || a === b;
    if (!ok) {
      bad++;
      if (firsts.length < 5) firsts.push(`[${i}] got ${a} expected ${b}`);
    }
    if (d > maxDiff || Number.isNaN(d)) [maxDiff, maxAt] = [d, i];
  }
  if (bad > 0) {
    throw new Error(
      `${msg}: ${bad} of ${e.values.length} outside atol ${atol} + rtol ${rtol}; max diff ${maxDiff} at [${maxAt}]\n  ${
        firsts.join("\n  ")
      }`,
    );
  }
}

/** Asserts exact equality of integer data (token ids, indices). */
export async function assertExact(
  got: Numeric,
  expected: Numeric,
  msg = "values differ",
): Promise<void> {
  await assertClose(got, expected, { atol: 0, rtol: 0, msg });
}
