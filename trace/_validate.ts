// Validation of a serialised graph from elsewhere, before anything runs: every node's fields,
// op and arguments (through the node-op table), refs to earlier nodes only, steps, invokes, and
// the depth and node-count limits. Decodes literals; builds no graph and runs nothing.

import { tensor } from "../engine/mod.ts";
import { type ArgCheck, isNodeOp, opSpec } from "./_node_ops.ts";
import { FORBIDDEN_KEYS } from "./_ops.ts";
import { isPlain, Ref } from "./_values.ts";
import { GraphLimitError, GraphValidationError } from "./errors.ts";
import type { EventKind, GraphJSON, NodeOp } from "./graph.ts";
import type { Steps } from "./steps.ts";

/** Limits of `model.run` and `Graph.fromJSON` on a request from elsewhere. */
export interface GraphLimits {
  /** Deepest nesting of arrays and objects in args, inputs, options and output; default 32. */
  maxDepth?: number;
  /** Most nodes in a graph; default 100000. */
  maxNodes?: number;
  /**
   * Largest tensor a node may make or read, in bytes (4 per element), checked before it
   * allocates; also caps literal tensors and the model's own batch. Default 1 GiB.
   */
  maxBytes?: number;
}

/** The defaults of {@link GraphLimits}. */
export const DEFAULT_LIMITS: Readonly<Required<GraphLimits>> = Object.freeze({
  maxDepth: 32,
  maxNodes: 100_000,
  maxBytes: 2 ** 30,
});

/** Options of `Graph.fromJSON`: the limits and what the caller knows of the run. */
export interface GraphCheckOptions extends GraphLimits {
  /** Number of invokes (inputs) of the request: a node's invoke must be below it. */
  invokes?: number;
  /** True when `path` names a module of the model (getters, `module` nodes). */
  hasModule?: (path: string) => boolean;
}

/** One validated node, its literals decoded. */
export interface CheckedNode {
  op: NodeOp;
  args: unknown[];
  deps: number[];
  invoke: number;
  cond: number[];
  after: number[];
  saved: boolean;
  getter?: { path: string; kind: EventKind; steps: Steps };
}

const NODE_KEYS = new Set([
  "op",
  "args",
  "invoke",
  "cond",
  "after",
  "saved",
  "path",
  "kind",
  "steps",
]);
const KINDS: readonly string[] = ["input", "inputs", "output"];
const PATH = /^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\d+))*$/;

/** Limits filled with defaults, each checked to be a positive number. */
export function resolveLimits(l: GraphLimits = {}): Required<GraphLimits> {
  const out = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(l ?? {})) {
    if (!Object.hasOwn(DEFAULT_LIMITS, k)) {
      throw new TypeError(
        `Unknown limit "${k}": the limits are ${Object.keys(DEFAULT_LIMITS).join(", ")}`,
      );
    }
    if (v === undefined) continue;
    if (typeof v !== "number" || !(v > 0)) {
      throw new RangeError(`Limit ${k} is ${JSON.stringify(v)}: it must be a number > 0`);
    }
    out[k as keyof GraphLimits] = v;
  }
  return out;
}

/** A value for messages: JSON, cut at 60 characters. */
export function quote(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "function") return "a function";
  if (v instanceof Ref) return `a reference to %${v.id}`;
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Decodes one encoded value (see `encodeValue`) with its checks: depth, tags, forbidden keys,
 * literal tensors. `fail(field, found, allowed)` throws; `field` is the path below `at`.
 */
