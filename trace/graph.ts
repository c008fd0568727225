// The intervention graph: nodes (op, args with Refs to earlier nodes, invoke, cond), the step
// sets that trigger getters, and JSON (de)serialisation. Records and describes; runs nothing.

import { Tensor, tensor } from "../engine/mod.ts";
import { providerKey } from "./errors.ts";
import { isMulti, type Steps, stepsKey } from "./steps.ts";

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
  | "stop";

/** Which value of a module call a getter reads. */
export type EventKind = "input" | "inputs" | "output";

/** A reference to an earlier node inside a node's arguments. */
export class Ref {
  /** Refers to node `id`. */
  constructor(readonly id: number) {}
}

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
    const [t, ...rest] = n.args;
    switch (n.op) {
      case "getter":
        return providerKey(n.path!, n.kind!, stepsKey(n.steps!));
      case "result":
        return "tracer.result";
      case "getattr":
        return `${arg(t)}.${rest[0]}`;
      case "getitem":
        return `${arg(t)}[${fmtIndex(rest[0])}]`;
      case "call":
        return `${arg(t)}.${rest[0]}(${rest.slice(1).map(arg).join(", ")})`;
      case "set":
        return `${arg(t)}.set(${fmtIndex(rest[0])}, ${arg(rest[1])})`;
      case "swap":
        return `${arg(t)} = ${arg(rest[0])}`;
      case "skip":
        return `skip ${this.nodes[(t as Ref).id].path} with ${arg(rest[0])}`;
      case "apply":
        return `apply(${(t as { name?: string }).name || "fn"}${
          rest.map((a) => `, ${arg(a)}`).join("")
        })`;
      case "module":
        return `${t}(${rest.map(arg).join(", ")})`;
      case "append":
        return `${arg(t)}.append(${arg(rest[0])})`;
      case "dictset":
        return `${arg(t)}[${JSON.stringify(rest[0])}] = ${arg(rest[1])}`;
      case "list":
      case "dict":
        return `${n.op}()`;
      default:
        return `${n.op}(${n.args.map(arg).join(", ")})`;
    }
  }

  /** The graph as plain JSON. Throws a TypeError for `apply` nodes (they hold a function). */
  toJSON(): GraphJSON {
    return {
      format: GRAPH_FORMAT,
      nodes: this.nodes.map((n) => {
        if (n.op === "apply") {
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

  /** Rebuilds a graph from {@link Graph.toJSON}'s output. */
  static fromJSON(json: GraphJSON): Graph {
    if (json?.format !== GRAPH_FORMAT || !Array.isArray(json.nodes)) {
      throw new TypeError(`Not a tsight graph: expected format "${GRAPH_FORMAT}"`);
    }
    const g = new Graph();
    for (const n of json.nodes) {
      const args = n.args.map(decodeValue);
      const deps: number[] = [];
      collectRefs(args, deps);
      for (const d of deps) {
        if (!(d < g.nodes.length)) {
          throw new RangeError(`Node %${g.nodes.length} refers to %${d}, which comes later`);
        }
      }
      const getter = n.op === "getter"
        ? { path: n.path!, kind: n.kind!, steps: n.steps! }
        : undefined;
      g.add(n.op, args, [...new Set(deps)], {
        invoke: n.invoke,
        cond: n.cond,
        after: n.after,
        getter,
      }).saved = !!n
        .saved;
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

/** Pushes the ids of every Ref inside arrays and plain objects of `v` onto `out`. */
export function collectRefs(v: unknown, out: number[]): void {
  if (v instanceof Ref) out.push(v.id);
  else if (Array.isArray(v)) { for (const x of v) collectRefs(x, out); }
  else if (isPlain(v)) { for (const x of Object.values(v)) collectRefs(x, out); }
}

/** True for arrays' siblings that are walked: object literals (not class instances). */
export function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** A value as JSON: Refs, tensors (cpu), undefined and non-finite numbers are tagged. */
export function encodeValue(v: unknown): unknown {
  if (v instanceof Ref) return { $ref: v.id };
  if (v === undefined) return { $undefined: true };
  if (typeof v === "number") return Number.isFinite(v) ? v : { $number: String(v) };
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Tensor) {
    if (v.device !== "cpu") {
      throw new TypeError(
        `A ${v.device} tensor cannot be serialised: move it to the cpu first (await t.toDevice("cpu"))`,
      );
    }
    return { $tensor: { dtype: v.dtype, shape: [...v.shape], data: [...v.dataSync()] } };
  }
  if (Array.isArray(v)) return v.map(encodeValue);
  if (isPlain(v)) {
    const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeValue(x)]));
    return Object.keys(o).some((k) => k.startsWith("$")) ? { $object: o } : o;
  }
  throw new TypeError(
    `A ${
      typeof v === "function" ? "function" : (v as object).constructor?.name ?? typeof v
    } cannot be serialised in a graph`,
  );
}

/** Inverts {@link encodeValue}. */
export function decodeValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeValue);
  if (!isPlain(v)) return v;
  if ("$ref" in v) return new Ref(v.$ref as number);
  if ("$undefined" in v) return undefined;
  if ("$number" in v) return Number(v.$number);
  if ("$tensor" in v) {
    const t = v.$tensor as { dtype: "float32" | "int32"; shape: number[]; data: number[] };
    return tensor(t.data, t.shape, { dtype: t.dtype });
  }
  const o = ("$object" in v ? v.$object : v) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeValue(x)]));
}

function fmtIndex(v: unknown): string {
  return typeof v === "string" ? JSON.stringify(v) : fmtArg(v, (r) => `%${r}`);
}

function fmtArg(v: unknown, ref: (id: number) => string): string {
  if (v instanceof Ref) return ref(v.id);
  if (v instanceof Tensor) return `Tensor${JSON.stringify(v.shape)}`;
  if (Array.isArray(v)) return `[${v.map((x) => fmtArg(x, ref)).join(", ")}]`;
  if (typeof v === "function") return v.name || "fn";
  if (isPlain(v)) {
    if (v.kind === "slice") {
      return `slice(${v.start ?? ""}:${v.stop ?? ""}${v.step ? `:${v.step}` : ""})`;
    }
    return `{${Object.entries(v).map(([k, x]) => `${k}: ${fmtArg(x, ref)}`).join(", ")}}`;
  }
  const s = typeof v === "string" ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
