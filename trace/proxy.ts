// InterventionProxy: a stand-in for a value that will exist when the model runs. Every property
// read, index and method call on it records a graph node. Holds no values and runs nothing.

import type { IndexSpec, Tensor } from "../engine/mod.ts";
import {
  isTracedMethod,
  isTracedProperty,
  PROXY_NAMES,
  type TracedMethod,
  type TracedProperty,
} from "./_methods.ts";
import { nearest } from "./errors.ts";
import { isBranch, mapLeaves } from "./_tree.ts";
import { type AddOptions, type Node, type NodeOp, Ref } from "./graph.ts";

/** Run-time values are whatever the model produces (tensors, tuples, ids): typed loosely. */
// deno-lint-ignore no-explicit-any
export type Value = any;

/** The recording side of a trace, as proxies and containers see it (implemented by Tracer). */
export interface Recorder {
  /** Records a node; `args` may hold proxies, containers, arrays and literals. */
  add(op: NodeOp, args: readonly unknown[], getter?: AddOptions["getter"]): Node;
  /** The invoke now recording (-1 outside any invoke). */
  readonly currentInvoke: number;
  /** The proxy of a node. */
  proxy(node: Node): InterventionProxy;
  /** A node's value after the run, or a clear error. */
  valueOf(node: Node): Value;
  /** Human form of a node for messages. */
  describe(node: Node): string;
  /** True once the callback has returned: recording more is an error. */
  readonly closed: boolean;
}

let active: Recorder | null = null;
let crossTrace: ((rec: Recorder, p: InterventionProxy) => InterventionProxy | undefined) | null =
  null;

/**
 * Sets how a proxy of another (finished) trace is used while `rec` records: the session maps it
 * to a node of `rec` that reads its value; undefined keeps the "another trace" error.
 */
export function setCrossTrace(
  fn: (rec: Recorder, p: InterventionProxy) => InterventionProxy | undefined,
): void {
  crossTrace = fn;
}

/** `p` as a proxy of the recorder now recording, when `p` is another trace's and a session maps it. */
function bridged(st: State, p: InterventionProxy): InterventionProxy | undefined {
  return active && active !== st.rec && st.rec.closed ? crossTrace?.(active, p) : undefined;
}

/** Makes `rec` the recorder that envoys and containers record into (null: none). */
export function setActiveRecorder(rec: Recorder | null): Recorder | null {
  const prev = active;
  active = rec;
  return prev;
}

/** Throws when a trace callback is recording: traces cannot nest. */
export function assertNotRecording(): void {
  if (active) {
    throw new TypeError(
      "A trace was started inside a trace callback: finish one trace before starting another",
    );
  }
}

/** The recorder of the callback now running, or a TypeError naming `what`. */
export function activeRecorder(what: string): Recorder {
  if (active) return active;
  throw new TypeError(
    `${what} is only available inside a trace callback: use it in the function passed to model.trace() or model.generate()`,
  );
}

/** Objects that stand for a node in the graph (containers) implement this. */
export const AS_NODE: unique symbol = Symbol("tsight.asNode");
/** Something with a graph node in a given recorder. */
export interface NodeLike {
  /** The object's node in `rec`, created on first use. */
  [AS_NODE](rec: Recorder): Node;
  /** The last node recorded in `rec` that writes into the object, if any. */
  lastWrite(rec: Recorder): Node | undefined;
}

const STATE: unique symbol = Symbol("tsight.proxy");
const INSPECT = Symbol.for("Deno.customInspect");
const INT = /^-?\d+$/;
/** Members that stay with a proxy's own trace (read after the run, or its identity). */
const AFTER_RUN = new Set(["then", "toJSON", "save", "value", "node", "toString"]);

interface State {
  rec: Recorder;
  node: Node | null;
  owner?: InterventionProxy;
  attr?: string;
}

type Target = (() => void) & { [STATE]: State };

/** A method result as seen while recording: proxies, with object results' keys kept. */
export type Proxied<R> = R extends Tensor | number | string | boolean | void | readonly unknown[]
  ? InterventionProxy
  : R extends Promise<unknown> ? InterventionProxy
  : R extends object ? { readonly [K in keyof R]: Proxied<R[K]> } & InterventionProxy
  : InterventionProxy;

/** The Tensor members a graph may reach, as recording proxy members (methods return proxies). */
export type TensorMembers =
  & {
    readonly [K in TracedMethod]: Tensor[K] extends (...a: infer A) => infer R
      ? (...args: { [I in keyof A]: A[I] | InterventionProxy }) => Proxied<R>
      : never;
  }
  & { readonly [K in TracedProperty]: InterventionProxy };

