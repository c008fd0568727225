// Session: several traces recorded in one callback and run one after another, as nnsight's
// `model.session()`. A value of an earlier trace is used in a later one without `.save()`.
// Records synchronously and runs after the callback; knows no model family.

import { type Device, Tensor } from "../engine/mod.ts";
import { isPlain } from "./graph.ts";
import {
  type InterventionProxy,
  isProxy,
  nodeOf,
  type Recorder,
  recorderOf,
  setCrossTrace,
  type Value,
} from "./proxy.ts";
import { type Resolved, Tracer } from "./tracer.ts";
import { DictProxy, ListProxy } from "./containers.ts";

/** A session callback's return value resolved: proxies, containers and trace promises by value. */
export type SessionResolved<T> = T extends PromiseLike<infer U> ? U
  : T extends
    | InterventionProxy
    | ListProxy<unknown>
    | DictProxy<unknown>
    | Tensor
    | ((...a: never[]) => unknown) ? Resolved<T>
  : T extends object ? { [K in keyof T]: SessionResolved<T[K]> }
  : T;

/** One trace of a session: its tracer, how to run it, and the promise its caller holds. */
export interface SessionTrace {
  /** The trace's tracer, recorded. */
  tracer: Tracer;
  /** The callback's raw return (proxies), for `session.trace`. */
  raw: unknown;
  /** Runs the recorded tracer (the model's own runner); resolves to the trace's result. */
  run: () => Promise<unknown>;
}

interface Step {
  trace?: SessionTrace & { settle: [(v: unknown) => void, (e: unknown) => void] };
  iter?: { collection: InterventionProxy; fn: (item: Value, i: number) => void };
  gates: InterventionProxy[];
}

let recording: Session | null = null;

/** The session whose callback is recording now, if any (model.trace/generate join it). */
export function recordingSession(): Session | null {
  return recording;
}

/**
 * The context of `model.session(fn)`: traces recorded in `fn` (`model.trace`, `model.generate`,
 * or `session.trace`) run in order once `fn` returns. A proxy of an earlier trace can be read,
 * computed with and edited in a later one, with no `.save()`.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "../mod.ts";
 * const model = await LanguageModel.random({ n_layer: 2, n_embd: 8, n_head: 2 }, { seed: 0 });
 * const out = await model.session((session) => {
 *   const h = session.trace("Hello", () => model.transformer.h[0].output);
 *   return session.trace("World", () => {
 *     model.transformer.h[0].output = h;
 *     return model.lm_head.output;
 *   });
 * });
 * out.shape; // [1, 1, 50257]
 * ```
 */
export class Session {
  #steps: Step[] = [];
  #gates: InterventionProxy[] = [];
  readonly #tracers = new Map<Recorder, Device | undefined>();
  readonly #bridges = new Map<Recorder, Map<number, InterventionProxy>>();
  readonly #trace: (input: unknown, fn: unknown) => Promise<unknown>;
  readonly #ran = new Set<Recorder>();
  readonly #promises = new WeakSet<Promise<unknown>>();

  /** A session whose `trace` calls `trace(input, fn)` of the model (recorded into the session). */
  constructor(trace: (input: unknown, fn: unknown) => Promise<unknown>) {
    this.#trace = trace;
  }

  /** Records one trace on `input` and returns what `fn` returns (proxies, usable in later traces). */
  trace<R>(input: unknown, fn: (tracer: Tracer) => R): R;
  /** Records one trace whose inputs come from `tracer.invoke`. */
  trace<R>(fn: (tracer: Tracer) => R): R;
  trace(a: unknown, b?: unknown): unknown {
    this.#open("session.trace()");
    const before = this.#steps.length;
    const p = b === undefined ? this.#trace(undefined, a) : this.#trace(a, b);
    p.catch(() => {}); // the session's promise reports a failure
    return this.#steps[before]?.trace?.raw;
  }

  /**
   * Records `fn` once per item of `collection`: an array now, or a proxy of an earlier trace's
   * value, whose items are known only when the session runs (its body then records at run time,
   * so proxies of traces that already ran must have been saved).
   */
  iter<T>(collection: readonly T[] | InterventionProxy, fn: (item: T, i: number) => void): void {
    this.#open("session.iter()");
    if (isProxy(collection)) {
      this.#keep(collection, "session.iter()");
      this.#steps.push({ iter: { collection, fn }, gates: [...this.#gates] });
      return;
    }
    if (!Array.isArray(collection)) {
      throw new TypeError(
        `session.iter() needs an array or a proxy of an earlier trace's value, got ${typeof collection}`,
      );
    }
    collection.forEach((x, i) => fn(x, i));
  }

  /** Records `fn`'s traces to run only when `pred` (a value, or a proxy of an earlier trace) is truthy. */
  cond(pred: unknown, fn: () => void): void {
    this.#open("session.cond()");
    if (!isProxy(pred)) {
      if (pred) fn();
      return;
    }
    this.#keep(pred, "session.cond()");
    this.#gates.push(pred);
    try {
      fn();
    } finally {
      this.#gates.pop();
    }
  }

  /** Adds a recorded trace (called by the model's trace/generate); resolves after it ran. */
  add(trace: SessionTrace): Promise<unknown> {
    const p = new Promise((resolve, reject) => {
      this.#steps.push({ trace: { ...trace, settle: [resolve, reject] }, gates: [...this.#gates] });
    });
    p.catch(() => {}); // the session's own promise reports a failure
    this.#promises.add(p);
    return p;
  }

