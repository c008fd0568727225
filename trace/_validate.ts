// Validation of a serialised graph from elsewhere, before anything runs: every node's fields,
// op and arguments (through the node-op table), refs to earlier nodes only, steps, invokes, and
// the node-count limit. Builds no graph and runs nothing.

import { decodeChecked, type GraphLimits, quote, resolveLimits } from "./_decode.ts";
import { type ArgCheck, isNodeOp, NODE_OPS, opSpec } from "./_node_ops.ts";
import { FORBIDDEN_KEYS } from "./_ops.ts";
import { collectRefs, isPlain, Ref } from "./_values.ts";
import { GraphLimitError, GraphValidationError } from "./errors.ts";

export { DEFAULT_LIMITS, type GraphLimits, resolveLimits } from "./_decode.ts";
import type { EventKind, GraphJSON, NodeOp } from "./graph.ts";
import type { Steps } from "./steps.ts";

/** Options of `Graph.fromJSON`: the limits and what the caller knows of the run. */
export interface GraphCheckOptions extends GraphLimits {
  /** Number of invokes (inputs) of the request: a node's invoke must be below it. */
  invokes?: number;
  /** True when `path` names a module of the model (getters, `module` nodes). */
  hasModule?: (path: string) => boolean;
  /** True when `path` names a point of a module's forward (`transformer.h.0.attn.source.q`). */
  hasPoint?: (path: string) => boolean;
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
/** The ops a request may hold: the table's serialisable rows (not `apply`). */
const JSON_OPS = (Object.keys(NODE_OPS) as NodeOp[]).filter((op) => opSpec(op).serialisable);
const PATH = /^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|\d+))*$/;

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
    return fail("op", op, `a node op: ${JSON_OPS.join(", ")}`);
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
  collectRefs(args, deps);
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
  if ((op === "module" || op === "param") && opts.hasModule && !opts.hasModule(args[0] as string)) {
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
  const point = opts.hasPoint?.(path as string) === true;
  if (opts.hasModule && !point && !opts.hasModule(path as string)) {
    fail(
      "path",
      path,
      "the path of a module of this model, or of a point (<module>.source.<name>)",
    );
  }
  if (point && n.kind !== "output") fail("kind", n.kind, '"output" (a point has no input)');
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
