// The index grammar, parsed once and used everywhere: `get`, `set` and iteration step ranges.
// "0, :, -1", "1:5:2", "...", "null" (new axis); arrays of numbers, slices, "..." and null.

import { fmtShape } from "./layout.ts";

/** A slice `start:stop:step`; omitted parts take NumPy's defaults. */
export interface Slice {
  /** Tags the item as a slice. */
  readonly kind: "slice";
  /** First index (negative counts from the end); default 0, or the end for a negative step. */
  readonly start?: number;
  /** Index to stop before; default the end, or before the start for a negative step. */
  readonly stop?: number;
  /** Step, not 0; default 1. */
  readonly step?: number;
}

/** One item of an index: an integer, a slice, `"..."`, or `null` for a new axis. */
export type IndexItem = number | Slice | "..." | null;

/** What `get`/`set` accept: a string in the grammar, one item, or an array of items. */
export type IndexSpec = string | IndexItem | readonly IndexItem[];

/**
 * Makes a slice item, like Python's `slice(start, stop, step)`.
 *
 * @example
 * ```ts
 * import { slice } from "./index.ts";
 * const s = slice(1, 3); // the same as the string "1:3"
 * ```
 */
export function slice(start?: number | null, stop?: number | null, step?: number | null): Slice {
  return {
    kind: "slice",
    start: start ?? undefined,
    stop: stop ?? undefined,
    step: step ?? undefined,
  };
}

const INT = /^[+-]?\d+$/;

function parseItem(text: string, spec: string): IndexItem {
  const t = text.trim();
  if (t === "...") return "...";
  if (t === "null" || t === "None") return null;
  if (INT.test(t)) return Number(t);
  if (t.includes(":")) {
    const parts = t.split(":").map((p) => p.trim());
    if (parts.length <= 3 && parts.every((p) => p === "" || INT.test(p))) {
      const [a, b, c] = parts.map((p) => (p === "" || p === undefined ? undefined : Number(p)));
      if (c === 0) throw new RangeError(`Invalid index "${spec}": slice step cannot be 0`);
      return slice(a, b, c);
    }
  }
  throw new TypeError(
    `Invalid index "${spec}": item "${t}" is not an integer, a slice "start:stop:step", "..." or null`,
  );
}

/** Parses an index spec into items. Strings follow the grammar; arrays are checked. */
export function parseIndex(spec: IndexSpec): IndexItem[] {
  if (typeof spec === "string") {
    if (spec.trim() === "") return [];
    return spec.split(",").map((item) => parseItem(item, spec));
  }
  const items = Array.isArray(spec) ? spec as readonly IndexItem[] : [spec as IndexItem];
  return items.map((item) => {
    if (item === null || item === "...") return item;
    if (typeof item === "number") {
      if (!Number.isInteger(item)) {
        throw new TypeError(`Invalid index item ${item}: not an integer`);
      }
      return item;
    }
    if (typeof item === "object" && item.kind === "slice") {
      if (item.step === 0) throw new RangeError(`Invalid slice: step cannot be 0`);
      return item;
    }
    if (typeof item === "string") return parseItem(item, item);
    throw new TypeError(
      `Invalid index item ${JSON.stringify(item)}: use a number, slice(), "..." or null`,
    );
  });
}

/** A slice resolved against an axis length: the first element, the step and the count. */
export interface ResolvedSlice {
  /** First index, in range. */
  start: number;
  /** Step. */
  step: number;
  /** Number of elements selected. */
  length: number;
}

/** Resolves a slice against an axis of `size` elements with NumPy's clamping rules. */
export function resolveSlice(s: Slice, size: number): ResolvedSlice {
  const step = s.step ?? 1;
  const clamp = (v: number | undefined, dflt: number, lo: number, hi: number) => {
    if (v === undefined) return dflt;
    const x = v < 0 ? v + size : v;
    return Math.min(Math.max(x, lo), hi);
  };
  if (step > 0) {
    const start = clamp(s.start, 0, 0, size);
    const stop = clamp(s.stop, size, 0, size);
    return { start, step, length: Math.max(0, Math.ceil((stop - start) / step)) };
  }
  const start = clamp(s.start, size - 1, -1, size - 1);
  const stop = clamp(s.stop, -1, -1, size - 1);
  // An explicit negative stop like -size-1 means "through index 0".
  const realStop = s.stop !== undefined && s.stop < -size ? -1 : stop;
  return { start, step, length: Math.max(0, Math.ceil((realStop - start) / step)) };
}

/** The layout of a tensor window: what `get` returns and `set` writes. */
export interface IndexedLayout {
  shape: number[];
  strides: number[];
  offset: number;
}

/** Applies parsed index items to a layout. Integers drop an axis, null inserts one. */
export function applyIndex(
  shape: readonly number[],
  strides: readonly number[],
  offset: number,
  items: readonly IndexItem[],
  spec: IndexSpec,
): IndexedLayout {
  const fmt = () => typeof spec === "string" ? `"${spec}"` : JSON.stringify(spec);
  const ellipses = items.filter((i) => i === "...").length;
  if (ellipses > 1) throw new TypeError(`Invalid index ${fmt()}: only one "..." is allowed`);
  const consuming = items.filter((i) => i !== null && i !== "...").length;
  if (consuming > shape.length) {
    throw new RangeError(
      `Index ${fmt()} has ${consuming} items for a tensor of shape ${
        fmtShape(shape)
      } (rank ${shape.length})`,
    );
  }
  const out: IndexedLayout = { shape: [], strides: [], offset };
  let axis = 0;
  for (const item of items) {
    if (item === "...") {
      const skip = shape.length - consuming;
      for (let k = 0; k < skip; k++, axis++) {
        out.shape.push(shape[axis]);
        out.strides.push(strides[axis]);
      }
    } else if (item === null) {
      out.shape.push(1);
      out.strides.push(0);
    } else if (typeof item === "number") {
      const size = shape[axis];
      const i = item < 0 ? item + size : item;
      if (i < 0 || i >= size) {
        throw new RangeError(
          `Index ${item} is out of range for axis ${axis} of size ${size} (shape ${
            fmtShape(shape)
          }, index ${fmt()})`,
        );
      }
      out.offset += i * strides[axis];
      axis++;
    } else {
      const r = resolveSlice(item, shape[axis]);
      out.offset += r.length > 0 ? r.start * strides[axis] : 0;
      out.shape.push(r.length);
      out.strides.push(strides[axis] * r.step);
      axis++;
    }
  }
  for (; axis < shape.length; axis++) {
    out.shape.push(shape[axis]);
    out.strides.push(strides[axis]);
  }
  return out;
}
