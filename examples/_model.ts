// The model the examples run on: GPT-2 small from the Hugging Face cache when it is there
// (nothing is downloaded), else a small seeded random GPT-2, saying so. Loads; traces nothing.

import {
  type GPT2LanguageModel,
  hubCacheDir,
  HubOfflineError,
  LanguageModel,
  type Tensor,
} from "../mod.ts";

/** The random model's shape: GPT-2's vocabulary and tokenizer, fewer and narrower layers. */
export const RANDOM_CONFIG = { n_layer: 6, n_head: 8, n_embd: 256 };

/**
 * GPT-2 small if it is cached (`~/.cache/huggingface/hub`, `$HF_HOME`, `$HF_HUB_CACHE`), else a
 * random GPT-2. Pass `--model <dir or hub id>` to choose another cached or local model.
 *
 * @example
 * ```ts ignore
 * import { exampleModel } from "./_model.ts";
 * const model = await exampleModel();
 * ```
 */
export async function exampleModel(): Promise<GPT2LanguageModel> {
  const i = Deno.args.indexOf("--model");
  const id = i >= 0 ? Deno.args[i + 1] : "openai-community/gpt2";
  try {
    const model = await LanguageModel.load(id, { offline: true });
    console.log(`Model: ${id} (${model.config.n_layer} layers) on ${model.device}\n`);
    return model;
  } catch (e) {
    // Not cached is the expected case; any other failure (a corrupt cache, a missing
    // permission) is shown whole, since the random model would hide it.
    const why = e instanceof HubOfflineError
      ? `${id} is not in the Hugging Face cache (${cacheRoot()}), and examples download nothing`
      : `${id} could not be loaded: ${(e as Error).message}`;
    console.log(
      `Model: ${why}.\n` +
        `So this runs a seeded RANDOM GPT-2 (${RANDOM_CONFIG.n_layer} layers, n_embd ${RANDOM_CONFIG.n_embd}): ` +
        `the mechanics are real, but its weights are noise, so its text is noise too.\n` +
        `Get the real one once with: hf download ${id}   (pip install -U huggingface_hub)\n`,
    );
    return await LanguageModel.random(RANDOM_CONFIG, { seed: 0 });
  }
}

function cacheRoot(): string {
  try {
    return hubCacheDir();
  } catch {
    return "cache folder unknown without --allow-env";
  }
}

/** Ids of a tensor row as a plain array. */
export async function row(ids: Tensor, index: string): Promise<number[]> {
  return [...(await ids.get(index).data())];
}
