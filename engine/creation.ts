// Functions that make tensors from data or patterns: tensor, zeros, ones, full, arange,
// randn. Data is built on the host and handed to the device's backend once.

import type { Device, DType, TypedArray } from "./backend.ts";
import { getBackend } from "./devices.ts";
import { fmtShape, inferShape, numel } from "./layout.ts";
import { Rng } from "./random.ts";
import { type NestedArray, Tensor } from "./tensor.ts";

/** Where and as what a new tensor is made. */
export interface TensorOptions {
  /** Element type; default float32 (int32 for Int32Array data). */
  dtype?: DType;
  /** Device; default cpu. */
  device?: Device;
}

/** The shape of nested arrays (from their first elements), checked to be regular everywhere. */
function shapeOf(data: NestedArray): number[] {
  const shape: number[] = [];
  for (let d: NestedArray = data; Array.isArray(d); d = d[0]) {
    shape.push(d.length);
    if (d.length === 0) break;
  }
  const at: number[] = [];
  const ragged = (why: string) =>
    new TypeError(
      `tensor: nested arrays are ragged at [${
        at.join(", ")
      }]: ${why} (the first elements give shape ${fmtShape(shape)})`,
    );
  const check = (d: NestedArray, axis: number): void => {
    if (axis === shape.length) {
      if (Array.isArray(d)) throw ragged("got an array, expected a number");
      return;
    }
    if (!Array.isArray(d)) throw ragged(`got ${d}, expected an array of length ${shape[axis]}`);
    if (d.length !== shape[axis]) throw ragged(`length ${d.length}, expected ${shape[axis]}`);
    for (let i = 0; i < d.length; i++) {
      at.push(i);
      check(d[i], axis + 1);
      at.pop();
    }
  };
  check(data, 0);
  return shape;
}

/** Throws a TypeError naming the op unless `shape` is a list of non-negative integers. */
function checkShape(shape: readonly number[], op: string): readonly number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    const shown = Array.isArray(shape) ? fmtShape(shape) : JSON.stringify(shape);
    throw new TypeError(`${op}: invalid shape ${shown}: use a list of non-negative integers`);
  }
  return shape;
}

function fromHost(data: TypedArray, shape: readonly number[], device: Device = "cpu"): Tensor {
  return new Tensor(getBackend(device).fromData(data, { adopt: true }), shape);
}

/**
 * A tensor from nested arrays, a flat array with a shape, or a typed array.
 *
 * @example
 * ```ts
 * import { tensor } from "./creation.ts";
 * const a = tensor([[1, 2, 3], [4, 5, 6]]);            // float32 [2, 3]
 * const b = tensor([1, 2, 3, 4], [2, 2], { dtype: "int32" });
 * ```
 */
export function tensor(
  data: NestedArray | TypedArray | readonly number[],
  shape?: readonly number[],
  opts: TensorOptions = {},
): Tensor {
  const isTyped = data instanceof Float32Array || data instanceof Int32Array;
  const dtype = opts.dtype ?? (data instanceof Int32Array ? "int32" : "float32");
  let flat: ArrayLike<number>;
  let natural: number[];
  if (isTyped) {
    flat = data;
    natural = [data.length];
  } else if (typeof data === "number") {
    flat = [data];
    natural = [];
  } else {
    natural = shapeOf(data as NestedArray);
    flat = (data as unknown[]).flat(Infinity as 1) as number[];
    if (flat.length !== numel(natural)) {
      throw new TypeError(`tensor: nested arrays are ragged; expected shape ${fmtShape(natural)}`);
    }
  }
  for (let i = 0; i < flat.length; i++) {
    if (typeof flat[i] !== "number") {
      throw new TypeError(`tensor: element ${i} is ${JSON.stringify(flat[i])}, not a number`);
    }
  }
  const target = shape ? inferShape(shape, flat.length, "tensor") : natural;
  const host = dtype === "float32"
    ? Float32Array.from(flat)
    : Int32Array.from(flat, (v) => Math.trunc(v));
  return fromHost(host, target, opts.device);
}

function filled(op: string, shape: readonly number[], value: number, opts: TensorOptions): Tensor {
  const n = numel(checkShape(shape, op));
  const host = (opts.dtype ?? "float32") === "float32" ? new Float32Array(n) : new Int32Array(n);
  if (value !== 0) host.fill(value);
  return fromHost(host, shape, opts.device);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: readonly number[], value: number, opts: TensorOptions = {}): Tensor {
  return filled("full", shape, value, opts);
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled("zeros", shape, 0, opts);
}

/** A tensor of ones. */
export function ones(shape: readonly number[], opts: TensorOptions = {}): Tensor {
  return filled("ones", shape, 1, opts);
}

/**
 * Evenly spaced values in [start, stop): `arange(5)` or `arange(2, 10, 2)`. int32 unless a
 * bound or the step is fractional or dtype says otherwise.
 */
export function arange(start: number, stop?: number, step = 1, opts: TensorOptions = {}): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new RangeError("arange: step cannot be 0");
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const int = [start, stop, step].every(Number.isInteger);
  const dtype = opts.dtype ?? (int ? "int32" : "float32");
  const host = dtype === "float32" ? new Float32Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) host[i] = start + i * step;
  return fromHost(host, [n], opts.device);
}

/** Standard normal samples from a seeded generator (same seed, same values). */
export function randn(
  shape: readonly number[],
  opts: TensorOptions & { seed?: number; std?: number; mean?: number } = {},
): Tensor {
  const n = numel(checkShape(shape, "randn"));
  const rng = new Rng(opts.seed ?? Date.now());
  const host = rng.fillNormal(new Float32Array(n), opts.mean ?? 0, opts.std ?? 1);
  return fromHost(host, shape, opts.device);
}
