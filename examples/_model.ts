// The model the examples run on: GPT-2 small from the Hugging Face cache when it is there
// (nothing is downloaded), else a small seeded random GPT-2, saying so. Loads; traces nothing.

import { type GPT2LanguageModel, LanguageModel, type Tensor } from "../mod.ts";

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
    console.log(
      `Model: ${id} is not cached (${
        (e as Error).message.split(":")[0]
      }), so this runs a seeded RANDOM GPT-2 ` +
        `(${RANDOM_CONFIG.n_layer} layers, n_embd ${RANDOM_CONFIG.n_embd}): the mechanics are real, the text is noise.\n` +
        `Cache the real one once with: huggingface-cli download ${id}\n`,
    );
    return await LanguageModel.random(RANDOM_CONFIG, { seed: 0 });
  }
}

/** Ids of a tensor row as a plain array. */
export async function row(ids: Tensor, index: string): Promise<number[]> {
  return [...(await ids.get(index).data())];
}
