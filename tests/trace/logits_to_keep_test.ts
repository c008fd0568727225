// logitsToKeep through the tracing API: trace(input, {logitsToKeep}, fn) gives the full trace's
// last rows in model.output and lm_head.output; a traced generate that observes the logits sees
// every prompt position as before; bad options are refused by name, locally and in model.run.

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import { LogitsToKeepError } from "../../model/validate.ts";
import { GraphValidationError } from "../../trace/errors.ts";
import { type GPT2LanguageModel, LanguageModel } from "../../trace/language_model.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import { FIXTURE } from "../model/_tiny_gpt2.ts";

const PROMPTS = ["The Eiffel Tower is in the city of", "Hello"];
const TOL = { atol: 1e-5, rtol: 1e-5 };

function tiny(device: "cpu" | "webgpu" = "cpu"): Promise<GPT2LanguageModel> {
  return LanguageModel.load(FIXTURE.pathname, { device });
}

deviceTest("trace with logitsToKeep 1 equals the full trace's last rows", async (device) => {
  const model = await tiny(device === "webgpu" ? "webgpu" : "cpu");
  const full = await model.trace(PROMPTS, () => ({
    out: model.output.save(),
    h: model.transformer.h[1].output[0].save(),
  }));
  const kept = await model.trace(PROMPTS, { logitsToKeep: 1 }, () => ({
    out: model.output.save(),
    head: model.lm_head.output.save(),
    h: model.transformer.h[1].output[0].save(),
  }));
  const out = kept.out as Tensor, head = kept.head as Tensor, all = full.out as Tensor;
  assert.deepEqual(out.shape, [2, 1, all.shape[2]]);
  await assertClose(out, all.get(":, -1:"), { ...TOL, msg: "logits" });
  await assertClose(head, all.get(":, -1:"), { ...TOL, msg: "lm_head.output" });
  await assertClose(kept.h as Tensor, full.h as Tensor, { ...TOL, msg: "a block is unchanged" });
  const three = await model.trace(PROMPTS, { logitsToKeep: 3 }, () => model.output.save());
  await assertClose(three as Tensor, all.get(":, -3:"), { ...TOL, msg: "n = 3" });
});

Deno.test("a traced generate that reads the logits sees every prompt position", async () => {
  const model = await tiny();
  const full = await model.trace(PROMPTS[0], () => model.output.save()) as Tensor;
  const seen = await model.generate(PROMPTS[0], { maxNewTokens: 3 }, () => ({
    first: model.output.save(),
    ids: model.generator.output.save(),
  }));
  await assertClose(seen.first as Tensor, full, { ...TOL, msg: "step 0 logits, all positions" });
  const bare = await model.generate(PROMPTS[0], { maxNewTokens: 3 });
  await assertExact(seen.ids as Tensor, bare, "same tokens observed or not");
  const kept = await model.generate(PROMPTS[0], { maxNewTokens: 1, logitsToKeep: 1 }, () => ({
    first: model.output.save(),
  }));
  await assertClose(kept.first as Tensor, full.get(":, -1:"), { ...TOL, msg: "forced 1" });
});

Deno.test("bad trace options are refused by name", async () => {
  const model = await tiny();
  await assert.rejects(
    () => model.trace("Hi", { logitsToKeep: -1 }, () => model.output.save()),
    LogitsToKeepError,
  );
  await assert.rejects(
    () => model.trace("Hi", { logitsToKeep: "1" as unknown as number }, () => model.output.save()),
    TypeError,
  );
  await assert.rejects(
    () => model.trace("Hi", { keep: 1 } as never, () => model.output.save()),
    /Unknown option "keep"/,
  );
  const req = model.record(() => model.output.save(), { input: "Hi" });
  const bad = { ...req, mode: { kind: "trace", options: { logitsToKeep: -2 } } };
  await assert.rejects(() => model.run(JSON.parse(JSON.stringify(bad))), GraphValidationError);
  const good = { ...req, mode: { kind: "trace", options: { logitsToKeep: 1 } } };
  const res = await model.run(JSON.parse(JSON.stringify(good)));
  assert.deepEqual((res.output as Tensor).shape.slice(0, 2), [1, 1]);
});
