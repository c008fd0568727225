// Tracer: what a trace callback records into (invoke, stop, apply, log, cond, result), and
// runTrace(), which records, runs the graph through an Interleaver, and hands back values.

import type { Device, Tensor } from "../engine/mod.ts";
import { tidy } from "../engine/webgpu/scope.ts";
import { TraceMemory } from "./_memory.ts";
import { printLog } from "./_ops.ts";
import type { Module } from "../model/module.ts";
import type { DictProxy, ListProxy } from "./containers.ts";
import { MissingValueError, StopSignal } from "./errors.ts";
import { type AddOptions, Graph, isPlain, type Node, type NodeOp, Ref } from "./graph.ts";
import { Interleaver, type InvokeRows } from "./interleaver.ts";
import {
  AS_NODE,
  assertNotRecording,
  type InterventionProxy,
  isProxy,
  makeProxy,
  type NodeLike,
  nodeOf,
  type Recorder,
  setActiveRecorder,
  toArg,
  type Value,
} from "./proxy.ts";

/** A callback's return value with proxies replaced by what they stood for. */
export type Resolved<T> = T extends InterventionProxy ? Value
  : T extends ListProxy<infer U> ? U[]
  : T extends DictProxy<infer U> ? Record<string, U>
  : T extends Tensor ? T
  : T extends (...a: never[]) => unknown ? T
  : T extends object ? { [K in keyof T]: Resolved<T[K]> }
  : T;

/**
 * The recording context of one trace, passed to the callback. Nodes recorded inside
 * `invoke(input, fn)` see only that input's rows of the batch.
 *
 * @example
 * ```ts ignore
 * await model.trace((tracer) => {
 *   tracer.invoke("The Eiffel Tower is in", () => { clean = model.transformer.h[5].output[0].save(); });
 *   tracer.invoke("The Colosseum is in", () => { model.transformer.h[5].output[0].set(":, -1", clean.get(":, -1")); });
 * });
 * ```
 */
export class Tracer implements Recorder {
  /** The recorded nodes. */
  readonly graph: Graph;
  /** Inputs of the batch, one per invoke (the trace's own input is invoke 0). */
  readonly inputs: unknown[] = [];
  #invoke = -1;
  #cond: number[] = [];
  #closed = false;
  #results = new Map<number, InterventionProxy>();
  #values = new Map<number, Value>();
  #missing = new Map<number, string>();
  #state: "recording" | "running" | "done" | "failed" = "recording";
  #failure = "";

  /** A tracer over `graph` (a new one by default). */
  constructor(graph: Graph = new Graph()) {
    this.graph = graph;
  }

  /** The invoke now recording (-1 outside any). */
  get currentInvoke(): number {
    return this.#invoke;
  }
  /** True once recording has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds `input` to the batch; nodes recorded in `fn` see only its rows. */
  invoke(input: unknown, fn: (tracer: Tracer) => void): void {
    this.#open("tracer.invoke()");
    if (this.#invoke >= 0) {
      throw new TypeError("tracer.invoke() cannot be nested inside another invoke");
    }
    this.inputs.push(input);
    this.#invoke = this.inputs.length - 1;
    try {
      fn(this);
    } finally {
      this.#invoke = -1;
    }
  }

  /** Ends the run once every node recorded before this call has run. */
  stop(): void {
    this.add("stop", []);
  }

  /** Calls plain TypeScript on real values at run time; returns a proxy of its result. */
  apply(fn: (...args: Value[]) => unknown, ...args: unknown[]): InterventionProxy {
    if (typeof fn !== "function") {
      throw new TypeError(`tracer.apply() needs a function, got ${typeof fn}`);
    }
    return this.proxy(this.add("apply", [fn, ...args]));
  }

  /** Prints values (tensors with their first elements) when the model runs. */
  log(...args: unknown[]): void {
    this.add("log", args);
  }

  /** Records `fn`'s nodes to run only when `pred` is truthy (a one-element tensor or a value). */
  cond(pred: unknown, fn: () => void): void {
    this.#open("tracer.cond()");
    if (!isProxy(pred)) {
      if (pred) fn();
      return;
    }
    const deps: number[] = [];
    toArg(this, pred, deps);
    this.#cond.push(deps[0]);
    try {
      fn();
    } finally {
      this.#cond.pop();
    }
  }

