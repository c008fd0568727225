// nnsight's tutorial "Multiple Token Generation" ported cell by cell: generate(), .next(),
// .all() (bare and recursive), iter() over step ranges, and a .next() loop.
// Run: deno run -A examples/multiple_token_generation.ts (or `deno task demo`)

import { type GPT2LanguageModel, list, type Tensor, type Value } from "../mod.ts";
import { exampleModel, row } from "./_model.ts";

const prompt = "The Eiffel Tower is in the city of";

/** Runs every cell of the tutorial on `model`, printing what the notebook prints. */
export async function multipleTokenGeneration(model: GPT2LanguageModel): Promise<void> {
  const layers = model.transformer.h;
  const decode = (ids: number[]) => JSON.stringify(model.tokenizer.decode(ids));

  // --- .generate(): model.generator.output holds every token id -------------------------
  let out!: Value;
  await model.generate(prompt, { maxNewTokens: 3 }, () => {
    out = model.generator.output.save();
  });
  const ids = out.value as Tensor;
  console.log("## .generate()");
  console.log("Prompt:", decode(await row(ids, "0, :-3")));
  console.log("Generated answer:", decode(await row(ids, "0, -3:")));

  // --- .next(): the same module on the following steps ----------------------------------
  let h1!: Value, h2!: Value, h3!: Value;
  await model.generate(prompt, { maxNewTokens: 3 }, () => {
    h1 = layers[-1].output[0].save(); // step 0: the whole prompt
    h2 = layers[-1].next().output[0].save(); // step 1: one new token
    h3 = layers[-1].next().output[0].save(); // step 2
    out = model.generator.output.save();
  });
  console.log("\n## .next()");
  console.log("Hidden state 1 shape:", h1.value.shape);
  console.log("Hidden state 2 shape:", h2.value.shape);
  console.log("Hidden state 3 shape:", h3.value.shape);
  console.log("Prediction:", decode(await row(out.value, "0, -3:")));

  // --- .all(): the same intervention on every step ---------------------------------------
  const n = 3;
  let hidden = list().save();
  await model.generate(prompt, { maxNewTokens: n }, () => {
    model.all(); // bare: every module, every step, for the rest of the trace
    layers[0].output[0].set(":", 0); // zero the first block's output
    hidden.append(model.lm_head.output); // appended once per step
    out = model.generator.output.save();
  });
  console.log("\n## .all()");
  console.log("Hidden state length:", hidden.value.length);
  console.log("Prediction:", decode(await row(out.value, `0, -${n}:`)));

  // --- .all() is recursive: it applies to the envoy it is called on and its children ----
  hidden = list().save();
  await model.generate(prompt, { maxNewTokens: n }, () => {
    layers.all(); // lm_head is not under transformer.h, so it stays at step 0
    layers[0].output[0].set(":", 0);
    hidden.append(model.lm_head.output);
    out = model.generator.output.save();
  });
  console.log("\n## .all() on transformer.h only");
  console.log("Hidden state length:", hidden.value.length);
  console.log("Prediction:", decode(await row(out.value, `0, -${n}:`)));

  // --- iter(): a range of steps, with a callback scope -----------------------------------
  hidden = list().save();
  await model.generate(prompt, { maxNewTokens: 6 }, () => {
    model.iter("2:5", () => {
      layers[0].output[0].set(":", 0);
      hidden.append(model.generator.streamer.output); // the new token of steps 2, 3, 4
    });
    out = model.generator.output.save();
  });
  console.log('\n## iter("2:5")');
  console.log("Intervened steps:", hidden.value.length);
  console.log(
    "Tokens of steps 2-4:",
    decode(await Promise.all(hidden.value.map((t: Tensor) => t.item()))),
  );
  console.log("Prediction:", decode(await row(out.value, "0, -6:")));

  // --- the verbose way: a loop of .next() ------------------------------------------------
  hidden = list().save();
  await model.generate(prompt, { maxNewTokens: n }, () => {
    out = model.generator.output.save(); // before the loop: model.next() moves every cursor
    for (let i = 0; i < n; i++) {
      layers[0].output[0].set(":", 0);
      hidden.append(model.lm_head.output);
      model.next();
    }
  });
  console.log("\n## a .next() loop");
  console.log("Hidden state length:", hidden.value.length);
  console.log("Prediction:", decode(await row(out.value, `0, -${n}:`)));

  // --- the cell: 50 steps, every block output collected ---------------------------
  const hs = list().save();
  await model.generate(prompt, { maxNewTokens: 50 }, () => {
    layers.all(() => {
      layers[0].output[0].set(":", 0);
      hs.append(layers[-1].output);
    });
  });
  console.log("\n## layers.all(fn) over 50 steps");
  console.log(
    "Collected:",
    hs.value.length,
    "outputs; first",
    hs.value[0][0].shape,
    "then",
    hs.value[1][0].shape,
  );
}

if (import.meta.main) await multipleTokenGeneration(await exampleModel());
