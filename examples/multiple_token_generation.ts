// nnsight's tutorial "Multiple Token Generation" ported cell by cell: generate(), .next(),
// .all() (bare and recursive), iter() over step ranges, and a .next() loop.
// Run: deno run -A examples/multiple_token_generation.ts (or `deno task demo`)

import {
  type Envoy,
  type EnvoyList,
  type InterventionProxy,
  type LanguageModel,
  list,
  type Tensor,
  type Value,
} from "../mod.ts";
import { exampleModel, row } from "./_model.ts";

const prompt = "The Eiffel Tower is in the city of";

/** The envoy at a dotted path (`model.paths.layers`), so the cells run on every family. */
function envoyAt(model: LanguageModel, path: string): Envoy {
  return path.split(".").reduce((e: Envoy, part) => e.child(part), model.envoy);
}

/**
 * Runs every cell of the tutorial on `model` (any family: the layers are found through
 * `model.paths`), printing what the notebook prints.
 */
export async function multipleTokenGeneration(model: LanguageModel): Promise<void> {
  const layers = envoyAt(model, model.paths.layers) as EnvoyList;
  const lmHead = envoyAt(model, model.paths.lmHead);
  const generator = model.envoy.child("generator");
  /** A layer's hidden state: output[0] where layers return tuples (GPT-2), else output. */
  const hiddenOf = (layer: Envoy): InterventionProxy =>
    model.paths.layerReturnsTuple ? layer.output[0] : layer.output;
  const decode = (ids: number[]) => JSON.stringify(model.tokenizer.decode(ids));

  // --- .generate(): generator.output holds every token id -------------------------
  let out!: Value;
  await model.generate(prompt, { maxNewTokens: 3 }, () => {
    out = generator.output.save();
  });
  const ids = out.value as Tensor;
  console.log("## .generate()");
  console.log("Prompt:", decode(await row(ids, "0, :-3")));
  console.log("Generated answer:", decode(await row(ids, "0, -3:")));

  // --- .next(): the same module on the following steps ----------------------------------
  let h1!: Value, h2!: Value, h3!: Value;
  await model.generate(prompt, { maxNewTokens: 3 }, () => {
    h1 = hiddenOf(layers[-1]).save(); // step 0: the whole prompt
    h2 = hiddenOf(layers[-1].next()).save(); // step 1: one new token
    h3 = hiddenOf(layers[-1].next()).save(); // step 2
    out = generator.output.save();
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
    hiddenOf(layers[0]).set(":", 0); // zero the first block's output
    hidden.append(lmHead.output); // appended once per step
    out = generator.output.save();
  });
  console.log("\n## .all()");
  console.log("Hidden state length:", hidden.value.length);
  console.log("Prediction:", decode(await row(out.value, `0, -${n}:`)));

  // --- .all() is recursive: it applies to the envoy it is called on and its children ----
  hidden = list().save();
  await model.generate(prompt, { maxNewTokens: n }, () => {
    layers.all(); // the LM head is not under the layers, so it stays at step 0
    hiddenOf(layers[0]).set(":", 0);
    hidden.append(lmHead.output);
    out = generator.output.save();
  });
  console.log(`\n## .all() on ${model.paths.layers} only`);
  console.log("Hidden state length:", hidden.value.length);
  console.log("Prediction:", decode(await row(out.value, `0, -${n}:`)));

  // --- iter(): a range of steps, with a callback scope -----------------------------------
  hidden = list().save();
  await model.generate(prompt, { maxNewTokens: 6 }, () => {
    model.iter("2:5", () => {
      hiddenOf(layers[0]).set(":", 0);
      hidden.append(lmHead.output.get(":, -1").argmax(-1)); // the new token of steps 2, 3, 4
    });
    out = generator.output.save();
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
    out = generator.output.save(); // before the loop: model.next() moves every cursor
    for (let i = 0; i < n; i++) {
      hiddenOf(layers[0]).set(":", 0);
      hidden.append(lmHead.output);
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
      hiddenOf(layers[0]).set(":", 0);
      hs.append(hiddenOf(layers[-1]));
    });
  });
  console.log("\n## layers.all(fn) over 50 steps");
  console.log(
    "Collected:",
    hs.value.length,
    "outputs; first",
    hs.value[0].shape,
    "then",
    hs.value[1].shape,
  );
}

if (import.meta.main) await multipleTokenGeneration(await exampleModel());