  /** The model's final output: logits for trace(), all token ids for generate(). */
  get result(): InterventionProxy {
    let p = this.#results.get(this.#invoke);
    if (!p) this.#results.set(this.#invoke, p = this.proxy(this.add("result", [])));
    return p;
  }

  // ---- Recorder ----------------------------------------------------------------------------

  /** Records a node. */
  add(op: NodeOp, args: readonly unknown[], getter?: AddOptions["getter"]): Node {
    this.#open(op === "getter" ? `.${getter?.kind}` : `Recording ${op}`);
    const deps: number[] = [];
    const reads: NodeLike[] = [];
    const write = op === "append" || op === "dictset";
    const conv = args.map((a, i) => toArg(this, a, deps, write && i === 0 ? undefined : reads));
    const provider = op === "getter" || op === "result";
    // Reading a container waits for the writes recorded before the read.
    const after = reads.flatMap((c) => c.lastWrite(this)?.id ?? []);
    return this.graph.add(op, conv, [...new Set(deps)], {
      invoke: this.#invoke,
      cond: provider ? [] : [...this.#cond],
      getter,
      after,
    });
  }
  /** The proxy of a node. */
  proxy(node: Node): InterventionProxy {
    return makeProxy(this, node);
  }
  /** Human form of a node. */
  describe(node: Node): string {
    return this.graph.describe(node.id);
  }
  /** A saved node's value after the run, or an error saying why there is none. */
  valueOf(node: Node): Value {
    const what = `%${node.id} ${this.describe(node)}`;
    if (this.#state === "recording" || this.#state === "running") {
      throw new TypeError(
        `${what} has no value yet: values exist after the trace's promise resolves`,
      );
    }
    if (this.#state === "failed") {
      throw new TypeError(`${what} has no value: the trace failed (${this.#failure})`);
    }
    if (!node.saved) {
      throw new TypeError(`${what} was not saved: call .save() on it inside the callback`);
    }
    if (this.#values.has(node.id)) return this.#values.get(node.id);
    throw new MissingValueError(
      `${what} has no value: ${this.#missing.get(node.id) ?? "it never ran"}`,
      what,
    );
  }

  #open(what: string): void {
    if (this.#closed) {
      throw new TypeError(
        `${what} was used after the trace callback returned: record everything inside the callback`,
      );
    }
  }

  // ---- running -----------------------------------------------------------------------------

  /** Ends recording. */
  close(): void {
    this.#closed = true;
  }

  /**
   * Runs the graph: hooks `root`, calls `body` (the model run), keeps saved values. Resolves to
   * the body's output when `raw`, else undefined (the output is then only reachable through
   * saved nodes). On webgpu, saved values, the raw output and pending `tracer.log` values come
   * back as cpu tensors read with one sync, and every device tensor the trace made is freed,
   * also after an error.
   */
  async run(root: Module, plan: RunPlan, raw = false): Promise<unknown> {
    this.#state = "running";
    const mem = new TraceMemory();
    let il: Interleaver | undefined;
    let output: unknown;
    try {
      il = new Interleaver(this.graph, root, plan, mem);
      try {
        il.install();
        try {
          tidy(() => il!.start());
          output = await plan.body();
          mem.own(output);
          tidy(() => il!.fireResult(output));
        } catch (e) {
          if (!(e instanceof StopSignal)) throw e;
        }
        il.finish();
      } finally {
        il.uninstall();
      }
      this.#keep(il);
      output = await this.#toHost(il, mem, raw ? output : undefined);
    } catch (e) {
      this.#state = "failed";
      this.#failure = e instanceof Error ? e.message : String(e);
      if (il?.pendingLogs.length) await this.#printLogs(il, mem).catch(() => {});
      throw e;
    } finally {
      mem.free();
    }
    this.#state = "done";
    return output;
  }

  #keep(il: Interleaver): void {
    for (const n of this.graph.nodes) {
      if (!n.saved) continue;
      const { ok, value } = il.valueOf(n.id);
      if (ok) this.#values.set(n.id, value);
      else {this.#missing.set(
          n.id,
          il.stopped ? "the trace stopped early (tracer.stop())" : this.#why(il, n),
        );}
    }
  }

  /**
   * Copies saved values, the output and held-back logs to the cpu with one read (webgpu) and
   * prints the logs; resolves to the output's copy.
   */
  async #toHost(il: Interleaver, mem: TraceMemory, output: unknown): Promise<unknown> {
    const ids = [...this.#values.keys()];
    const containers = this.graph.nodes
      .filter((n) => (n.op === "list" || n.op === "dict") && this.#values.has(n.id))
      .map((n) => this.#values.get(n.id) as object);
    const logs = il.pendingLogs;
    const host = await mem.toHost(
      [output, ...logs, ...ids.map((id) => this.#values.get(id))],
      containers,
    );
    ids.forEach((id, i) => this.#values.set(id, host[1 + logs.length + i]));
    for (let i = 0; i < logs.length; i++) printLog(host[1 + i] as unknown[]);
    return host[0];
  }

  /** After a failure: prints the held-back logs (one read), which help find what went wrong. */
  async #printLogs(il: Interleaver, mem: TraceMemory): Promise<void> {
    for (const args of await mem.toHost([...il.pendingLogs])) printLog(args as unknown[]);
  }

  /** Why node `n` never ran: a getter that never fired, or a false condition. */
  #why(il: Interleaver, n: Node): string {
    const seen = new Set<number>();
    const stack = [n.id];
    while (stack.length) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const d = this.graph.nodes[id];
      if (d.op === "getter" && !il.valueOf(id).ok) return il.missingError(d).message;
      stack.push(...d.deps);
    }
    return n.cond.length || this.graph.nodes.some((x) => seen.has(x.id) && x.cond.length)
      ? "its tracer.cond() condition was false"
      : "it never ran";
  }

  /** Every saved node's value after the run, by node id. */
  savedValues(): Map<number, Value> {
    return new Map(this.#values);
  }

  /** Replaces proxies, Refs and containers in `v` by their values. */
  resolve(v: unknown): unknown {
    if (isProxy(v)) return this.#values.get(nodeOf(v).id);
    if (v instanceof Ref) return this.#values.get(v.id);
    if (v !== null && typeof v === "object" && AS_NODE in v) {
      return (v as unknown as { value: unknown }).value;
    }
    if (Array.isArray(v)) return v.map((x) => this.resolve(x));
    if (isPlain(v)) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, this.resolve(x)]));
    }
    return v;
  }

  /** Marks every proxy in a returned structure as saved and returns it with Refs. */
  keepReturned(v: unknown): unknown {
    const deps: number[] = [];
    const enc = toArg(this, v, deps);
    for (const id of deps) this.graph.nodes[id].saved = true;
    return enc;
  }
}

