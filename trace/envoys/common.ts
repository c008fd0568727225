// Envoy types every family shares: a ModuleList's envoy and the generator's. Types only.

import type { Envoy } from "../envoy.ts";
import type { PointEnvoy, SourceEnvoy } from "../source.ts";

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
/** An attention module's points (`attn.source.q`), shapes with H query and KV key/value heads. */
export interface AttentionSource extends SourceEnvoy {
  /** Queries after rotary (B, H, T, D). */
  readonly q: PointEnvoy;
  /** This forward's keys after rotary, before the cache and grouped heads (B, KV, T, D). */
  readonly k: PointEnvoy;
  /** This forward's values, before the cache and grouped heads (B, KV, T, D). */
  readonly v: PointEnvoy;
  /** Pre-softmax scores after scaling, softcap and mask (B, H, T, S). */
  readonly scores: PointEnvoy;
  /** Attention probabilities (B, H, T, S). */
  readonly probs: PointEnvoy;
  /** Merged heads before the output projection (B, T, H * D). */
  readonly context: PointEnvoy;
}
/** An MLP's point: `act`, the activation output (gated MLPs: act(gate) * up) (B, T, I). */
export interface MLPSource extends SourceEnvoy {
  /** The input of the down projection (B, T, I). */
  readonly act: PointEnvoy;
}
