// Explicit lifetimes for device memory: `tidy(fn)` frees every storage allocated inside `fn`
// except those reachable from its result, `keep(t)` exempts one. JavaScript has no destructors.
// Tracks storages only (any device; cpu and meta frees are no-ops); it never allocates and
// knows no kernels.

import type { Storage } from "./backend.ts";
import { getBackend } from "./devices.ts";

const scopes: Set<Storage>[] = [];
const kept = new WeakSet<Storage>();
/** Allocation number of every tracked storage, so callers can tell what a piece of work made. */
const born = new WeakMap<Storage, number>();
let allocations = 0;

/** Records a new storage in the innermost open scope (called by backends on allocation). */
export function track(s: Storage): void {
  born.set(s, ++allocations);
  if (scopes.length > 0) scopes[scopes.length - 1].add(s);
}

/**
 * A mark of the allocations so far: storages tracked after it are `allocatedSince` it. A trace
 * uses it to free what it made and never what existed before (weights, the caller's tensors).
 *
 * @example
 * ```ts
 * import { allocatedSince, allocationMark } from "./scope.ts";
 * import { tensor } from "./creation.ts";
 * const mark = allocationMark();
 * const t = tensor([1, 2]); // cpu storages are never tracked
 * console.log(allocatedSince(t.storage, mark)); // false
 * ```
 */
export function allocationMark(): number {
  return allocations;
}

/** True for a storage a backend tracked after `mark` (webgpu storages only). */
export function allocatedSince(s: Storage, mark: number): boolean {
  return (born.get(s) ?? 0) > mark;
}

/** True once `keep` was called on a tensor of this storage. */
export function isKept(s: Storage): boolean {
  return kept.has(s);
}

/**
 * Frees a tensor's device memory unless it was passed to `keep` (its keeper, e.g. a trace that
 * saved it, then frees it). Code that made a tensor and is done with it calls this instead of
 * `dispose()`, which frees unconditionally. A no-op on cpu and meta.
 *
 * @example
 * ```ts
 * import { release } from "./scope.ts";
 * import { tensor } from "./creation.ts";
 * const t = tensor([1, 2]).mul(2);
 * release(t); // freed (on webgpu) unless something kept it
 * ```
 */
export function release(t: { storage: Storage }): void {
  if (!kept.has(t.storage)) getBackend(t.storage.device).dispose(t.storage);
}

/**
 * Runs `fn` and frees the device memory of every tensor it allocated, except tensors
 * reachable from its result (tensors or storages, through arrays, plain objects, Maps and
 * Sets) and those passed
 * to `keep`. Scopes nest; kept tensors move to the enclosing scope. An async `fn` is
 * awaited; its scope then also catches allocations of other code that runs meanwhile, so do
 * not interleave two async scopes. On cpu, freeing is a no-op.
 *
 * @example
 * ```ts
 * import { tidy } from "./scope.ts";
 * import { tensor } from "./creation.ts";
 * const y = tidy(() => tensor([1, 2]).mul(2).add(1)); // the intermediates are freed
 * ```
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Storage>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    close(scope, undefined);
    throw e;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => (close(scope, v), v),
      (e) => {
        close(scope, undefined);
        throw e;
      },
    ) as T;
  }
  close(scope, result);
  return result;
}

/**
 * Exempts a tensor (anything with a `storage`) from the enclosing `tidy` scopes and returns it.
 *
 * @example
 * ```ts
 * import { keep, tidy } from "./scope.ts";
 * import { tensor } from "./creation.ts";
 * let cache;
 * tidy(() => { cache = keep(tensor([1, 2]).mul(2)); });
 * ```
 */
export function keep<T extends { storage: Storage }>(t: T): T {
  kept.add(t.storage);
  for (const s of scopes) s.delete(t.storage);
  return t;
}

function close(scope: Set<Storage>, result: unknown): void {
  const i = scopes.lastIndexOf(scope);
  if (i >= 0) scopes.splice(i, 1);
  const reachable = new Set<Storage>();
  collect(result, reachable, new Set());
  const parent = scopes.length > 0 ? scopes[scopes.length - 1] : null;
  for (const s of scope) {
    if (reachable.has(s) || kept.has(s)) parent?.add(s);
    else getBackend(s.device).dispose(s);
  }
}

function collect(v: unknown, out: Set<Storage>, seen: Set<unknown>): void {
  if (v === null || typeof v !== "object" || seen.has(v)) return;
  seen.add(v);
  if ("buf" in v && "device" in v && "dtype" in v) {
    out.add(v as Storage); // a bare storage (backend-level code)
    return;
  }
  const storage = (v as { storage?: unknown }).storage;
  if (storage && typeof storage === "object" && "device" in storage) {
    out.add(storage as Storage);
    return;
  }
  if (Array.isArray(v) || v instanceof Set) { for (const x of v) collect(x, out, seen); }
  else if (v instanceof Map) { for (const x of v.values()) collect(x, out, seen); }
  else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
    for (const x of Object.values(v)) collect(x, out, seen);
  }
}
