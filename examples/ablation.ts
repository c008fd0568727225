// Ablation: zero one layer's MLP output, or one attention head, and see how much the logit of
// the answer drops. Each ablation is one trace with an in-place edit.
// Run: deno run -A examples/ablation.ts

import { exampleModel } from "./_model.ts";

const model = await exampleModel();
const layers = model.transformer.h;
const prompt = "The Eiffel Tower is in the city of";
const answer = model.tokenizer.encode(" Paris")[0];
const headSize = model.config.n_embd / model.config.n_head;

// The answer's logit at the last position, as a proxy recorded inside each trace.
const answerLogit = () => model.lm_head.output.get(`0, -1, ${answer}`);

const clean = await (await model.trace(prompt, answerLogit)).item();
console.log(`logit of " Paris" after the prompt: ${clean.toFixed(3)}\n`);

console.log("layer | MLP zeroed | head 0 zeroed");
for (let i = 0; i < layers.length; i++) {
  const mlp = await model.trace(prompt, () => {
    layers[i].mlp.output.set(":", 0); // in place, before the residual add consumes it
    return answerLogit();
  });
  const head = await model.trace(prompt, () => {
    // c_proj's input holds the heads side by side: (B, T, nh * hs)
    layers[i].attn.c_proj.input.set(`:, :, 0:${headSize}`, 0);
    return answerLogit();
  });
  const d = async (t: { item(): Promise<number> }) =>
    ((await t.item()) - clean).toFixed(3).padStart(10);
  console.log(`${String(i).padStart(5)} | ${await d(mlp)} | ${await d(head)}`);
}
