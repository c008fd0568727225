// A forward trace that reads the logits only as model.output.get(":, -1") runs the head on the
// last position alone (logitsToKeep 1) with the same values; anything that could observe other
// positions (the whole output, lm_head, an edit, another index, gradients) keeps every position.

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import type { CausalLMForwardOptions } from "../../model/causal_lm.ts";
import { type GPT2LanguageModel, LanguageModel } from "../../trace/language_model.ts";
import { assertClose } from "../_assert.ts";
import { FIXTURE } from "../model/_tiny_gpt2.ts";

const PROMPTS = ["The Eiffel Tower is in the city of", "Hello"];
const TOL = { atol: 1e-5, rtol: 1e-5 };

/** The tiny GPT-2 and the logitsToKeep of each forward it runs. */
async function spied(): Promise<[GPT2LanguageModel, (number | undefined)[]]> {
  const model = await LanguageModel.load(FIXTURE.pathname);
  const seen: (number | undefined)[] = [];
  const net = model.module;
  const call = net.call.bind(net);
  Object.defineProperty(net, "call", {
    value: (x: Tensor, opts?: CausalLMForwardOptions) => {
      seen.push(opts?.logitsToKeep);
      return call(x, opts);
    },
  });
  return [model, seen];
}

Deno.test("reading only the last logits runs the head on the last position, same values", async () => {
  const [model, seen] = await spied();
  const full = await model.trace(PROMPTS, () => model.output.save()) as Tensor;
  const got = await model.trace(PROMPTS, () => ({
    h: model.transformer.h[1].output[0].save(),
    last: model.output.get(":, -1").save(),
    again: model.output.get(":, -1, :").sum(-1).save(),
  }));
  assert.deepEqual(seen, [undefined, 1]);
  await assertClose(got.last as Tensor, full.get(":, -1"), { ...TOL, msg: "last logits" });
  await assertClose(got.again as Tensor, full.get(":, -1").sum(-1), { ...TOL, msg: "sum" });
  assert.deepEqual((got.h as Tensor).shape.slice(0, 2), full.shape.slice(0, 2));
});

Deno.test("anything that may see other positions keeps every position", async () => {
  const [model, seen] = await spied();
  const head = model.lm_head;
  const cases: [string, () => unknown][] = [
    ["the whole output saved", () => model.output.save()],
    ["another position", () => model.output.get(":, 0").save()],
    ["lm_head's output", () => [model.output.get(":, -1").save(), head.output.save()]],
    ["lm_head's input", () => [model.output.get(":, -1").save(), head.input.save()]],
    ["an edit of the output", () => {
      model.envoy.output = model.output.mul(2);
      return model.output.get(":, -1").save();
    }],
    ["a method on the output", () => model.output.softmax(-1).get(":, -1").save()],
  ];
  for (const [label, fn] of cases) {
    seen.length = 0;
    await model.trace(PROMPTS, fn);
    assert.deepEqual(seen, [undefined], label);
  }
  seen.length = 0;
  await model.trace(PROMPTS, { logitsToKeep: 2 }, () => model.output.get(":, -1").save());
  assert.deepEqual(seen, [2], "an explicit logitsToKeep wins");
});