/**
 * `p.grad` of a proxy: the gradient that reaches this module value (a module's output or input,
 * or an element of its tuple) when `metric.backward()` runs in the trace. Read it, `.save()` it,
 * edit it in place (`p.grad.set(":", 0)`) or assign a number, Tensor or value (`p.grad = v`);
 * edits are what reaches earlier layers. A trace with no backward pass cannot read it.
 */
export type GradMember = {
  get grad(): InterventionProxy;
  set grad(value: number | Tensor | InterventionProxy);
};

/**
 * A value of the running model, seen while the callback records. It mirrors the Tensor API
 * method for method (each call records a node and returns a new proxy), indexes tuples and
 * tensors (`p[0]`, `p[-1]`, `p.get(":, -1")`), edits in place (`p.set(":", 0)`), and after the
 * run gives its value through `.value` once saved.
 *
 * @example
 * ```ts ignore
 * let h;
 * await model.trace("Hello", () => {
 *   h = model.transformer.h[0].output[0].get(":, -1").mul(2).save();
 * });
 * console.log(h.value.shape); // [1, 768]
 * ```
 */
export interface InterventionProxy extends TensorMembers, GradMember {
  /** Element `i` of a tuple, or row `i` of a tensor; negative counts from the end. */
  readonly [index: number]: InterventionProxy;
  /** Indexes a tuple (number) or a tensor (index grammar) or an object (key). */
  get(index: IndexSpec | InterventionProxy): InterventionProxy;
  /** Writes `value` into the indexed region of the value in place (element `i` of a tuple). */
  set(index: IndexSpec, value: unknown): InterventionProxy;
  /** Keeps this value after the run; returns the proxy, whose `.value` is then readable. */
  save(): this;
  /**
   * Runs the backward pass from this value (one element, e.g. a logit difference) inside the
   * trace; `retainGraph` keeps the graph for a later backward (the run keeps it itself when
   * another `backward()` follows).
   */
  backward(opts?: { retainGraph?: boolean }): InterventionProxy;
  /**
   * Ends the forward pass as soon as this value is computed (nnsight's `.stop()`); values saved
   * before then stay readable, later ones say the trace stopped early.
   */
  stop(): void;
  /** `model.output.logits` (HF's CausalLMOutput spelling): the model's output itself. */
  readonly logits: InterventionProxy;
  /** The value after the run (saved proxies only). */
  readonly value: Value;
  /** The graph node this proxy stands for. */
  readonly node: Node;
}

/** True for an InterventionProxy. */
export function isProxy(v: unknown): v is InterventionProxy {
  return typeof v === "function" && (v as Partial<Target>)[STATE] !== undefined;
}

/** The node of a proxy, recording a pending attribute read first if needed. */
export function nodeOf(p: InterventionProxy): Node {
  const st = (p as unknown as Target)[STATE];
  if (st.node) return st.node;
  if (isTracedMethod(st.attr)) {
    throw new TypeError(
      `${String(st.owner)}.${st.attr} is a method, used here as a value: call it, ${st.attr}(...)`,
    );
  }
  st.node = st.rec.add("getattr", [st.owner, st.attr]);
  return st.node;
}

/** The recorder a proxy belongs to. */
export function recorderOf(p: InterventionProxy): Recorder {
  return (p as unknown as Target)[STATE].rec;
}

/** Makes the proxy of `node` (or of a pending `owner.attr` read when node is null). */
export function makeProxy(
  rec: Recorder,
  node: Node | null,
  owner?: InterventionProxy,
  attr?: string,
): InterventionProxy {
  const target = function () {} as Target;
  target[STATE] = { rec, node, owner, attr };
  return new Proxy(target, HANDLER) as unknown as InterventionProxy;
}

/**
 * Converts a raw argument for the graph: proxies and containers become Refs (their ids are
 * pushed on `deps`), arrays and object literals are walked, anything else is a literal.
 */
export function toArg(rec: Recorder, v: unknown, deps: number[], reads?: NodeLike[]): unknown {
  if (!isBranch(v)) return argLeaf(rec, v, deps, reads);
  return mapLeaves(v, (x) => argLeaf(rec, x, deps, reads), { leaf: isNodeOrProxy });
}

function argLeaf(rec: Recorder, x: unknown, deps: number[], reads?: NodeLike[]): unknown {
  if (isProxy(x)) {
    if (recorderOf(x) !== rec) {
      const b = crossTrace?.(rec, x);
      if (b) return toArg(rec, b, deps, reads);
      throw new TypeError(
        `A proxy from another trace was used here: pass its saved .value instead`,
      );
    }
    const n = nodeOf(x);
    deps.push(n.id);
    return new Ref(n.id);
  }
  if (isNodeLike(x)) {
    reads?.push(x);
    const n = x[AS_NODE](rec);
    deps.push(n.id);
    return new Ref(n.id);
  }
  return x;
}

function isNodeOrProxy(v: unknown): boolean {
  return isProxy(v) || isNodeLike(v);
}

