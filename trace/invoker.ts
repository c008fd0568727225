// Invoker: what a `tracer.invoke` callback gets (nnsight's `with tracer.invoke(...) as invoker`):
// its batch index and its prepared inputs. Records nothing itself.

import type { Tracer } from "./tracer.ts";

/**
 * One invoke of a trace. `inputs` is the invoke's input as the model prepares it (a
 * LanguageModel: token-id rows, `number[][]`); for an empty `tracer.invoke(fn)`, which sees the
 * whole batch, it is every other invoke's inputs in batch order.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "../mod.ts";
 * const model = await LanguageModel.random({ n_layer: 1, n_embd: 8, n_head: 2 }, { seed: 0 });
 * let rows: unknown;
 * await model.trace((tracer) => {
 *   tracer.invoke([[1, 2, 3]], (invoker) => { rows = invoker.inputs; });
 * });
 * rows; // [[1, 2, 3]]
 * ```
 */
export class Invoker {
  /** The tracer this invoke records into. */
  readonly tracer: Tracer;
  /** The invoke's index in the batch (-1: an empty invoke, which sees the whole batch). */
  readonly index: number;
  readonly #prepare: (input: unknown) => unknown;

  /** The invoke `index` of `tracer`; `prepare` turns a raw input into what `inputs` shows. */
  constructor(tracer: Tracer, index: number, prepare: (input: unknown) => unknown) {
    this.tracer = tracer;
    this.index = index;
    this.#prepare = prepare;
  }

  /** The invoke's prepared inputs (every invoke's, concatenated, for an empty invoke). */
  get inputs(): unknown {
    if (this.index >= 0) return this.#prepare(this.tracer.inputs[this.index]);
    const all = this.tracer.inputs.map(this.#prepare);
    return all.every(Array.isArray) ? all.flat(1) : all;
  }
}
