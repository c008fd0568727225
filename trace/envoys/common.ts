// Envoy types every family shares: a ModuleList's envoy and the generator's. Types only.

import type { Envoy } from "../envoy.ts";

/** A ModuleList's envoy: items by index, negative from the end. */
export interface EnvoyList<T extends Envoy = Envoy> extends Envoy {
  /** Item `i` (`h[0]`, `h[-1]`). */
  readonly [i: number]: T;
  /** Item `i`; negative counts from the end. */
  at(i: number): T;
  /** Number of items. */
  readonly length: number;
  /** The items in order: `for (const block of model.transformer.h)`. */
  [Symbol.iterator](): Iterator<T>;
  /** `fn` of each item, in order. */
  map<U>(fn: (item: T, index: number) => U): U[];
}
/** `generator`: output = all ids once; `streamer.output` = each step's new ids. */
export interface GeneratorEnvoy extends Envoy {
  /** Called with each step's new ids (B, 1). */
  readonly streamer: Envoy;
}
