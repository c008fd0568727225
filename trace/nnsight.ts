// NNsight: wraps any Module so it can be traced (trace, scan, iter/all, serialised requests);
// unknown properties resolve to the root envoy's children. Knows no model family or tokenizer.

import { cat, type Device, Tensor, tidy } from "../engine/mod.ts";
import { lockOf, withLock } from "../model/lock.ts";
import type { Module } from "../model/module.ts";
import { Envoy } from "./envoy.ts";
import { checkModeKind, checkRequest, invalid } from "./_request.ts";
import { type GraphLimits, resolveLimits } from "./_validate.ts";
import { encodeValue, type GraphJSON } from "./graph.ts";
import type { StepSpec } from "./steps.ts";
import { resolvePoint } from "./source.ts";
import { assertNotRecording, type InterventionProxy, type Value } from "./proxy.ts";
import type { InvokeRows, RunPlan } from "./run_plan.ts";
import { record, type Resolved, Tracer } from "./tracer.ts";
import { recordingSession, Session, type SessionResolved } from "./session.ts";
import * as edits from "./edits.ts";

/** How a traced run drives the model. */
export type RunMode =
  | { kind: "trace"; options?: Record<string, unknown> }
  | { kind: "generate"; options: Record<string, unknown> };

/** A recorded trace as JSON: run it elsewhere with `model.run(request)`. */
export interface TraceRequest {
  /** "tsight-request v1". */
  format: string;
  /** trace or generate (with its options). */
  mode: RunMode;
  /** One encoded input per invoke. */
  inputs: unknown[];
  /** The recorded graph. */
  graph: GraphJSON;
  /** The callback's return value, encoded with Refs to nodes. */
  output: unknown;
}

/** The result of running a {@link TraceRequest}. */
export interface RunResult {
  /** The recorded callback's return value, resolved. */
  output: Value;
  /** Every saved node's value by node id. */
  saved: Map<number, Value>;
}

/** Options of the NNsight constructor. */
export interface NNsightOptions {
  /** Builds a shape-only twin of the module on the meta device, for `scan()`. */
  meta?: () => Module;
}

const REQUEST_FORMAT = "tsight-request v1";

/** A function that records interventions. */
export type TraceFn<R> = (tracer: Tracer) => R;

/**
 * Makes any Module traceable, like nnsight's `NNsight(module)`: its children are envoys
 * (`net.fc1.output`), `trace(input, fn)` runs one forward pass with the recorded interventions.
 * Inputs are tensors; several invokes are concatenated along axis 0.
 *
 * @example
 * ```ts ignore
 * const net = new NNsight(myModule) as NNsight & { fc1: Envoy };
 * const out = await net.trace(tensor([[1, 2]]), () => net.fc1.output.save());
 * ```
 */
export class NNsight<M extends Module = Module> {
  /** The wrapped module. */
  readonly module: M;
  /** The root envoy. */
  readonly envoy: Envoy;
  /** Builds the meta twin for scan(). */
  protected metaFactory?: () => Module;
  /** The meta twin, once built. */
  protected metaModule?: Module;

  /** Wraps `module`; property reads that are not members go to the module's children. */
  constructor(module: M, opts: NNsightOptions = {}) {
    this.module = module;
    this.envoy = Envoy.of(module);
    this.metaFactory = opts.meta;
    return new Proxy(this, HANDLER as ProxyHandler<NNsight<M>>);
  }

  /** One forward pass over the inputs of `fn`'s `tracer.invoke` calls. */
  trace<R>(fn: TraceFn<R>): Promise<Resolved<R>>;
  /** The module's output for `input`. */
  trace(input: unknown): Promise<Value>;
  /** One forward pass on `input` with the interventions `fn` records. */
  trace<R>(input: unknown, fn: TraceFn<R>): Promise<Resolved<R>>;
  trace(a: unknown, b?: TraceFn<unknown>): Promise<unknown> {
    if (typeof a === "function") return this.execute({ kind: "trace" }, [], a as TraceFn<unknown>);
    // `trace(undefined, fn)` is `trace(fn)`: the inputs come from tracer.invoke().
    if (a === undefined && typeof b === "function") return this.execute({ kind: "trace" }, [], b);
    return this.execute({ kind: "trace" }, [a], b);
  }

