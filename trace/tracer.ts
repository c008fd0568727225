// Tracer: what a trace callback records into (invoke, stop, apply, log, cond, result); record()
// runs the callback, and Tracer.run() runs the graph once through an Interleaver.

import { type Tensor, tidy } from "../engine/mod.ts";
import type { Module } from "../model/module.ts";
import { tapeFor, untape } from "./_grads.ts";
import { printHeld } from "./_log.ts";
import { TraceMemory } from "./_memory.ts";
import { SavedValues } from "./_saved.ts";
import type { DictProxy, ListProxy } from "./containers.ts";
import { StopSignal } from "./errors.ts";
import { type ArgCheck, opSpec } from "./_node_ops.ts";
import { type GraphLimits, quote, resolveLimits } from "./_decode.ts";
import { type AddOptions, Graph, type Node, type NodeOp, Ref } from "./graph.ts";
import { Interleaver } from "./interleaver.ts";
import { Condition, gateOf } from "./condition.ts";
import { advance, iterate, scopeSteps } from "./_scopes.ts";
import { Invoker } from "./invoker.ts";
import {
  assertNotRecording,
  type InterventionProxy,
  makeProxy,
  type NodeLike,
  type Recorder,
  setActiveRecorder,
  toArg,
  type Value,
} from "./proxy.ts";
import type { RunPlan } from "./run_plan.ts";
import type { Envoy } from "./envoy.ts";
import { type Cache, type CacheOptions, recordCache } from "./cache.ts";

// Re-exported for the callers that name the plan with the tracer.
export type { RunPlan } from "./run_plan.ts";

/** A callback's return value with proxies replaced by what they stood for. */
export type Resolved<T> = T extends InterventionProxy ? Value
  : T extends ListProxy<infer U> ? U[]
  : T extends DictProxy<infer U> ? Record<string, U>
  : T extends Tensor ? T
  : T extends (...a: never[]) => unknown ? T
  : T extends object ? { [K in keyof T]: Resolved<T[K]> }
  : T;

