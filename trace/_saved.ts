// The values a trace hands back: after the run, each saved node's value (copied to the cpu with
// one read) or the reason it has none; `.value` reads them, or says why there is none yet.

import { printLog } from "./_log.ts";
import { opSpec } from "./_node_ops.ts";
import type { TraceMemory } from "./_memory.ts";
import { MissingValueError } from "./errors.ts";
import { type Graph, type Node, Ref } from "./graph.ts";
import { mapLeaves } from "./_tree.ts";
import type { Dataflow } from "./_dataflow.ts";
import { AS_NODE, isProxy, nodeOf, type Value } from "./proxy.ts";

/** What a finished run leaves for the saved values: its dataflow's values and why some are missing. */
export interface RunOutcome {
  /** The dataflow of the run: each node's value, if it has one. */
  readonly values: Pick<Dataflow, "valueOf">;
  /** True when `tracer.stop()` ended the run. */
  readonly stopped: boolean;
  /** Why getter `node` never fired (the steps that ran, the module never called). */
  missing(node: Node): string;
  /** `tracer.log` arguments held back to print after the run. */
  readonly logs: readonly unknown[][];
}

/**
 * The saved values of one trace, through its states: recording, running, then done or failed.
 *
 * @example
 * ```ts ignore
 * const saved = new SavedValues(graph);
 * saved.running();
 * // ... the run, then:
 * saved.keep(il.outcome);
 * const output = await saved.toHost(il.outcome, mem, raw);
 * saved.done();
 * saved.get(node); // the node's value, or an error that says why it has none
 * ```
 */
export class SavedValues {
  readonly #g: Graph;
  readonly #values = new Map<number, Value>();
  readonly #missing = new Map<number, string>();
  #state: "recording" | "running" | "done" | "failed" = "recording";
  #failure = "";

  /** The saved values of `graph`'s nodes. */
  constructor(graph: Graph) {
    this.#g = graph;
  }

  /** The run started: values exist once it is done. */
  running(): void {
    this.#state = "running";
  }
  /** The run ended and its values are in. */
  done(): void {
    this.#state = "done";
  }
  /** The run failed with `e`: reading a value says so. */
  fail(e: unknown): void {
    this.#state = "failed";
    this.#failure = e instanceof Error ? e.message : String(e);
  }

  /** A saved node's value after the run, or an error saying why there is none. */
  get(node: Node): Value {
    const what = `%${node.id} ${this.#g.describe(node.id)}`;
    if (this.#state === "recording" || this.#state === "running") {
      throw new TypeError(
        `${what} has no value yet: values exist after the trace's promise resolves`,
      );
    }
    if (this.#state === "failed") {
      throw new TypeError(`${what} has no value: the trace failed (${this.#failure})`);
    }
    if (!node.saved) {
      throw new TypeError(`${what} was not saved: call .save() on it inside the callback`);
    }
    if (this.#values.has(node.id)) return this.#values.get(node.id);
    throw new MissingValueError(
      `${what} has no value: ${this.#missing.get(node.id) ?? "it never ran"}`,
      what,
    );
  }

  /** Takes every saved node's value from the finished run's dataflow, or why it has none. */
  keep(run: RunOutcome): void {
    for (const n of this.#g.nodes) {
      if (!n.saved) continue;
      const { ok, value } = run.values.valueOf(n.id);
      if (ok) this.#values.set(n.id, value);
      else {
        const why = run.stopped
          ? "the trace stopped early (tracer.stop() or proxy.stop())"
          : this.#why(run, n);
        this.#missing.set(n.id, why);
      }
    }
  }

  /**
   * Copies the saved values, `output` and the run's held-back logs to the cpu with one read
   * (webgpu) and prints the logs; resolves to the output's copy.
   */
  async toHost(run: RunOutcome, mem: TraceMemory, output: unknown): Promise<unknown> {
    const ids = [...this.#values.keys()];
    const containers = this.#g.nodes
      .filter((n) => opSpec(n.op).role === "container" && this.#values.has(n.id))
      .map((n) => this.#values.get(n.id) as object);
    const logs = run.logs;
    const host = await mem.toHost(
      [output, ...logs, ...ids.map((id) => this.#values.get(id))],
      containers,
    );
    ids.forEach((id, i) => this.#values.set(id, host[1 + logs.length + i]));
    for (let i = 0; i < logs.length; i++) printLog(host[1 + i] as unknown[]);
    return host[0];
  }

  /** Every saved node's value, by node id. */
  all(): Map<number, Value> {
    return new Map(this.#values);
  }

  /** Replaces proxies, Refs and containers in `v` by their values. */
  resolve(v: unknown): unknown {
    return mapLeaves(v, (x) => {
      if (isProxy(x)) return this.#values.get(nodeOf(x).id);
      if (x instanceof Ref) return this.#values.get(x.id);
      if (isNodeLike(x)) return (x as unknown as { value: unknown }).value;
      return x;
    }, { leaf: (x) => isProxy(x) || isNodeLike(x) });
  }

  /** Why node `n` never ran: a getter that never fired, or a false condition. */
  #why(run: RunOutcome, n: Node): string {
    const seen = new Set<number>();
    const stack = [n.id];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const d = this.#g.nodes[id];
      if (d.op === "getter" && !run.values.valueOf(id).ok) return run.missing(d);
      stack.push(...d.deps);
    }
    return n.cond.length || this.#g.nodes.some((x) => seen.has(x.id) && x.cond.length)
      ? "its tracer.cond() condition was false"
      : "it never ran";
  }
}

/** A container (list, dict) or other object that stands for a node. */
function isNodeLike(v: unknown): boolean {
  return v !== null && typeof v === "object" && AS_NODE in v;
}
