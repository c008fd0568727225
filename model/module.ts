// Module and ModuleList: a tree of named children with dotted paths, named parameters, and
// `call()`, which lets an installed hook see or replace a module's input and output. This file
// owns the hook interface; trace/ implements it. With no hook, a call costs one null check, and
// so does `point`, which lets a hook see or replace a named intermediate inside `forward`.
// Parameters can require gradients (`requiresGrad`, `parameters`, `zeroGrad`).

import { type Tensor, zeroGrad } from "../engine/mod.ts";

/**
 * What a tracer installs on a module it needs to observe. Each method may return a
 * replacement; returning `undefined` keeps the value as it is.
 */
export interface ModuleHook {
  /** Before `forward`: sees the positional arguments, may return replacements. */
  input?(module: Module, args: unknown[]): unknown[] | undefined;
  /** Before `forward`: a returned box skips `forward` and uses `box.value` as the output. */
  skip?(module: Module, args: unknown[]): { value: unknown } | undefined;
  /** After `forward`: sees the output, may return a replacement. */
  output?(module: Module, output: unknown): unknown;
  /** The names of the module's points this hook observes (see {@link Module.point}). */
  points?: ReadonlySet<string>;
  /** Inside `forward`: sees the intermediate `name`, may return a replacement. */
  point?(module: Module, name: string, value: unknown): unknown;
}

const NO_POINTS: readonly string[] = Object.freeze([]);

/**
 * A node of the model tree. Subclasses build children in their constructor with
 * `addModule`, register weights with `addParameter`, and implement `forward`.
 *
 * @example
 * ```ts
 * import { Module } from "./module.ts";
 * class Double extends Module {
 *   forward(x: number) { return 2 * x; }
 * }
 * const m = new Double();
 * m.call(21); // 42, and hooks installed on m see input [21] and output 42
 * ```
 */
export abstract class Module {
  /** The attribute name under the parent (`"attn"`, `"0"`), or `""` for the root. */
  name = "";
  /** The dotted path from the root (`"transformer.h.0.attn"`), `""` for the root. */
  path = "";
  /** The hook a tracer installed, or null. */
  hook: ModuleHook | null = null;
  #children = new Map<string, Module>();
  #params = new Map<string, Tensor>();

  /**
   * True when an installed hook observes (and may replace) this module's output: a trace reads
   * it. Attention modules then compute their weights eagerly; otherwise they use the fused
   * kernel and return null weights (docs/tracing.md, "Attention weights and the fused kernel").
   */
  get outputObserved(): boolean {
    return this.hook?.output !== undefined;
  }

  /** The module's computation. Synchronous: no `await` inside a forward pass. */
  abstract forward(...args: unknown[]): unknown;

  /**
   * Runs `forward`, letting an installed hook observe or replace input and output. Typed from
   * the module's own `forward`: `ln.call(x)` is a Tensor when `ln.forward` returns one.
   */
  call<M extends Module>(
    this: M,
    ...args: Parameters<M["forward"]>
  ): ReturnType<M["forward"]> {
    return this.callUntyped(...args) as ReturnType<M["forward"]>;
  }

  /** `call` for callers that hold a plain Module (the tracer): unknown in, unknown out. */
  callUntyped(...args: unknown[]): unknown {
    const hook = this.hook;
    if (hook === null) return this.forward(...args);
    if (hook.input) args = hook.input(this, args) ?? args;
    const skipped = hook.skip?.(this, args);
    let out = skipped ? skipped.value : this.forward(...args);
    if (hook.output) {
      const replaced = hook.output(this, out);
      if (replaced !== undefined) out = replaced;
    }
    return out;
  }

  /**
   * The names of the intermediates `forward` passes through {@link Module.point}, which a trace
   * reads as `envoy.source.<name>` (the path `<module path>.source.<name>`). None by default.
   */
  get points(): readonly string[] {
    return NO_POINTS;
  }

  /**
   * Inside `forward`: hands the intermediate `value` to an installed hook under `name` (one of
   * `points`) and returns it, or the hook's replacement. With no hook it costs one branch.
   *
   * @example
   * ```ts
   * import { Module } from "./module.ts";
   * class Affine extends Module {
   *   override get points() { return ["scaled"]; }
   *   forward(x: number) { return this.point("scaled", 2 * x) + 1; }
   * }
   * const m = new Affine();
   * m.hook = { points: new Set(["scaled"]), point: (_m, _name, v) => (v as number) * 10 };
   * m.call(1); // 21: the hook replaced 2 with 20
   * ```
   */
  point<T>(name: string, value: T): T {
    const hook = this.hook;
    if (hook === null || hook.point === undefined) return value;
    const out = hook.point(this, name, value);
    return out === undefined ? value : out as T;
  }

  /**
   * True when an installed hook observes point `name`: a forward may skip materialising an
   * intermediate nobody reads (a fused attention kernel and its probabilities).
   */
  observes(name: string): boolean {
    return this.hook?.points?.has(name) ?? false;
  }

