// Runs a recorded graph against a model's events: hooks only the modules the graph names,
// fires getters by (path, kind, step), runs each node once per firing of what it depends on,
// narrows values to an invoke's rows and swaps replacements back. Records nothing.

import { type Device, Tensor } from "../engine/mod.ts";
import type { Module } from "../model/module.ts";
import { type Entry, HookSet } from "./_hooks.ts";
import {
  InterventionError,
  MissingValueError,
  OutOfOrderError,
  providerKey,
  StopSignal,
} from "./errors.ts";
import { type Graph, isPlain, type Node, Ref } from "./graph.ts";
import { stepsMatch } from "./steps.ts";
import { execute, hasDeviceTensor, merge, narrow, onDevice, truthy, VIEW_METHODS } from "./_ops.ts";
import { NodeQueue } from "./_queue.ts";
import { TraceMemory } from "./_memory.ts";

/** The rows of one invoke in the batch. */
export interface InvokeRows {
  /** First row. */
  start: number;
  /** Number of rows. */
  size: number;
}

/** What the interleaver needs to know about the run. */
export interface RunContext {
  /** Rows of each invoke; node.invoke indexes this. */
  invokes: readonly InvokeRows[];
  /** Rows in the batch. */
  batchSize: number;
  /** The device model values live on: literal tensors in the graph are moved there. */
  device?: Device;
  /** Describes the run for messages, e.g. "generation ran 3 steps". */
  summary(): string;
}

/** One module call's input or output, while its getters are being served. */
interface Event {
  entry: Entry;
  input: boolean;
  key: string;
  value: unknown;
}

