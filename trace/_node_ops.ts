// THE table of graph node ops: for each op, what records it, its role (provider, edit, value,
// container, write, stop), its arguments' check (used when recording and when validating a
// request), how it runs and how it reads in messages. Checked with `satisfies`; holds no state.

import { Tensor } from "../engine/mod.ts";
import { editSet, type EditSite, editSkip, editSwap } from "./_edits.ts";
import {
  checkMethodArgs,
  isTracedMethod,
  isTracedProperty,
  type MethodSpec,
  signature,
  TENSOR_METHODS,
  type TracedMethod,
} from "./_methods.ts";
import {
  append,
  applyFn,
  type Budget,
  callMethod,
  dictSet,
  FORBIDDEN_KEYS,
  getAttr,
  getItem,
  setItem,
  truthy,
} from "./_ops.ts";
import { isPlain, Ref } from "./_values.ts";
import { providerKey } from "./errors.ts";
import { stepsKey } from "./steps.ts";
import type { EventKind, Node, NodeOp } from "./graph.ts";

/** What a node is to the run: fired with a model value, an edit of one, a value, etc. */
export type Role = "provider" | "edit" | "value" | "container" | "write" | "stop";

/** How an op's argument check reports and looks up what Refs point at. */
export interface ArgCheck {
  /** Throws: `args[index]` (or the whole `args` for index -1) is `found`; `allowed` is allowed. */
  fail(index: number, found: unknown, allowed: string): never;
  /** The op and getter kind of the node a Ref points at; undefined for a literal. */
  target(v: unknown): { op: NodeOp; kind?: EventKind } | undefined;
}

/** What running an op may use besides its arguments. */
export interface OpContext {
  /** Prints or holds `tracer.log` arguments. */
  log(args: readonly unknown[]): void;
  /** Runs the module at `path` with hooks muted. */
  callModule(path: string, args: unknown[]): unknown;
  /** The work budget: throws before a result of too many elements is made. */
  budget: Budget;
  /** Runs the backward pass from `metric` (graph kept when `retain` or another backward follows). */
  backward(metric: unknown, retain: boolean, node: Node): void;
  /** Replaces invoke `invoke`'s rows of the gradient that `grad` node `grad` is being served. */
  setGrad(grad: number, invoke: number, value: unknown, node: Node): void;
  /** Ends the run now (`proxy.stop()`): the nodes that already ran keep their values. */
  stop(): never;
  /** A copy of weight `name` of the module at `path` (edits of it leave the model as it is). */
  param(path: string, name: string): unknown;
}

/** How a description renders arguments. */
export interface Describer {
  /** An argument (Refs as the node they name). */
  arg(v: unknown): string;
  /** An index argument (strings quoted). */
  index(v: unknown): string;
  /** The node a Ref names. */
  node(r: unknown): Node | undefined;
}

/** One row of {@link NODE_OPS}. */
export interface NodeOpSpec {
  /** The API that records it, for messages and docs. */
  readonly recordedBy: string;
  /** What it is to the run. */
  readonly role: Role;
  /** Whether JSON can carry it (`apply` holds a function). */
  readonly serialisable: boolean;
  /** Checks the recorded arguments (literals and Refs); reports through `c.fail`. */
  check(args: readonly unknown[], c: ArgCheck): void;
  /** Computes a value or edit-less result from resolved arguments (not providers or stop). */
  run?(args: unknown[], ctx: OpContext, node: Node): unknown;
  /** Writes into the open event of the getter it edits (edits only). */
  edit?(node: Node, args: unknown[], site: EditSite): unknown;
  /** One line for messages: `transformer.h.0.output.i0[0].sum(-1)`. */
  describe(n: Node, d: Describer): string;
}

const INDEX_TEXT =
  'an index: an integer, a string in the index grammar (":, -1") or a key, null, "...", a slice, or a list of those';

function count(c: ArgCheck, args: readonly unknown[], n: number, what: string): void {
  if (args.length !== n) c.fail(-1, `${args.length} arguments`, `${n} (${what})`);
}

function refTo(
  c: ArgCheck,
  args: readonly unknown[],
  i: number,
  ops: readonly NodeOp[],
  what: string,
) {
  const t = c.target(args[i]);
  if (!t || !ops.includes(t.op)) c.fail(i, args[i], what);
  return t!;
}

