// Step sets: which calls of a module (iterations, generation steps) a getter fires on; parsed
// from iter() specs ("2:5", 3, [0, 2, 4]). Pure functions; no graph, no model.

import { parseIndex, type Slice } from "../engine/mod.ts";

/** The steps (module call indices) a getter fires on. */
export type Steps =
  | { readonly kind: "all" }
  | { readonly kind: "at"; readonly step: number }
  | { readonly kind: "set"; readonly steps: readonly number[] }
  | {
    readonly kind: "range";
    readonly start: number;
    readonly stop: number | null;
    readonly step: number;
  };

/** What `iter()` accepts: a step, an index-grammar slice ("2:5", "1::2"), or a list of steps. */
export type StepSpec = number | string | readonly number[];

/**
 * Parses a step spec: `3`, `"2:5"`, `"1::2"`, `":"` (every step) or `[0, 2, 4]`.
 *
 * @example
 * ```ts
 * import { parseSteps, stepsMatch } from "./steps.ts";
 * const s = parseSteps("2:5");
 * [1, 2, 4, 5].map((n) => stepsMatch(s, n)); // [false, true, true, false]
 * ```
 */
export function parseSteps(spec: StepSpec): Steps {
  const bad = (why: string) => new RangeError(`Invalid steps ${JSON.stringify(spec)}: ${why}`);
  if (Array.isArray(spec)) {
    if (spec.some((s) => !Number.isInteger(s) || s < 0)) throw bad("steps are integers >= 0");
    const steps = [...new Set(spec as number[])].sort((a, b) => a - b);
    if (steps.length === 0) throw bad("give at least one step");
    return steps.length === 1 ? { kind: "at", step: steps[0] } : { kind: "set", steps };
  }
  const items = typeof spec === "number" ? [spec] : parseIndex(spec as string);
  if (items.length !== 1) throw bad('use one step, one slice like "2:5", or an array of steps');
  const item = items[0];
  if (typeof item === "number") {
    if (item < 0) {
      throw bad("negative steps are not supported: a run's length is not known in advance");
    }
    return { kind: "at", step: item };
  }
  if (item === null || item === "...") throw bad('use a step, a slice like "2:5", or ":"');
  const s = item as Slice;
  const start = s.start ?? 0, step = s.step ?? 1, stop = s.stop ?? null;
  if (start < 0 || (stop !== null && stop < 0) || step < 0) {
    throw bad("negative steps are not supported: a run's length is not known in advance");
  }
  if (start === 0 && stop === null && step === 1) return { kind: "all" };
  return { kind: "range", start, stop, step };
}

/** True when step `n` is in the set. */
export function stepsMatch(s: Steps, n: number): boolean {
  switch (s.kind) {
    case "all":
      return true;
    case "at":
      return n === s.step;
    case "set":
      return s.steps.includes(n);
    case "range":
      return n >= s.start && (s.stop === null || n < s.stop) && (n - s.start) % s.step === 0;
  }
}

/** True when the set has more than one step. */
export function isMulti(s: Steps): boolean {
  if (s.kind === "at") return false;
  if (s.kind === "range" && s.stop !== null) return Math.ceil((s.stop - s.start) / s.step) > 1;
  return true;
}

/** The step part of a provider key: `i0`, `i*`, `i[2:5]`, `i[0,2,4]`. */
export function stepsKey(s: Steps): string {
  switch (s.kind) {
    case "all":
      return "i*";
    case "at":
      return `i${s.step}`;
    case "set":
      return `i[${s.steps.join(",")}]`;
    case "range":
      return `i[${s.start}:${s.stop ?? ""}${s.step !== 1 ? `:${s.step}` : ""}]`;
  }
}
