// Envoy: mirrors one Module of the model tree. `.output`/`.input`/`.inputs` record getters for
// the envoy's current steps (cursor from `.next()`, or an `.all()`/`.iter()` scope); `.weight`
// and `.bias` record copies of its weights. Runs nothing.

import { Module, ModuleList } from "../model/module.ts";
import { attachModule } from "./attach.ts";
import { nearest } from "./errors.ts";
import { type SourceEnvoy, sourceOf } from "./source.ts";
import type { EventKind } from "./graph.ts";
import { type Steps, stepsKey, type StepSpec } from "./steps.ts";
import { advance, scopeOf, scopeSteps, type State, stateOf } from "./_scopes.ts";
import { activeRecorder, type InterventionProxy, isProxy } from "./proxy.ts";

const INT = /^-?\d+$/;

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

  /**
   * A copy of the module's weight, read when the trace runs (nnsight's parameter protocol):
   * editing it (`.set(":", 0)`) changes the copy, never the model.
   */
  get weight(): InterventionProxy {
    return this.#param("weight");
  }
  /** A copy of the module's bias, like {@link Envoy.weight}. */
  get bias(): InterventionProxy {
    return this.#param("bias");
  }

  #param(name: string): InterventionProxy {
    const rec = activeRecorder(`${this}.${name}`);
    const pre = this.path ? `${this.path}.` : "";
    const own = this.module.namedParameters()
      .map(([n]) => n.slice(pre.length))
      .filter((n) => !n.includes("."));
    if (!own.includes(name)) {
      throw new RangeError(
        `Module "${this.path || "model"}" has no parameter "${name}": it has ${
          own.join(", ") || "none of its own (read them on its children)"
        }`,
      );
    }
    return rec.proxy(rec.add("param", [this.path, name]));
  }

  /** Moves this envoy's (and its descendants') cursor `k` steps on for the rest of the trace. */
  next(k = 1): this {
    advance(activeRecorder(`${this}.next()`), this.path, k, `${this}.next()`);
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
    scopeSteps(activeRecorder(`${this}.iter()`), this.path, steps, fn);
    if (!fn) return this;
  }

  /** Replaces the module's output with `value` without running it (current steps). */
  skip(value: unknown): void {
    const rec = activeRecorder(`${this}.skip()`);
    rec.add("skip", [this.#getter("inputs"), value]);
  }

  /**
   * Runs this module's forward on `args` at run time (`model.lm_head.call(h)` for a logit
   * lens). The call fires no hooks and does not count as an iteration, except for a module
   * attached with `attach()`, whose only calls are these (attach.ts).
   */
  call(...args: unknown[]): InterventionProxy {
    const rec = activeRecorder(`${this}.call()`);
    return rec.proxy(rec.add("module", [this.path, ...args]));
  }

  /**
   * Attaches `module` (an SAE, a probe) as child `name` and returns its envoy; the typed form of
   * `envoy.name = module`. A graph call of it (`.call(x)`) fires its hooks. See attach.ts.
   */
  attach(name: string, module: Module): Envoy {
    attachModule(this, name, module);
    return this.child(name);
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

  /**
   * The envoy at dotted `path` below this one (`model.get("transformer.h.0.mlp")`; items of a
   * list by index, negative from the end); "" is this envoy.
   */
  get(path: string): Envoy {
    if (typeof path !== "string") {
      throw new TypeError(`get() needs a dotted module path, got ${typeof path}`);
    }
    const step = (e: Envoy, part: string): Envoy =>
      INT.test(part) && e.module instanceof ModuleList ? e.at(Number(part)) : e.child(part);
    return path === "" ? this : path.split(".").reduce<Envoy>(step, this);
  }

  /** This envoy and every envoy below it, depth first; `include` filters them. */
  modules(include?: (e: Envoy) => boolean): Envoy[] {
    return this.namedModules(include).map(([, e]) => e);
  }

  /** `[path, envoy]` of this envoy and every envoy below it, depth first. */
  namedModules(include?: (e: Envoy) => boolean): [string, Envoy][] {
    const out: [string, Envoy][] = [];
    const walk = (e: Envoy) => {
      if (!include || include(e)) out.push([e.path, e]);
      for (const c of e.children()) walk(c);
    };
    walk(this);
    return out;
  }

  /** The direct children's envoys. */
  children(): Envoy[] {
    return this.module.children().map(([n]) => this.child(n));
  }

  /** `Envoy(transformer.h.0)`. */
  toString(): string {
    return `Envoy(${this.path || "model"})`;
  }

  #steps(st: State): Steps {
    const scope = scopeOf(st, this.path);
    if (scope) return scope.steps;
    let step = 0;
    for (const p of this.#prefixes) step += st.offsets.get(p) ?? 0;
    return { kind: "at", step };
  }

  #getter(kind: EventKind): InterventionProxy {
    const rec = activeRecorder(`${this}.${kind}`);
    if (this.module instanceof ModuleList) {
      const p = this.path || "model";
      throw new TypeError(
        `"${p}" is a list of modules and is never called itself, so it has no .${kind}: read its items' (${p}.0 to ${p}.${
          this.length - 1
        }), e.g. ${p}[0].${kind} or ${p}.map((b) => b.${kind})`,
      );
    }
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
    if (value instanceof Module && typeof prop === "string") {
      attachModule(target, prop, value);
      return true;
    }
    throw new TypeError(
      `Cannot assign "${
        String(prop)
      }" on ${target}: only .output, .input and .inputs can be set, or a Module attached`,
    );
  },
};