export function decodeChecked(
  v: unknown,
  at: string,
  opts: {
    limits: Required<GraphLimits>;
    fail: (field: string, found: unknown, allowed: string) => never;
    node?: number;
  },
  depth = 0,
): unknown {
  if (depth > opts.limits.maxDepth) {
    throw new GraphLimitError(
      `${
        opts.node !== undefined ? `Node %${opts.node} ` : "Request "
      }${at} is nested deeper than maxDepth ${opts.limits.maxDepth}: flatten it or raise the maxDepth limit of model.run`,
      { limit: "maxDepth", max: opts.limits.maxDepth, found: depth, node: opts.node },
    );
  }
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) {
      opts.fail(at, v, 'a finite number (NaN and Infinity are tagged {"$number": "NaN"})');
    }
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => decodeChecked(x, `${at}[${i}]`, opts, depth + 1));
  if (!isPlain(v)) {
    opts.fail(at, v, "JSON: null, a boolean, a number, a string, an array or an object");
  }
  const keys = Object.keys(v);
  for (const k of keys) {
    if (FORBIDDEN_KEYS.has(k)) {
      opts.fail(`${at}.${k}`, k, "a key other than __proto__, constructor, prototype");
    }
  }
  const tag = keys.find((k) => k.startsWith("$"));
  if (tag === undefined) return decodeObject(v, at, opts, depth);
  const only = (allowed: string) => {
    if (keys.length !== 1) opts.fail(at, v, `${allowed} alone, with no other keys`);
  };
  switch (tag) {
    case "$ref":
      only('{"$ref": id}');
      if (!Number.isSafeInteger(v.$ref) || (v.$ref as number) < 0) {
        opts.fail(`${at}.$ref`, v.$ref, "a node id (an integer >= 0)");
      }
      return new Ref(v.$ref as number);
    case "$undefined":
      only('{"$undefined": true}');
      if (v.$undefined !== true) opts.fail(`${at}.$undefined`, v.$undefined, "true");
      return undefined;
    case "$number":
      only('{"$number": "NaN"}');
      if (!["NaN", "Infinity", "-Infinity"].includes(v.$number as string)) {
        opts.fail(`${at}.$number`, v.$number, '"NaN", "Infinity" or "-Infinity"');
      }
      return Number(v.$number);
    case "$tensor":
      only('{"$tensor": {dtype, shape, data}}');
      return decodeTensor(v.$tensor, `${at}.$tensor`, opts);
    case "$object":
      only('{"$object": {...}}');
      if (!isPlain(v.$object)) opts.fail(`${at}.$object`, v.$object, "an object");
      for (const k of Object.keys(v.$object)) {
        if (FORBIDDEN_KEYS.has(k)) {
          opts.fail(`${at}.$object.${k}`, k, "a key other than __proto__, constructor, prototype");
        }
      }
      return decodeObject(v.$object, `${at}.$object`, opts, depth + 1);
    default:
      return opts.fail(
        `${at}.${tag}`,
        tag,
        'one of the tags $ref, $undefined, $number, $tensor, $object (wrap other "$" keys in {"$object": ...})',
      );
  }
}

function decodeObject(
  v: Record<string, unknown>,
  at: string,
  opts: Parameters<typeof decodeChecked>[2],
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = decodeChecked(x, `${at}.${k}`, opts, depth + 1);
  return out;
}

function decodeTensor(
  raw: unknown,
  at: string,
  opts: Parameters<typeof decodeChecked>[2],
): unknown {
  const fail: (field: string, found: unknown, allowed: string) => never = opts.fail;
  if (!isPlain(raw) || Object.keys(raw).some((k) => !["dtype", "shape", "data"].includes(k))) {
    return fail(at, raw, "{dtype, shape, data}");
  }
  const t = raw;
  if (t.dtype !== "float32" && t.dtype !== "int32") {
    fail(`${at}.dtype`, t.dtype, '"float32" or "int32"');
  }
  const shape = t.shape as number[], data = t.data as number[];
  if (
    !Array.isArray(shape) || shape.length > 16 ||
    !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  ) fail(`${at}.shape`, shape, "a list of at most 16 sizes (integers >= 0)");
  if (!Array.isArray(data) || !data.every((x) => typeof x === "number")) {
    fail(`${at}.data`, data, "a flat list of numbers");
  }
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    fail(
      `${at}.data`,
      `${data.length} numbers`,
      `${size} numbers for shape [${(shape as number[]).join(", ")}]`,
    );
  }
  if (size * 4 > opts.limits.maxBytes) {
    throw new GraphLimitError(
      `${at} holds ${
        size * 4
      } bytes, more than maxBytes ${opts.limits.maxBytes}: send a smaller tensor or raise the maxBytes limit of model.run`,
      { limit: "maxBytes", max: opts.limits.maxBytes, found: size * 4, node: opts.node },
    );
  }
  if (
    t.dtype === "int32" && !data.every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31)
  ) {
    fail(`${at}.data`, data, "int32 values (integers in [-2^31, 2^31))");
  }
  return tensor(data as number[], shape as number[], { dtype: t.dtype as "float32" | "int32" });
}