  /** Adds a child under `name` and returns it; its subtree's paths are updated. */
  addModule<M extends Module>(name: string, child: M): M {
    child.name = name;
    this.#children.set(name, child);
    child.#setPath(this.path === "" ? name : `${this.path}.${name}`);
    return child;
  }

  #setPath(path: string): void {
    this.path = path;
    for (const [name, c] of this.#children) c.#setPath(`${path}.${name}`);
  }

  /** Registers (or replaces) a weight under `name`. */
  addParameter(name: string, value: Tensor): Tensor {
    this.#params.set(name, value);
    return value;
  }

  /** A registered weight by name. */
  parameter(name: string): Tensor {
    const p = this.#params.get(name);
    if (!p) throw new RangeError(`Module "${this.path}" has no parameter "${name}"`);
    return p;
  }

  /** The direct children, in registration order. */
  children(): [string, Module][] {
    return [...this.#children];
  }

  /** One direct child by name, or undefined. */
  child(name: string): Module | undefined {
    return this.#children.get(name);
  }

  /** This module and every descendant with its dotted path, depth first. */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [[this.path, this]];
    for (const [, c] of this.#children) out.push(...c.namedModules());
    return out;
  }

  /** The module at a dotted path below this one (`"h.0.attn"`), or undefined. */
  getModule(path: string): Module | undefined {
    if (path === "") return this;
    return path.split(".").reduce<Module | undefined>((m, part) => m?.child(part), this);
  }

  /**
   * The weights this module's own matmuls multiply by, as their right operands (K, N) (a
   * transposed view where the layer computes x @ W.T): `prepackWeights` packs them for the cpu
   * fast tier at load. Default none.
   */
  matmulOperands(): Tensor[] {
    return [];
  }

  /** Every weight below this module keyed by full dotted path (`"transformer.wte.weight"`). */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [path, m] of this.namedModules()) {
      for (const [name, t] of m.#params) out.push([path === "" ? name : `${path}.${name}`, t]);
    }
    return out;
  }

  /**
   * Every distinct weight below this module, in `namedParameters` order. A tensor registered
   * or used in two places (tied weights) appears once, so its gradient accumulates in one
   * `.grad`. Hand the list to an optimizer.
   *
   * @example
   * ```ts
   * import { zeros } from "../engine/mod.ts";
   * import { Module } from "./module.ts";
   * class Probe extends Module {
   *   w = this.addParameter("w", zeros([4, 2]));
   *   forward(x: ReturnType<typeof zeros>) { return x.matmul(this.w); }
   * }
   * const probe = new Probe().requiresGrad();
   * probe.parameters().length; // 1
   * ```
   */
  parameters(): Tensor[] {
    return [...new Set(this.namedParameters().map(([, t]) => t))];
  }

  /**
   * Makes every weight below this module a leaf that requires a gradient (false: none does);
   * returns this. For one weight, call `requiresGrad()` on `parameter(name)`.
   */
  requiresGrad(on = true): this {
    for (const p of this.parameters()) p.requiresGrad(on);
    return this;
  }

  /** Clears (and frees) the gradients of every weight below this module. */
  zeroGrad(): void {
    zeroGrad(this.parameters());
  }

  /** Replaces a weight at a full dotted path (used by loaders). */
  setParameter(path: string, value: Tensor): void {
    const cut = path.lastIndexOf(".");
    const owner = this.getModule(cut < 0 ? "" : path.slice(0, cut));
    const name = path.slice(cut + 1);
    if (!owner || !owner.#params.has(name)) throw new RangeError(`Unknown parameter "${path}"`);
    owner.#params.set(name, value);
  }
}

/**
 * An indexed list of modules (`h.0`, `h.1`, ...). `at(-1)` counts from the end.
 *
 * @example
 * ```ts
 * import { Module, ModuleList } from "./module.ts";
 * class Id extends Module { forward(x: unknown) { return x; } }
 * const list = new ModuleList([new Id(), new Id()]);
 * list.at(-1) === list.at(1); // true
 * ```
 */
export class ModuleList<M extends Module = Module> extends Module {
  #items: M[];

  /** Makes a list and names its items "0", "1", ... */
  constructor(items: M[]) {
    super();
    this.#items = items;
    items.forEach((m, i) => this.addModule(String(i), m));
  }
  /** Number of items. */
  get length(): number {
    return this.#items.length;
  }
  /** Item `i`; negative counts from the end. */
  at(i: number): M {
    const j = i < 0 ? i + this.#items.length : i;
    const m = this.#items[j];
    if (!m) {
      throw new RangeError(
        `Index ${i} is out of range for "${this.path}" with ${this.#items.length} items (0 to ${
          this.#items.length - 1
        })`,
      );
    }
    return m;
  }
  /** Iterates the items in order. */
  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }
  /** A list is a container: calling it is an error. */
  forward(): never {
    throw new TypeError(`ModuleList "${this.path}" is a container: call its items instead`);
  }
}
