// Logit lens: decode every layer's hidden state with the final LayerNorm and the LM head, run
// inside the trace with `envoy.call()`, and print each layer's best guess for the next token.
// Run: deno run -A examples/logit_lens.ts

import type { Value } from "../mod.ts";
import { exampleModel } from "./_model.ts";

const model = await exampleModel();
const layers = model.transformer.h;
const prompt = "The Eiffel Tower is in the city of";

const guesses = await model.trace(prompt, () => {
  const out: Value[] = [];
  for (let i = 0; i < layers.length; i++) {
    const h = layers[i].output[0].get(":, -1:"); // (1, 1, C): the last position
    const probs = model.lm_head.call(model.transformer.ln_f.call(h)).softmax(-1); // (1, 1, V)
    out.push(probs.get("0, 0").topk(1));
  }
  return out;
});
for (let i = 0; i < guesses.length; i++) {
  const [id, p] = [await guesses[i].indices.item(), await guesses[i].values.item()];
  console.log(
    `layer ${String(i).padStart(2)}: ${
      JSON.stringify(model.tokenizer.decode([id])).padEnd(14)
    } p = ${p.toFixed(3)}`,
  );
}
