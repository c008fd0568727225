// The step cursors of one trace, shared by module envoys and `.source` points: `.next()` offsets,
// `.all()`/`.iter()` scopes, and the cached getter of each path, kind and steps. Records getters
// and swaps; runs nothing.

import type { EventKind } from "./graph.ts";
import { parseSteps, type Steps, stepsKey, type StepSpec } from "./steps.ts";
import { activeRecorder, type InterventionProxy, type Recorder } from "./proxy.ts";

interface Scope {
  path: string;
  steps: Steps;
}

/** Cursors, scopes and cached getters of one trace. */
interface State {
  offsets: Map<string, number>;
  scopes: Scope[];
  cache: Map<string, InterventionProxy>;
}

const states = new WeakMap<Recorder, State>();

function stateOf(rec: Recorder): State {
  let s = states.get(rec);
  if (!s) states.set(rec, s = { offsets: new Map(), scopes: [], cache: new Map() });
  return s;
}

function covers(scope: string, path: string): boolean {
  return scope === "" || path === scope || path.startsWith(`${scope}.`);
}

/**
 * Where an envoy sits in the tree: its path (a module's, or `<module>.source.<point>`), this
 * path and every ancestor's (root first), and its name in messages (`Envoy(transformer.h.0)`).
 */
export interface CursorSite {
  readonly path: string;
  readonly prefixes: readonly string[];
  readonly label: string;
}

function scopeOf(st: State, path: string): Scope | undefined {
  for (let i = st.scopes.length - 1; i >= 0; i--) {
    if (covers(st.scopes[i].path, path)) return st.scopes[i];
  }
  return undefined;
}

function stepsOf(st: State, site: CursorSite): Steps {
  const scope = scopeOf(st, site.path);
  if (scope) return scope.steps;
  let step = 0;
  for (const p of site.prefixes) step += st.offsets.get(p) ?? 0;
  return { kind: "at", step };
}

/** Moves the cursor of `site` (and everything below it) `k` steps on for the rest of the trace. */
export function moveCursor(site: CursorSite, k: number): void {
  const st = stateOf(activeRecorder(`${site.label}.next()`));
  const scope = scopeOf(st, site.path);
  if (scope) {
    throw new TypeError(
      `${site.label}.next() inside .all()/.iter() on "${
        scope.path || "model"
      }": the scope already selects the steps; call .next() outside it or pick steps with .iter()`,
    );
  }
  if (!Number.isInteger(k) || k < 0) {
    throw new RangeError(`next(${k}): k must be an integer >= 0`);
  }
  st.offsets.set(site.path, (st.offsets.get(site.path) ?? 0) + k);
}

/**
 * Selects `steps` for `site` and everything below it: while `fn` records, or (no `fn`) for the
 * rest of the trace. Returns true when the scope stays open.
 */
export function scopeSteps(site: CursorSite, steps: StepSpec, fn?: () => void): boolean {
  const st = stateOf(activeRecorder(`${site.label}.iter()`));
  const scope = { path: site.path, steps: parseSteps(steps) };
  st.scopes.push(scope);
  if (!fn) return true;
  try {
    fn();
  } finally {
    st.scopes.splice(st.scopes.lastIndexOf(scope), 1);
  }
  return false;
}

/** The getter of `site`'s `kind` for its current steps (recorded once per steps and invoke). */
export function getterAt(site: CursorSite, kind: EventKind): InterventionProxy {
  const rec = activeRecorder(`${site.label}.${kind}`);
  const st = stateOf(rec);
  const steps = stepsOf(st, site);
  const key = `${site.path}|${kind}|${stepsKey(steps)}|${rec.currentInvoke}`;
  let p = st.cache.get(key);
  if (!p) {
    p = rec.proxy(rec.add("getter", [], { path: site.path, kind, steps }));
    st.cache.set(key, p);
  }
  return p;
}

/** Records `site.<kind> = value` for the current steps; later reads get a new getter. */
export function swapAt(site: CursorSite, kind: EventKind, value: unknown): void {
  const rec = activeRecorder(`Setting ${site.label}.${kind}`);
  const st = stateOf(rec);
  const g = getterAt(site, kind);
  rec.add("swap", [g, value]);
  // Later reads see the replacement: they get a new getter, served after this swap.
  st.cache.delete(`${site.path}|${kind}|${stepsKey(stepsOf(st, site))}|${rec.currentInvoke}`);
}
