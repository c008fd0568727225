// Envoy: mirrors one Module of the model tree. `.output`/`.input`/`.inputs` record getters for
// the envoy's current steps (cursor from `.next()`, or an `.all()`/`.iter()` scope). Runs nothing.

import { type Module, ModuleList } from "../model/module.ts";
import { nearest } from "./errors.ts";
import { type SourceEnvoy, sourceOf } from "./source.ts";
import type { EventKind } from "./graph.ts";
import { parseSteps, type Steps, stepsKey, type StepSpec } from "./steps.ts";
import { activeRecorder, type InterventionProxy, isProxy, type Recorder } from "./proxy.ts";

interface Scope {
  path: string;
  steps: Steps;
}

/** Cursors, scopes and cached getters of one trace. */
interface State {
  offsets: Map<string, number>;
  scopes: Scope[];
  cache: Map<string, InterventionProxy>;
}

const states = new WeakMap<Recorder, State>();
const INT = /^-?\d+$/;

function stateOf(rec: Recorder): State {
  let s = states.get(rec);
  if (!s) states.set(rec, s = { offsets: new Map(), scopes: [], cache: new Map() });
  return s;
}

function covers(scope: string, path: string): boolean {
  return scope === "" || path === scope || path.startsWith(`${scope}.`);
}

/**
 * A module of the model as seen while a callback records: children by name (`envoy.attn`),
 * items of a ModuleList by index (`h[0]`, `h[-1]`, `h.at(-1)`), and the module's values for
 * the envoy's current steps.
 *
 * @example
 * ```ts ignore
 * await model.generate(prompt, { maxNewTokens: 3 }, () => {
 *   const layers = model.transformer.h;
 *   h1 = layers[-1].output[0].save();        // step 0 (the prompt pass)
 *   h2 = layers[-1].next().output[0].save(); // step 1
 * });
 * ```
 */
export class Envoy {
  /** The module this envoy mirrors. */
  readonly module: Module;
  /** Dotted path from the root ("" for the root). */
  readonly path: string;
  /** This path and every ancestor's, root first. */
  readonly #prefixes: readonly string[];
  readonly #children = new Map<string, Envoy>();
  #source: SourceEnvoy | null = null;

  /**
   * Wraps `module`; use `Envoy.of(root)` to get the proxied form with child access. A `path`
   * other than the module's names one of its points (`<module>.source.<name>`, see source.ts).
   */
  constructor(module: Module, parent?: readonly string[], path: string = module.path) {
    this.module = module;
    this.path = path;
    this.#prefixes = parent ? [...parent, path] : [path];
  }

  /** The envoy of `module` with children reachable as properties. */
  static of(module: Module, parent?: readonly string[]): Envoy {
    return new Proxy(new Envoy(module, parent), HANDLER);
  }

  /** The module's output for the current steps (recorded as a getter node). */
  get output(): InterventionProxy {
    return this.#getter("output");
  }
  /** Replaces the module's output for the current steps. */
  set output(value: unknown) {
    this.#swap("output", value);
  }
  /** The module's first positional argument for the current steps. */
  get input(): InterventionProxy {
    return this.#getter("input");
  }
  /** Replaces the module's first positional argument. */
  set input(value: unknown) {
    this.#swap("input", value);
  }
  /** All positional arguments (a tuple) for the current steps. */
  get inputs(): InterventionProxy {
    return this.#getter("inputs");
  }
  /** Replaces all positional arguments. */
  set inputs(value: unknown) {
    this.#swap("inputs", value);
  }

  /** Moves this envoy's (and its descendants') cursor `k` steps on for the rest of the trace. */
  next(k = 1): this {
    const rec = activeRecorder(`${this}.next()`);
    const st = stateOf(rec);
    const scope = this.#scope(st);
    if (scope) {
      throw new TypeError(
        `${this}.next() inside .all()/.iter() on "${
          scope.path || "model"
        }": the scope already selects the steps; call .next() outside it or pick steps with .iter()`,
      );
    }
    if (!Number.isInteger(k) || k < 0) {
      throw new RangeError(`next(${k}): k must be an integer >= 0`);
    }
    st.offsets.set(this.path, (st.offsets.get(this.path) ?? 0) + k);
    return this;
  }

  /**
   * Every step for this envoy and its descendants: while `fn` records, or, called bare, for the
   * rest of the trace. Other envoys keep their own cursor.
   */
  all(fn: () => void): void;
  /** Every step for this envoy and its descendants for the rest of the trace; returns it. */
  all(): this;
  all(fn?: () => void): this | void {
    return this.iter(":", fn as () => void);
  }

  /** A step set (`3`, `"2:5"`, `[0, 2, 4]`) for this envoy and its descendants, like `all`. */
  iter(steps: StepSpec, fn: () => void): void;
  /** The step set for this envoy and its descendants for the rest of the trace; returns it. */
  iter(steps: StepSpec): this;
  iter(steps: StepSpec, fn?: () => void): this | void {
    const st = stateOf(activeRecorder(`${this}.iter()`));
    const scope = { path: this.path, steps: parseSteps(steps) };
    st.scopes.push(scope);
    if (!fn) return this;
    try {
      fn();
    } finally {
      st.scopes.splice(st.scopes.lastIndexOf(scope), 1);
    }
  }

