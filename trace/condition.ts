// Condition: the chain `tracer.cond(pred, fn).elif(pred, fn).else(fn)` (nnsight 0.4's
// `with tracer.cond(...)` / 0.7's `if`). Records branches; whether one runs is decided at run time.

import { isProxy, type Recorder, toArg } from "./proxy.ts";

/** Records branch `fn` to run when every earlier predicate of the chain is false and `pred` true. */
export type RecordBranch = (earlier: readonly unknown[], pred: unknown, fn: () => void) => void;

/**
 * The chain a `tracer.cond(pred, fn)` starts. Each branch's nodes run only when its predicate (a
 * proxy of a one-element cpu tensor or value, or a plain value) is truthy at run time and every
 * earlier branch's predicate was not; `.else(fn)` runs when none was. A `.save()` made in a branch
 * that did not run has no value, and reading its `.value` says the condition was false.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "../mod.ts";
 * const model = await LanguageModel.random({ n_layer: 1, n_embd: 8, n_head: 2 }, { seed: 0 });
 * let big, small;
 * await model.trace("Hello", (tracer) => {
 *   const s = model.transformer.h[0].output[0].sum();
 *   tracer.cond(s.gt(1e9), () => { big = s.save(); })
 *     .else(() => { small = s.save(); });
 * });
 * typeof small!.value.item(); // "number"
 * ```
 */
export class Condition {
  readonly #record: RecordBranch;
  readonly #preds: unknown[];
  #closed = false;

  /** A chain whose first branch (predicate `pred`) `record` has already recorded. */
  constructor(record: RecordBranch, pred: unknown) {
    this.#record = record;
    this.#preds = [pred];
  }

  /** Records `fn` to run when every earlier predicate was false and `pred` is truthy. */
  elif(pred: unknown, fn: () => void): this {
    this.#open("elif");
    this.#record([...this.#preds], pred, fn);
    this.#preds.push(pred);
    return this;
  }

  /** Records `fn` to run when every predicate of the chain was false; ends the chain. */
  else(fn: () => void): void {
    this.#open("else");
    this.#record([...this.#preds], true, fn);
    this.#closed = true;
  }

  #open(what: string): void {
    if (this.#closed) {
      throw new TypeError(
        `.${what}() after .else(): the chain already ended; start a new tracer.cond()`,
      );
    }
  }
}

/**
 * The gate of a branch: the node id its nodes are conditioned on (the predicate's, or a `branch`
 * node's when earlier predicates are proxies), or, when every predicate is a plain value, whether
 * the branch runs at all (decided while recording).
 */
export function gateOf(
  rec: Recorder,
  earlier: readonly unknown[],
  pred: unknown,
): number | boolean {
  if (earlier.some((p) => !isProxy(p) && p)) return false; // a plain earlier branch was taken
  const gates = earlier.filter(isProxy);
  if (gates.length > 0) return rec.add("branch", [gates, pred]).id;
  if (!isProxy(pred)) return !!pred;
  const deps: number[] = [];
  toArg(rec, pred, deps);
  return deps[0];
}
