// Attribution patching (nnsight's tutorial): one trace with a clean and a corrupted invoke saves
// every layer's output and, after `metric.backward()`, the corrupted run's gradients; the linear
// estimate of patching layer l at position p is sum_hidden((clean - corrupted) * grad).
// Run: deno run -A examples/attribution_patching.ts

import type { GPT2LanguageModel, InterventionProxy, Tensor } from "../mod.ts";
import { exampleModel } from "./_model.ts";

/**
 * Per layer and position, the attribution-patching estimate of how much patching the clean
 * residual stream into the corrupted run changes logit(`a`) - logit(`b`) at the last position.
 * `clean` and `corrupted` are prompts (text or token ids) of the same length. Returns the
 * scores (layers, T) and the metric on both prompts.
 */
export async function attributionPatching(
  model: GPT2LanguageModel,
  clean: string | number[],
  corrupted: string | number[],
  a: number,
  b: number,
): Promise<{ scores: number[][]; clean: number; corrupted: number }> {
  const layers = model.transformer.h;
  const metric = () => {
    const last = model.lm_head.output.get("0, -1"); // (V,) of this invoke's one row
    return last.get(a).sub(last.get(b));
  };
  const cleanOut: InterventionProxy[] = [], corruptOut: InterventionProxy[] = [];
  const grads: InterventionProxy[] = [];
  let cleanMetric!: InterventionProxy, corruptMetric!: InterventionProxy;
  await model.trace((t) => {
    t.invoke(clean, () => {
      for (let i = 0; i < layers.length; i++) cleanOut.push(layers[i].output[0].save());
      cleanMetric = metric().save();
    });
    t.invoke(corrupted, () => {
      for (let i = 0; i < layers.length; i++) {
        corruptOut.push(layers[i].output[0].save());
        grads.push(layers[i].output[0].grad.save()); // (1, T, C) once backward() has run
      }
      corruptMetric = metric().save();
      corruptMetric.backward();
    });
  });
  const scores: number[][] = [];
  for (let i = 0; i < layers.length; i++) {
    const [c, k, g] = [cleanOut[i], corruptOut[i], grads[i]].map((p) => p.value as Tensor);
    scores.push(Array.from(await c.sub(k).mul(g).sum(-1).get("0").data())); // (T,)
  }
  return {
    scores,
    clean: await (cleanMetric.value as Tensor).item(),
    corrupted: await (corruptMetric.value as Tensor).item(),
  };
}

if (import.meta.main) {
  const model = await exampleModel();
  const clean = "After John and Mary went to the store, Mary gave a bottle of milk to";
  const corrupted = "After John and Mary went to the store, John gave a bottle of milk to";
  const [john, mary] = [" John", " Mary"].map((w) => model.tokenizer.encode(w)[0]);
  const r = await attributionPatching(model, clean, corrupted, john, mary);
  console.log(
    `logit diff John - Mary: clean ${r.clean.toFixed(3)}, corrupted ${r.corrupted.toFixed(3)}\n`,
  );
  const tokens = model.tokenizer.encode(corrupted).map((id) => model.tokenizer.decode([id]));
  console.log("Estimated effect of patching each layer's output at each position:");
  console.log(`layer ${tokens.map((w) => JSON.stringify(w).slice(0, 8).padStart(9)).join("")}`);
  r.scores.forEach((row, l) =>
    console.log(`${String(l).padStart(5)} ${row.map((v) => v.toFixed(3).padStart(9)).join("")}`)
  );
}
