// tracer.cache(): every module's output (and inputs) of a trace by module path, as nnsight
// 0.5's cache. Records one run-time list per module and value, at every step; reads them after.

import { ModuleList } from "../model/mod.ts";
import { ListProxy } from "./containers.ts";
import type { Envoy } from "./envoy.ts";
import type { Value } from "./proxy.ts";

/** Options of `tracer.cache()`. */
export interface CacheOptions {
  /** The modules to cache, as envoys or dotted paths (default: every module). */
  modules?: readonly (Envoy | string)[];
  /** Cache each call's positional arguments (default false). */
  includeInputs?: boolean;
  /** Cache each call's output (default true). */
  includeOutput?: boolean;
  /** Where cached tensors go: "cpu", the only choice, since saved values come back on the cpu. */
  device?: "cpu";
}

/** One call of a cached module. */
export interface CacheEntry {
  /** The call's output (when cached). */
  output?: Value;
  /** The call's positional arguments (with `includeInputs`). */
  inputs?: Value[];
  /** The first positional argument (with `includeInputs`). */
  input?: Value;
}

/**
 * A module's cached calls by path, readable after the trace: `get(path)` is one entry, or a
 * list of entries (one per call, e.g. per generated token) for a module that ran several times.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "../mod.ts";
 * const model = await LanguageModel.random({ n_layer: 2, n_embd: 8, n_head: 2 }, { seed: 0 });
 * const cache = await model.trace("Hello", (tracer) => tracer.cache());
 * const entry = cache.get("transformer.h.0.mlp");
 * if (!Array.isArray(entry)) entry?.output.shape; // [1, 1, 8]
 * ```
 */
export class Cache {
  readonly #lists: Map<string, { output?: ListProxy; inputs?: ListProxy }>;

  /** A cache over run-time lists (made by `tracer.cache()`). */
  constructor(lists: Map<string, { output?: ListProxy; inputs?: ListProxy }>) {
    this.#lists = lists;
  }

  /**
   * The entry (or entries, one per call) of the module at `path`; undefined if it never ran.
   * nnsight's keys (`"model.transformer.h.0"`, `"model"` for the root) work too.
   */
  get(path: string): CacheEntry | CacheEntry[] | undefined {
    if (!this.#lists.has(path) && (path === "model" || path.startsWith("model."))) {
      path = path.slice(6);
    }
    const l = this.#lists.get(path);
    if (!l) {
      throw new RangeError(
        `Module "${path}" is not cached: cache it with tracer.cache({ modules: ["${path}"] }) or leave modules out`,
      );
    }
    const outs = l.output?.value ?? [], ins = l.inputs?.value ?? [];
    const n = Math.max(outs.length, ins.length);
    const entries = Array.from({ length: n }, (_, i) => {
      const e: CacheEntry = {};
      if (l.output) e.output = outs[i];
      if (l.inputs) {
        e.inputs = ins[i];
        e.input = ins[i]?.[0];
      }
      return e;
    });
    return n === 0 ? undefined : n === 1 ? entries[0] : entries;
  }

  /** Every call of the module at `path` as a list (one item per call). */
  calls(path: string): CacheEntry[] {
    const e = this.get(path);
    return e === undefined ? [] : Array.isArray(e) ? e : [e];
  }

  /** The paths of the cached modules that ran, in model order. */
  keys(): string[] {
    return [...this.#lists.keys()].filter((p) => this.get(p) !== undefined);
  }
}

/**
 * The cache of `opts.modules` (default: all of `root`'s modules) and `record`, which records its
 * run-time lists in the active trace (every step of each module).
 */
export function recordCache(root: Envoy, opts: CacheOptions): { cache: Cache; record: () => void } {
  checkOptions(opts);
  const named = root.module.namedModules();
  const all = named.map(([p]) => p);
  // A ModuleList never runs itself, so it has no events to cache: its items are cached instead.
  const moduleLists = new Set(named.filter(([, m]) => m instanceof ModuleList).map(([p]) => p));
  const paths = opts.modules === undefined ? all : opts.modules.map((m) => {
    const p = typeof m === "string" ? m : m.path;
    if (!all.includes(p)) {
      throw new RangeError(
        `tracer.cache(): unknown module "${p}": pass paths like "${all[1] ?? ""}"`,
      );
    }
    if (moduleLists.has(p)) {
      throw new TypeError(
        `tracer.cache(): "${p}" is a list of modules and never runs itself: pass its items ("${p}.0", ...)`,
      );
    }
    return p;
  });
  const output = opts.includeOutput ?? true, inputs = opts.includeInputs ?? false;
  const lists = new Map<string, { output?: ListProxy; inputs?: ListProxy }>();
  for (const p of paths) {
    lists.set(p, {
      ...(inputs ? { inputs: new ListProxy() } : {}),
      ...(output ? { output: new ListProxy() } : {}),
    });
  }
  const record = () =>
    root.all(() => {
      for (const [p, l] of lists) {
        if (moduleLists.has(p)) continue; // never runs: its list stays empty
        const e = envoyAt(root, p);
        l.inputs?.append(e.inputs);
        l.output?.append(e.output);
      }
    });
  return { cache: new Cache(lists), record };
}

function envoyAt(root: Envoy, path: string): Envoy {
  return path === "" ? root : path.split(".").reduce((e, name) => e.child(name), root);
}

function checkOptions(opts: CacheOptions): void {
  const known = ["modules", "includeInputs", "includeOutput", "device"];
  const bad = Object.keys(opts).find((k) => !known.includes(k));
  if (bad) {
    throw new TypeError(`tracer.cache(): unknown option "${bad}": use ${known.join(", ")}`);
  }
  if (opts.device !== undefined && opts.device !== "cpu") {
    throw new TypeError(
      `tracer.cache({ device: ${
        JSON.stringify(opts.device)
      } }): cached values come back on the cpu, like every saved value; leave device out or pass "cpu"`,
    );
  }
  if (opts.modules !== undefined && !Array.isArray(opts.modules)) {
    throw new TypeError("tracer.cache({ modules }): modules must be an array of envoys or paths");
  }
}
