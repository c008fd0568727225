// Gradients in one run: which module value each `.grad` node reads, the tensor hooks that serve
// it when its backward pass arrives (and hand on the edited gradient), and the backward nodes.
// Each `.grad` belongs to the first `backward()` recorded after it (else the last). Records nothing.

import { full, Tensor, zeroGrad } from "../engine/mod.ts";
import type { Module } from "../model/module.ts";
import type { BatchRows } from "./_rows.ts";
import { InterventionError, MissingValueError } from "./errors.ts";
import type { Graph, Node, Ref } from "./graph.ts";

/** Where a `.grad` node's value comes from: a getter and the tuple indices below it. */
interface Source {
  grad: Node;
  getter: number;
  path: number[];
  /** The backward node that serves it. */
  backward: number;
}

/**
 * The `.grad` and `backward()` nodes of one graph run. `hook` is called when a getter's event
 * closes (the value that flows on is final); `backward` runs a backward node; `setGrad` replaces
 * the gradient being served.
 *
 * @example
 * ```ts ignore
 * const grads = new GradRun(graph, batch, (node, g, it) => flow.provide(node, g, it));
 * grads.hook(getter, ev.value, it); // registers tensor hooks for the .grad nodes of `getter`
 * ```
 */
export class GradRun {
  readonly #g: Graph;
  readonly #batch: BatchRows;
  readonly #provide: (node: Node, value: unknown, it: number) => void;
  readonly #byGetter = new Map<number, Source[]>();
  readonly #last: number;
  /** The full gradient each `.grad` node is being served, while its hook runs. */
  readonly #cur = new Map<number, Tensor>();
  #active = -1;

  /** Reads the graph's `.grad` sources; throws when a `.grad` has no backward or no module value. */
  constructor(
    graph: Graph,
    batch: BatchRows,
    provide: (node: Node, value: unknown, it: number) => void,
  ) {
    this.#g = graph;
    this.#batch = batch;
    this.#provide = provide;
    const nodes = graph.nodes;
    const backs = nodes.filter((n) => n.op === "backward").map((n) => n.id);
    this.#last = backs.at(-1) ?? -1;
    for (const n of nodes) {
      if (n.op !== "grad") continue;
      const what = `%${n.id} ${graph.describe(n.id)}`;
      if (backs.length === 0) {
        throw new MissingValueError(
          `${what} has no value: the trace runs no backward pass; call backward() on a one-element value (e.g. a logit difference) in the trace`,
          graph.describe(n.id),
        );
      }
      const path: number[] = [];
      let src = n.args[0] as Ref;
      while (nodes[src.id].op === "getitem") {
        const idx = nodes[src.id].args[1];
        if (typeof idx !== "number" || !Number.isInteger(idx)) {
          throw new InterventionError(
            `${what}: .grad is read on ${
              graph.describe(src.id)
            }, which the model does not hand on: read .grad on a module's output or input, or an element of its tuple (output[0]), and index the gradient instead`,
            n.id,
            "the start of the run",
          );
        }
        path.unshift(idx);
        src = nodes[src.id].args[0] as Ref;
      }
      if (nodes[src.id].op !== "getter") {
        throw new InterventionError(
          `${what}: .grad is read on a computed value: read it on a module's output or input, or an element of its tuple`,
          n.id,
          "the start of the run",
        );
      }
      const backward = backs.find((b) => b > n.id) ?? this.#last;
      const list = this.#byGetter.get(src.id) ?? [];
      list.push({ grad: n, getter: src.id, path, backward });
      this.#byGetter.set(src.id, list);
    }
  }

  /** True when the graph runs a backward pass (the forward must then record a tape). */
  static needed(graph: Graph): boolean {
    return graph.nodes.some((n) => n.op === "backward");
  }

  /** Hooks the tensors the `.grad` nodes of `getter` read in `value` (the getter's final value). */
  hook(getter: Node, value: unknown, it: number): void {
    for (const s of this.#byGetter.get(getter.id) ?? []) {
      let v = value;
      for (const i of s.path) {
        if (!Array.isArray(v)) {
          throw new InterventionError(
            `%${s.grad.id} ${
              this.#g.describe(s.grad.id)
            }: the module's value is not a tuple here, so [${i}] indexes rows of a tensor: read .grad on the value itself`,
            s.grad.id,
            this.#g.describe(getter.id),
          );
        }
        v = v[i < 0 ? v.length + i : i];
      }
      // A value off the tape never gets a gradient: finish() reports the .grad as missing.
      if (!(v instanceof Tensor) || !v.needsGrad) continue;
      v.registerHook((g) => this.#serve(s, g, it));
    }
  }

  /** Serves `g` (the whole batch's gradient) to `s` if its backward runs; returns what flows on. */
  #serve(s: Source, g: Tensor, it: number): Tensor | undefined {
    if (this.#active !== s.backward) return undefined;
    const id = s.grad.id;
    const mine = g.clone(); // edits write into this copy, never into the engine's gradient
    this.#cur.set(id, mine);
    try {
      this.#provide(s.grad, this.#batch.narrow(mine, s.grad.invoke), it);
      return this.#cur.get(id);
    } finally {
      this.#cur.delete(id);
    }
  }

  /** Runs backward node `node` from `metric`. */
  backward(metric: unknown, retain: boolean, node: Node): void {
    if (!(metric instanceof Tensor)) {
      throw new TypeError(`backward() needs a Tensor, got ${typeof metric}`);
    }
    const prev = this.#active;
    this.#active = node.id;
    try {
      metric.backward(undefined, { retainGraph: retain || node.id !== this.#last || node.multi });
    } finally {
      this.#active = prev;
    }
  }

  /** Replaces invoke `invoke`'s rows of the gradient `.grad` node `grad` is being served. */
  setGrad(grad: number, invoke: number, value: unknown, node: Node): void {
    const cur = this.#cur.get(grad);
    if (!cur) {
      throw new InterventionError(
        `${
          this.#g.describe(node.id)
        } ran when no gradient was arriving at it: a gradient can be replaced only by values that exist when its backward pass reaches it`,
        node.id,
        this.#g.describe(grad),
      );
    }
    const rows = this.#batch.narrow(cur, invoke) as Tensor;
    const repl = typeof value === "number"
      ? full(rows.shape, value, { device: cur.device })
      : value;
    this.#cur.set(grad, this.#batch.merge(cur, repl, invoke) as Tensor);
  }

  /** The first `.grad` node that never got a gradient, if any. */
  missing(has: (id: number) => boolean): Node | undefined {
    for (const list of this.#byGetter.values()) {
      for (const s of list) if (!s.grad.multi && !has(s.grad.id)) return s.grad;
    }
    return undefined;
  }
}

/**
 * Makes `root`'s forward record a tape when `graph` runs a backward pass: each parameter that
 * needs no gradient is made to need one. Returns those parameters for {@link untape}; a graph
 * without `backward()` changes nothing (inference stays tape-free).
 */
export function tapeFor(graph: Graph, root: Module): Tensor[] {
  if (!GradRun.needed(graph)) return [];
  const ps = root.parameters().filter((p) => !p.needsGrad);
  for (const p of ps) p.requiresGrad();
  return ps;
}

/** Undoes {@link tapeFor}: the parameters it changed need no gradient and hold none. */
export function untape(ps: readonly Tensor[]): void {
  zeroGrad(ps);
  for (const p of ps) p.requiresGrad(false);
}
