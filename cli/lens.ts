// `tsight lens`: the logit lens. Each layer's output goes through the final norm and the
// unembedding inside one trace; writes the heatmap (and optionally a line plot) as SVG.

import type { LanguageModel, LensCell, LineSeries } from "../mod.ts";
import { linePlotSvg, logitLensSvg } from "../viz/mod.ts";
import { type Command, MODEL_OPTIONS, required, UsageError } from "./_command.ts";
import { loadModel, tokenLabels } from "./_model.ts";
import { decoderPaths, envoyAt } from "./_paths.ts";

/** The logit lens of one prompt, read back to the host. */
export interface LogitLens {
  /** The input tokens, one per position. */
  tokens: string[];
  /** `top1[layer][position]`: the most likely next token and its probability. */
  top1: LensCell[][];
  /** `last[layer]`: the probabilities of every token at the last position (V,). */
  last: Float32Array[];
}

/**
 * Runs the logit lens: for every layer, softmax(lmHead(finalNorm(layer.output[0]))) (1, T, V),
 * its top-1 at every position and the full distribution at the last position.
 */
export async function logitLens(model: LanguageModel, prompt: string): Promise<LogitLens> {
  const paths = decoderPaths(model);
  const layers = envoyAt(model, paths.layers);
  const norm = envoyAt(model, paths.finalNorm);
  const head = envoyAt(model, paths.lmHead);
  const embed = envoyAt(model, paths.embed);
  const { ids, rows } = await model.trace(prompt, () => ({
    ids: embed.input, // (1, T)
    rows: Array.from({ length: layers.length }, (_, i) => {
      const probs = head.call(norm.call(layers.at(i).output[0])).softmax(-1); // (1, T, V)
      const top = probs.topk(1); // (1, T, 1) each
      return { p: top.values, id: top.indices, last: probs.get("0, -1") };
    }),
  }));
  const tokens = await tokenLabels(model, ids);
  const top1: LensCell[][] = [];
  const last: Float32Array[] = [];
  for (const r of rows) {
    const [p, id] = [await r.p.data(), await r.id.data()];
    top1.push([...id].map((t, i) => ({ token: model.tokenizer.decode([t]), prob: p[i] })));
    last.push(await r.last.data() as Float32Array);
  }
  return { tokens, top1, last };
}

/** Ids of `--token` strings, each of which must be exactly one token. */
function tokenIds(model: LanguageModel, tokens: readonly string[]): number[] {
  return tokens.map((s) => {
    const ids = model.tokenizer.encode(s);
    if (ids.length !== 1) {
      throw new UsageError(
        `--token ${JSON.stringify(s)} is ${ids.length} tokens (${
          ids.map((i) => JSON.stringify(model.tokenizer.decode([i]))).join(", ")
        }): pass text that is one token, e.g. " Paris" with its leading space`,
      );
    }
    return ids[0];
  });
}

/** The chosen tokens' probabilities at the last position, layer by layer. */
export function trackTokens(model: LanguageModel, lens: LogitLens, ids: number[]): LineSeries[] {
  return ids.map((id) => ({
    label: model.tokenizer.decode([id]),
    values: lens.last.map((probs) => probs[id]),
  }));
}

/** The three most likely tokens at the last position of the last layer. */
function finalTop3(lens: LogitLens): number[] {
  const probs = lens.last[lens.last.length - 1];
  return [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 3);
}

/** The `lens` command. */
export const lensCommand: Command = {
  name: "lens",
  summary: "logit lens heatmap (and a line plot of chosen tokens) as SVG",
  positionals: ["model", "prompt"],
  options: {
    ...MODEL_OPTIONS,
    out: { type: "string" },
    lines: { type: "string" },
    token: { type: "string", multiple: true },
  },
  usage: `Usage: tsight lens MODEL "PROMPT" --out lens.svg [options]

Decodes every layer's output with the final norm and the unembedding (the logit lens) and
draws each layer's top-1 next token and its probability at every position.

Arguments:
  MODEL           a Hub id (openai-community/gpt2) or a model directory
  PROMPT          the input text

Options:
  --out FILE      where to write the heatmap SVG
  --lines FILE    also write a line plot of tokens' probabilities at the last position,
                  layer by layer
  --token TEXT    a token to plot (repeatable, each one token, e.g. " Paris"); default the
                  three most likely at the last layer
  --device D      auto (default), cpu or webgpu
  -h, --help      show this help`,
  async run([id, prompt], values, io) {
    const out = required(values, "out");
    const lines = values.lines as string | undefined;
    const chosen = (values.token ?? []) as string[];
    if (chosen.length && !lines) throw new UsageError("--token needs --lines FILE to plot them");
    const model = await loadModel(id, values);
    const ids = tokenIds(model, chosen);
    const lens = await logitLens(model, prompt);
    const layers = lens.top1.map((_, i) => `layer ${i}`);
    await Deno.writeTextFile(
      out,
      logitLensSvg({ tokens: lens.tokens, cells: lens.top1, layers, title: `Logit lens: ${id}` }),
    );
    io.out(
      `Wrote the logit lens (${layers.length} layers x ${lens.tokens.length} positions) to ${out}`,
    );
    if (lines) {
      const series = trackTokens(model, lens, ids.length ? ids : finalTop3(lens));
      const svg = linePlotSvg({
        x: layers.map((_, i) => String(i)),
        series,
        title: `p(next token) at ${JSON.stringify(lens.tokens.at(-1))} across layers: ${id}`,
      });
      await Deno.writeTextFile(lines, svg);
      io.out(`Wrote the probabilities of ${series.length} tokens across layers to ${lines}`);
    }
  },
};