  /** Runs `fn`'s graph on the meta device: shapes and errors, no compute. */
  scan<R>(input: unknown, fn: TraceFn<R>): Promise<Resolved<R>> {
    return this.execute({ kind: "trace" }, [input], fn, true) as Promise<Resolved<R>>;
  }

  /**
   * Several traces recorded in `fn` (`model.trace`, `model.generate`, `session.trace`) run one
   * after another once `fn` returns; a proxy of an earlier trace is used in a later one with no
   * `.save()`. Resolves to `fn`'s return value, resolved. See {@link Session}.
   */
  session<R>(fn: (session: Session) => R): Promise<SessionResolved<R>> {
    assertNotRecording();
    if (recordingSession()) {
      throw new TypeError("model.session() cannot be nested: record every trace in one session");
    }
    return new Session((input, f) => this.trace(input, f as TraceFn<unknown>)).run(fn);
  }

  /**
   * Records `fn`'s interventions as edits that every later trace and generate of the returned
   * model starts with, at every step (nnsight's `model.edit()`). Returns a shallow copy sharing
   * the weights, or this model with `{ inplace: true }`.
   *
   * @example
   * ```ts
   * import { LanguageModel } from "../mod.ts";
   * const model = await LanguageModel.random({ n_layer: 2, n_embd: 8, n_head: 2 }, { seed: 0 });
   * const zeroed = model.edit(() => model.transformer.h[0].output[0].set(":", 0));
   * const h = await zeroed.trace("Hello", () => zeroed.transformer.h[0].output[0].save());
   * (await h.abs().sum().data())[0]; // 0
   * ```
   */
  edit(fn: TraceFn<unknown>, opts: edits.EditOptions = {}): this {
    assertNotRecording();
    const target = opts.inplace ? this : this.clone();
    edits.recordEdits(target, fn, (f) => this.envoy.all(f));
    return target;
  }
  /** Removes every edit of this model. */
  clearEdits(): void {
    edits.clearEdits(this);
  }
  /** This model's edits as JSON (edits with `tracer.apply` cannot be exported). */
  exportEdits(): edits.EditsJSON {
    return edits.exportEdits(this);
  }
  /** Adds edits from {@link exportEdits} (validated; a bad one changes nothing). */
  importEdits(json: unknown, limits: GraphLimits = {}): void {
    const hasModule = (path: string) => this.module.getModule(path) !== undefined;
    edits.importEdits(this, json, { hasModule, limits });
  }

  /** A shallow copy over the same module, with a copy of this model's edits. */
  protected clone(): this {
    const copy = new NNsight(this.module, { meta: this.metaFactory }) as this;
    edits.copyEdits(this, copy);
    return copy;
  }

  /** A tracer for a trace of this model: its edits first; `tracer.cache()` sees its modules. */
  protected newTracer(): Tracer {
    const t = edits.editedTracer(this, { prepare: (x) => this.prepareInput(x) });
    t.root = this.envoy;
    return t;
  }

  /** Records a trace into the session now recording; it runs when the session runs. */
  protected joinSession(
    session: Session,
    mode: RunMode,
    inputs: unknown[],
    fn: TraceFn<unknown> | undefined,
    meta: boolean,
  ): Promise<unknown> {
    const tracer = this.newTracer();
    tracer.inputs.push(...inputs);
    const d: unknown = meta ? "meta" : Reflect.get(this.module as Module, "device");
    session.begin(tracer, d === "cpu" || d === "webgpu" || d === "meta" ? d : undefined);
    let raw: unknown;
    const out = record(tracer, fn && ((t) => (raw = fn(t))));
    const run = () => this.runTracer(tracer, mode, out, meta, !fn);
    return session.add({ tracer, raw, run });
  }

