// The modules a graph names and the hooks set on them: one entry per module or `.source` point
// path with its getters and call counter. Installs and removes hooks, and calls a module for the
// graph with events ignored; what an event does is the caller's.

import { resolvePoint } from "./source.ts";
import { lockOf, type ModelLock } from "../model/lock.ts";
import type { Module, ModuleHook } from "../model/module.ts";
import type { Node } from "./graph.ts";
import { isAttached } from "./attach.ts";

/** One hooked module or point: its getters by event and how often it has been called. */
export interface Entry {
  /** The module, or for a point the module whose forward has it. */
  module: Module;
  path: string;
  /** The point's name (`"q"` for `attn.source.q`); absent for the module itself. */
  point?: string;
  /** Calls (for a point, times it was reached) so far in this run; call n is iteration n. */
  calls: number;
  inputs: Node[];
  outputs: Node[];
  /** Set by a skip node during the input event; read by the skip hook. */
  skipBox: { value: unknown } | null;
  /** Set by skip nodes inside invokes: each writes its invoke's rows into this call's output. */
  skipRows: ((out: unknown) => unknown)[];
}

/** Models with a trace running: a second trace on one of them must wait. */
const BUSY = new WeakSet<Module>();

/** Handles one event: returns a replacement value or undefined. */
export type EventHandler = (e: Entry, input: boolean, value: unknown, iteration: number) => unknown;

/**
 * The hooks of one run. During `callUnhooked` (a module called by the graph itself), events are
 * ignored and not counted; so are calls other code makes while the run holds the model's lock
 * but is not inside `lock.enter` (a plain `module.call` between a traced generate's steps).
 *
 * @example
 * ```ts ignore
 * const hooks = new HookSet(model);
 * hooks.add(getterNode);
 * hooks.install((e, input, value, it) => undefined);
 * try { model.call(x); } finally { hooks.uninstall(); }
 * ```
 */
export class HookSet {
  /** Entries by module path. */
  readonly #entries = new Map<string, Entry>();
  readonly #root: Module;
  readonly #lock: ModelLock;
  #installed = false;
  /** True while events must be ignored. */
  #muted = false;

  /** Hooks for modules below `root`. */
  constructor(root: Module) {
    this.#root = root;
    this.#lock = lockOf(root);
  }

  /** Registers a getter node on its module. */
  add(node: Node): void {
    const path = node.path!;
    let e = this.#entries.get(path) ?? this.#pointEntry(path);
    if (!e) {
      const module = this.#root.getModule(path);
      if (!module) throw new RangeError(`Unknown module "${path}" in the graph`);
      e = { module, path, calls: 0, inputs: [], outputs: [], skipBox: null, skipRows: [] };
      this.#entries.set(path, e);
    }
    (node.kind === "output" ? e.outputs : e.inputs).push(node);
  }

  /** Sets a hook on every registered module; refuses if one already has a hook. */
  install(handle: EventHandler): void {
    const busy = BUSY.has(this.#root)
      ? this.#root
      : [...this.#entries.values()].find((e) => e.module.hook !== null)?.module;
    if (busy) {
      throw new Error(
        `Module "${
          busy.path || "model"
        }" is already being traced: another trace is running on this model; await it before starting the next`,
      );
    }
    BUSY.add(this.#root);
    this.#installed = true;
    const byModule = new Map<Module, { own?: Entry; points: Map<string, Entry> }>();
    for (const e of this.#entries.values()) {
      let m = byModule.get(e.module);
      if (!m) byModule.set(e.module, m = { points: new Map() });
      if (e.point === undefined) m.own = e;
      else m.points.set(e.point, e);
    }
    for (const [module, m] of byModule) {
      module.hook = {
        ...(m.own ? this.#hook(m.own, handle) : {}),
        ...this.#pointHook(m.points, handle),
      };
    }
  }

  /** Removes every hook `install` set (nothing when install refused). */
  uninstall(): void {
    if (!this.#installed) return;
    for (const e of this.#entries.values()) e.module.hook = null;
    BUSY.delete(this.#root);
    this.#installed = false;
  }

  /** A new entry for the point at `path` (`<module>.source.<name>`), or undefined. */
  #pointEntry(path: string): Entry | undefined {
    if (this.#root.getModule(path)) return undefined;
    const p = resolvePoint(this.#root, path);
    if (!p) return undefined;
    const e: Entry = {
      module: p.module,
      path,
      point: p.name,
      calls: 0,
      inputs: [],
      outputs: [],
      skipBox: null,
      skipRows: [],
    };
    this.#entries.set(path, e);
    return e;
  }

  /** "called", or "reached" for a point: what `calls(path)` counts. */
  verb(path: string): string {
    return this.#entries.get(path)?.point === undefined ? "called" : "reached";
  }

  /** How many times the module at `path` was called (registered modules only). */
  calls(path: string): number {
    return this.#entries.get(path)?.calls ?? 0;
  }

  /**
   * Runs the forward of the module at `path` on `args` with events ignored: a call the graph
   * makes is not one of the model's iterations.
   */
  callUnhooked(path: string, args: unknown[]): unknown {
    const m = this.#root.getModule(path);
    if (!m) throw new RangeError(`Unknown module "${path}"`);
    if (isAttached(m)) return m.callUntyped(...args); // its only way to run: hooks fire
    this.#muted = true;
    try {
      return (m.forward as (...a: unknown[]) => unknown)(...args);
    } finally {
      this.#muted = false;
    }
  }

  /** True when an event is not the run's: the graph's own call, or another caller's. */
  get #ignored(): boolean {
    return this.#muted || !this.#lock.ownsCalls;
  }

  /** The part of a module's hook that serves its observed points (none: an empty object). */
  #pointHook(points: Map<string, Entry>, handle: EventHandler): ModuleHook {
    if (points.size === 0) return {};
    return {
      points: new Set(points.keys()),
      point: (_m, name, value) => {
        const e = points.get(name);
        if (!e || this.#ignored) return undefined;
        return handle(e, false, value, e.calls++);
      },
    };
  }

  #hook(e: Entry, handle: EventHandler): ModuleHook {
    return {
      input: (_m, args) => {
        if (this.#ignored) return undefined;
        const it = e.calls++;
        return e.inputs.length ? handle(e, true, args, it) as unknown[] | undefined : undefined;
      },
      skip: () => {
        if (this.#ignored) return undefined;
        const box = e.skipBox;
        e.skipBox = null;
        return box ?? undefined;
      },
      output: (_m, out) => {
        if (this.#ignored) return undefined;
        let v = out;
        if (e.skipRows.length) {
          for (const write of e.skipRows) v = write(v);
          e.skipRows = [];
        }
        const replaced = e.outputs.length ? handle(e, false, v, e.calls - 1) : undefined;
        return replaced ?? (v === out ? undefined : v);
      },
    };
  }
}
