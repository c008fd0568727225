// `tsight generate`: greedy or sampled continuation of a prompt, printed as text. Turns flags
// into GenerateOptions; the decoding itself is LanguageModel.generate's.

import type { GenerateOptions } from "../mod.ts";
import {
  type Command,
  intOption,
  MODEL_OPTIONS,
  numberOption,
  UsageError,
  type Values,
} from "./_command.ts";
import { loadModel } from "./_model.ts";

const SAMPLING = ["temperature", "top-k", "top-p", "seed"] as const;

/** The flags as GenerateOptions; sampling flags without --sample are a UsageError. */
export function generateOptions(values: Values): GenerateOptions {
  const opts: GenerateOptions = {
    maxNewTokens: intOption(values, "max-new-tokens", { min: 0, max: 100_000 }, 20),
  };
  const stray = SAMPLING.filter((k) => values[k] !== undefined);
  if (!values.sample) {
    if (stray.length) {
      throw new UsageError(`--${stray[0]} only applies when sampling: add --sample`);
    }
    return opts;
  }
  return {
    ...opts,
    doSample: true,
    temperature: numberOption(values, "temperature", { min: 0, open: true }),
    topK: intOption(values, "top-k", { min: 1 }),
    topP: numberOption(values, "top-p", { min: 0, max: 1, open: true }),
    seed: intOption(values, "seed", { min: 0, max: 2 ** 32 - 1 }),
  };
}

/** The `generate` command. */
export const generateCommand: Command = {
  name: "generate",
  summary: "continue a prompt (greedy, or sampled with --sample)",
  positionals: ["model", "prompt"],
  options: {
    ...MODEL_OPTIONS,
    "max-new-tokens": { type: "string" },
    sample: { type: "boolean" },
    temperature: { type: "string" },
    "top-k": { type: "string" },
    "top-p": { type: "string" },
    seed: { type: "string" },
  },
  usage: `Usage: tsight generate MODEL "PROMPT" [options]

Prints the prompt followed by the generated text.

Arguments:
  MODEL                 a Hub id (openai-community/gpt2) or a model directory
  PROMPT                the text to continue

Options:
  --max-new-tokens N    tokens to generate (default 20)
  --device D            auto (default), cpu or webgpu
  --sample              sample instead of taking the most likely token
  --temperature T       divide the logits by T > 0 before sampling (default 1)
  --top-k K             sample among the K most likely tokens
  --top-p P             sample among the most likely tokens whose probabilities sum to P
  --seed S              seed of the sampler, for reproducible samples
  -h, --help            show this help`,
  async run([id, prompt], values, io) {
    const opts = generateOptions(values);
    const model = await loadModel(id, values);
    const ids = await model.generate(prompt, opts); // (1, prompt + new)
    io.out(model.tokenizer.decode([...(await ids.get("0").data())]));
  },
};