  /** The root envoy's output (the model's final output) for the current steps. */
  get output(): InterventionProxy {
    return this.envoy.output;
  }
  /** The root envoy's first input. */
  get input(): InterventionProxy {
    return this.envoy.input;
  }
  /** Every step for every module while `fn` records (or, bare, for the rest of the trace). */
  all(fn?: () => void): void {
    if (fn) this.envoy.all(fn);
    else this.envoy.all();
  }
  /** Steps `steps` (`3`, `"2:5"`, `[0, 2, 4]`) for every module while `fn` records. */
  iter(steps: StepSpec, fn?: () => void): void {
    if (fn) this.envoy.iter(steps, fn);
    else this.envoy.iter(steps);
  }
  /** The envoy at dotted `path` (`model.get("transformer.h.0.mlp")`). */
  get(path: string): Envoy {
    return this.envoy.get(path);
  }
  /** Every envoy of the model, root first, depth first; `include` filters them. */
  modules(include?: (e: Envoy) => boolean): Envoy[] {
    return this.envoy.modules(include);
  }
  /** `[path, envoy]` of every envoy of the model, root ("") first. */
  namedModules(include?: (e: Envoy) => boolean): [string, Envoy][] {
    return this.envoy.namedModules(include);
  }
  /** Moves every module's cursor `k` steps on. */
  next(k = 1): this {
    this.envoy.next(k);
    return this;
  }

  /**
   * Records `fn` without running it and returns the request as JSON (apply nodes excepted).
   *
   * @example
   * ```ts ignore
   * const req = model.record(() => model.lm_head.output.save(), { input: "Hello" });
   * const { output } = await model.run(JSON.parse(JSON.stringify(req)));
   * ```
   */
  record(fn: TraceFn<unknown>, opts: { input?: unknown; mode?: RunMode } = {}): TraceRequest {
    const tracer = new Tracer(undefined, { prepare: (x) => this.prepareInput(x) });
    if (opts.input !== undefined) tracer.inputs.push(opts.input);
    const out = record(tracer, fn);
    return {
      format: REQUEST_FORMAT,
      mode: opts.mode ?? { kind: "trace" },
      inputs: tracer.inputs.map(encodeValue),
      graph: tracer.graph.toJSON(),
      output: encodeValue(out),
    };
  }

  /**
   * Runs a request made by `record()`, possibly from elsewhere: it is untrusted input. Every
   * part is validated before anything runs (a {@link GraphValidationError} names the node and
   * field), a graph reaches only the documented Tensor methods and containers, and `limits`
   * bound nesting, node count and the size of every tensor a node makes ({@link GraphLimitError}).
   *
   * @example
   * ```ts
   * import { LanguageModel } from "../mod.ts";
   * const model = await LanguageModel.random({ n_layer: 1, n_embd: 8, n_head: 2 }, { seed: 0 });
   * const req = model.record(() => model.lm_head.output.argmax(-1).save(), { input: "Hello" });
   * const { output } = await model.run(JSON.parse(JSON.stringify(req)), { maxBytes: 2 ** 26 });
   * output.shape; // [1, 1]
   * ```
   */
  async run(request: TraceRequest, limits: GraphLimits = {}): Promise<RunResult> {
    const lim = resolveLimits(limits);
    const req = checkRequest(request, REQUEST_FORMAT, {
      limits: lim,
      hasModule: (path) => this.module.getModule(path) !== undefined,
      hasPoint: (path) => resolvePoint(this.module, path) !== undefined,
      mode: (mode) => this.checkMode(mode),
      inputs: (inputs, mode) => this.checkInputs(inputs, mode, lim),
    });
    const tracer = new Tracer(req.graph, { maxBytes: lim.maxBytes });
    tracer.inputs.push(...req.inputs);
    tracer.close();
    const output = await this.runTracer(tracer, req.mode as RunMode, req.output, false, false);
    return { output, saved: tracer.savedValues() };
  }

  /** What `invoker.inputs` shows for one invoke's input: the input itself. */
  protected prepareInput(input: unknown): unknown {
    return input;
  }

  /** Checks a request's mode: NNsight runs only `{kind: "trace"}`. */
  protected checkMode(mode: Record<string, unknown>): void {
    checkModeKind(mode, ["trace"]);
  }

