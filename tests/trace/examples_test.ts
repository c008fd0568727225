// The tutorial example runs cell by cell on the tiny-gpt2 and tiny-llama fixtures, on every
// device, and prints the lengths and shapes the notebook shows (the demo runs it on GPT-2); the
// gradient examples match the fixture, finite differences, and a falling loss.

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import { attributionPatching } from "../../examples/attribution_patching.ts";
import { multipleTokenGeneration } from "../../examples/multiple_token_generation.ts";
import { saliency, trainSteering } from "../../examples/saliency_and_steering.ts";
import { assertClose } from "../_assert.ts";
import { FIXTURE } from "../model/_tiny_gpt2.ts";
import { deviceTest } from "../_devices.ts";

/** Runs the tutorial on `model`, returning what it printed. */
async function tutorialText(model: LanguageModel): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) =>
    void lines.push(a.map((x) => typeof x === "string" ? x : JSON.stringify(x)).join(" "));
  try {
    await multipleTokenGeneration(model);
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

deviceTest("examples: multiple_token_generation reproduces every cell", async (device) => {
  const model = await LanguageModel.load(FIXTURE.pathname, { device });
  assert.equal(model.device, device);
  const text = await tutorialText(model);
  assert.match(text, /Prompt: "The Eiffel Tower is in the city of"/);
  assert.match(
    text,
    /Hidden state 1 shape: \[1,10,32\]\nHidden state 2 shape: \[1,1,32\]\nHidden state 3 shape: \[1,1,32\]/,
  );
  assert.match(text, /## \.all\(\)\nHidden state length: 3/);
  assert.match(text, /## \.all\(\) on transformer\.h only\nHidden state length: 1/);
  assert.match(text, /Intervened steps: 3/);
  assert.match(text, /## a \.next\(\) loop\nHidden state length: 3/);
  assert.match(text, /Collected: 50 outputs; first \[1,10,32\] then \[1,1,32\]/);
});

deviceTest(
  "examples: multiple_token_generation runs cell by cell on tiny-llama",
  async (device) => {
    const dir = new URL("../fixtures/tiny-llama/", import.meta.url);
    const model = await LanguageModel.load(dir.pathname, { device });
    const text = await tutorialText(model);
    assert.match(
      text,
      /Prompt: "<s> The Eiffel Tower is in the city of"|Prompt: "The Eiffel Tower/,
    );
    assert.match(
      text,
      /Hidden state 1 shape: \[1,11,32\]\nHidden state 2 shape: \[1,1,32\]\nHidden state 3 shape: \[1,1,32\]/,
    );
    assert.match(text, /## \.all\(\)\nHidden state length: 3/);
    assert.match(text, /## \.all\(\) on model\.layers only\nHidden state length: 1/);
    assert.match(text, /Intervened steps: 3/);
    assert.match(text, /## a \.next\(\) loop\nHidden state length: 3/);
    assert.match(text, /Collected: 50 outputs; first \[1,11,32\] then \[1,1,32\]/);
  },
);

Deno.test("examples: attribution_patching reproduces the fixture's attribution scores", async () => {
  const model = await LanguageModel.load(FIXTURE.pathname);
  const grads = JSON.parse(await Deno.readTextFile(new URL("grads.json", FIXTURE)));
  const ap = grads.attribution_patching, { a, b } = grads.metric;
  const r = await attributionPatching(model, ap.clean_ids, ap.corrupted_ids, a, b);
  assert.ok(Math.abs(r.corrupted - ap.metric_on_corrupted) <= 1e-4 + 1e-3 * ap.metric_on_corrupted);
  await assertClose(r.scores, ap.per_layer_per_position, { atol: 1e-4, rtol: 1e-3 });
});

deviceTest(
  "examples: saliency scores match finite differences of the top logit",
  async (device) => {
    const model = await LanguageModel.load(FIXTURE.pathname, { device });
    const prompt = "The Eiffel Tower is in the city of";
    const { scores, top } = await saliency(model, prompt);
    const T = model.tokenizer.encode(prompt).length;
    assert.equal(scores.length, T);
    // score_t = d/da logit_top(embedding with token t's row scaled by 1 + a), at a = 0.
    const eps = 1e-2;
    for (const t of [0, T >> 1, T - 1]) {
      const at = async (a: number) => {
        const out = await model.trace(prompt, () => {
          const e = model.transformer.wte.output;
          e.set(`:, ${t}`, e.get(`:, ${t}`).mul(1 + a));
          return model.lm_head.output.get(`0, -1, ${top}`);
        }) as Tensor;
        return (await out.data())[0];
      };
      const fd = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      assert.ok(
        Math.abs(scores[t] - fd) <= 2e-4 + 1e-3 * Math.abs(fd),
        `token ${t}: ${scores[t]} vs ${fd}`,
      );
    }
  },
);

deviceTest("examples: a steering vector trained with Adam lowers the loss", async (device) => {
  const model = await LanguageModel.load(FIXTURE.pathname, { device });
  const prompt = "The Eiffel Tower is in the city of";
  const target = 42;
  const plain = await model.trace(
    prompt,
    () => model.lm_head.output.get("0, -1").logSoftmax(),
  ) as Tensor;
  const { losses, vector } = await trainSteering(model, prompt, { target, steps: 8, lr: 0.1 });
  // Step 0 runs with a zero vector: the unsteered model's loss.
  assert.ok(Math.abs(losses[0] + (await plain.data())[target]) <= 1e-4);
  for (let i = 1; i < losses.length; i++) {
    assert.ok(losses[i] < losses[i - 1], `step ${i}: ${losses}`);
  }
  assert.ok(losses.at(-1)! < losses[0] - 0.5, `the loss fell: ${losses}`);
  assert.equal(vector.device, device);
  for (const p of model.module.parameters()) assert.equal(p.needsGrad, false);
});