function isIndex(v: unknown, c: ArgCheck, depth = 0): boolean {
  if (c.target(v)) return true;
  if (v === null || typeof v === "string") return typeof v !== "string" || !FORBIDDEN_KEYS.has(v);
  if (typeof v === "number") return Number.isSafeInteger(v);
  if (Array.isArray(v)) return depth === 0 && v.every((x) => isIndex(x, c, 1));
  if (!isPlain(v) || v.kind !== "slice") return false;
  return Object.entries(v).every(([k, x]) =>
    k === "kind" ||
    (["start", "stop", "step"].includes(k) && (x == null || Number.isSafeInteger(x)))
  );
}

function checkIndex(c: ArgCheck, args: readonly unknown[], i: number): void {
  if (!isIndex(args[i], c)) c.fail(i, args[i], INDEX_TEXT);
}

/** The first argument is the value the op works on: a Ref to an earlier node. */
function fromNode(c: ArgCheck, args: readonly unknown[]): void {
  if (!c.target(args[0])) c.fail(0, args[0], "a reference to an earlier node");
}

const NONE = (what: string) => (args: readonly unknown[], c: ArgCheck) => count(c, args, 0, what);

/**
 * Every node op. A new op is a compile error until it has a row; recording (Tracer.add),
 * validation of requests, the dataflow, the interleaver and descriptions all read this table.
 */