  /** Runs `fn` to record, then every trace in order; resolves to `fn`'s return, resolved. */
  async run<R>(fn: (session: Session) => R): Promise<SessionResolved<R>> {
    const ret = this.#record(() => fn(this));
    if (ret instanceof Promise && !this.#promises.has(ret)) {
      throw new TypeError(
        "The session callback returned a promise: it must be synchronous, since it only records; values exist after model.session() resolves",
      );
    }
    this.#keepAll(ret);
    await this.#runSteps(this.#steps);
    return await this.#resolve(ret) as SessionResolved<R>;
  }

  /**
   * The proxy standing in `rec` (a later trace) for `p` (a value of an earlier trace of this
   * session): an apply node that reads the earlier trace's kept value. Undefined when `p` is
   * not from this session.
   */
  bridge(rec: Recorder, p: InterventionProxy): InterventionProxy | undefined {
    const src = recorderOf(p);
    if (!this.#tracers.has(rec) || !this.#tracers.has(src) || !(src instanceof Tracer)) {
      return undefined;
    }
    if (!(rec instanceof Tracer)) return undefined;
    const node = nodeOf(p);
    let m = this.#bridges.get(rec);
    if (!m) this.#bridges.set(rec, m = new Map());
    let b = m.get(node.id);
    if (b) return b;
    this.#keep(p, "A value of an earlier trace");
    const device = this.#tracers.get(rec);
    const read = () => toDevice(src.valueOf(node), device);
    Object.defineProperty(read, "name", { value: `session value of ${src.describe(node)}` });
    m.set(node.id, b = rec.apply(read));
    return b;
  }

  /** Joins `tracer` to the session before its callback records; `device`: its model's. */
  begin(tracer: Tracer, device: Device | undefined): void {
    this.#tracers.set(tracer, device);
  }

  /** Marks a proxy's node kept, or says why it cannot be (its trace already ran unsaved). */
  #keep(p: InterventionProxy, what: string): void {
    const node = nodeOf(p);
    if (this.#ran.has(recorderOf(p)) && !node.saved) {
      throw new TypeError(
        `${what} uses %${node.id} ${
          recorderOf(p).describe(node)
        }, from a trace that already ran without keeping it: call .save() on it in its trace (bodies of session.iter() over a run-time collection record after earlier traces ran)`,
      );
    }
    node.saved = true;
  }

  #keepAll(v: unknown): void {
    if (isProxy(v)) this.#keep(v, "The session callback's return value");
    else if (Array.isArray(v)) v.forEach((x) => this.#keepAll(x));
    else if (isPlain(v)) Object.values(v).forEach((x) => this.#keepAll(x));
  }

  /** `v` with proxies, containers and the session's trace promises replaced by their values. */
  async #resolve(v: unknown): Promise<unknown> {
    if (isProxy(v)) {
      const t = recorderOf(v);
      return t instanceof Tracer ? t.resolve(v) : undefined;
    }
    if (v instanceof Promise) return await v;
    if (v instanceof ListProxy || v instanceof DictProxy) return v.value;
    if (Array.isArray(v)) return await Promise.all(v.map((x) => this.#resolve(x)));
    if (isPlain(v)) {
      const entries = await Promise.all(
        Object.entries(v).map(async ([k, x]) => [k, await this.#resolve(x)]),
      );
      return Object.fromEntries(entries);
    }
    return v;
  }

  #record<T>(fn: () => T): T {
    if (recording) {
      throw new TypeError("model.session() cannot be nested: record every trace in one session");
    }
    recording = this;
    try {
      return fn();
    } finally {
      recording = null;
    }
  }

  #open(what: string): void {
    if (recording !== this) {
      throw new TypeError(
        `${what} was used outside the session callback: record every trace inside model.session(fn)`,
      );
    }
  }

  async #runSteps(steps: Step[]): Promise<void> {
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i];
      try {
        if (!s.gates.every((g) => truthy(this.#valueOf(g)))) {
          s.trace?.tracer.skipped("its session.cond() condition was false");
          s.trace?.settle[0](undefined);
          continue;
        }
        if (s.iter) await this.#runIter(s.iter);
        else if (s.trace) {
          const out = await s.trace.run();
          this.#ran.add(s.trace.tracer);
          s.trace.settle[0](out);
        }
      } catch (e) {
        for (const r of steps.slice(i)) {
          r.trace?.tracer.skipped(`an earlier trace of the session failed (${errText(e)})`);
          r.trace?.settle[1](e);
        }
        throw e;
      }
    }
  }

  async #runIter(it: NonNullable<Step["iter"]>): Promise<void> {
    const items = this.#valueOf(it.collection);
    const list: unknown[] = items instanceof Tensor
      ? Array.from({ length: items.ndim === 0 ? 1 : items.shape[0] }, (_, i) => items.get(i))
      : Array.isArray(items)
      ? items
      : [items];
    for (let i = 0; i < list.length; i++) {
      const outer = this.#steps;
      this.#steps = [];
      try {
        this.#record(() => it.fn(list[i], i));
        await this.#runSteps(this.#steps);
      } finally {
        this.#steps = outer;
      }
    }
  }

  #valueOf(p: InterventionProxy): Value {
    const t = recorderOf(p);
    return t.valueOf(nodeOf(p));
  }
}

function truthy(v: unknown): boolean {
  if (v instanceof Tensor) {
    if (v.size !== 1) {
      throw new TypeError(
        `A session.cond() condition must be one value, got a Tensor of shape [${v.shape}]: reduce it first (.all(), .any(), .sum())`,
      );
    }
    return v.dataSync()[0] !== 0;
  }
  return Boolean(v);
}

function toDevice(v: unknown, device: Device | undefined): unknown {
  if (!device || device === "cpu") return v;
  if (v instanceof Tensor) return v.device === device ? v : v.to(device);
  if (Array.isArray(v)) return v.map((x) => toDevice(x, device));
  return v;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

setCrossTrace((rec, p) => recording?.bridge(rec, p));
