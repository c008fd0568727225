// When each node of one run runs: once every dependency has a value, and again each time they
// fire at a new step; ready nodes run in recording order. Counts the nodes before tracer.stop().
// Knows nothing of modules or events: providers get their values from the caller.

import type { TraceMemory } from "./_memory.ts";
import { opSpec } from "./_node_ops.ts";
import { truthy } from "./_ops.ts";
import { NodeQueue } from "./_queue.ts";
import { Ref } from "./_values.ts";
import { isBranch, mapLeaves } from "./_tree.ts";
import type { Graph, Node } from "./graph.ts";

/** Computes a non-provider node's value from its resolved arguments. */
export type RunNode = (node: Node, args: unknown[]) => unknown;

/** `last` of a node that never ran. */
const NEVER = -2;

/**
 * The values and firing steps of one run's nodes. A multi-step node runs once per step at which
 * all its per-step dependencies have fired; any other node runs once.
 *
 * @example
 * ```ts ignore
 * const flow = new Dataflow(graph, { args, run: (node, args) => execute(node, args), mem });
 * flow.start(); // containers, literals
 * flow.provide(getter, value, 0); // runs everything that became ready
 * flow.valueOf(id);
 * ```
 */
export class Dataflow {
  readonly #g: Graph;
  readonly #nodes: readonly Node[];
  readonly #args: readonly (readonly unknown[])[];
  readonly #run: RunNode;
  readonly #mem: TraceMemory;
  readonly #values: unknown[];
  readonly #has: Uint8Array;
  /** The step each node last got its value at; read only for per-step (multi) nodes. */
  readonly #fire: Float64Array;
  /** The step each per-step node last ran for; 0 once a single-step node ran; NEVER before. */
  readonly #last: Float64Array;
  readonly #visited: Uint8Array;
  readonly #dependents: number[][];
  readonly #queue: NodeQueue;
  #stopAt = Infinity;
  #beforeStop = 0;
  /** How many drains are running (more than 0: a node is running). */
  #depth = 0;

  /**
   * Prepares to run `graph`'s nodes on `args` (each node's arguments, with Refs) with `run`;
   * every value is owned by `mem`.
   */
  constructor(
    graph: Graph,
    opts: { args: readonly (readonly unknown[])[]; run: RunNode; mem: TraceMemory },
  ) {
    this.#g = graph;
    this.#nodes = graph.nodes;
    this.#args = opts.args;
    this.#run = opts.run;
    this.#mem = opts.mem;
    const n = this.#nodes.length;
    this.#values = new Array(n);
    this.#has = new Uint8Array(n);
    this.#fire = new Float64Array(n).fill(-1);
    this.#last = new Float64Array(n).fill(NEVER);
    this.#visited = new Uint8Array(n);
    this.#queue = new NodeQueue(n);
    this.#dependents = Array.from({ length: n }, () => []);
    for (const node of this.#nodes) {
      for (const d of node.deps) this.#dependents[d].push(node.id);
      if (opSpec(node.op).role === "stop" && node.id < this.#stopAt) this.#stopAt = node.id;
    }
    this.#beforeStop = Number.isFinite(this.#stopAt) ? this.#stopAt : -1;
  }

  /** True once every node recorded before the first `tracer.stop()` was reached. */
  get stopReached(): boolean {
    return this.#beforeStop === 0;
  }

  /** Runs the nodes that need no model value (containers, literals). */
  start(): void {
    for (const node of this.#nodes) {
      if (node.deps.length === 0 && opSpec(node.op).role !== "provider") {
        this.#queue.push(node.id);
      }
    }
    this.#drain();
  }

  /**
   * Gives provider `node` its value at step `it`, then runs every node that became ready. Called
   * while a node runs (a gradient arriving during `backward()`), it runs only what depends on
   * `node`: the nodes still queued outside wait for that node to return.
   */
  provide(node: Node, value: unknown, it: number): void {
    this.#mem.own(value);
    this.#values[node.id] = value;
    this.#has[node.id] = 1;
    this.#fire[node.id] = it;
    this.#visit(node.id);
    const q = this.#depth > 0 ? new NodeQueue(this.#nodes.length) : this.#queue;
    for (const d of this.#dependents[node.id]) q.push(d);
    this.#drain(q);
  }

  /** Whether node `id` has a value, and the value. */
  valueOf(id: number): { ok: boolean; value: unknown } {
    return { ok: this.#has[id] === 1, value: this.#values[id] };
  }

  #visit(id: number): void {
    if (this.#visited[id]) return;
    this.#visited[id] = 1;
    if (id < this.#stopAt) this.#beforeStop--;
  }

  /** Runs queued nodes in recording order (in-place edits before later reads) until none is left. */
  #drain(q = this.#queue): void {
    this.#depth++;
    try {
      while (q.size > 0) {
        const id = q.pop();
        if (this.#tryRun(this.#nodes[id])) { for (const d of this.#dependents[id]) q.push(d); }
      }
    } finally {
      this.#depth--;
    }
    q.nextRound();
  }

  /** Runs `node` if every dependency has a value and one of them fired since its last run. */
  #tryRun(node: Node): boolean {
    const role = opSpec(node.op).role;
    if (role === "provider" || role === "stop") return false;
    let common = -1;
    for (const d of node.deps) {
      if (!this.#has[d]) return false;
      if (this.#nodes[d].multi) {
        const f = this.#fire[d];
        if (common === -1) common = f;
        else if (f !== common) return false; // wait until every per-step input is at this step
      }
    }
    if (node.multi ? this.#last[node.id] === common : this.#last[node.id] !== NEVER) return false;
    this.#last[node.id] = node.multi ? common : 0;
    this.#visit(node.id);
    for (const c of node.cond) if (!truthy(this.#values[c], this.#g.describe(c))) return false;
    this.#fire[node.id] = common;
    const value = this.#run(node, this.#args[node.id].map((a) => this.#resolve(a)));
    this.#mem.own(value);
    this.#values[node.id] = value;
    this.#has[node.id] = 1;
    return true;
  }

  /** `a` with every Ref replaced by its node's value. */
  #resolve(a: unknown): unknown {
    if (a instanceof Ref) return this.#values[a.id];
    return isBranch(a) ? mapLeaves(a, this.#valueOfRef) : a;
  }

  readonly #valueOfRef = (x: unknown): unknown => (x instanceof Ref ? this.#values[x.id] : x);
}
