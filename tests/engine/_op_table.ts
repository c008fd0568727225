// The op table for engine tests (tinygrad's helper_test_op): one case per line, run on every
// device with one readback per group, plus plain-JS references (broadcast, reduce, matmul)
// that expected values are computed from. Holds no cases itself.

import assert from "node:assert/strict";
import { cat, type Tensor, tensor } from "../../engine/mod.ts";
import type { Device, DType, NestedArray } from "../../engine/mod.ts";
import { assertClose, type Tolerance } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

// ---- the table helper ------------------------------------------------------------------

/** An op input: nested numbers (float32) or nested numbers with a dtype. */
export type Input = NestedArray | { data: NestedArray; dtype: DType };
/** An error constructor such as RangeError. */
export type ErrorClass = new (...args: never[]) => Error;
/** One line of the table: run `fn` on `inputs`, expect `want` or `error`. */
export interface Case {
  label: string;
  fn: (...xs: Tensor[]) => Tensor;
  inputs: Input[];
  want?: NestedArray;
  /** Expected dtype (default float32) and shape (default: the nesting of `want`). */
  dtype?: DType;
  shape?: number[];
  error?: [ErrorClass, RegExp];
}

/** An int32 input. */
export const i32 = (data: NestedArray): Input => ({ data, dtype: "int32" });
/** A case with an expected value; `opts` overrides the dtype or the shape. */
export const ok = (
  label: string,
  fn: Case["fn"],
  inputs: Input[],
  want: NestedArray,
  opts: { dtype?: DType; shape?: number[] } = {},
): Case => ({ label, fn, inputs, want, ...opts });
/** A case that must throw `cls` with a message matching `re`. */
export const bad = (
  label: string,
  fn: Case["fn"],
  inputs: Input[],
  cls: ErrorClass,
  re: RegExp,
): Case => ({
  label,
  fn,
  inputs,
  error: [cls, re],
});

/** The shape of nested numbers. */
export function shapeOf(x: NestedArray): number[] {
  return Array.isArray(x) ? [x.length, ...(x.length ? shapeOf(x[0]) : [])] : [];
}
/** Nested numbers in row-major order. */
export function flat(x: NestedArray): number[] {
  return Array.isArray(x) ? x.flatMap(flat) : [x];
}
/** Row-major numbers as nested arrays of `shape`. */
export function nest(data: readonly number[], shape: readonly number[]): NestedArray {
  if (shape.length === 0) return data[0];
  const inner = data.length / shape[0];
  return Array.from(
    { length: shape[0] },
    (_, i) => nest(data.slice(i * inner, (i + 1) * inner), shape.slice(1)),
  );
}

/**
 * Registers one test per device that runs every case of a group and reports every failure.
 *
 * @example
 * ```ts
 * import { bad, ok, table } from "./_op_table.ts";
 * table("add", [
 *   ok("[2] + [2]", (a, b) => a.add(b), [[1, 2], [3, 4]], [4, 6]),
 *   bad("[2] + [3]", (a, b) => a.add(b), [[1, 2], [1, 2, 3]], RangeError, /^add: shapes/),
 * ]);
 * ```
 */
export function table(
  group: string,
  cases: Case[],
  tol: Tolerance = { atol: 1e-5, rtol: 1e-5 },
): void {
  deviceTest(`ops: ${group}`, async (device: Device) => {
    const failures: string[] = [];
    const done: [Case, Tensor][] = [];
    for (const c of cases) {
      try {
        const y = runCase(c, device);
        if (y) done.push([c, y]);
      } catch (e) {
        failures.push(`${c.label}: ${(e as Error).message}`);
      }
    }
    // One read for the whole group: on a GPU each readback is a ~10 ms sync.
    const parts = done.map(([, y]) => y.astype("float32").reshape(-1));
    const all = parts.length ? await cat(parts).data() : new Float32Array();
    let at = 0;
    for (const [c, y] of done) {
      const got = all.subarray(at, at += y.size);
      try {
        await assertClose(got, flat(c.want!), { ...tol, msg: `${group}: ${c.label}` });
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    if (failures.length) throw new Error(`${failures.length} failed:\n${failures.join("\n")}`);
  });
}

/** Runs one case: checks an error case, or the result's device, dtype and shape. */
function runCase(c: Case, device: Device): Tensor | null {
  const xs = c.inputs.map((x) =>
    typeof x === "object" && x !== null && !Array.isArray(x)
      ? tensor(x.data, undefined, { dtype: x.dtype, device })
      : tensor(x, undefined, { device })
  );
  if (c.error) {
    const [cls, re] = c.error;
    assert.throws(() => c.fn(...xs), (e: Error) => e instanceof cls && re.test(e.message));
    return null;
  }
  const y = c.fn(...xs);
  assert.equal(y.device, device, "device");
  assert.equal(y.dtype, c.dtype ?? "float32", "dtype");
  assert.deepEqual(y.shape, c.shape ?? shapeOf(c.want!), "shape");
  return y;
}

// ---- plain-JS references ------------------------------------------------------------------

/** NumPy broadcasting of f over two nested arrays. */
export function bcast(
  f: (a: number, b: number) => number,
  a: NestedArray,
  b: NestedArray,
): NestedArray {
  const [sa, sb] = [shapeOf(a), shapeOf(b)];
  const n = Math.max(sa.length, sb.length);
  const pa = [...Array(n - sa.length).fill(1), ...sa],
    pb = [...Array(n - sb.length).fill(1), ...sb];
  const out = pa.map((d, i) => (d === 1 ? pb[i] : d));
  const [fa, fb] = [flat(a), flat(b)];
  const at = (p: number[], data: number[], idx: number[]) =>
    data[idx.reduce((acc, v, i) => acc * p[i] + (p[i] === 1 ? 0 : v), 0)];
  const total = out.reduce((x, y) => x * y, 1);
  const res: number[] = [];
  for (let k = 0; k < total; k++) {
    const idx: number[] = [];
    for (let i = n - 1, r = k; i >= 0; i--) [idx[i], r] = [r % out[i], Math.floor(r / out[i])];
    res.push(f(at(pa, fa, idx), at(pb, fb, idx)));
  }
  return nest(res, out);
}

/** Reduces `x` over `dim` (all elements when undefined) with a row function. */
export function reduceRef(
  x: NestedArray,
  f: (row: number[]) => number,
  dim?: number,
  keep = false,
) {
  const s = shapeOf(x), d = flat(x);
  if (dim === undefined) return nest([f(d)], keep ? s.map(() => 1) : []);
  const a = dim < 0 ? dim + s.length : dim;
  const outer = s.slice(0, a).reduce((p, q) => p * q, 1), n = s[a];
  const inner = s.slice(a + 1).reduce((p, q) => p * q, 1);
  const res: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      res.push(f(Array.from({ length: n }, (_, k) => d[(o * n + k) * inner + i])));
    }
  }
  return nest(res, keep ? s.map((v, i) => (i === a ? 1 : v)) : s.filter((_, i) => i !== a));
}

/** The matrix product of two nested 2-D arrays, in float64. */
export function matmulRef(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

/** Deterministic small values (multiples of 1/4, with ties) in a shape. */
export function vals(shape: number[], seed = 1): NestedArray {
  const n = shape.reduce((p, q) => p * q, 1);
  return nest(Array.from({ length: n }, (_, i) => (((i + seed) * 37) % 17 - 8) / 4), shape);
}
