// Connects a recorded graph to a model run: hooks only the modules the graph names, matches each
// module event against the getters for that call's step, narrows their values to an invoke's rows
// and runs what became ready; edits write back into the open event. Records nothing.

import { Tensor } from "../engine/mod.ts";
import type { Module } from "../model/module.ts";
import { Dataflow } from "./_dataflow.ts";
import type { ModuleEvent } from "./_edits.ts";
import { GradRun } from "./_grads.ts";
import { type Entry, HookSet } from "./_hooks.ts";
import { HeldLogs } from "./_log.ts";
import { TraceMemory } from "./_memory.ts";
import { editTarget, type NodeOpSpec, type OpContext, opSpec } from "./_node_ops.ts";
import { kindOf, onDevice } from "./_ops.ts";
import { BatchRows } from "./_rows.ts";
import type { RunOutcome } from "./_saved.ts";
import {
  GraphLimitError,
  InterventionError,
  MissingValueError,
  OutOfOrderError,
  providerKey,
  StopSignal,
} from "./errors.ts";
import type { Graph, Node } from "./graph.ts";
import type { RunPlan } from "./run_plan.ts";
import { stepsMatch } from "./steps.ts";

// Re-exported for the callers that name an invoke's rows with the interleaver.
export type { InvokeRows } from "./run_plan.ts";

/** What the interleaver needs to know about the run: its plan, less the model call. */
export type RunContext = Omit<RunPlan, "body">;

/**
 * Connects a graph to a model run. `install()` hooks the named modules, `start()` runs the
 * nodes that need no model value, `fireResult()` feeds the final output, `finish()` reports
 * steps that never ran; `uninstall()` (in a finally) leaves the model with no hooks.
 *
 * @example
 * ```ts ignore
 * const il = new Interleaver(graph, model, ctx);
 * il.install();
 * try { il.start(); const out = model.call(x); il.fireResult(out); il.finish(); }
 * finally { il.uninstall(); }
 * ```
 */
export class Interleaver {
  readonly #g: Graph;
  readonly #ctx: RunContext;
  readonly #batch: BatchRows;
  readonly #hooks: HookSet;
  readonly #flow: Dataflow;
  readonly #logs: HeldLogs;
  readonly #ops: OpContext;
  readonly #grads: GradRun;
  /** The event each getter is being served in, while it is open. */
  readonly #open: (ModuleEvent | null)[];
  /** The getter each edit node writes into (-1: not an edit of a module's value). */
  readonly #editTarget: Int32Array;
  /** Where nodes run now, for messages: a provider key. */
  #key = "the start of the run";
  /** True once `tracer.stop()` or `proxy.stop()` ended the run. */
  stopped = false;

