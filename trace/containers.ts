// Run-time containers: list() and dict() collect values while the model runs (nnsight.list /
// nnsight.dict). Each is one graph node per trace, created once; `append` records a node.

import type { Node } from "./graph.ts";
import {
  activeRecorder,
  AS_NODE,
  type InterventionProxy,
  type NodeLike,
  type Recorder,
  type Value,
} from "./proxy.ts";

/**
 * A list filled while the model runs. Each `append(x)` runs once per firing of what `x`
 * depends on, so inside `.all()` it collects one item per step. It may be made outside the
 * callback; its items accumulate across the traces that use it.
 *
 * @example
 * ```ts ignore
 * const hs = list().save();
 * await model.generate(prompt, { maxNewTokens: 5 }, () => {
 *   model.transformer.h.all(() => hs.append(model.transformer.h[-1].output[0]));
 * });
 * hs.value.length; // 5
 * ```
 */
export class ListProxy<T = Value> implements NodeLike {
  readonly #items: T[] = [];
  readonly #nodes = new WeakMap<Recorder, Node>();
  readonly #writes = new WeakMap<Recorder, Node>();

  /** The last write recorded in `rec`. */
  lastWrite(rec: Recorder): Node | undefined {
    return this.#writes.get(rec);
  }

  /** Appends `value` (a proxy or a literal) at run time. */
  append(value: unknown): void {
    const rec = activeRecorder("list.append()");
    this.#writes.set(rec, rec.add("append", [this, value]));
  }
  /** Returns this list; a list's items are always kept. */
  save(): this {
    return this;
  }
  /** The items appended so far. */
  get value(): T[] {
    return this.#items;
  }
  /** The list's node in `rec`, created on first use. */
  [AS_NODE](rec: Recorder): Node {
    return containerNode(rec, { op: "list", nodes: this.#nodes, items: this.#items });
  }
}

/**
 * A string-keyed record filled while the model runs: `d.set(key, x)` stores x's value (once
 * per firing of x), `d.get(key)` reads it back as a proxy.
 *
 * @example
 * ```ts ignore
 * const acts = dict().save();
 * await model.trace("Hello", () => {
 *   acts.set("mlp0", model.transformer.h[0].mlp.output);
 * });
 * acts.value.mlp0.shape; // [1, 1, 768]
 * ```
 */
export class DictProxy<T = Value> implements NodeLike {
  readonly #items: Record<string, T> = {};
  readonly #nodes = new WeakMap<Recorder, Node>();
  readonly #writes = new WeakMap<Recorder, Node>();

  /** The last write recorded in `rec`. */
  lastWrite(rec: Recorder): Node | undefined {
    return this.#writes.get(rec);
  }

  /** Stores `value` under `key` at run time. */
  set(key: string, value: unknown): void {
    const rec = activeRecorder("dict.set()");
    this.#writes.set(rec, rec.add("dictset", [this, key, value]));
  }
  /** The value under `key` at run time, as a proxy. */
  get(key: string): InterventionProxy {
    const rec = activeRecorder("dict.get()");
    return rec.proxy(rec.add("getitem", [this, key]));
  }
  /** Returns this dict; its items are always kept. */
  save(): this {
    return this;
  }
  /** The items stored so far. */
  get value(): Record<string, T> {
    return this.#items;
  }
  /** The dict's node in `rec`, created on first use. */
  [AS_NODE](rec: Recorder): Node {
    return containerNode(rec, { op: "dict", nodes: this.#nodes, items: this.#items });
  }
}

/** A container's node in `rec` (kept in `nodes`), made on first use with `items` as its start. */
function containerNode(
  rec: Recorder,
  { op, nodes, items }: { op: "list" | "dict"; nodes: WeakMap<Recorder, Node>; items: unknown },
): Node {
  let n = nodes.get(rec);
  if (!n) {
    n = rec.add(op, []);
    n.init = items;
    n.saved = true;
    nodes.set(rec, n);
  }
  return n;
}

/**
 * A new run-time list.
 *
 * @example
 * ```ts ignore
 * import { list } from "@tsight/tsight";
 * const logits = list().save();
 * ```
 */
export function list<T = Value>(): ListProxy<T> {
  return new ListProxy<T>();
}

/**
 * A new run-time dict.
 *
 * @example
 * ```ts ignore
 * import { dict } from "@tsight/tsight";
 * const acts = dict().save();
 * ```
 */
export function dict<T = Value>(): DictProxy<T> {
  return new DictProxy<T>();
}
