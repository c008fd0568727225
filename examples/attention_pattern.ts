// Attention patterns: the output of `attn.attn_dropout` is the softmaxed attention (B, nh, T, T);
// print where the last token looks in one layer, head by head, and draw every head's pattern as
// an SVG grid (attention_pattern.svg).
// Run: deno run -A examples/attention_pattern.ts [--model DIR_OR_ID] [--out attention_pattern.svg]

import { attentionSvg, type Tensor } from "../mod.ts";
import { exampleModel } from "./_model.ts";

const model = await exampleModel();
const prompt = "The Eiffel Tower is in the city of";
const tokens = model.tokenizer.encode(prompt).map((id) => model.tokenizer.decode([id]));
const words = tokens.map((t) => JSON.stringify(t));
const layer = model.config.n_layer - 1;
const outIndex = Deno.args.indexOf("--out");
const out = outIndex >= 0 ? Deno.args[outIndex + 1] : "attention_pattern.svg";

const pattern: Tensor = await model.trace(
  prompt,
  () => model.transformer.h[layer].attn.attn_dropout.output,
);
console.log(
  `layer ${layer} attention ${
    JSON.stringify(pattern.shape)
  }: from the last token to the top 3 tokens`,
);
for (let head = 0; head < pattern.shape[1]; head++) {
  const row = [...(await pattern.get(`0, ${head}, -1`).data())]; // (T,)
  const top = row.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 3);
  console.log(
    `head ${String(head).padStart(2)}: ${
      top.map(([p, i]) => `${words[i]} ${p.toFixed(2)}`).join("  ")
    }`,
  );
}
const heads = (await pattern.get("0").toArray()) as number[][][]; // (nh, T, T)
await Deno.writeTextFile(out, attentionSvg({ tokens, heads, title: `Layer ${layer} attention` }));
console.log(`\nWrote the attention grid (one query x key heatmap per head) to ${out}`);
