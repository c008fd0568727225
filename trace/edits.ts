// Edits: interventions recorded once (`model.edit(fn)`) that every later trace and generate of
// the model starts with, as nnsight's `model.edit()`; export and import as validated JSON.
// Holds the recorded graph; runs nothing (the traces that start from it run it).

import { GraphValidationError } from "./errors.ts";
import { Graph, type GraphJSON, isPlain, Ref } from "./graph.ts";
import { type GraphLimits, quote, resolveLimits } from "./_decode.ts";
import { record, Tracer, type TracerOptions } from "./tracer.ts";

/** Version tag of exported edits. */
export const EDITS_FORMAT = "tsight-edits v1";

/** Edits as JSON, from `model.exportEdits()`. */
export interface EditsJSON {
  /** {@link EDITS_FORMAT}. */
  format: string;
  /** The recorded edit nodes. */
  graph: GraphJSON;
}

/** Options of `model.edit`. */
export interface EditOptions {
  /** Edit this model (true) or return an edited shallow copy that shares its weights (default). */
  inplace?: boolean;
}

const EDITS = new WeakMap<object, Graph>();

/** The edit graph of `model` (empty when it has none). */
export function editsOf(model: object): Graph {
  return EDITS.get(model) ?? new Graph();
}

/** Gives `to` a copy of `from`'s edits (a shallow copy keeps the original's edits). */
export function copyEdits(from: object, to: object): void {
  const g = EDITS.get(from);
  if (g) EDITS.set(to, copyGraph(g));
}

/** Removes every edit of `model`. */
export function clearEdits(model: object): void {
  EDITS.delete(model);
}

/**
 * A tracer that starts with `model`'s edits: the trace's own nodes follow them, so they read
 * the edited values.
 */
export function editedTracer(model: object, opts: TracerOptions = {}): Tracer {
  const g = EDITS.get(model);
  return new Tracer(g ? copyGraph(g) : undefined, opts);
}

/**
 * Records `fn` as edits of `model`, for every step of every module (`all`): an edit applies each
 * time its module runs, in a trace and at every step of generate. Nothing is kept when recording
 * throws.
 */
export function recordEdits(
  model: object,
  fn: (tracer: Tracer) => unknown,
  all: (fn: () => void) => void,
): void {
  const tracer = editedTracer(model);
  const start = tracer.graph.nodes.length;
  record(tracer, (t) => {
    all(() => {
      fn(t);
    });
  });
  if (tracer.inputs.length > 0) {
    throw new TypeError(
      "tracer.invoke() inside model.edit(): edits apply to the whole batch of every later trace, so they take no input",
    );
  }
  if (tracer.graph.nodes.slice(start).some((n) => n.saved)) {
    throw new TypeError(
      ".save() inside model.edit() keeps nothing: an edit records interventions that later traces start with; save the value inside the trace that runs the edited model",
    );
  }
  EDITS.set(model, tracer.graph);
}

/** The edits of `model` as JSON (a TypeError for an edit with `tracer.apply`). */
export function exportEdits(model: object): EditsJSON {
  return { format: EDITS_FORMAT, graph: editsOf(model).toJSON() };
}

/**
 * Adds edits exported by {@link exportEdits} (untrusted: validated as Graph.fromJSON validates a
 * graph, against the model's modules) after `model`'s own. A bad one throws a
 * GraphValidationError and changes nothing.
 */
export function importEdits(
  model: object,
  json: unknown,
  opts: { hasModule: (path: string) => boolean; limits?: GraphLimits },
): void {
  const bad = (field: string, found: unknown, allowed: string): never => {
    throw new GraphValidationError({ field, found: quote(found), allowed });
  };
  if (!isPlain(json)) return bad("edits", json, `an object {format: "${EDITS_FORMAT}", graph}`);
  const obj = json;
  for (const k of Object.keys(obj)) {
    if (k !== "format" && k !== "graph") bad(`edits.${k}`, k, "format and graph");
  }
  if (obj.format !== EDITS_FORMAT) bad("edits.format", obj.format, `"${EDITS_FORMAT}"`);
  const limits = resolveLimits(opts.limits ?? {});
  // fromJSON checks the graph's shape itself: it is typed as GraphJSON but read as untrusted.
  const g = Graph.fromJSON(obj.graph as GraphJSON, { ...limits, hasModule: opts.hasModule });
  for (const n of g.nodes) {
    if (n.invoke >= 0) {
      bad(`graph.nodes[${n.id}].invoke`, n.invoke, "no invoke (edits apply to the whole batch)");
    }
    if (n.saved) bad(`graph.nodes[${n.id}].saved`, true, "no saved node (an edit keeps no values)");
    if (n.op === "result" || n.op === "stop") {
      bad(`graph.nodes[${n.id}].op`, n.op, "an op other than result and stop in an edit");
    }
  }
  const merged = copyGraph(editsOf(model));
  appendShifted(merged, g);
  EDITS.set(model, merged);
}

/** A copy of `g` whose nodes can be appended to without touching `g`. */
function copyGraph(g: Graph): Graph {
  const out = new Graph();
  appendShifted(out, g);
  return out;
}

/** Appends `src`'s nodes to `dst`, their Refs shifted past `dst`'s nodes. */
function appendShifted(dst: Graph, src: Graph): void {
  const k = dst.nodes.length;
  const shift = (id: number) => id + k;
  for (const n of src.nodes) {
    const node = dst.add(n.op, n.args.map((a) => shiftRefs(a, k)), n.deps.map(shift), {
      invoke: n.invoke,
      cond: n.cond.map(shift),
      after: n.after.map(shift),
      getter: n.op === "getter" ? { path: n.path!, kind: n.kind!, steps: n.steps! } : undefined,
    });
    if (n.init !== undefined) node.init = n.init;
  }
}

function shiftRefs(v: unknown, k: number): unknown {
  if (k === 0) return v;
  if (v instanceof Ref) return new Ref(v.id + k);
  if (Array.isArray(v)) return v.map((x) => shiftRefs(x, k));
  if (isPlain(v)) {
    return Object.fromEntries(Object.entries(v).map(([key, x]) => [key, shiftRefs(x, k)]));
  }
  return v;
}