export const NODE_OPS = {
  getter: {
    recordedBy: "envoy.output / .input / .inputs",
    role: "provider",
    serialisable: true,
    check: NONE("a getter has no arguments"),
    describe: (n) => providerKey(n.path!, n.kind!, stepsKey(n.steps!)),
  },
  result: {
    recordedBy: "tracer.result",
    role: "provider",
    serialisable: true,
    check: NONE("tracer.result has no arguments"),
    describe: () => "tracer.result",
  },
  stop: {
    recordedBy: "tracer.stop()",
    role: "stop",
    serialisable: true,
    check: NONE("tracer.stop() has no arguments"),
    describe: () => "stop()",
  },
  getattr: {
    recordedBy: "proxy.shape, proxy.topk(k).values",
    role: "value",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "a value and a property name");
      fromNode(c, args);
      if (!isTracedProperty(args[1])) {
        c.fail(1, args[1], "shape, dtype, device, ndim, size, values or indices");
      }
    },
    run: (a) => getAttr(a[0], a[1]),
    describe: (n, d) => `${d.arg(n.args[0])}.${n.args[1]}`,
  },
  call: {
    recordedBy: "proxy.method(...args)",
    role: "value",
    serialisable: true,
    check(args, c) {
      if (args.length < 2) {
        c.fail(-1, `${args.length} arguments`, "a value, a method name and its arguments");
      }
      fromNode(c, args);
      const name = args[1];
      if (!isTracedMethod(name)) {
        return c.fail(1, name, "a Tensor method the tracing API documents");
      }
      const bad = checkMethodArgs(name, args.slice(2), (v) => c.target(v) !== undefined);
      if (bad) {
        const [i, allowed] = bad;
        if (i < 0) c.fail(-1, `${args.length - 2} method arguments`, `${allowed}`);
        c.fail(i + 2, args[i + 2], `${allowed} (${signature(name)})`);
      }
    },
    run: (a, ctx) => callMethod(a[0], a[1], a.slice(2), ctx.budget),
    describe: (n, d) =>
      `${d.arg(n.args[0])}.${n.args[1]}(${n.args.slice(2).map(d.arg).join(", ")})`,
  },
  getitem: {
    recordedBy: "proxy[i], proxy.get(index), dict.get(key)",
    role: "value",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "a value and an index");
      fromNode(c, args);
      checkIndex(c, args, 1);
    },
    run: (a) => getItem(a[0], a[1]),
    describe: (n, d) => `${d.arg(n.args[0])}[${d.index(n.args[1])}]`,
  },
  set: {
    recordedBy: "proxy.set(index, value), proxy[i] = value",
    role: "edit",
    serialisable: true,
    check(args, c) {
      count(c, args, 3, "a value, an index and the new value");
      fromNode(c, args);
      checkIndex(c, args, 1);
    },
    run: (a) => setItem(a[0], a[1], a[2]),
    edit: editSet,
    describe: (n, d) => `${d.arg(n.args[0])}.set(${d.index(n.args[1])}, ${d.arg(n.args[2])})`,
  },
  swap: {
    recordedBy: "envoy.output = value (and .input, .inputs)",
    role: "edit",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "a getter and the replacement");
      refTo(c, args, 0, ["getter"], "a reference to a getter");
    },
    edit: editSwap,
    describe: (n, d) => `${d.arg(n.args[0])} = ${d.arg(n.args[1])}`,
  },
  skip: {
    recordedBy: "envoy.skip(value)",
    role: "edit",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "the module's inputs getter and its output");
      const t = refTo(c, args, 0, ["getter"], "a reference to an inputs getter");
      if (t.kind !== "inputs") c.fail(0, args[0], "a reference to an inputs getter");
    },
    edit: editSkip,
    describe: (n, d) => `skip ${d.node(n.args[0])?.path} with ${d.arg(n.args[1])}`,
  },
  apply: {
    recordedBy: "tracer.apply(fn, ...args)",
    role: "value",
    serialisable: false,
    check(args, c) {
      if (typeof args[0] !== "function") c.fail(0, args[0], "a function");
    },
    run: applyFn,
    describe: (n, d) =>
      `apply(${(n.args[0] as { name?: string }).name || "fn"}${
        n.args.slice(1).map((a) => `, ${d.arg(a)}`).join("")
      })`,
  },
  module: {
    recordedBy: "envoy.call(...args)",
    role: "value",
    serialisable: true,
    check(args, c) {
      if (typeof args[0] !== "string") c.fail(0, args[0], "a module path");
    },
    run: (a, ctx) => ctx.callModule(a[0] as string, a.slice(1)),
    describe: (n, d) => `${n.args[0] || "model"}(${n.args.slice(1).map(d.arg).join(", ")})`,
  },
  log: {
    recordedBy: "tracer.log(...args)",
    role: "value",
    serialisable: true,
    check: () => {},
    run: (a, ctx) => ctx.log(a),
    describe: (n, d) => `log(${n.args.map(d.arg).join(", ")})`,
  },
  list: {
    recordedBy: "list()",
    role: "container",
    serialisable: true,
    check: NONE("list() has no arguments"),
    run: (_a, _ctx, n) => n.init ?? [],
    describe: () => "list()",
  },
  dict: {
    recordedBy: "dict()",
    role: "container",
    serialisable: true,
    check: NONE("dict() has no arguments"),
    run: (_a, _ctx, n) => n.init ?? {},
    describe: () => "dict()",
  },
  append: {
    recordedBy: "list.append(value)",
    role: "write",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "a list and a value");
      refTo(c, args, 0, ["list"], "a reference to a list()");
    },
    run: (a) => append(a[0], a[1]),
    describe: (n, d) => `${d.arg(n.args[0])}.append(${d.arg(n.args[1])})`,
  },
  grad: {
    recordedBy: "proxy.grad",
    role: "provider",
    serialisable: true,
    check(args, c) {
      count(c, args, 1, "a module's value");
      refTo(c, args, 0, ["getter", "getitem"], "a reference to a getter or an element of one");
    },
    describe: (n, d) => `${d.arg(n.args[0])}.grad`,
  },
  gradset: {
    recordedBy: "proxy.grad = value",
    role: "value",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "a .grad and the replacement");
      refTo(c, args, 0, ["grad"], "a reference to a .grad");
      const v = args[1];
      if (typeof v !== "number" && !(v instanceof Tensor) && !c.target(v)) {
        c.fail(1, v, "a number, a Tensor or a reference to a value");
      }
    },
    run: (a, ctx, n) => ctx.setGrad((n.args[0] as Ref).id, n.invoke, a[1], n),
    describe: (n, d) => `${d.arg(n.args[0])} = ${d.arg(n.args[1])}`,
  },
  backward: {
    recordedBy: "proxy.backward()",
    role: "value",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "a metric and retainGraph");
      if (!c.target(args[0])) c.fail(0, args[0], "a reference to an earlier node");
      if (typeof args[1] !== "boolean") c.fail(1, args[1], "true or false (retainGraph)");
    },
    run: (a, ctx, n) => ctx.backward(a[0], a[1] as boolean, n),
    describe: (n, d) => `${d.arg(n.args[0])}.backward(${n.args[1] ? "{ retainGraph: true }" : ""})`,
  },
  dictset: {
    recordedBy: "dict.set(key, value)",
    role: "write",
    serialisable: true,
    check(args, c) {
      count(c, args, 3, "a dict, a key and a value");
      refTo(c, args, 0, ["dict"], "a reference to a dict()");
      const k = args[1];
      if (typeof k !== "string" || FORBIDDEN_KEYS.has(k)) {
        c.fail(1, k, "a string key other than __proto__, constructor, prototype");
      }
    },
    run: (a) => dictSet(a[0], a[1], a[2]),
    describe: (n, d) => `${d.arg(n.args[0])}[${JSON.stringify(n.args[1])}] = ${d.arg(n.args[2])}`,
  },
  branch: {
    recordedBy: "tracer.cond(pred, fn).elif(pred, fn).else(fn)",
    role: "value",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "the earlier predicates of the chain and this branch's");
      const earlier = args[0];
      if (!Array.isArray(earlier) || earlier.some((p) => !c.target(p))) {
        c.fail(0, earlier, "a list of references to the earlier predicates");
      }
    },
    // True when every earlier predicate is false and this one is truthy.
    run: (a, _ctx, n) =>
      !(a[0] as unknown[]).some((p, i) => truthy(p, `%${(n.args[0] as Ref[])[i].id}`)) &&
      truthy(a[1], `%${n.args[1] instanceof Ref ? n.args[1].id : n.id}`),
    describe: (n, d) =>
      `branch(${
        [...(n.args[0] as unknown[]).map((p) => `not ${d.arg(p)}`), d.arg(n.args[1])].join(", ")
      })`,
  },
  param: {
    recordedBy: "envoy.weight, envoy.bias",
    role: "value",
    serialisable: true,
    check(args, c) {
      count(c, args, 2, "a module path and a weight name");
      if (typeof args[0] !== "string") c.fail(0, args[0], "a module path");
      if (typeof args[1] !== "string" || FORBIDDEN_KEYS.has(args[1])) {
        c.fail(1, args[1], "a weight name (weight, bias)");
      }
    },
    run: (a, ctx) => ctx.param(a[0] as string, a[1] as string),
    describe: (n) => `${n.args[0] || "model"}.${n.args[1]}`,
  },
  stopafter: {
    recordedBy: "proxy.stop()",
    role: "value",
    serialisable: true,
    check(args, c) {
      count(c, args, 1, "the value to stop after");
      fromNode(c, args);
    },
    run: (_a, ctx) => ctx.stop(),
    describe: (n, d) => `${d.arg(n.args[0])}.stop()`,
  },
} as const satisfies Record<NodeOp, NodeOpSpec>;

/** The row of `op`; never an inherited key. */
export function opSpec(op: NodeOp): NodeOpSpec {
  return NODE_OPS[op];
}

/** True when `op` is a node op (an own key of the table). */
export function isNodeOp(op: unknown): op is NodeOp {
  return typeof op === "string" && Object.hasOwn(NODE_OPS, op);
}

/**
 * The getter whose event `node` edits: a swap's or skip's getter, or the getter an in-place `set`
 * writes into through index, set and view-method nodes; -1 for every other node.
 */
export function editTarget(nodes: readonly Node[], node: Node): number {
  if (node.op === "swap" || node.op === "skip") {
    return node.args[0] instanceof Ref ? node.args[0].id : -1;
  }
  if (node.op !== "set") return -1;
  let target = node.args[0];
  while (target instanceof Ref) {
    const n = nodes[target.id];
    if (n.op === "getter") return n.id;
    const name = n.args[1];
    const viewCall = n.op === "call" && isTracedMethod(name) && isView(name);
    if (n.op !== "getitem" && n.op !== "set" && !viewCall) return -1;
    target = n.args[0];
  }
  return -1;
}

function isView(name: TracedMethod): boolean {
  return (TENSOR_METHODS[name] as MethodSpec).view === true;
}