/** Checks a graph's JSON node by node and returns its nodes decoded; throws on the first fault. */
export function validateGraph(json: GraphJSON, opts: GraphCheckOptions = {}): CheckedNode[] {
  const limits = resolveLimits({
    maxDepth: opts.maxDepth,
    maxNodes: opts.maxNodes,
    maxBytes: opts.maxBytes,
  });
  const top = (field: string, found: unknown, allowed: string): never => {
    throw new GraphValidationError({ field, found: quote(found), allowed });
  };
  if (!isPlain(json)) top("graph", json, 'an object {format: "tsight-graph v1", nodes: [...]}');
  for (const k of Object.keys(json)) {
    if (k !== "format" && k !== "nodes") top(`graph.${k}`, k, "format and nodes");
  }
  if (json.format !== "tsight-graph v1") top("graph.format", json.format, '"tsight-graph v1"');
  if (!Array.isArray(json.nodes)) top("graph.nodes", json.nodes, "a list of nodes");
  if (json.nodes.length > limits.maxNodes) {
    throw new GraphLimitError(
      `The graph has ${json.nodes.length} nodes, more than maxNodes ${limits.maxNodes}: split the request or raise the maxNodes limit of model.run`,
      { limit: "maxNodes", max: limits.maxNodes, found: json.nodes.length },
    );
  }
  const out: CheckedNode[] = [];
  json.nodes.forEach((raw: unknown, id: number) => out.push(checkNode(raw, id, out, limits, opts)));
  return out;
}

function checkNode(
  raw: unknown,
  id: number,
  done: readonly CheckedNode[],
  limits: Required<GraphLimits>,
  opts: GraphCheckOptions,
): CheckedNode {
  const fail = (field: string, found: unknown, allowed: string): never => {
    const shown = typeof found === "string" && found.startsWith("a reference to %")
      ? found
      : quote(found);
    throw new GraphValidationError({ node: id, field, found: shown, allowed });
  };
  if (!isPlain(raw)) fail("", raw, "an object {op, args, ...}");
  const n = raw as Record<string, unknown>;
  for (const k of Object.keys(n)) {
    if (!NODE_KEYS.has(k)) fail(k, k, `a node field: ${[...NODE_KEYS].join(", ")}`);
  }
  const op = n.op;
  if (!isNodeOp(op)) {
    return fail(
      "op",
      op,
      "a node op: getter, result, stop, getattr, call, getitem, set, swap, skip, module, log, list, dict, append, dictset",
    );
  }
  const spec = opSpec(op);
  if (!spec.serialisable) {
    fail(
      "op",
      op,
      "an op JSON can carry (apply runs a TypeScript function, so it never comes from a request)",
    );
  }
  if (!Array.isArray(n.args)) fail("args", n.args, "a list of arguments");
  const args = (n.args as unknown[]).map((a, i) =>
    decodeChecked(a, `args[${i}]`, { limits, fail, node: id }, 1)
  );
  const deps: number[] = [];
  collectChecked(args, deps);
  const earlier = (d: number, field: string) => {
    if (Number.isSafeInteger(d) && d >= 0 && d < id) return;
    const found = Number.isSafeInteger(d) ? `a reference to %${d}` : d;
    fail(
      field,
      found,
      id === 0
        ? "none: node %0 has no earlier node"
        : `a reference to an earlier node (%0 to %${id - 1})`,
    );
  };
  for (const d of deps) earlier(d, "args");
  const ids = (field: "cond" | "after"): number[] => {
    const v = n[field];
    if (v === undefined) return [];
    if (!Array.isArray(v)) fail(field, v, "a list of ids of earlier nodes");
    (v as unknown[]).forEach((d, i) => earlier(d as number, `${field}[${i}]`));
    return [...new Set(v as number[])];
  };
  const cond = ids("cond"), after = ids("after");
  const provider = spec.role === "provider";
  if (provider && cond.length) fail("cond", n.cond, "none: providers are not conditional");
  const inv = n.invoke === undefined ? -1 : n.invoke;
  const invokes = opts.invokes ?? Infinity;
  if (!Number.isSafeInteger(inv) || (inv as number) < -1 || (inv as number) >= invokes) {
    fail(
      "invoke",
      inv,
      `-1 (the whole batch) or an invoke index${
        Number.isFinite(invokes) ? ` below ${invokes}` : ""
      }`,
    );
  }
  if (n.saved !== undefined && typeof n.saved !== "boolean") {
    fail("saved", n.saved, "true or false");
  }
  const check: ArgCheck = {
    fail: (i, found, allowed) => fail(i < 0 ? "args" : `args[${i}]`, found, allowed),
    target: (v) => {
      if (!(v instanceof Ref)) return undefined;
      const t = done[v.id];
      return { op: t.op, kind: t.getter?.kind };
    },
  };
  spec.check(args, check);
  if (op === "module" && opts.hasModule && !opts.hasModule(args[0] as string)) {
    fail("args[0]", args[0], "the path of a module of this model");
  }
  let getter: CheckedNode["getter"];
  if (op === "getter") getter = checkGetter(n, fail, opts);
  else {
    for (const k of ["path", "kind", "steps"]) {
      if (k in n) fail(k, n[k], "nothing: only getters have it");
    }
  }
  return {
    op,
    args,
    deps: [...new Set([...deps])],
    invoke: inv as number,
    cond,
    after,
    saved: n.saved === true,
    getter,
  };
}

