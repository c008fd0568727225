// Shape and stride arithmetic shared by the frontend and the backends: contiguity,
// broadcasting, axis normalisation. Pure functions on numbers; no storage, no kernels.

/** Number of elements of a shape (1 for a scalar). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** True when a (shape, strides) pair is row-major with no gaps; size-1 axes may have any stride. */
export function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== s) return false;
    s *= shape[i];
  }
  return true;
}

/** Formats a shape for error messages: `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Resolves a possibly negative axis against a rank, or throws a RangeError naming the op. */
export function normAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis)) throw new TypeError(`${op}: axis ${axis} is not an integer`);
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw new RangeError(
      `${op}: axis ${axis} is out of range for a tensor of rank ${rank} (use -${rank} to ${
        rank - 1
      })`,
    );
  }
  return a;
}

/** The NumPy broadcast of two shapes, or a RangeError naming the op and both shapes. */
export function broadcastShapes(
  a: readonly number[],
  b: readonly number[],
  op: string,
): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new RangeError(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (axis ${
          i - n
        }: ${da} vs ${db})`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that present (shape, strides) broadcast to `target` (0 on expanded axes). */
export function broadcastStrides(
  shape: readonly number[],
  strides: readonly number[],
  target: readonly number[],
  op: string,
): number[] {
  const n = target.length;
  if (shape.length > n) {
    throw new RangeError(`${op}: cannot broadcast ${fmtShape(shape)} to ${fmtShape(target)}`);
  }
  const out = new Array<number>(n).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const t = n - shape.length + i;
    if (shape[i] === target[t]) out[t] = shape[i] === 1 ? 0 : strides[i];
    else if (shape[i] === 1) out[t] = 0;
    else {
      throw new RangeError(`${op}: cannot broadcast ${fmtShape(shape)} to ${fmtShape(target)}`);
    }
  }
  return out;
}

/** Resolves a reshape target with at most one -1 against a total element count. */
export function inferShape(target: readonly number[], total: number, op: string): number[] {
  let unknown = -1;
  let known = 1;
  target.forEach((d, i) => {
    if (d === -1) {
      if (unknown >= 0) {
        throw new TypeError(`${op}: only one dimension can be -1, got ${fmtShape(target)}`);
      }
      unknown = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new TypeError(`${op}: invalid dimension ${d} in ${fmtShape(target)}`);
    } else known *= d;
  });
  const out = [...target];
  if (unknown >= 0) {
    if (known === 0 || total % known !== 0) {
      throw new RangeError(`${op}: cannot infer -1 in ${fmtShape(target)} for ${total} elements`);
    }
    out[unknown] = total / known;
  } else if (known !== total) {
    throw new RangeError(
      `${op}: shape ${fmtShape(target)} has ${known} elements, the tensor ${total}`,
    );
  }
  return out;
}

/**
 * Strides for viewing (shape, strides) as `target` without a copy, or null when the memory
 * layout does not allow it. This is PyTorch's `computeStride`: merged axes must be contiguous
 * to each other.
 */
export function viewStrides(
  shape: readonly number[],
  strides: readonly number[],
  target: readonly number[],
): number[] | null {
  if (isContiguous(shape, strides)) return contiguousStrides(target);
  // An empty tensor has no elements to lay out, so any view of it is fine (as in PyTorch).
  if (numel(shape) === 0) {
    return target.join() === shape.join() ? [...strides] : contiguousStrides(target);
  }
  if (shape.length === 0) return target.map(() => 1);
  const out = new Array<number>(target.length).fill(1);
  let viewD = target.length - 1;
  let chunkBase = strides[strides.length - 1];
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d];
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || target[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= target[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = strides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? out : null;
}
