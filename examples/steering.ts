// Steering by activation addition: the difference of one layer's hidden state on " Love" and
// " Hate" is added to that layer's output on every generation step.
// Run: deno run -A examples/steering.ts

import type { Tensor, Value } from "../mod.ts";
import { exampleModel } from "./_model.ts";

const model = await exampleModel();
const layer = Math.floor(model.config.n_layer / 2);
const h = model.transformer.h[layer];
const prompt = "I think dogs are";
const coef = 4;

// 1. the steering vector, from two invokes of one trace: (C,)
const { love, hate } = await model.trace((t) => {
  let love!: Value, hate!: Value;
  t.invoke(" Love", () => (love = h.output[0].get("0, -1")));
  t.invoke(" Hate", () => (hate = h.output[0].get("0, -1")));
  return { love, hate };
});
const vector = (love as Tensor).sub(hate).mul(coef);

// 2. generate with and without it
const steps = 12;
const plain = await model.generate(prompt, { maxNewTokens: steps });
const steered = await model.generate(prompt, { maxNewTokens: steps }, (t) => {
  h.all(() => {
    const x = h.output[0]; // (B, T, C); T is the prompt on step 0, then 1
    x.set(":", x.add(vector));
  });
  return t.result;
});
const text = async (ids: Tensor) => model.tokenizer.decode([...(await ids.get("0").data())]);
console.log(`layer ${layer}, coefficient ${coef}`);
console.log("plain:   ", JSON.stringify(await text(plain)));
console.log("steered: ", JSON.stringify(await text(steered)));