  /**
   * Prepares to run `graph` on `root` (nothing is hooked until `install`). Values the graph
   * computes or receives are owned by `mem` (kept alive on webgpu until the trace frees them).
   */
  constructor(
    graph: Graph,
    root: Module,
    ctx: RunContext,
    opts: { mem?: TraceMemory; maxBytes?: number } = {},
  ) {
    const nodes = graph.nodes;
    const mem = opts.mem ?? new TraceMemory();
    this.#g = graph;
    this.#ctx = ctx;
    this.#batch = new BatchRows(ctx.invokes, ctx.batchSize);
    this.#hooks = new HookSet(root);
    this.#logs = new HeldLogs(mem);
    this.#open = new Array(nodes.length).fill(null);
    this.#editTarget = new Int32Array(nodes.length);
    const maxBytes = opts.maxBytes ?? Infinity;
    this.#ops = {
      log: (a) => this.#logs.log(a),
      callModule: (path, a) => {
        checkModuleBudget(root, path, a, maxBytes);
        return this.#hooks.callUnhooked(path, a);
      },
      budget: (elements, what) => {
        if (elements * 4 > maxBytes) {
          throw new GraphLimitError(
            `${what} would make or read ${
              elements * 4
            } bytes, more than maxBytes ${maxBytes}: nothing was allocated; work on a smaller slice or raise the maxBytes limit of model.run`,
            { limit: "maxBytes", max: maxBytes, found: elements * 4 },
          );
        }
      },
      backward: (metric, retain, node) => this.#grads.backward(metric, retain, node),
      setGrad: (grad, invoke, value, node) => this.#grads.setGrad(grad, invoke, value, node),
      stop: () => {
        this.stopped = true;
        throw new StopSignal();
      },
      param: (path, name) => {
        const w = root.getModule(path)?.parameter(name);
        if (!w) throw new RangeError(`Unknown module "${path}"`);
        this.#ops.budget(w.size, `${path}.${name}`);
        return w.clone();
      },
    };
    this.#grads = new GradRun(graph, this.#batch, (node, g, it) => {
      const key = this.#key;
      this.#key = `${graph.describe(node.id)} (backward)`;
      try {
        this.#flow.provide(node, g, it);
      } finally {
        this.#key = key;
      }
    });
    const args = nodes.map((node) => node.args.map((a) => onDevice(a, ctx.device)));
    for (const a of args) for (const x of a) mem.own(x); // literal tensors copied to the device
    this.#flow = new Dataflow(graph, { args, run: (node, a) => this.#run(node, a), mem });
    for (const node of nodes) {
      this.#editTarget[node.id] = editTarget(nodes, node);
      if (node.op === "getter") this.#hooks.add(node);
    }
  }

  /** Sets a hook on every module the graph names. */
  install(): void {
    this.#hooks.install((e, input, value, it) => this.#event(e, input, value, it));
  }

  /** Removes every hook `install` set. */
  uninstall(): void {
    this.#hooks.uninstall();
  }

  /** Runs the nodes that need no model value (containers, literals); may stop at once. */
  start(): void {
    this.#flow.start();
    this.#checkStop();
  }

  /** Fires `tracer.result` nodes with the model's final output. */
  fireResult(value: unknown): void {
    this.#key = "tracer.result";
    for (const node of this.#g.nodes) {
      if (node.op === "result") this.#flow.provide(node, this.#batch.narrow(value, node.invoke), 0);
    }
  }

  /** Throws a MissingValueError for the first single-step getter that never fired. */
  finish(): void {
    if (this.stopped) return;
    const missing = this.#g.nodes.filter((n) =>
      n.op === "getter" && !n.multi && !this.#flow.valueOf(n.id).ok
    );
    if (missing.length > 0) throw this.missingError(missing[0], missing.length - 1);
    const grad = this.#grads.missing((id) => this.#flow.valueOf(id).ok);
    if (grad) {
      const key = this.#g.describe(grad.id);
      throw new MissingValueError(
        `${key} was never produced: no backward pass reached that value (the metric does not depend on it, or it was computed with gradients off)`,
        key,
      );
    }
  }

  /** The error for a getter that never fired. */
  missingError(node: Node, more = 0): MissingValueError {
    const key = this.#g.describe(node.id);
    const calls = this.#hooks.calls(node.path!);
    const never = calls === 0
      ? ` and never ${this.#hooks.verb(node.path!)} "${node.path || "model"}"`
      : "";
    const also = more > 0 ? ` (and ${more} more)` : "";
    return new MissingValueError(
      `${key} was never produced: ${this.#ctx.summary()}${never}${also}`,
      key,
    );
  }

  /** What the run leaves for its saved values: the dataflow, and why a getter never fired. */
  get outcome(): RunOutcome {
    return {
      values: this.#flow,
      stopped: this.stopped,
      missing: (n) => this.missingError(n).message,
      logs: this.#logs.pending,
    };
  }

  /** `tracer.log` arguments held back to print after the run (webgpu values), in order. */
  get pendingLogs(): readonly unknown[][] {
    return this.#logs.pending;
  }

  /**
   * One module event: serves every getter of this call's step, narrowed to its invoke's rows,
   * while the event stays open for edits; returns the edited value, if any.
   */
  #event(e: Entry, input: boolean, value: unknown, it: number): unknown {
    const getters = input ? e.inputs : e.outputs;
    let ev: ModuleEvent | null = null;
    for (const g of getters) {
      if (!stepsMatch(g.steps!, it)) continue;
      ev ??= {
        entry: e,
        input,
        key: providerKey(e.path, input ? "input" : "output", `i${it}`),
        value,
      };
      this.#open[g.id] = ev;
    }
    if (!ev) return undefined;
    try {
      for (const g of getters) {
        if (this.#open[g.id] !== ev) continue;
        this.#key = ev.key;
        const v = g.kind === "input" ? (ev.value as unknown[])[0] : ev.value;
        this.#flow.provide(g, this.#batch.narrow(v, g.invoke), it);
      }
      for (const g of getters) {
        if (this.#open[g.id] !== ev) continue;
        this.#grads.hook(g, g.kind === "input" ? (ev.value as unknown[])[0] : ev.value, it);
      }
    } finally {
      for (const g of getters) if (this.#open[g.id] === ev) this.#open[g.id] = null;
    }
    this.#checkStop();
    return ev.value === value ? undefined : ev.value;
  }

  #checkStop(): void {
    if (this.#flow.stopReached) {
      this.stopped = true;
      throw new StopSignal();
    }
  }

  /** Computes a node's value; a failure becomes an InterventionError naming the node and event. */
  #run(node: Node, args: unknown[]): unknown {
    try {
      const spec = opSpec(node.op);
      if (spec.edit) {
        const target = this.#editTarget[node.id];
        if (target >= 0) return this.#edit(node, args, spec.edit, target);
      }
      if (!spec.run) throw new TypeError(`Node op "${node.op}" is fired by the run, not run`);
      return spec.run(args, this.#ops, node);
    } catch (e) {
      if (e instanceof InterventionError || e instanceof StopSignal) throw e;
      if (e instanceof GraphLimitError) {
        throw new GraphLimitError(`Node %${node.id} ${this.#g.describe(node.id)}: ${e.message}`, {
          limit: e.limit,
          max: e.max,
          found: e.found,
          node: node.id,
        });
      }
      const msg = e instanceof Error ? e.message : String(e);
      throw new InterventionError(
        `Node %${node.id} ${this.#g.describe(node.id)} failed at ${this.#key}: ${msg}`,
        node.id,
        this.#key,
        { cause: e },
      );
    }
  }

  /** Runs an edit into the event its getter is open in; it is too late once that has closed. */
  #edit(node: Node, args: unknown[], edit: NonNullable<NodeOpSpec["edit"]>, target: number) {
    const event = this.#open[target];
    if (!event) throw this.#outOfOrder(node, target);
    return edit(node, args, { event, getter: this.#g.nodes[target], batch: this.#batch });
  }

  #outOfOrder(node: Node, getter: number): OutOfOrderError {
    const key = this.#g.describe(getter);
    return new OutOfOrderError(
      `Node %${node.id} ${
        this.#g.describe(node.id)
      } edits ${key} but could only run at ${this.#key}, after "${
        this.#g.nodes[getter].path
      }" had handed its value on: an edit must depend only on values that exist when its module runs`,
      node.id,
      this.#key,
    );
  }
}

/**
 * The work budget of a `module` node: its tensor inputs, and an estimate of its output (the
 * input's rows times the module's widest weight), checked before the module runs.
 */
function checkModuleBudget(root: Module, path: string, args: unknown[], maxBytes: number): void {
  if (maxBytes === Infinity) return;
  const m = root.getModule(path);
  if (!m) return;
  const widest = Math.max(1, ...m.namedParameters().flatMap(([, w]) => w.shape));
  for (const a of args) {
    if (!(a instanceof Tensor)) continue;
    const rows = a.size / Math.max(1, a.shape.at(-1) ?? 1);
    const elements = Math.max(a.size, rows * widest);
    if (elements * 4 > maxBytes) {
      throw new GraphLimitError(
        `${path || "model"}() on ${kindOf(a)} would make or read about ${
          elements * 4
        } bytes, more than maxBytes ${maxBytes}: nothing was allocated; call it on a smaller slice or raise the maxBytes limit of model.run`,
        { limit: "maxBytes", max: maxBytes, found: elements * 4 },
      );
    }
  }
}
