// nnsight-compatible defaults on tiny-gpt2, against nnsight 0.4.11: a traced generate with no
// maxNewTokens makes one token, the streamer sees the prompt then each token, and
// model.output.logits is the model's output (HF's CausalLMOutput spelling).

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import { list } from "../../trace/containers.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import type { Json } from "../model/_tiny_gpt2.ts";
import { nnsight, PROMPT, tiny, TOL } from "./_nnsight_flow.ts";

type P = InterventionProxy;

deviceTest(
  "generate with a callback and no maxNewTokens makes 1 token, as nnsight 0.4.11",
  async (device) => {
    const model = await tiny(device);
    const ref: Json = (await nnsight()).generate_default;
    let out!: P;
    await model.generate(PROMPT, {}, () => void (out = model.generator.output.save()));
    assert.deepEqual(out.value.shape, ref.shape);
    await assertExact(out.value.get("0"), ref.ids);
    const ids = await model.generate(PROMPT, {}, (t) => t.result);
    assert.deepEqual(ids.shape, ref.shape);
    const plain = await model.generate(PROMPT); // no callback: HF's 20
    assert.deepEqual(plain.shape, [1, 30]);
  },
);

deviceTest(
  "generator.streamer.output: the prompt first, then one call per token (nnsight 0.4.11)",
  async (device) => {
    const model = await tiny(device);
    const ref: Json[] = (await nnsight()).streamer;
    const calls = list<Tensor>();
    await model.generate(PROMPT, { maxNewTokens: 3 }, () => {
      model.generator.streamer.all(() => calls.append(model.generator.streamer.output));
    });
    assert.equal(calls.value.length, ref.length);
    assert.deepEqual(calls.value[0].shape, ref[0].shape);
    await assertExact(calls.value[0], ref[0].ids);
    for (let i = 1; i < ref.length; i++) {
      // nnsight hands transformers' (B,) ids; tsight's step ids are (B, 1)
      assert.deepEqual(calls.value[i].shape, [...ref[i].shape, 1]);
      await assertExact(calls.value[i], ref[i].ids);
    }
    await assert.rejects(
      model.generate(PROMPT, { maxNewTokens: 2 }, () => {
        model.generator.streamer.output.set(":", 0);
      }),
      /generator\.streamer's first call \(step 0\) is the prompt/,
    );
    const edited = await model.generate(PROMPT, { maxNewTokens: 2 }, (t) => {
      model.generator.streamer.next().output.set(":", 13); // the first new token
      return t.result;
    });
    await assertExact(edited.get("0, 10"), [13]);
  },
);

deviceTest(
  "model.output.logits is the model's output, with nnsight 0.4.11's values",
  async (device) => {
    const model = await tiny(device);
    const ref: Json = await nnsight();
    const out = await model.trace(PROMPT, () => ({
      logits: model.output.logits.get("0, -1, :4"),
      same: model.output.logits.node.id === model.output.node.id,
    }));
    await assertClose(out.logits, ref.output_logits_last_4, TOL);
    assert.equal(out.same, true);
    await assert.rejects(
      model.trace(PROMPT, () => model.lm_head.output.logits),
      /has no \.logits: only the model's output \(model\.output\) is the logits/,
    );
  },
);
