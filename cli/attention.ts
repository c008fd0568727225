// `tsight attention`: the attention probabilities of one layer for a prompt, drawn as one
// query x key heatmap per head (SVG). Reads probabilities through _paths.ts's attentionProbs.

import type { LanguageModel } from "../mod.ts";
import { attentionSvg } from "../viz/mod.ts";
import { type Command, intOption, MODEL_OPTIONS, required, UsageError } from "./_command.ts";
import { loadModel, tokenLabels } from "./_model.ts";
import { attentionProbs, decoderPaths, envoyAt } from "./_paths.ts";

/** One layer's attention: tokens and `heads[head][query][key]`. */
export interface LayerAttention {
  /** The layer, counted from 0. */
  layer: number;
  /** The input tokens, one per position. */
  tokens: string[];
  /** Probabilities per head, query row by key column. */
  heads: number[][][];
}

/** The attention probabilities (1, nh, T, T) of `layer` (negative counts from the end). */
export async function layerAttention(
  model: LanguageModel,
  prompt: string,
  layer: number,
): Promise<LayerAttention> {
  const paths = decoderPaths(model);
  const layers = envoyAt(model, paths.layers);
  const n = layers.length;
  if (layer < -n || layer >= n) {
    throw new UsageError(
      `--layer is ${layer}: the model has layers 0 to ${n - 1} (or -${n} to -1)`,
    );
  }
  const attn = layers.at(layer).child(paths.attention);
  const embed = envoyAt(model, paths.embed);
  const { ids, probs } = await model.trace(prompt, () => ({
    ids: embed.input, // (1, T)
    probs: attentionProbs(attn), // (1, nh, T, T)
  }));
  const tokens = await tokenLabels(model, ids);
  const heads = (await probs.get("0").toArray()) as number[][][];
  return { layer: layer < 0 ? layer + n : layer, tokens, heads };
}

/** The `attention` command. */
export const attentionCommand: Command = {
  name: "attention",
  summary: "attention patterns of one layer, one heatmap per head, as SVG",
  positionals: ["model", "prompt"],
  options: { ...MODEL_OPTIONS, layer: { type: "string" }, out: { type: "string" } },
  usage: `Usage: tsight attention MODEL "PROMPT" --layer L --out attn.svg [options]

Draws the attention probabilities of layer L: one heatmap per head, queries down, keys across.

Arguments:
  MODEL           a Hub id (openai-community/gpt2) or a model directory
  PROMPT          the input text

Options:
  --layer L       the layer, from 0 (negative counts from the end:
                  --layer=-1 is the last)
  --out FILE      where to write the SVG
  --device D      auto (default), cpu or webgpu
  -h, --help      show this help`,
  async run([id, prompt], values, io) {
    if (values.layer === undefined) throw new UsageError("Missing --layer: it is required");
    const layer = intOption(values, "layer", {})!;
    const out = required(values, "out");
    const model = await loadModel(id, values);
    const att = await layerAttention(model, prompt, layer);
    await Deno.writeTextFile(
      out,
      attentionSvg({
        tokens: att.tokens,
        heads: att.heads,
        title: `Layer ${att.layer} attention: ${id}`,
      }),
    );
    io.out(
      `Wrote layer ${att.layer}'s attention (${att.heads.length} heads x ${att.tokens.length} tokens) to ${out}`,
    );
  },
};
