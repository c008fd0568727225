// Builds a ready GPT-2 from a directory or Hub id (config, weights, tokenizer), or a seeded
// random one from a config alone. Finding files is hub.ts's job; this file only assembles.

import type { Device } from "../engine/mod.ts";
import { type GPT2Config, loadGPT2Config, parseGPT2Config } from "./config.ts";
import { GPT2LMHeadModel } from "./gpt2/model.ts";
import { initRandom, type LoadReport, loadWeights } from "./gpt2/weights.ts";
import { resolveModelDir, type ResolveModelOptions } from "./hub.ts";
import { checkFiniteWeights, loadSafetensorsDir } from "./safetensors.ts";
import { Tokenizer } from "./tokenizer.ts";

/** A model with its tokenizer and config. */
export interface LoadedGPT2 {
  /** The model, weights loaded. */
  model: GPT2LMHeadModel;
  /** The tokenizer of the checkpoint (GPT-2's when the directory has none). */
  tokenizer: Tokenizer;
  /** The parsed config.json. */
  config: GPT2Config;
}

/** Options of {@link loadGPT2}: where to find files, and the device for the weights. */
export interface LoadGPT2Options extends ResolveModelOptions {
  /** Device of the weights; default cpu. */
  device?: Device;
  /** Called with checkpoint keys that matched nothing (none for a GPT-2 checkpoint). */
  onReport?: (report: LoadReport) => void;
  /** Load a checkpoint holding NaN or ±Infinity instead of refusing it; default false. */
  allowNonFinite?: boolean;
}

/**
 * Loads GPT-2 from a local directory or a Hub id (`"openai-community/gpt2"`): config.json,
 * model.safetensors (or its sharded index) and tokenizer.json. A directory without
 * tokenizer.json gets the GPT-2 tokenizer shipped with tsight.
 *
 * @example
 * ```ts ignore
 * import { loadGPT2 } from "./load.ts";
 * const { model, tokenizer } = await loadGPT2("tests/fixtures/tiny-gpt2");
 * console.log(model.transformer.h.length, tokenizer.encode("Hello")); // 3 [15496]
 * ```
 */
export async function loadGPT2(idOrDir: string, opts: LoadGPT2Options = {}): Promise<LoadedGPT2> {
  const dir = await resolveModelDir(idOrDir, opts);
  const config = await loadGPT2Config(dir);
  const [weights, tokenizer] = await Promise.all([loadSafetensorsDir(dir), tokenizerFor(dir)]);
  checkFiniteWeights(weights, opts);
  // Placeholders, not zeros: every weight is replaced, so nothing is allocated twice.
  const model = new GPT2LMHeadModel(config, { device: opts.device, empty: true });
  const report = loadWeights(model, weights);
  opts.onReport?.(report);
  return { model, tokenizer, config };
}

async function tokenizerFor(dir: string): Promise<Tokenizer> {
  try {
    await Deno.stat(`${dir}/tokenizer.json`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return await Tokenizer.gpt2();
    throw e;
  }
  return await Tokenizer.fromDir(dir);
}

/**
 * A GPT-2 with seeded random weights (HF's init: N(0, 0.02), LayerNorm 1/0) and the GPT-2
 * tokenizer, reading no model files. `config` is completed with GPT-2 small's defaults.
 *
 * @example
 * ```ts ignore
 * import { randomGPT2 } from "./load.ts";
 * const { model } = await randomGPT2({ n_layer: 2, n_embd: 64, n_head: 4 }, { seed: 0 });
 * ```
 */
export async function randomGPT2(
  config: Partial<GPT2Config> = {},
  opts: { seed?: number; device?: Device } = {},
): Promise<LoadedGPT2> {
  const parsed = parseGPT2Config(config);
  const empty = new GPT2LMHeadModel(parsed, { device: opts.device, empty: true });
  const model = initRandom(empty, opts.seed ?? 0);
  return { model, tokenizer: await Tokenizer.gpt2(), config: parsed };
}
