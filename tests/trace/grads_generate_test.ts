// `.grad` and `backward()` on every decoding step of generate (`.all()`, `.iter()`), on every
// device: each step's gradient is that step's own (the KV cache holds past keys and values as
// constants), so it equals the last position's gradient of a plain trace on the same tokens.

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import { list } from "../../trace/containers.ts";
import { liveBuffers } from "../../engine/webgpu/mod.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import { FIXTURE, type Json } from "../model/_tiny_gpt2.ts";

type P = InterventionProxy;
const GRAD = { atol: 1e-4, rtol: 1e-3 };
const grads: Json = JSON.parse(await Deno.readTextFile(new URL("grads.json", FIXTURE)));
const { a, b } = grads.metric;
const STEPS = 3;

/** The fixture's logit difference at the last position, recorded on `model`. */
function metric(model: LanguageModel): P {
  const logits = model.envoy.child("lm_head").output;
  return logits.get(`0, -1, ${a}`).sub(logits.get(`0, -1, ${b}`));
}

/** Layer `i`'s hidden state (element 0 of GPT-2's tuple). */
const hidden = (model: LanguageModel, i: number): P =>
  model.envoy.child("transformer").child("h").at(i).output[0];

/** Layer 1's gradient of the metric in a plain trace on `ids` (1, T, C). */
async function traceGrad(model: LanguageModel, ids: number[]): Promise<Tensor> {
  let g!: P;
  await model.trace(ids, () => {
    g = hidden(model, 1).grad.save();
    metric(model).backward();
  });
  return g.value as Tensor;
}

/** The prompt and the generated ids of `out` (1, T0 + STEPS). */
async function tokens(out: Tensor): Promise<number[]> {
  return Array.from(await out.get("0").data(), Number);
}

deviceTest("generate grads: .all() gives each step its own gradient", async (device) => {
  const model = await LanguageModel.load(FIXTURE.pathname, { device });
  const gs = list().save(), ms = list().save();
  let out!: P;
  const before = device === "webgpu" ? liveBuffers() : 0;
  await model.generate(grads.prompt_ids, { maxNewTokens: STEPS }, () => {
    model.all();
    gs.append(hidden(model, 1).grad);
    const m = metric(model);
    ms.append(m);
    m.backward();
    out = model.envoy.child("generator").output.save();
  });
  if (device === "webgpu") assert.equal(liveBuffers(), before, "live buffers after generate");
  const perStep = gs.value as Tensor[];
  assert.equal(perStep.length, STEPS);
  const ids = await tokens(out.value as Tensor);
  const T0 = grads.prompt_ids.length;
  for (let s = 0; s < STEPS; s++) {
    const full = await traceGrad(model, ids.slice(0, T0 + s)); // (1, T0 + s, C)
    const want = s === 0 ? full : full.get(":, -1:"); // (1, T, C) of step s's positions
    assert.deepEqual(perStep[s].shape, want.shape);
    await assertClose(perStep[s], await want.data(), { ...GRAD, msg: `step ${s}` });
    assert.ok(perStep[s].abs().sum().dataSync()[0] > 0, `step ${s} has a nonzero gradient`);
  }
  for (const p of model.module.parameters()) assert.equal(p.needsGrad, false);
});

deviceTest("generate grads: .iter() steps and a gradient edit on each of them", async (device) => {
  const model = await LanguageModel.load(FIXTURE.pathname, { device });
  const g0 = list().save(), g1 = list().save();
  await model.generate(grads.prompt_ids, { maxNewTokens: STEPS }, () => {
    model.iter("1:", () => {
      g1.append(hidden(model, 1).grad.abs().sum()); // read before the edit
      hidden(model, 1).grad.set(":", 0); // nothing reaches layer 0 on these steps
      g0.append(hidden(model, 0).grad.abs().sum());
      metric(model).backward();
    });
  });
  assert.equal((g1.value as Tensor[]).length, STEPS - 1);
  for (const [s, sum] of (g1.value as Tensor[]).entries()) {
    assert.ok(sum.dataSync()[0] > 0, `step ${s + 1}: layer 1's gradient arrived`);
  }
  for (const [s, sum] of (g0.value as Tensor[]).entries()) {
    assert.equal(sum.dataSync()[0], 0, `step ${s + 1}: layer 0 gets no gradient`);
  }
});
