// Device memory of one trace: keeps the webgpu tensors the trace hands out alive while the
// model runs, reads what the user gets back with one GPU-to-CPU sync, then frees them all.
// Never frees a storage that existed before the trace started (weights, the caller's tensors).

import {
  allocatedSince,
  allocationMark,
  getBackend,
  hasBackend,
  keep,
  readAll,
  type Storage,
  Tensor,
  tensor,
} from "../engine/mod.ts";
import { forEachLeaf, isPlain, MAX_TREE_DEPTH } from "./_tree.ts";

/**
 * The webgpu storages one trace made and must free. On the cpu (or with no webgpu backend)
 * every method is a cheap no-op walk.
 *
 * @example
 * ```ts ignore
 * const mem = new TraceMemory();
 * mem.own(value); // a node's value: kept alive through the model's tidy scopes
 * const [host] = await mem.toHost([value]); // one sync; cpu tensors in the same structure
 * mem.free(); // after the run, also after an error
 * ```
 */
export class TraceMemory {
  /** True when a webgpu backend exists, so webgpu tensors may appear. */
  readonly active: boolean;
  readonly #mark: number;
  readonly #owned = new Set<Storage>();

  /** Starts tracking: storages allocated from now on may be owned. */
  constructor() {
    this.active = hasBackend("webgpu");
    this.#mark = this.active ? allocationMark() : 0;
  }

  /**
   * Keeps every webgpu tensor in `v` (tuples, arrays, object literals) that was allocated
   * during this trace, so the model's `tidy` scopes do not free it; `free()` frees it later.
   */
  own(v: unknown): void {
    if (!this.active) return;
    forEachLeaf(v, (x) => {
      if (!(x instanceof Tensor)) return;
      const s = x.storage;
      if (s.device === "webgpu" && !this.#owned.has(s) && allocatedSince(s, this.#mark)) {
        keep(x);
        this.#owned.add(s);
      }
    });
  }

  /**
   * Replaces every webgpu tensor in `values` by a cpu copy, reading them all with one
   * `readAll` (one sync). Arrays in `inPlace` (containers' items) are updated in place; other
   * arrays and object literals are copied when something in them changed. A tensor met twice
   * gets the same copy.
   */
  async toHost(values: unknown[], inPlace: readonly object[] = []): Promise<unknown[]> {
    if (!this.active) return values;
    const found = new Map<Tensor, Tensor | null>();
    const collect = (x: unknown) => {
      if (x instanceof Tensor && x.device === "webgpu") found.set(x, null);
    };
    for (const v of values) forEachLeaf(v, collect);
    for (const c of inPlace) forEachLeaf(c, collect);
    if (found.size === 0) return values;
    const gpu = [...found.keys()];
    const data = await readAll(gpu);
    gpu.forEach((t, i) => found.set(t, tensor(data[i], [...t.shape], { dtype: t.dtype })));
    const memo = new Map<object, unknown>();
    const map = (v: unknown, depth: number): unknown => {
      if (depth > MAX_TREE_DEPTH || v === null || typeof v !== "object") return v;
      if (v instanceof Tensor) return found.get(v) ?? v;
      if (memo.has(v)) return memo.get(v);
      if (Array.isArray(v)) {
        const out = v.map((x) => map(x, depth + 1));
        const same = out.every((x, i) => x === v[i]);
        memo.set(v, same ? v : out);
        return same ? v : out;
      }
      if (isPlain(v)) {
        const entries = Object.entries(v).map(([k, x]) => [k, map(x, depth + 1)] as const);
        const same = entries.every(([k, x]) => x === (v as Record<string, unknown>)[k]);
        const out = same ? v : Object.fromEntries(entries);
        memo.set(v, out);
        return out;
      }
      return v;
    };
    for (const c of inPlace) {
      memo.set(c, c);
      const rec = c as Record<string, unknown>;
      for (const k of Object.keys(rec)) rec[k] = map(rec[k], 1);
    }
    return values.map((v) => map(v, 0));
  }

  /** Frees every storage this trace owns (their values were copied out or are not needed). */
  free(): void {
    for (const s of this.#owned) getBackend(s.device).dispose(s);
    this.#owned.clear();
  }
}