  /** Replaces the module's output with `value` without running it (current steps). */
  skip(value: unknown): void {
    const rec = activeRecorder(`${this}.skip()`);
    rec.add("skip", [this.#getter("inputs"), value]);
  }

  /**
   * Runs this module's forward on `args` at run time (`model.lm_head.call(h)` for a logit
   * lens). The call fires no hooks and does not count as an iteration.
   */
  call(...args: unknown[]): InterventionProxy {
    const rec = activeRecorder(`${this}.call()`);
    return rec.proxy(rec.add("module", [this.path, ...args]));
  }

  /** Item `i` of a ModuleList; negative counts from the end. */
  at(i: number): Envoy {
    const m = this.#list("indexed").at(i);
    return this.child(m.name);
  }

  /** Number of items of a ModuleList (0 for other modules). */
  get length(): number {
    return this.module instanceof ModuleList ? this.module.length : 0;
  }

  /** The items of a ModuleList in order: `for (const block of model.transformer.h)`. */
  *[Symbol.iterator](): Iterator<Envoy> {
    this.#list("iterated");
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  /** `fn` of each item of a ModuleList, in order. */
  map<U>(fn: (item: Envoy, index: number) => U): U[] {
    this.#list("mapped");
    return Array.from({ length: this.length }, (_, i) => fn(this.at(i), i));
  }

  /**
   * The named intermediates of the module's forward (`attn.source.q`, `mlp.source.act`), each
   * with `.output` like a module; an unknown name lists the module's points.
   */
  get source(): SourceEnvoy {
    return this.#source ??= sourceOf(this.module, (p) => new Envoy(this.module, this.#prefixes, p));
  }

  #list(what: string): ModuleList {
    if (!(this.module instanceof ModuleList)) {
      throw new TypeError(
        `"${
          this.path || "model"
        }" is not a list of modules, so it cannot be ${what}: use its children by name (${
          this.module.children().map(([n]) => n).join(", ") || "it has none"
        })`,
      );
    }
    return this.module;
  }

  /** The child envoy `name`; an unknown name lists the nearest valid ones. */
  child(name: string): Envoy {
    let e = this.#children.get(name);
    if (e) return e;
    const m = this.module.child(name);
    if (!m) {
      const names = this.module.children().map(([n]) => n);
      const near = nearest(name, names);
      const full = this.path ? `${this.path}.${name}` : name;
      throw new RangeError(
        `Unknown module "${full}": "${this.path || "model"}" has ${
          names.join(", ") || "no children"
        }${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(" or ")}?` : ""}`,
      );
    }
    e = Envoy.of(m, this.#prefixes);
    this.#children.set(name, e);
    return e;
  }

  /** The direct children's envoys. */
  children(): Envoy[] {
    return this.module.children().map(([n]) => this.child(n));
  }

  /** `Envoy(transformer.h.0)`. */
  toString(): string {
    return `Envoy(${this.path || "model"})`;
  }

  #scope(st: State): Scope | undefined {
    for (let i = st.scopes.length - 1; i >= 0; i--) {
      if (covers(st.scopes[i].path, this.path)) return st.scopes[i];
    }
    return undefined;
  }

  #steps(st: State): Steps {
    const scope = this.#scope(st);
    if (scope) return scope.steps;
    let step = 0;
    for (const p of this.#prefixes) step += st.offsets.get(p) ?? 0;
    return { kind: "at", step };
  }

  #getter(kind: EventKind): InterventionProxy {
    const rec = activeRecorder(`${this}.${kind}`);
    const st = stateOf(rec);
    const steps = this.#steps(st);
    const key = `${this.path}|${kind}|${stepsKey(steps)}|${rec.currentInvoke}`;
    let p = st.cache.get(key);
    if (!p) {
      p = rec.proxy(rec.add("getter", [], { path: this.path, kind, steps }));
      st.cache.set(key, p);
    }
    return p;
  }

  #swap(kind: EventKind, value: unknown): void {
    const rec = activeRecorder(`Setting ${this}.${kind}`);
    const st = stateOf(rec);
    const g = this.#getter(kind);
    rec.add("swap", [g, value]);
    // Later reads see the replacement: they get a new getter, served after this swap.
    st.cache.delete(`${this.path}|${kind}|${stepsKey(this.#steps(st))}|${rec.currentInvoke}`);
  }
}

const HANDLER: ProxyHandler<Envoy> = {
  get(target, prop) {
    if (typeof prop === "symbol" || prop in target) {
      const v = Reflect.get(target, prop, target);
      return typeof v === "function" && !isProxy(v) ? v.bind(target) : v;
    }
    if (prop === "then" || prop === "toJSON") return undefined;
    if (INT.test(prop) && target.module instanceof ModuleList) return target.at(Number(prop));
    return target.child(prop);
  },
  set(target, prop, value) {
    if (prop === "output" || prop === "input" || prop === "inputs") {
      return Reflect.set(target, prop, value, target);
    }
    throw new TypeError(
      `Cannot assign "${String(prop)}" on ${target}: only .output, .input and .inputs can be set`,
    );
  },
};
