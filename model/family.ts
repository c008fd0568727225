// What a decoder family registers so loading, random init and LanguageModel can build it from
// a config.json alone. Types only; the registry of families lives in families.ts.

import type { Device } from "../engine/mod.ts";
import type { CausalLM } from "./causal_lm.ts";
import type { Tokenizer } from "./tokenizer.ts";
import type { LoadReport, WeightSource } from "./weights.ts";

/**
 * One family: which configs it reads, how to build, load and randomly initialise it. Adding a
 * family is one entry in `FAMILIES` (model/families.ts).
 */
export interface Family {
  /** Shown in messages, e.g. "GPT-2", "Llama". */
  readonly name: string;
  /** config.json `model_type` values it reads. */
  readonly modelTypes: readonly string[];
  /** config.json `architectures` entries it reads (used when model_type is missing). */
  readonly architectures: readonly string[];
  /** model_type values it recognises but does not load, each with the error to throw. */
  readonly refusedModelTypes?: Readonly<Record<string, string>>;
  /** Parses `config` (throwing named errors) and builds the tree; `empty` = placeholder weights on meta. */
  create(config: Record<string, unknown>, opts: { device: Device; empty?: boolean }): CausalLM;
  /** Copies a checkpoint (save_pretrained names) into a model `create` built. */
  loadWeights(model: CausalLM, source: WeightSource): LoadReport;
  /** Fills a model `create` built with seeded random weights (HF's init) and returns it. */
  initRandom(model: CausalLM, seed: number): CausalLM;
  /** The tokenizer of a folder without one (GPT-2's); absent: token-id input only. */
  defaultTokenizer?(): Promise<Tokenizer>;
}
