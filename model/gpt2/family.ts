// GPT-2's entry in the family registry: builds GPT2LMHeadModel from config.json, loads both
// checkpoint layouts, initialises randomly, and ships GPT-2's tokenizer as the default.

import type { Family } from "../family.ts";
import { Tokenizer } from "../tokenizer.ts";
import { GPT2LMHeadModel } from "./model.ts";
import { initRandom, loadWeights } from "./weights.ts";

/**
 * The GPT-2 family (`model_type` "gpt2", `GPT2LMHeadModel`).
 *
 * @example
 * ```ts
 * import { GPT2_FAMILY } from "./family.ts";
 * const model = GPT2_FAMILY.create({ n_layer: 1, n_embd: 8, n_head: 2 }, { device: "cpu" });
 * model.paths.layers; // "transformer.h"
 * ```
 */
export const GPT2_FAMILY: Family = {
  name: "GPT-2",
  modelTypes: ["gpt2"],
  architectures: ["GPT2LMHeadModel"],
  create: (config, opts) => new GPT2LMHeadModel(config, opts),
  loadWeights: (model, source) => loadWeights(model as GPT2LMHeadModel, source),
  initRandom: (model, seed) => initRandom(model as GPT2LMHeadModel, seed),
  defaultTokenizer: () => Tokenizer.gpt2(),
};
