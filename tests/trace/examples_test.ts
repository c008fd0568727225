// The tutorial example runs cell by cell on the tiny-gpt2 and tiny-llama fixtures, on every
// device, and prints the lengths and shapes the notebook shows (the demo runs it on GPT-2).

import assert from "node:assert/strict";
import { LanguageModel } from "../../trace/language_model.ts";
import { attributionPatching } from "../../examples/attribution_patching.ts";
import { multipleTokenGeneration } from "../../examples/multiple_token_generation.ts";
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
