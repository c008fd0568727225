// The intervention graph: nodes (op, args with Refs to earlier nodes, invoke, cond), the step
// sets that trigger getters, and JSON (de)serialisation. Records and describes; runs nothing.
// What each op means lives in the node-op table (_node_ops.ts).

import { Tensor } from "../engine/mod.ts";
import { opSpec } from "./_node_ops.ts";
import { foldTree } from "./_tree.ts";
import { type GraphCheckOptions, validateGraph } from "./_validate.ts";
import { encodeValue, isPlain, Ref } from "./_values.ts";
import { isMulti, type Steps } from "./steps.ts";

export { collectRefs, decodeValue, encodeValue, isPlain, Ref } from "./_values.ts";

/** What a node does. Getters and `result` are providers: the run fires them. */
export type NodeOp =
  | "getter"
  | "result"
  | "getattr"
  | "call"
  | "getitem"
  | "set"
  | "swap"
  | "skip"
  | "apply"
  | "module"
  | "log"
  | "list"
  | "dict"
  | "append"
  | "dictset"
  | "grad"
  | "gradset"
  | "backward"
  | "stop"
  | "branch"
  | "stopafter"
  | "param";

/** Which value of a module call a getter reads. */
export type EventKind = "input" | "inputs" | "output";

/** One recorded operation. `args` hold literals and Refs; `deps` are the ids they name. */
export interface Node {
  /** Position in the graph. */
  readonly id: number;
  /** What the node does. */
  readonly op: NodeOp;
  /** Literal arguments, with Refs to earlier nodes. */
  readonly args: readonly unknown[];
  /** Invoke whose batch rows this node sees; -1 for the whole batch. */
  readonly invoke: number;
  /** Predicate nodes that must all be truthy for this node to run (`tracer.cond`). */
  readonly cond: readonly number[];
  /** Nodes it runs after without using their values. */
  readonly after: readonly number[];
  /** Unique node ids in args, cond and after, ascending. */
  readonly deps: readonly number[];
  /** True when the node may fire more than once (it depends on a multi-step getter). */
  readonly multi: boolean;
  /** Getter: the module's dotted path. */
  readonly path?: string;
  /** Getter: which value of the call. */
  readonly kind?: EventKind;
  /** Getter: the steps it fires on. */
  readonly steps?: Steps;
  /** Kept after the run (`.save()` or returned from the callback). */
  saved: boolean;
  /** A container's starting value (not serialised). */
  init?: unknown;
}

/** Options of {@link Graph.add}. */
export interface AddOptions {
  /** The invoke the node belongs to (-1: the whole batch). */
  invoke?: number;
  /** Predicate nodes gating it. */
  cond?: readonly number[];
  /** Nodes it must run after without using their values (container writes before a read). */
  after?: readonly number[];
  /** For getters: module path, event kind and steps. */
  getter?: { path: string; kind: EventKind; steps: Steps };
}

/**
 * The nodes of one trace, in recording order (which is a topological order).
 *
 * @example
 * ```ts
 * import { Graph, Ref } from "./graph.ts";
 * const g = new Graph();
 * const out = g.add("getter", [], [], { getter: { path: "fc", kind: "output", steps: { kind: "at", step: 0 } } });
 * g.add("call", [new Ref(out.id), "mul", 2], [out.id]);
 * g.describe(1); // "fc.output.i0.mul(2)"
 * ```
 */
export class Graph {
  /** All nodes; `nodes[i].id === i`. */
  readonly nodes: Node[] = [];

  /** Appends a node whose args reference `deps` (ids of earlier nodes). */
  add(op: NodeOp, args: readonly unknown[], deps: readonly number[], opts: AddOptions = {}): Node {
    const cond = opts.cond ?? [], after = opts.after ?? [];
    const all = cond.length === 0 && after.length === 0 && deps.length < 2
      ? deps
      : [...new Set([...deps, ...cond, ...after])];
    const sorted = all.length < 2 ? all : [...all].sort((a, b) => a - b);
    const g = opts.getter;
    const multi = g ? isMulti(g.steps) : sorted.some((d) => this.nodes[d].multi);
    const node: Node = {
      id: this.nodes.length,
      op,
      args,
      invoke: opts.invoke ?? -1,
      cond,
      after,
      deps: sorted,
      multi,
      saved: false,
      ...(g ? { path: g.path, kind: g.kind, steps: g.steps } : {}),
    };
    this.nodes.push(node);
    return node;
  }

