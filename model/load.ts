// Builds a ready model of any registered family from a directory or Hub id (config.json,
// weights, tokenizer when there is one), or a seeded random one from a config object. Finding
// files is hub.ts's job and building is each family's; this file only assembles.

import type { Device } from "../engine/mod.ts";
import type { CausalLM } from "./causal_lm.ts";
import { type GPT2Config, parseGPT2Config, readConfigFile } from "./config.ts";
import type { Family } from "./family.ts";
import { familyOf } from "./families.ts";
import type { GPT2LMHeadModel } from "./gpt2/model.ts";
import { resolveModelDir, type ResolveModelOptions } from "./hub.ts";
import { SafetensorsReader } from "./safetensors_reader.ts";
import { Tokenizer } from "./tokenizer.ts";
import { type LoadReport, prepackWeights } from "./weights.ts";

/** A model with its tokenizer (null when the folder has none) and raw config. */
export interface LoadedModel {
  /** The model, weights loaded. */
  model: CausalLM;
  /** The checkpoint's tokenizer; null for a folder without one (token-id input only). */
  tokenizer: Tokenizer | null;
  /** config.json as read. */
  config: Record<string, unknown>;
  /** The family config.json selected. */
  family: Family;
}

/** Options of {@link loadModel}: where to find files, and the device for the weights. */
export interface LoadModelOptions extends ResolveModelOptions {
  /** Device of the weights; default cpu. */
  device?: Device;
  /** Called with what loading did besides assigning (unused keys, an untied head). */
  onReport?: (report: LoadReport) => void;
  /** Load a checkpoint holding NaN or ±Infinity instead of refusing it; default false. */
  allowNonFinite?: boolean;
  /**
   * The dtype the model is loaded as, like transformers' `from_pretrained(dtype=...)`: it sets
   * the config's `dtype`, which rotary buffers round to. Default: the checkpoint's own dtype (a
   * bfloat16 checkpoint rotates by bfloat16-rounded frequencies, as in transformers);
   * `"float32"` keeps them unrounded. Compute is float32 either way.
   */
  dtype?: "float32" | "bfloat16" | "float16";
}

/**
 * Reads `config.json` of a model directory as a plain object. A missing file, a file that is
 * not JSON or not an object is an error that names the path.
 *
 * @example
 * ```ts ignore
 * import { readConfigJson } from "./load.ts";
 * (await readConfigJson("tests/fixtures/tiny-llama")).model_type; // "llama"
 * ```
 */
export async function readConfigJson(dir: string): Promise<Record<string, unknown>> {
  const path = `${dir.replace(/\/+$/, "")}/config.json`;
  const json = await readConfigFile(path);
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(`Config "${path}" is ${JSON.stringify(json)}: it must be a JSON object`);
  }
  return json as Record<string, unknown>;
}

/**
 * Loads a model of any registered family (GPT-2, Llama, Mistral, Qwen2, Qwen3, ...) from a
 * local directory or a Hub id: config.json picks the family by `model_type` (or
 * `architectures`), then model.safetensors (or its sharded index; F32, F16 or BF16) and the
 * tokenizer. A folder without tokenizer.json gets the family's default tokenizer (GPT-2's) or
 * none (token-id input only).
 *
 * @example
 * ```ts ignore
 * import { loadModel } from "./load.ts";
 * const { model, tokenizer } = await loadModel("tests/fixtures/tiny-llama");
 * console.log(model.paths.layers, tokenizer?.encode("Hello"));
 * ```
 */
export async function loadModel(
  idOrDir: string,
  opts: LoadModelOptions = {},
): Promise<LoadedModel> {
  const dir = await resolveModelDir(idOrDir, opts);
  const stored = await readConfigJson(dir);
  const config = opts.dtype ? { ...stored, dtype: opts.dtype, torch_dtype: opts.dtype } : stored;
  const family = familyOf(config);
  // Placeholders, not zeros: every weight is replaced, so nothing is allocated twice.
  const model = family.create(config, { device: opts.device ?? "cpu", empty: true });
  const [weights, tokenizer] = await Promise.all([
    SafetensorsReader.openDir(dir, opts),
    tokenizerFor(dir, family),
  ]);
  using _weights = weights;
  // Streams each tensor from disk (matmul weights straight into packed panels), checking it.
  const report = family.loadWeights(model, weights);
  prepackWeights(model); // cpu fast tier: the first forward then runs as fast as the next
  opts.onReport?.(report);
  return { model, tokenizer, config, family };
}

async function tokenizerFor(dir: string, family: Family): Promise<Tokenizer | null> {
  try {
    await Deno.stat(`${dir}/tokenizer.json`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return (await family.defaultTokenizer?.()) ?? null;
    throw e;
  }
  return await Tokenizer.fromDir(dir);
}

/**
 * A model of the family `config.model_type` names (default "gpt2") with seeded random weights
 * (HF's init), reading no files; the tokenizer is the family's default or null.
 *
 * @example
 * ```ts ignore
 * import { randomModel } from "./load.ts";
 * const { model } = await randomModel({ model_type: "llama", hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 128, vocab_size: 100 });
 * ```
 */
export async function randomModel(
  config: Record<string, unknown> = {},
  opts: { seed?: number; device?: Device } = {},
): Promise<LoadedModel> {
  const full = { model_type: "gpt2", ...config };
  const family = familyOf(full);
  const empty = family.create(full, { device: opts.device ?? "cpu", empty: true });
  const model = family.initRandom(empty, opts.seed ?? 0);
  prepackWeights(model);
  return { model, tokenizer: (await family.defaultTokenizer?.()) ?? null, config: full, family };
}

/** A GPT-2 with its tokenizer and config (what {@link loadGPT2} returns). */
export interface LoadedGPT2 {
  /** The model, weights loaded. */
  model: GPT2LMHeadModel;
  /** The tokenizer of the checkpoint (GPT-2's when the directory has none). */
  tokenizer: Tokenizer;
  /** The parsed config.json. */
  config: GPT2Config;
}

/** Options of {@link loadGPT2}. */
export type LoadGPT2Options = LoadModelOptions;

/**
 * {@link loadModel} for a GPT-2 checkpoint, typed as GPT-2 (an error for another family).
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
  const raw = await readConfigJson(dir);
  const config = parseGPT2Config(raw); // names the model_type when it is not "gpt2"
  const { model, tokenizer } = await loadModel(dir, opts);
  return { model: model as GPT2LMHeadModel, tokenizer: tokenizer!, config };
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
  const { model, tokenizer } = await randomModel({ ...parsed }, opts);
  return { model: model as GPT2LMHeadModel, tokenizer: tokenizer!, config: parsed };
}
