// The generator modules: identities that generate() calls with token ids so hooks can observe
// them (nnsight's model.generator.output and .streamer.output). They compute nothing.

import type { Tensor } from "../engine/mod.ts";
import { Module } from "./module.ts";

/**
 * The identity module `generator.streamer`: `generate()` calls it after every step with the
 * new token ids (B, 1), so hooks see (and may replace) each step's tokens.
 *
 * @example
 * ```ts
 * import { Streamer } from "./generator.ts";
 * import { tensor } from "../engine/mod.ts";
 * new Streamer().call(tensor([7])); // the same tensor
 * ```
 */
export class Streamer extends Module {
  /** Returns the ids unchanged. */
  forward(ids: Tensor): Tensor {
    return ids;
  }
}

/**
 * The identity module `generator`: `generate()` calls it once at the end with all token ids
 * (B, prompt + new); its output is what `generate()` returns (nnsight's `model.generator.output`).
 *
 * @example
 * ```ts
 * import { Generator } from "./generator.ts";
 * new Generator().streamer.path; // "streamer" until attached to a model
 * ```
 */
export class Generator extends Module {
  /** Called with each step's new ids (B, 1). */
  readonly streamer: Streamer;
  /** Creates the generator and its streamer child. */
  constructor() {
    super();
    this.streamer = this.addModule("streamer", new Streamer());
  }
  /** Returns the ids unchanged. */
  forward(ids: Tensor): Tensor {
    return ids;
  }
}
