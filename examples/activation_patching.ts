// Activation patching between two invokes of one trace: copy the clean run's residual stream at
// one layer and position into the corrupted run, and measure how much of the answer returns.
// Run: deno run -A examples/activation_patching.ts

import type { Value } from "../mod.ts";
import { exampleModel } from "./_model.ts";

const model = await exampleModel();
const layers = model.transformer.h;
const clean = "After John and Mary went to the store, Mary gave a bottle of milk to";
const corrupted = "After John and Mary went to the store, John gave a bottle of milk to";
const [john, mary] = [" John", " Mary"].map((w) => model.tokenizer.encode(w)[0]);
const cleanIds = model.tokenizer.encode(clean), corruptIds = model.tokenizer.encode(corrupted);
if (cleanIds.length !== corruptIds.length) throw new Error("the prompts must have the same length");

// logit(" John") - logit(" Mary") at the last position of one invoke's rows
const diff = () => {
  const last = model.lm_head.output.get(":, -1");
  return last.get(`:, ${john}`).sub(last.get(`:, ${mary}`));
};

const base = await model.trace((t) => {
  let c!: Value, k!: Value;
  t.invoke(clean, () => (c = diff()));
  t.invoke(corrupted, () => (k = diff()));
  return { c, k };
});
const [cleanDiff, corruptDiff] = [await base.c.item(), await base.k.item()];
console.log(
  `logit diff John - Mary: clean ${cleanDiff.toFixed(3)}, corrupted ${corruptDiff.toFixed(3)}\n`,
);

const changed = cleanIds.findIndex((id, p) => id !== corruptIds[p]);
const positions = [changed, cleanIds.length - 1];
console.log(
  `patched position: ${
    positions.map((p) => JSON.stringify(model.tokenizer.decode([cleanIds[p]]))).join(" | ")
  }`,
);
for (let i = 0; i < layers.length; i++) {
  const scores: string[] = [];
  for (const p of positions) {
    const r = await model.trace((t) => {
      let h!: Value, d!: Value;
      t.invoke(clean, () => (h = layers[i].output[0].get(`:, ${p}, :`)));
      t.invoke(corrupted, () => {
        layers[i].output[0].set(`:, ${p}, :`, h); // a value from the other invoke
        d = diff();
      });
      return d;
    });
    const recovered = ((await r.item()) - corruptDiff) / (cleanDiff - corruptDiff || 1);
    scores.push(recovered.toFixed(2).padStart(6));
  }
  console.log(`layer ${String(i).padStart(2)}: ${scores.join(" | ")}`);
}
