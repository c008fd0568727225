// The step cursors and scopes envoys record with, per trace: `.next()` cursors, `.all()`/`.iter()`
// scopes (also tracer-wide ones: tracer.all/iter/next), and the getters already recorded.

import { quote } from "./_decode.ts";
import { type InterventionProxy, isProxy, type Recorder } from "./proxy.ts";
import { parseSteps, type Steps, type StepSpec } from "./steps.ts";

/** A step scope: `path` and its descendants get `steps`. */
interface Scope {
  path: string;
  steps: Steps;
}

/** Cursors, scopes and cached getters of one trace. */
export interface State {
  offsets: Map<string, number>;
  scopes: Scope[];
  cache: Map<string, InterventionProxy>;
}

const states = new WeakMap<Recorder, State>();

/** The envoy state of the trace `rec` records. */
export function stateOf(rec: Recorder): State {
  let s = states.get(rec);
  if (!s) states.set(rec, s = { offsets: new Map(), scopes: [], cache: new Map() });
  return s;
}

function covers(scope: string, path: string): boolean {
  return scope === "" || path === scope || path.startsWith(`${scope}.`);
}

/**
 * Pushes a step scope on `path` and its descendants ("" for every module): while `fn` records,
 * or, with no `fn`, for the rest of the trace.
 */
export function scopeSteps(rec: Recorder, path: string, steps: StepSpec, fn?: () => void): void {
  const st = stateOf(rec);
  const scope = { path, steps: parseSteps(steps) };
  st.scopes.push(scope);
  if (!fn) return;
  try {
    fn();
  } finally {
    st.scopes.splice(st.scopes.lastIndexOf(scope), 1);
  }
}

/** Moves the cursor of `path` (and its descendants; "" for every module) `k` steps on. */
export function advance(rec: Recorder, path: string, k: number, what: string): void {
  const st = stateOf(rec);
  const scope = scopeOf(st, path);
  if (scope) {
    throw new TypeError(
      `${what} inside .all()/.iter() on "${
        scope.path || "model"
      }": the scope already selects the steps; call .next() outside it or pick steps with .iter()`,
    );
  }
  if (!Number.isInteger(k) || k < 0) {
    throw new RangeError(`next(${k}): k must be an integer >= 0`);
  }
  st.offsets.set(path, (st.offsets.get(path) ?? 0) + k);
}

/** The innermost scope covering `path`, if any. */
export function scopeOf(st: State, path: string): Scope | undefined {
  for (let i = st.scopes.length - 1; i >= 0; i--) {
    if (covers(st.scopes[i].path, path)) return st.scopes[i];
  }
  return undefined;
}

/**
 * `tracer.iter(spec, fn)`: a step or slice scopes every module while `fn` records; an array or
 * other iterable calls `fn(item, index)` per item while recording.
 */
export function iterate(rec: Recorder, spec: unknown, fn: (...a: unknown[]) => void): void {
  if (typeof fn !== "function") {
    throw new TypeError(`tracer.iter() needs a callback, got ${typeof fn}`);
  }
  if (typeof spec === "number" || typeof spec === "string") {
    return scopeSteps(rec, "", spec, () => fn());
  }
  if (isProxy(spec)) {
    throw new TypeError(
      "tracer.iter() over a value of the running model is not supported: iterate a plain collection, or work on the value with tracer.apply()",
    );
  }
  if (spec === null || typeof spec !== "object" || !(Symbol.iterator in spec)) {
    throw new TypeError(
      `tracer.iter() takes a step (3), a slice ("2:5") or a collection, got ${quote(spec)}`,
    );
  }
  let i = 0;
  for (const item of spec as Iterable<unknown>) fn(item, i++);
}
