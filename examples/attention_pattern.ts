// Attention patterns: the output of `attn.attn_dropout` is the softmaxed attention (B, nh, T, T);
// print where the last token looks in one layer, head by head.
// Run: deno run -A examples/attention_pattern.ts

import type { Tensor } from "../mod.ts";
import { exampleModel } from "./_model.ts";

const model = await exampleModel();
const prompt = "The Eiffel Tower is in the city of";
const words = model.tokenizer.encode(prompt).map((id) =>
  JSON.stringify(model.tokenizer.decode([id]))
);
const layer = model.config.n_layer - 1;

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