/** How to run one trace: the batch layout and the model call. */
export interface RunPlan {
  /** Rows of each invoke. */
  invokes: readonly InvokeRows[];
  /** Rows in the batch. */
  batchSize: number;
  /** Device model values live on. */
  device?: Device;
  /** Runs the model; resolves to its final output. */
  body(): Promise<unknown>;
  /** Describes the run for messages ("generation ran 3 steps"). */
  summary(): string;
}

/**
 * Runs a trace callback: records it (synchronously, with `tracer` active), checks the result
 * is not a promise, and returns the returned structure encoded with Refs.
 */
export function record(tracer: Tracer, fn: ((tracer: Tracer) => unknown) | undefined): unknown {
  if (!fn) {
    tracer.close();
    return undefined;
  }
  assertNotRecording();
  setActiveRecorder(tracer);
  try {
    const ret = fn(tracer);
    if (
      ret instanceof Promise ||
      (ret !== null && typeof ret === "object" &&
        typeof (ret as { then?: unknown }).then === "function")
    ) {
      throw new TypeError(
        "The trace callback returned a promise: it must be synchronous, since it only records; values exist after the trace resolves",
      );
    }
    return tracer.keepReturned(ret);
  } finally {
    setActiveRecorder(null);
    tracer.close();
  }
}