function isNodeLike(v: unknown): v is NodeLike {
  return v !== null && typeof v === "object" && AS_NODE in v;
}

function record(st: State, self: InterventionProxy, op: NodeOp, rest: unknown[]) {
  return st.rec.proxy(st.rec.add(op, [self, ...rest]));
}

const HANDLER: ProxyHandler<Target> = {
  get(target, prop, receiver) {
    const st = target[STATE];
    const self = receiver as InterventionProxy;
    if (typeof prop === "symbol") {
      if (prop === STATE) return st;
      if (prop === INSPECT) return () => `InterventionProxy(${describeState(st)})`;
      if (prop === Symbol.toPrimitive) {
        return () => {
          throw new TypeError(
            `${
              describeState(st)
            } has no value while the callback records: use tracer.log(), tracer.apply() or .save() and read .value after the trace`,
          );
        };
      }
      return undefined;
    }
    if (!AFTER_RUN.has(prop)) {
      const b = bridged(st, self);
      if (b) return Reflect.get(b, prop);
    }
    switch (prop) {
      case "then":
      case "toJSON":
        return undefined;
      case "save":
        return () => {
          nodeOf(self).saved = true;
          return self;
        };
      case "value":
        return st.rec.valueOf(nodeOf(self));
      case "node":
        return nodeOf(self);
      case "set":
        return (index: unknown, value: unknown) => record(st, self, "set", [index, value]);
      case "grad":
        return record(st, self, "grad", []);
      case "backward":
        return (opts: { retainGraph?: boolean } = {}) =>
          record(st, self, "backward", [opts?.retainGraph === true]);
      case "get":
        return (index: unknown) => record(st, self, "getitem", [index]);
      case "stop":
        return () => void st.rec.add("stopafter", [self]);
      case "logits":
        return rootLogits(st, self);
      case "toString":
        return () => `InterventionProxy(${describeState(st)})`;
    }
    if (st.rec.closed) {
      throw new TypeError(
        `${
          describeState(st)
        }.${prop} was used after the trace callback returned: read the saved .value instead, or record it inside the callback`,
      );
    }
    if (INT.test(prop)) return record(st, self, "getitem", [Number(prop)]);
    if (isTracedMethod(prop)) return makeProxy(st.rec, null, self, prop);
    if (isTracedProperty(prop)) return record(st, self, "getattr", [prop]);
    throw new TypeError(unknownMember(describeState(st), prop));
  },
  set(target, prop, value, receiver) {
    const st = target[STATE];
    const b = bridged(st, receiver as InterventionProxy);
    if (b) return Reflect.set(b, prop, value);
    if (typeof prop === "string" && INT.test(prop)) {
      record(st, receiver as InterventionProxy, "set", [Number(prop), value]);
      return true;
    }
    if (prop === "grad") {
      const g = record(st, receiver as InterventionProxy, "grad", []);
      st.rec.add("gradset", [g, value]);
      return true;
    }
    throw new TypeError(
      `Cannot assign ${String(prop)} on ${
        describeState(st)
      }: use .set(index, value) to edit a value`,
    );
  },
  apply(target, _this, args) {
    const st = target[STATE];
    if (st.attr === undefined || st.node) {
      throw new TypeError(`${describeState(st)} is not a function`);
    }
    return st.rec.proxy(st.rec.add("call", [st.owner, st.attr, ...args]));
  },
};

/**
 * `model.output.logits`: the model's output is its logits tensor, so HF's `CausalLMOutput.logits`
 * spelling gives the same proxy. Any other value has no `.logits`.
 */
function rootLogits(st: State, self: InterventionProxy): InterventionProxy {
  const n = st.node;
  if (n?.op === "getter" && n.path === "" && n.kind === "output") return self;
  throw new TypeError(
    `${
      describeState(st)
    } has no .logits: only the model's output (model.output) is the logits; use it as it is`,
  );
}

function describeState(st: State): string {
  if (st.node) return `%${st.node.id} ${st.rec.describe(st.node)}`;
  return `${String(st.owner)}.${st.attr}`;
}

/** The error for a name that is neither a traced method nor property: the right spelling. */
function unknownMember(what: string, prop: string): string {
  if (/[:,.\s]|^-|^\[|^None$|^null$/.test(prop) || prop === "...") {
    return `${what} has no property ${JSON.stringify(prop)}: to index, write .get(${
      JSON.stringify(prop)
    })`;
  }
  const near = nearest(prop, PROXY_NAMES);
  return `${what} has no method or property "${prop}"${
    near.length ? `; did you mean ${near.map((n) => `"${n}"`).join(" or ")}?` : ""
  } A proxy has the Tensor methods (add, sum, softmax, ...), shape, dtype, device, ndim, size, get, set, save, stop and value; to read key "${prop}" of an object value, write .get("${prop}")`;
}