const NEVER = -2;

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
  readonly #nodes: readonly Node[];
  readonly #root: Module;
  readonly #ctx: RunContext;
  readonly #args: (readonly unknown[])[];
  readonly #values: unknown[];
  readonly #has: Uint8Array;
  readonly #fire: Float64Array;
  readonly #last: Float64Array;
  readonly #visited: Uint8Array;
  readonly #open: (Event | null)[];
  readonly #editRoot: Int32Array;
  readonly #dependents: number[][];
  readonly #hooks: HookSet;
  readonly #queue: NodeQueue;
  readonly #mem: TraceMemory;
  /** `tracer.log` calls held until the run ends (their args hold webgpu tensors). */
  readonly #logs: unknown[][] = [];
  #stopAt = Infinity;
  #beforeStop = 0;
  #key = "the start of the run";
  /** True once `tracer.stop()` ended the run. */
  stopped = false;

  /**
   * Prepares to run `graph` on `root` (nothing is hooked until `install`). Values the graph
   * computes or receives are owned by `mem` (kept alive on webgpu until the trace frees them).
   */
  constructor(graph: Graph, root: Module, ctx: RunContext, mem: TraceMemory = new TraceMemory()) {
    this.#g = graph;
    this.#mem = mem;
    this.#nodes = graph.nodes;
    this.#root = root;
    this.#ctx = ctx;
    const n = this.#nodes.length;
    this.#values = new Array(n);
    this.#has = new Uint8Array(n);
    this.#fire = new Float64Array(n).fill(-1);
    this.#last = new Float64Array(n).fill(NEVER);
    this.#visited = new Uint8Array(n);
    this.#open = new Array(n).fill(null);
    this.#editRoot = new Int32Array(n).fill(-1);
    this.#queue = new NodeQueue(n);
    this.#hooks = new HookSet(root);
    this.#dependents = Array.from({ length: n }, () => []);
    this.#args = this.#nodes.map((node) => node.args.map((a) => onDevice(a, ctx.device)));
    mem.own(this.#args); // literal tensors copied to the model's device
    for (const node of this.#nodes) {
      for (const d of node.deps) this.#dependents[d].push(node.id);
      if (node.op === "stop" && node.id < this.#stopAt) this.#stopAt = node.id;
      if (node.op === "set") this.#editRoot[node.id] = this.#rootGetter(node.args[0]);
      if (node.op === "getter") this.#hooks.add(node);
    }
    this.#beforeStop = Number.isFinite(this.#stopAt) ? this.#stopAt : -1;
  }

  /** Module paths the graph hooks. */
  get paths(): string[] {
    return [...this.#hooks.entries.keys()];
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
    for (const node of this.#nodes) {
      if (node.deps.length === 0 && node.op !== "getter" && node.op !== "result") {
        this.#queue.push(node.id);
      }
    }
    this.#drain();
    this.#checkStop();
  }

  /** Fires `tracer.result` nodes with the model's final output. */
  fireResult(value: unknown): void {
    this.#key = "tracer.result";
    for (const node of this.#nodes) {
      if (node.op !== "result") continue;
      this.#provide(node, this.#narrow(value, node.invoke), 0);
      this.#drain();
    }
  }

  /** Throws a MissingValueError for the first single-step getter that never fired. */
  finish(): void {
    if (this.stopped) return;
    const missing = this.#nodes.filter((n) => n.op === "getter" && !n.multi && !this.#has[n.id]);
    if (missing.length === 0) return;
    throw this.missingError(missing[0], missing.length - 1);
  }

  /** The error for a getter that never fired. */
  missingError(node: Node, more = 0): MissingValueError {
    const key = this.#g.describe(node.id);
    const calls = this.#hooks.calls(node.path!);
    const never = calls === 0 ? ` and never called "${node.path || "model"}"` : "";
    const also = more > 0 ? ` (and ${more} more)` : "";
    return new MissingValueError(
      `${key} was never produced: ${this.#ctx.summary()}${never}${also}`,
      key,
    );
  }

  /** `tracer.log` arguments held back to print after the run (webgpu values), in order. */
  get pendingLogs(): readonly unknown[][] {
    return this.#logs;
  }

  /** Whether node `id` has a value, and the value. */
  valueOf(id: number): { ok: boolean; value: unknown } {
    return { ok: this.#has[id] === 1, value: this.#values[id] };
  }

  /** How many times the module at `path` was called (hooked modules only). */
  calls(path: string): number {
    return this.#hooks.calls(path);
  }

  // ---- events ----------------------------------------------------------------------------

  #event(e: Entry, input: boolean, value: unknown, it: number): unknown {
    const getters = input ? e.inputs : e.outputs;
    let ev: Event | null = null;
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
        this.#provide(g, this.#narrow(v, g.invoke), it);
        this.#drain();
      }
    } finally {
      for (const g of getters) if (this.#open[g.id] === ev) this.#open[g.id] = null;
    }
    this.#checkStop();
    return ev.value === value ? undefined : ev.value;
  }

  #provide(node: Node, value: unknown, it: number): void {
    this.#mem.own(value);
    this.#values[node.id] = value;
    this.#has[node.id] = 1;
    this.#fire[node.id] = it;
    this.#visit(node.id);
    for (const d of this.#dependents[node.id]) this.#queue.push(d);
  }

  #checkStop(): void {
    if (this.#beforeStop === 0) {
      this.stopped = true;
      throw new StopSignal();
    }
  }

  #visit(id: number): void {
    if (this.#visited[id]) return;
    this.#visited[id] = 1;
    if (id < this.#stopAt) this.#beforeStop--;
  }

  /** Runs queued nodes in recording order (in-place edits before later reads) until none is left. */
  #drain(): void {
    const q = this.#queue;
    while (q.size > 0) {
      const id = q.pop();
      if (this.#tryRun(this.#nodes[id])) { for (const d of this.#dependents[id]) q.push(d); }
    }
    q.nextRound();
  }

  /** Runs `node` if every dependency has a value and one of them fired since its last run. */
  #tryRun(node: Node): boolean {
    if (node.op === "getter" || node.op === "result" || node.op === "stop") return false;
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
    const args = this.#resolve(this.#args[node.id]);
    try {
      const value = this.#run(node, args);
      this.#mem.own(value);
      this.#values[node.id] = value;
    } catch (e) {
      if (e instanceof InterventionError || e instanceof StopSignal) throw e;
      const msg = e instanceof Error ? e.message : String(e);
      throw new InterventionError(
        `Node %${node.id} ${this.#g.describe(node.id)} failed at ${this.#key}: ${msg}`,
        node.id,
        this.#key,
        { cause: e },
      );
    }
    this.#has[node.id] = 1;
    return true;
  }

  #run(node: Node, args: unknown[]): unknown {
    switch (node.op) {
      case "set": {
        const root = this.#editRoot[node.id];
        if (root < 0) return execute(node, args);
        const ev = this.#open[root];
        if (!ev) throw this.#outOfOrder(node, root);
        const g = this.#nodes[root], rows = this.#rows(g.invoke);
        if (!rows || !Array.isArray(args[0])) return execute(node, args);
        // A narrowed tuple is a copy: write the element into the model's own tuple as well.
        if ((node.args[0] as Ref).id !== root || g.kind === "input") {
          throw new TypeError(
            `Setting an element of a nested tuple inside one of several invokes is not supported: replace the whole value with ${g.path}.${g.kind} = [...]`,
          );
        }
        const out = execute(node, args) as unknown[];
        const i = (args[1] as number) < 0 ? out.length + (args[1] as number) : args[1] as number;
        const whole = [...(ev.value as unknown[])];
        whole[i] = merge(whole[i], args[2], rows, this.#ctx.batchSize);
        ev.value = whole;
        return out;
      }
      case "swap": {
        const g = this.#nodes[(node.args[0] as Ref).id];
        const ev = this.#open[g.id];
        if (!ev) throw this.#outOfOrder(node, g.id);
        const rows = this.#rows(g.invoke);
        if (ev.input && g.kind === "input") {
          const a = [...(ev.value as unknown[])];
          a[0] = merge(a[0], args[1], rows, this.#ctx.batchSize);
          ev.value = a;
        } else ev.value = merge(ev.value, args[1], rows, this.#ctx.batchSize);
        return args[1];
      }
      case "skip": {
        const g = this.#nodes[(node.args[0] as Ref).id];
        const ev = this.#open[g.id];
        if (!ev) throw this.#outOfOrder(node, g.id);
        if (this.#rows(g.invoke)) {
          throw new TypeError(
            `skip() inside one of several invokes would replace every row's output: call it outside tracer.invoke() with a value for the whole batch`,
          );
        }
        ev.entry.skipBox = { value: args[1] };
        return args[1];
      }
      case "log": {
        // A webgpu value cannot be read while the model runs: print at the end of the run,
        // with a snapshot taken now (later in-place edits do not show), in recording order.
        if (this.#logs.length === 0 && !hasDeviceTensor(args)) return execute(node, args);
        const snapshot = args.map((
          a,
        ) => (a instanceof Tensor && a.device === "webgpu" ? a.clone() : a));
        this.#mem.own(snapshot);
        this.#logs.push(snapshot);
        return undefined;
      }
      case "module": {
        const m = this.#root.getModule(args[0] as string);
        if (!m) throw new RangeError(`Unknown module "${args[0]}"`);
        this.#hooks.muted = true; // a call made by the graph is not one of the model's iterations
        try {
          return (m.forward as (...a: unknown[]) => unknown)(...args.slice(1));
        } finally {
          this.#hooks.muted = false;
        }
      }
      default:
        return execute(node, args);
    }
  }

  #outOfOrder(node: Node, getter: number): OutOfOrderError {
    const key = this.#g.describe(getter);
    return new OutOfOrderError(
      `Node %${node.id} ${
        this.#g.describe(node.id)
      } edits ${key} but could only run at ${this.#key}, after "${
        this.#nodes[getter].path
      }" had handed its value on: an edit must depend only on values that exist when its module runs`,
      node.id,
      this.#key,
    );
  }

  /** The getter an in-place edit writes into, following index and view ops. */
  #rootGetter(target: unknown): number {
    while (target instanceof Ref) {
      const n = this.#nodes[target.id];
      if (n.op === "getter") return n.id;
      const viewCall = n.op === "call" && VIEW_METHODS.has(n.args[1] as string);
      if (n.op !== "getitem" && n.op !== "set" && !viewCall) return -1;
      target = n.args[0];
    }
    return -1;
  }

  #resolve(args: readonly unknown[]): unknown[] {
    return args.map((a) => this.#resolveOne(a));
  }

  #resolveOne(a: unknown): unknown {
    if (a instanceof Ref) return this.#values[a.id];
    if (Array.isArray(a)) return a.map((x) => this.#resolveOne(x));
    if (isPlain(a)) {
      return Object.fromEntries(Object.entries(a).map(([k, x]) => [k, this.#resolveOne(x)]));
    }
    return a;
  }

  /** The rows of invoke `i` when they are not the whole batch, else null. */
  #rows(i: number): InvokeRows | null {
    if (i < 0) return null;
    const r = this.#ctx.invokes[i];
    return r.start === 0 && r.size === this.#ctx.batchSize ? null : r;
  }

  #narrow(v: unknown, invoke: number): unknown {
    const rows = this.#rows(invoke);
    return rows ? narrow(v, rows, this.#ctx.batchSize) : v;
  }
}
