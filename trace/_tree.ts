// Value trees: the tuples, arrays and object literals that hold a trace's values (tensors, Refs,
// numbers) as leaves. One walk with one depth rule (MAX_TREE_DEPTH) and cycle check for every
// walker in trace/; class instances (Tensor, Ref, BaseModelOutput) are leaves. No state.

/** The deepest a value may nest arrays and object literals; graph validation refuses deeper. */
export const MAX_TREE_DEPTH = 64;

/** True for object literals (not arrays, not class instances): the objects a walk enters. */
export function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** True for the branches of a value tree: arrays and object literals. */
export function isBranch(v: unknown): v is unknown[] | Record<string, unknown> {
  return Array.isArray(v) || isPlain(v);
}

/** The keys from the root to a leaf: array indices and object keys. */
export type TreePath = readonly (string | number)[];

const ROOT: TreePath = Object.freeze([]);

function where(path: TreePath): string {
  return path.length ? path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("") : "";
}

function tooDeep(path: TreePath): RangeError {
  return new RangeError(
    `A value nests arrays and objects deeper than ${MAX_TREE_DEPTH} levels (at value${
      where(path.slice(0, 8))
    }...): flatten it`,
  );
}

function cycle(path: TreePath): RangeError {
  return new RangeError(
    `A value contains itself (at value${
      where(path)
    }): an array or object that holds itself cannot be walked; pass a copy without the cycle`,
  );
}

/** Options of the walks. */
export interface WalkOptions {
  /** A branch that is treated as a leaf (a tagged JSON object, a slice literal). */
  leaf?: (v: unknown, path: TreePath) => boolean;
  /** mapLeaves: what a rebuilt object literal becomes (default: itself). */
  object?: (rebuilt: Record<string, unknown>, path: TreePath) => unknown;
  /** mapLeaves: keep a branch (the same object) where nothing below it changed. */
  keepUnchanged?: boolean;
}

/**
 * Calls `fn` on every leaf of `v` (`v` itself when it is not an array or object literal), depth
 * first in key order, with the keys leading to it (the same array, changed as the walk goes on:
 * copy it to keep it). Deeper than MAX_TREE_DEPTH, or a cycle, is a RangeError.
 *
 * @example
 * ```ts ignore
 * forEachLeaf([1, { a: 2 }], (x, path) => console.log(x, [...path])); // 1 [0]; 2 [1, "a"]
 * ```
 */
export function forEachLeaf(
  v: unknown,
  fn: (leaf: unknown, path: TreePath) => void,
  opts: WalkOptions = {},
): void {
  if (!isBranch(v)) return fn(v, ROOT);
  const path: (string | number)[] = [];
  const open = new Set<object>();
  const walk = (x: unknown): void => {
    if (!isBranch(x) || opts.leaf?.(x, path)) return fn(x, path);
    if (path.length >= MAX_TREE_DEPTH) throw tooDeep(path);
    if (open.has(x)) throw cycle(path);
    open.add(x);
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        path.push(i);
        walk(x[i]);
        path.pop();
      }
    } else {
      for (const k of Object.keys(x)) {
        path.push(k);
        walk(x[k]);
        path.pop();
      }
    }
    open.delete(x);
  };
  walk(v);
}

/** True when `pred` holds for some leaf of `v` (stops at the first); walks like forEachLeaf. */
export function someLeaf(
  v: unknown,
  pred: (leaf: unknown) => boolean,
  opts: WalkOptions = {},
): boolean {
  const FOUND = {};
  try {
    forEachLeaf(v, (x) => {
      if (pred(x)) throw FOUND;
    }, opts);
  } catch (e) {
    if (e === FOUND) return true;
    throw e;
  }
  return false;
}

/**
 * `v` with every leaf replaced by `fn(leaf)`: arrays and object literals are rebuilt (keys kept,
 * own enumerable properties only; with `keepUnchanged`, a branch where nothing below changed is
 * kept as it is). Walks like forEachLeaf.
 *
 * @example
 * ```ts ignore
 * mapLeaves([1, { a: 2 }], (x) => (x as number) * 10); // [10, { a: 20 }]
 * ```
 */
export function mapLeaves(
  v: unknown,
  fn: (leaf: unknown, path: TreePath) => unknown,
  opts: WalkOptions = {},
): unknown {
  if (!isBranch(v)) return fn(v, ROOT);
  const path: (string | number)[] = [];
  const open = new Set<object>();
  const walk = (x: unknown): unknown => {
    if (!isBranch(x) || opts.leaf?.(x, path)) return fn(x, path);
    if (path.length >= MAX_TREE_DEPTH) throw tooDeep(path);
    if (open.has(x)) throw cycle(path);
    open.add(x);
    let out: unknown;
    if (Array.isArray(x)) {
      const items = x.map((item, i) => {
        path.push(i);
        const y = walk(item);
        path.pop();
        return y;
      });
      out = opts.keepUnchanged && items.every((y, i) => y === x[i]) ? x : items;
    } else {
      const entries = Object.keys(x).map((k) => {
        path.push(k);
        const y = walk(x[k]);
        path.pop();
        return [k, y] as const;
      });
      const same = opts.keepUnchanged && entries.every(([k, y]) => y === x[k]);
      out = same ? x : Object.fromEntries(entries);
      if (opts.object) out = opts.object(out as Record<string, unknown>, path);
    }
    open.delete(x);
    return out;
  };
  return walk(v);
}

/** How {@link foldTree} combines: leaves, then each array's items and each object's entries. */
export interface TreeFold<R> {
  leaf(x: unknown, path: TreePath): R;
  array(items: R[]): R;
  object(entries: [string, R][]): R;
}

/**
 * Folds `v` bottom-up with `f` (a description, a size); walks like forEachLeaf.
 *
 * @example
 * ```ts ignore
 * foldTree([1, { a: 2 }], { leaf: String, array: (xs) => `[${xs}]`, object: (es) => `{${es}}` });
 * // "[1,{a,2}]"
 * ```
 */
export function foldTree<R>(v: unknown, f: TreeFold<R>, opts: WalkOptions = {}): R {
  const path: (string | number)[] = [];
  const open = new Set<object>();
  const walk = (x: unknown): R => {
    if (!isBranch(x) || opts.leaf?.(x, path)) return f.leaf(x, path);
    if (path.length >= MAX_TREE_DEPTH) throw tooDeep(path);
    if (open.has(x)) throw cycle(path);
    open.add(x);
    let out: R;
    if (Array.isArray(x)) {
      out = f.array(x.map((item, i) => {
        path.push(i);
        const y = walk(item);
        path.pop();
        return y;
      }));
    } else {
      out = f.object(
        Object.keys(x).map((k) => {
          path.push(k);
          const y = walk(x[k]);
          path.pop();
          return [k, y];
        }),
      );
    }
    open.delete(x);
    return out;
  };
  return walk(v);
}