  /** Checks a request's decoded inputs: tensors, batched when there are several invokes. */
  protected checkInputs(
    inputs: unknown[],
    _mode: Record<string, unknown>,
    limits: Required<GraphLimits>,
  ): void {
    inputs.forEach((x, i) => {
      if (!(x instanceof Tensor)) {
        invalid(`inputs[${i}]`, x, 'a tensor ({"$tensor": {dtype, shape, data}})');
      }
      if (inputs.length > 1 && x.ndim === 0) {
        invalid(`inputs[${i}]`, x, "a tensor with a batch axis");
      }
      if (x.size * 4 > limits.maxBytes) {
        invalid(`inputs[${i}]`, `${x.size * 4} bytes`, `at most maxBytes ${limits.maxBytes}`);
      }
    });
  }

  /** Records `fn` over `inputs` and runs it; no `fn` returns the model's output. */
  protected execute(
    mode: RunMode,
    inputs: unknown[],
    fn: TraceFn<unknown> | undefined,
    meta = false,
  ): Promise<unknown> {
    assertNotRecording(); // synchronously, so the outer callback fails
    const session = recordingSession();
    if (session) return this.joinSession(session, mode, inputs, fn, meta);
    const tracer = this.newTracer();
    tracer.inputs.push(...inputs);
    let out: unknown;
    try {
      out = record(tracer, fn);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.runTracer(tracer, mode, out, meta, !fn);
  }

  /**
   * Plans and runs a recorded tracer holding the model's lock, so runs on one model queue. The
   * plan's body starts inside `lock.enter`: its synchronous model calls are the run's own; a
   * body that calls the model after an await must wrap those calls in `lockOf(root).enter`.
   */
  protected async runTracer(
    tracer: Tracer,
    mode: RunMode,
    out: unknown,
    meta: boolean,
    raw: boolean,
  ): Promise<unknown> {
    if (tracer.inputs.length === 0) {
      throw new TypeError(
        "The trace has no input: pass one to trace(input, fn) or call tracer.invoke(input, fn)",
      );
    }
    const root = meta ? this.meta() : this.module;
    const plan = this.plan(tracer.inputs, mode, root, meta);
    const body = () => lockOf(root).enter(() => plan.body());
    const output = await withLock(root, () => tracer.run(root, { ...plan, body }, raw));
    return raw ? output : tracer.resolve(out);
  }

  /** The meta twin of the module, built once. */
  protected meta(): Module {
    if (!this.metaFactory) {
      throw new TypeError(
        "scan() needs a meta twin of the module: pass { meta: () => module } to the NNsight constructor",
      );
    }
    return this.metaModule ??= this.metaFactory();
  }

  /** How to run `inputs` (one per invoke) through `root`: tensors concatenated on axis 0. */
  protected plan(inputs: unknown[], mode: RunMode, root: Module, meta: boolean): RunPlan {
    if (mode.kind !== "trace") {
      throw new TypeError(`NNsight runs only trace(); "${mode.kind}" needs a LanguageModel`);
    }
    const device: Device | undefined = meta ? "meta" : undefined;
    const ts = inputs.map((x, i) => {
      if (!(x instanceof Tensor) || x.ndim === 0) {
        if (inputs.length === 1) return x;
        throw new TypeError(
          `Invoke ${i}'s input is not a batched Tensor: several invokes need tensors to concatenate on axis 0`,
        );
      }
      return meta ? x.to("meta") : x;
    });
    const invokes: InvokeRows[] = [];
    let start = 0;
    for (const t of ts) {
      const size = t instanceof Tensor ? t.shape[0] : 1;
      invokes.push({ start, size });
      start += size;
    }
    return {
      invokes,
      batchSize: start,
      device,
      // In a tidy: the intermediates of the forward are freed (webgpu); the output is kept.
      body: () =>
        Promise.resolve(tidy(() => root.call(ts.length === 1 ? ts[0] : cat(ts as Tensor[], 0)))),
      summary: () => "the forward pass ran once",
    };
  }
}

const HANDLER: ProxyHandler<NNsight> = {
  get(target, prop, receiver) {
    if (typeof prop === "symbol" || prop in target) return Reflect.get(target, prop, receiver);
    if (prop === "then" || prop === "toJSON") return undefined;
    return target.envoy.child(prop);
  },
};