/** Options of the {@link Tracer} constructor. */
export interface TracerOptions extends Pick<GraphLimits, "maxBytes"> {
  /** What `invoker.inputs` shows for an input (a LanguageModel: its token-id rows). */
  prepare?: (input: unknown) => unknown;
}

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
  #inInvoke = false;
  #cond: number[] = [];
  readonly #prepare: (input: unknown) => unknown;
  #closed = false;
  #results = new Map<number, InterventionProxy>();
  readonly #saved: SavedValues;

  readonly #maxBytes: number;
  readonly #deferred: (() => void)[] = [];
  /** The model's root envoy, for `cache()` (set by the model that makes the tracer). */
  root?: Envoy;

  /**
   * A tracer over `graph` (a new one by default). `maxBytes` is the work budget of its run: the
   * largest tensor a node may make or read (no limit by default; `model.run` sets one).
   */
  constructor(graph: Graph = new Graph(), opts: TracerOptions = {}) {
    this.graph = graph;
    this.#prepare = opts.prepare ?? ((x) => x);
    this.#saved = new SavedValues(graph);
    this.#maxBytes = opts.maxBytes === undefined ? Infinity : resolveLimits(opts).maxBytes;
  }

  /** The invoke now recording (-1 outside any). */
  get currentInvoke(): number {
    return this.#invoke;
  }
  /** True once recording has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds `input` to the batch; nodes recorded in `fn` see only its rows. With no input
   * (`tracer.invoke(fn)`), `fn`'s nodes see the whole batch of the other invokes.
   */
  invoke(input: unknown, fn: (invoker: Invoker) => void): void;
  /** Nodes recorded in `fn` see the whole batch (the other invokes' inputs). */
  invoke(fn: (invoker: Invoker) => void): void;
  invoke(a: unknown, b?: (invoker: Invoker) => void): void {
    this.#open("tracer.invoke()");
    if (this.#inInvoke) {
      throw new TypeError("tracer.invoke() cannot be nested inside another invoke");
    }
    const empty = typeof a === "function" && b === undefined;
    const fn = (empty ? a : b) as (invoker: Invoker) => void;
    if (typeof fn !== "function") {
      throw new TypeError(`tracer.invoke() needs a callback, got ${typeof fn}`);
    }
    if (!empty) this.inputs.push(a);
    const index = empty ? -1 : this.inputs.length - 1;
    this.#invoke = index;
    this.#inInvoke = true;
    try {
      fn(new Invoker(this, index, this.#prepare));
    } finally {
      this.#invoke = -1;
      this.#inInvoke = false;
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

  /**
   * Every module's output (and, with `includeInputs`, inputs) by path after the run, as
   * nnsight 0.5's `tracer.cache()`: a list of entries for a module that ran several times.
   */
  cache(opts: CacheOptions = {}): Cache {
    this.#open("tracer.cache()");
    const root = this.root;
    if (!root) throw new TypeError("tracer.cache() needs a trace of a model");
    const { cache, record } = recordCache(root, opts);
    // Recorded when the callback returns, so the cache sees the values after every edit.
    const at = { invoke: this.#invoke, cond: [...this.#cond] };
    this.#deferred.push(() => {
      [this.#invoke, this.#cond] = [at.invoke, at.cond];
      try {
        record();
      } finally {
        [this.#invoke, this.#cond] = [-1, []];
      }
    });
    return cache;
  }

  /** Records what was deferred to the end of the callback (`cache()`); called by record(). */
  recordDeferred(): void {
    for (const f of this.#deferred.splice(0)) f();
  }

  /** Marks a recorded trace as never run (a session skipped it): its values say `why`. */
  skipped(why: string): void {
    this.#saved.fail(why);
  }

  /** Prints values (tensors with their first elements) when the model runs. */
  log(...args: unknown[]): void {
    this.add("log", args);
  }

  /**
   * Records `fn`'s nodes to run only when `pred` is truthy (a one-element cpu tensor or a value);
   * chain `.elif(pred, fn)` and `.else(fn)` on the result.
   */
  cond(pred: unknown, fn: () => void): Condition {
    this.#branch([], pred, fn);
    return new Condition((earlier, p, f) => this.#branch(earlier, p, f), pred);
  }

  /** Records `fn` gated on: every predicate of `earlier` false and `pred` truthy. */
  #branch(earlier: readonly unknown[], pred: unknown, fn: () => void): void {
    this.#open("tracer.cond()");
    const gate = gateOf(this, earlier, pred);
    if (typeof gate === "boolean") {
      if (gate) fn();
      return;
    }
    this.#cond.push(gate);
    try {
      fn();
    } finally {
      this.#cond.pop();
    }
  }

  /**
   * Steps for every module while `fn` records (nnsight 0.7's `tracer.iter[2:5]`): a step (`3`)
   * or a slice (`"2:5"`, `":"`). Given an array or other iterable (nnsight 0.4's
   * `tracer.iter(collection)`), calls `fn(item, index)` for each item instead; a list of steps
   * is `model.iter([0, 2, 4], fn)`.
   */
  iter(steps: number | string, fn: () => void): void;
  /** Calls `fn(item, index)` for each item of `collection` while recording. */
  iter<T>(collection: Iterable<T>, fn: (item: T, index: number) => void): void;
  // deno-lint-ignore no-explicit-any
  iter(spec: unknown, fn: (...a: any[]) => void): void {
    this.#open("tracer.iter()");
    iterate(this, spec, fn);
  }

  /** Every step for every module while `fn` records (nnsight 0.7's `tracer.all()`). */
  all(fn: () => void): void {
    this.#open("tracer.all()");
    scopeSteps(this, "", ":", fn);
  }

  /** Moves every module's cursor `k` steps on (nnsight 0.7's `tracer.next()`). */
  next(k = 1): this {
    this.#open("tracer.next()");
    advance(this, "", k, "tracer.next()");
    return this;
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
    const spec = opSpec(op);
    const deps: number[] = [];
    const reads: NodeLike[] = [];
    const write = spec.role === "write";
    const conv = args.map((a, i) => toArg(this, a, deps, write && i === 0 ? undefined : reads));
    spec.check(conv, this.#argCheck(op, conv));
    // Providers fire with the model; a container exists wherever it is first used.
    const ungated = spec.role === "provider" || spec.role === "container";
    // Reading a container waits for the writes recorded before the read.
    const after = reads.flatMap((c) => c.lastWrite(this)?.id ?? []);
    return this.graph.add(op, conv, [...new Set(deps)], {
      invoke: this.#invoke,
      cond: ungated ? [] : [...this.#cond],
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
    return this.#saved.get(node);
  }

  /** Reports a bad argument while recording as a TypeError naming what was recorded. */
  #argCheck(op: NodeOp, args: readonly unknown[]): ArgCheck {
    const nodes = this.graph.nodes;
    return {
      fail: (i, found, allowed) => {
        const what = op === "call" ? `${String(args[1])}()` : opSpec(op).recordedBy;
        const where = i < 0
          ? "takes"
          : `argument ${op === "call" ? i - 1 : i + 1} is ${quote(found)}:`;
        throw new TypeError(
          i < 0
            ? `${what} ${where} ${allowed}, got ${found}`
            : `${what}: ${where} it must be ${allowed}`,
        );
      },
      target: (v) => {
        if (!(v instanceof Ref)) return undefined;
        const n = nodes[v.id];
        return { op: n.op, kind: n.kind };
      },
    };
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
    this.#saved.running();
    const mem = new TraceMemory();
    let il: Interleaver | undefined;
    let output: unknown;
    const taped = tapeFor(this.graph, root);
    try {
      il = new Interleaver(this.graph, root, plan, { mem, maxBytes: this.#maxBytes });
      output = await runHooked(il, plan, mem);
      this.#saved.keep(il.outcome);
      output = await this.#saved.toHost(il.outcome, mem, raw ? output : undefined);
    } catch (e) {
      this.#saved.fail(e);
      if (il?.pendingLogs.length) await printHeld(il.pendingLogs, mem).catch(() => {});
      throw e;
    } finally {
      untape(taped);
      mem.free();
    }
    this.#saved.done();
    return output;
  }

  /** Every saved node's value after the run, by node id. */
  savedValues(): Map<number, Value> {
    return this.#saved.all();
  }

  /** Replaces proxies, Refs and containers in `v` by their values. */
  resolve(v: unknown): unknown {
    return this.#saved.resolve(v);
  }

  /** Marks every proxy in a returned structure as saved and returns it with Refs. */
  keepReturned(v: unknown): unknown {
    const deps: number[] = [];
    const enc = toArg(this, v, deps);
    for (const id of deps) this.graph.nodes[id].saved = true;
    return enc;
  }
}

/**
 * Runs the model with the graph's hooks set; resolves to its output (undefined when
 * `tracer.stop()` ended the run before the model returned).
 */
async function runHooked(il: Interleaver, plan: RunPlan, mem: TraceMemory): Promise<unknown> {
  let output: unknown;
  try {
    il.install();
    try {
      tidy(() => il.start());
      output = await plan.body();
      mem.own(output);
      tidy(() => il.fireResult(output));
    } catch (e) {
      if (!(e instanceof StopSignal)) throw e;
    }
    il.finish();
  } finally {
    il.uninstall();
  }
  return output;
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
    tracer.recordDeferred();
    return tracer.keepReturned(ret);
  } finally {
    setActiveRecorder(null);
    tracer.close();
  }
}
