// The errors a traced run raises that callers may want to catch, and the provider-key format
// (`transformer.h.5.output.i0`) every message uses. Builds messages; decides nothing.

/**
 * A node of the intervention graph failed while the model ran: the message names the node
 * (`%7 transformer.h.0.output[0].add(...)`), the module event it ran in and the cause.
 *
 * @example
 * ```ts ignore
 * try {
 *   await model.trace("Hello", () => model.transformer.h[0].output[0].add(tensor([1, 2])).save());
 * } catch (e) {
 *   if (e instanceof InterventionError) console.log(e.nodeId, e.key, e.cause);
 * }
 * ```
 */
export class InterventionError extends Error {
  /** The id of the node that failed. */
  readonly nodeId: number;
  /** The provider key of the event it ran in (`transformer.h.0.output.i0`), or "" at start. */
  readonly key: string;
  /** Makes the error; `cause` is the original exception. */
  constructor(message: string, nodeId: number, key: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "InterventionError";
    this.nodeId = nodeId;
    this.key = key;
  }
}

/**
 * An edit (`set`, `output = v`, `skip`) ran after its module had already handed the value on,
 * so it could not take effect: its value depends on a module that runs later.
 *
 * @example
 * ```ts ignore
 * // h[0]'s output cannot be set from h[1]'s output: h[1] runs after h[0]
 * layers[0].output[0].set(":", layers[1].output[0]); // OutOfOrderError when the trace runs
 * ```
 */
export class OutOfOrderError extends InterventionError {
  /** Makes the error. */
  constructor(message: string, nodeId: number, key: string) {
    super(message, nodeId, key);
    this.name = "OutOfOrderError";
  }
}

/**
 * A value the graph needed was never produced: a step that never ran (`.next()` past
 * `maxNewTokens`), a module the run never called, or a node skipped by `cond`/`stop`.
 *
 * @example
 * ```ts ignore
 * await model.generate(prompt, { maxNewTokens: 3 }, () => layers[0].next(5).output.save());
 * // MissingValueError: transformer.h.0.output.i5 was never produced: generation ran 3 steps
 * ```
 */
export class MissingValueError extends Error {
  /** The provider key that never fired. */
  readonly key: string;
  /** Makes the error. */
  constructor(message: string, key: string) {
    super(message);
    this.name = "MissingValueError";
    this.key = key;
  }
}

/** Thrown through the model by `tracer.stop()`; caught by the runner, never seen by users. */
export class StopSignal extends Error {
  /** Makes the signal. */
  constructor() {
    super("The trace was stopped early with tracer.stop()");
    this.name = "StopSignal";
  }
}

/**
 * The provider key of a module event: `transformer.h.5.output.i0`; the root module is `model`.
 *
 * @example
 * ```ts
 * import { providerKey } from "./errors.ts";
 * providerKey("transformer.h.5", "output", "i0"); // "transformer.h.5.output.i0"
 * ```
 */
export function providerKey(path: string, kind: string, steps: string): string {
  return `${path === "" ? "model" : path}.${kind}.${steps}`;
}

/**
 * The names in `candidates` closest to `name` by edit distance, nearest first (at most 3).
 *
 * @example
 * ```ts
 * import { nearest } from "./errors.ts";
 * nearest("trasformer", ["transformer", "lm_head", "generator"]); // ["transformer"]
 * ```
 */
export function nearest(name: string, candidates: readonly string[]): string[] {
  const scored = candidates.map((c) => [c, distance(name, c)] as const);
  const best = Math.min(Math.max(2, Math.ceil(name.length / 2)), ...scored.map(([, d]) => d));
  return scored.filter(([, d]) => d <= best).slice(0, 3).map(([c]) => c);
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost));
    }
    prev = row;
  }
  return prev[b.length];
}

/**
 * A serialised request or graph (`model.run`) is malformed or reaches outside what a graph may
 * do. Raised before anything runs: the message says which node, which field, what was found and
 * what is allowed.
 *
 * @example
 * ```ts
 * import { GraphValidationError } from "./errors.ts";
 * const e = new GraphValidationError({ node: 3, field: "args[1]", found: '"constructor"', allowed: "a Tensor method" });
 * e.message; // 'Node %3 args[1] is "constructor": allowed is a Tensor method'
 * ```
 */
export class GraphValidationError extends Error {
  /** The node at fault, or -1 for a field of the request itself. */
  readonly nodeId: number;
  /** The field at fault (`args[1]`, `steps.step`, `mode.kind`, `inputs[0]`). */
  readonly field: string;
  /** What was found, quoted. */
  readonly found: string;
  /** What is allowed there. */
  readonly allowed: string;
  /** Makes the error from its parts. */
  constructor(
    parts: { node?: number; field: string; found: string; allowed: string },
    options?: ErrorOptions,
  ) {
    const where = parts.node !== undefined && parts.node >= 0
      ? `Node %${parts.node} ${parts.field}`
      : `Request ${parts.field}`;
    super(`${where} is ${parts.found}: allowed is ${parts.allowed}`, options);
    this.name = "GraphValidationError";
    this.nodeId = parts.node ?? -1;
    this.field = parts.field;
    this.found = parts.found;
    this.allowed = parts.allowed;
  }
}

/** The limits of {@link GraphLimitError}, named as the options of `model.run` that set them. */
export type GraphLimitName = "maxDepth" | "maxNodes" | "maxBytes";

/**
 * A request went past one of `model.run`'s limits: nesting depth, number of nodes (both found
 * before anything runs), or the work budget, checked before a node allocates its result.
 *
 * @example
 * ```ts
 * import { GraphLimitError } from "./errors.ts";
 * const e = new GraphLimitError("Node %2 would make 3840000000 bytes", { limit: "maxBytes", max: 2 ** 30, found: 3840000000, node: 2 });
 * e.limit; // "maxBytes"
 * ```
 */
export class GraphLimitError extends Error {
  /** Which limit (the option of `model.run` that raises it). */
  readonly limit: GraphLimitName;
  /** The limit's value. */
  readonly max: number;
  /** What was found (a depth, a count, bytes). */
  readonly found: number;
  /** The node at fault, or -1. */
  readonly nodeId: number;
  /** Makes the error. */
  constructor(
    message: string,
    parts: { limit: GraphLimitName; max: number; found: number; node?: number },
  ) {
    super(message);
    this.name = "GraphLimitError";
    this.limit = parts.limit;
    this.max = parts.max;
    this.found = parts.found;
    this.nodeId = parts.node ?? -1;
  }
}