  /** A readable one-line form of node `id`, e.g. `transformer.h.0.output.i0[0].set(":", 0)`. */
  describe(id: number, depth = 3): string {
    const n = this.nodes[id];
    const arg = (v: unknown): string =>
      fmtArg(v, (r) => depth > 0 ? this.describe(r, depth - 1) : `%${r}`);
    return opSpec(n.op).describe(n, {
      arg,
      index: fmtIndex,
      node: (r) => (r instanceof Ref ? this.nodes[r.id] : undefined),
    });
  }

  /** The graph as plain JSON. Throws a TypeError for `apply` nodes (they hold a function). */
  toJSON(): GraphJSON {
    return {
      format: GRAPH_FORMAT,
      nodes: this.nodes.map((n) => {
        if (!opSpec(n.op).serialisable) {
          throw new TypeError(
            `Node %${n.id} ${
              this.describe(n.id)
            } cannot be serialised: apply() runs a TypeScript function, which JSON cannot carry; use proxy methods instead`,
          );
        }
        return {
          op: n.op,
          args: n.args.map(encodeValue) as unknown[],
          ...(n.invoke >= 0 ? { invoke: n.invoke } : {}),
          ...(n.cond.length ? { cond: [...n.cond] } : {}),
          ...(n.after.length ? { after: [...n.after] } : {}),
          ...(n.saved ? { saved: true } : {}),
          ...(n.op === "getter" ? { path: n.path, kind: n.kind, steps: n.steps } : {}),
        };
      }),
    };
  }

  /**
   * Rebuilds a graph from {@link Graph.toJSON}'s output, or from JSON from elsewhere: every node
   * is validated first (ops, arguments, refs, steps, limits), and a bad one is a
   * GraphValidationError (or GraphLimitError) that names it.
   */
  static fromJSON(json: GraphJSON, opts: GraphCheckOptions = {}): Graph {
    const g = new Graph();
    for (const n of validateGraph(json, opts)) {
      g.add(n.op, n.args, n.deps, {
        invoke: n.invoke,
        cond: n.cond,
        after: n.after,
        getter: n.getter,
      }).saved = n.saved;
    }
    return g;
  }
}

/** Version tag of serialised graphs. */
export const GRAPH_FORMAT = "tsight-graph v1";

/** A serialised graph. */
export interface GraphJSON {
  /** {@link GRAPH_FORMAT}. */
  format: string;
  /** The nodes in order, arguments encoded with {@link encodeValue}. */
  nodes: {
    op: NodeOp;
    args: unknown[];
    invoke?: number;
    cond?: number[];
    after?: number[];
    saved?: boolean;
    path?: string;
    kind?: EventKind;
    steps?: Steps;
  }[];
}

function fmtIndex(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : fmtArg(v, (r) => `%${r}`);
}

function fmtArg(v: unknown, ref: (id: number) => string): string {
  return foldTree(v, {
    leaf: (x) => fmtLeaf(x, ref),
    array: (items) => `[${items.join(", ")}]`,
    object: (entries) => `{${entries.map(([k, x]) => `${k}: ${x}`).join(", ")}}`,
  }, { leaf: isSlice });
}

function isSlice(v: unknown): boolean {
  return isPlain(v) && v.kind === "slice";
}

function fmtLeaf(v: unknown, ref: (id: number) => string): string {
  if (v instanceof Ref) return ref(v.id);
  if (v instanceof Tensor) return `Tensor${JSON.stringify(v.shape)}`;
  if (typeof v === "function") return v.name || "fn";
  if (isPlain(v)) return `slice(${v.start ?? ""}:${v.stop ?? ""}${v.step ? `:${v.step}` : ""})`;
  const s = typeof v === "string" ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
