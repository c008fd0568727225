// `.source`: the named intermediates a module's forward hands to `Module.point` (attention's q,
// k, v, scores, probs, context; the MLP's act), each an envoy with `.output` at the path
// `<module path>.source.<name>`. Records through an envoy at that path; runs nothing.

import type { Module } from "../model/module.ts";
import type { Envoy } from "./envoy.ts";
import { nearest } from "./errors.ts";
import type { StepSpec } from "./steps.ts";
import type { InterventionProxy } from "./proxy.ts";

/** The path segment between a module's path and a point's name. */
const SOURCE = "source";

/**
 * One point of a module's forward (`model.transformer.h[0].attn.source.probs`): `.output` reads
 * or replaces it for the current steps, like a module's output; `.next()`, `.all()`, `.iter()`
 * move its cursor like an envoy's (an envoy at the point's path does the recording). A point has
 * no input.
 *
 * @example
 * ```ts ignore
 * await model.trace(prompt, () => {
 *   const probs = model.transformer.h[0].attn.source.probs.output.save(); // (B, nh, T, S)
 *   model.transformer.h[1].attn.source.q.output = 0; // zero layer 1's queries
 * });
 * ```
 */
export class PointEnvoy {
  /** `<module path>.source.<name>` (`source.<name>` for the root). */
  readonly path: string;
  /** The point's name (`"probs"`). */
  readonly name: string;
  readonly #at: Envoy;

  /** The point `name`, recorded through `at`, an envoy at the point's path. */
  constructor(name: string, at: Envoy) {
    this.name = name;
    this.path = at.path;
    this.#at = at;
  }

  /** The point's value for the current steps (recorded as a getter node). */
  get output(): InterventionProxy {
    return this.#at.output;
  }
  /** Replaces the point's value for the current steps; the forward goes on with it. */
  set output(value: unknown) {
    this.#at.output = value;
  }
  /** A point is a value inside a forward, not a call: reading its input is an error. */
  get input(): never {
    throw new TypeError(
      `${this} has no input: a point is one value inside the module's forward; read ${this}.output`,
    );
  }

  /** Moves this point's cursor `k` steps on for the rest of the trace. */
  next(k = 1): this {
    this.#at.next(k);
    return this;
  }
  /** Every step for this point: while `fn` records, or, called bare, for the rest of the trace. */
  all(fn: () => void): void;
  /** Every step for this point for the rest of the trace; returns it. */
  all(): this;
  all(fn?: () => void): this | void {
    return this.iter(":", fn as () => void);
  }
  /** A step set (`3`, `"2:5"`, `[0, 2, 4]`) for this point, like `all`. */
  iter(steps: StepSpec, fn: () => void): void;
  /** The step set for this point for the rest of the trace; returns it. */
  iter(steps: StepSpec): this;
  iter(steps: StepSpec, fn?: () => void): this | void {
    if (fn) return this.#at.iter(steps, fn);
    this.#at.iter(steps);
    return this;
  }

  /** `Point(transformer.h.0.attn.source.q)`. */
  toString(): string {
    return `Point(${this.path})`;
  }
}

/** A module's points by name (`attn.source.q`); typed envoys name theirs. */
export interface SourceEnvoy {
  /** The point `name`; an unknown name is a RangeError listing the module's points. */
  readonly [name: string]: PointEnvoy;
}

/** The path of point `name` of the module at `owner`. */
export function pointPath(owner: string, name: string): string {
  return owner === "" ? `${SOURCE}.${name}` : `${owner}.${SOURCE}.${name}`;
}

/**
 * The module and point name a path `<module>.source.<name>` names, or undefined when it names
 * no point of `root` (a module path, an unknown module, or a name the module lacks).
 *
 * @example
 * ```ts ignore
 * resolvePoint(model.module, "transformer.h.0.attn.source.q"); // { module: attn, name: "q" }
 * ```
 */
export function resolvePoint(
  root: Module,
  path: string,
): { module: Module; name: string } | undefined {
  const parts = path.split(".");
  if (parts.length < 2 || parts.at(-2) !== SOURCE) return undefined;
  const module = root.getModule(parts.slice(0, -2).join("."));
  const name = parts.at(-1)!;
  return module && module.points.includes(name) ? { module, name } : undefined;
}

/**
 * The `.source` of `module`'s envoy: its points by name, each recorded through `envoyAt(path)`,
 * an envoy at the point's path; an error for any other name.
 */
export function sourceOf(module: Module, envoyAt: (path: string) => Envoy): SourceEnvoy {
  const points = new Map(
    module.points.map((n) => [n, new PointEnvoy(n, envoyAt(pointPath(module.path, n)))]),
  );
  const where = `${module.path || "model"}.source`;
  return new Proxy(Object.create(null), {
    get(_t, prop) {
      if (typeof prop === "symbol" || prop === "then" || prop === "toJSON") return undefined;
      if (prop === "toString") return () => `Source(${module.path || "model"})`;
      const p = points.get(prop);
      if (p) return p;
      const names = [...points.keys()];
      const near = nearest(prop, names);
      throw new RangeError(
        `Unknown point "${where}.${prop}": "${
          module.path || "model"
        }" (${module.constructor.name}) has ${
          names.length ? `the points ${names.join(", ")}` : "no points"
        }${near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(" or ")}?` : ""}`,
      );
    },
    has: (_t, prop) => typeof prop === "string" && points.has(prop),
    ownKeys: () => [...points.keys()],
    getOwnPropertyDescriptor: (_t, prop) =>
      typeof prop === "string" && points.has(prop)
        ? { value: points.get(prop), enumerable: true, configurable: true }
        : undefined,
    set(_t, prop) {
      throw new TypeError(
        `Cannot assign "${String(prop)}" on ${where}: set a point's value with ${where}.${
          String(prop)
        }.output = value`,
      );
    },
  });
}