function collectChecked(v: unknown, out: number[]): void {
  if (v instanceof Ref) out.push(v.id);
  else if (Array.isArray(v)) { for (const x of v) collectChecked(x, out); }
  else if (isPlain(v)) { for (const x of Object.values(v)) collectChecked(x, out); }
}

function checkGetter(
  n: Record<string, unknown>,
  fail: (field: string, found: unknown, allowed: string) => never,
  opts: GraphCheckOptions,
): CheckedNode["getter"] {
  const path = n.path;
  if (typeof path !== "string" || (path !== "" && (path.length > 512 || !PATH.test(path)))) {
    fail("path", path, 'a module path ("transformer.h.0", "" for the model)');
  }
  for (const part of (path as string).split(".")) {
    if (FORBIDDEN_KEYS.has(part)) {
      fail("path", path, "a module path without __proto__, constructor, prototype");
    }
  }
  if (opts.hasModule && !opts.hasModule(path as string)) {
    fail("path", path, "the path of a module of this model");
  }
  if (!KINDS.includes(n.kind as string)) fail("kind", n.kind, '"input", "inputs" or "output"');
  return { path: path as string, kind: n.kind as EventKind, steps: checkSteps(n.steps, fail) };
}

function checkSteps(
  s: unknown,
  fail: (field: string, found: unknown, allowed: string) => never,
): Steps {
  const step = (v: unknown, field: string, min = 0) => {
    if (!Number.isSafeInteger(v) || (v as number) < min) fail(field, v, `an integer >= ${min}`);
    return v as number;
  };
  if (!isPlain(s)) {
    return fail(
      "steps",
      s,
      '{kind: "at", step}, {kind: "all"}, {kind: "set", steps} or {kind: "range", start, stop, step}',
    );
  }
  const keys = (allowed: string[]) => {
    for (const k of Object.keys(s)) {
      if (!allowed.includes(k)) fail(`steps.${k}`, k, allowed.join(", "));
    }
  };
  switch (s.kind) {
    case "all":
      keys(["kind"]);
      return { kind: "all" };
    case "at":
      keys(["kind", "step"]);
      return { kind: "at", step: step(s.step, "steps.step") };
    case "set": {
      keys(["kind", "steps"]);
      const v = s.steps;
      if (!Array.isArray(v) || v.length < 2 || v.length > 100_000) {
        fail("steps.steps", v, "a list of 2 or more steps");
      }
      const list = (v as unknown[]).map((x, i) => step(x, `steps.steps[${i}]`));
      if (list.some((x, i) => i > 0 && x <= list[i - 1])) {
        fail("steps.steps", v, "steps in ascending order, each once");
      }
      return { kind: "set", steps: list };
    }
    case "range": {
      keys(["kind", "start", "stop", "step"]);
      const start = step(s.start, "steps.start");
      const stop = s.stop === null ? null : step(s.stop, "steps.stop", start);
      return { kind: "range", start, stop, step: step(s.step, "steps.step", 1) };
    }
    default:
      return fail("steps.kind", s.kind, '"at", "all", "set" or "range"');
  }
}
