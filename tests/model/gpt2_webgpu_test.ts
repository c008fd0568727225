// GPT-2 on the webgpu device against the tiny-gpt2 fixture: the eiffel activations and full
// logits, greedy tokens, and no buffer left behind by a forward or a generation.
// Skipped (not deleted) where no WebGPU adapter exists.

import assert from "node:assert/strict";
import { type Tensor, tensor } from "../../engine/mod.ts";
import { initWebGPU, liveBuffers, tidy } from "../../engine/webgpu/mod.ts";
import { parseGPT2Config } from "../../model/config.ts";
import { generate } from "../../model/generate.ts";
import { GPT2LMHeadModel } from "../../model/gpt2/model.ts";
import { loadWeights } from "../../model/gpt2/weights.ts";
import { loadSafetensors } from "../../model/safetensors.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { ACT, capture, checkSummaries, FIXTURE, hidden, LOGIT, reference } from "./_tiny_gpt2.ts";

const ready = await initWebGPU();
const ignore = !ready;

/** The fixture model with its weights on webgpu. */
async function webgpuModel(): Promise<GPT2LMHeadModel> {
  const json = JSON.parse(await Deno.readTextFile(new URL("config.json", FIXTURE)));
  const model = new GPT2LMHeadModel(parseGPT2Config(json), { device: "webgpu" });
  loadWeights(model, await loadSafetensors(new URL("model.safetensors", FIXTURE)));
  return model;
}

const model = ready ? await webgpuModel() : null!;
const ref = await reference();
const ids = (rows: number[][]) => tensor(rows, undefined, { dtype: "int32", device: "webgpu" });
const modulePath = (key: string) => key.replace(/attn\.attn_probs$/, "attn.attn_dropout");

Deno.test({
  name: "webgpu eiffel: every stored activation and the full logits match the reference",
  ignore,
  fn: async () => {
    const c = ref.cases.eiffel;
    const keys = Object.keys(c.activations);
    const before = liveBuffers();
    await tidy(async () => {
      const { result, outputs } = capture(
        model,
        keys.map(modulePath),
        () => model.call(ids(c.input_ids)) as Tensor,
      );
      assert.equal(result.device, "webgpu");
      for (const key of keys) {
        const got = hidden(outputs.get(modulePath(key))![0]);
        await assertClose(got, c.activations[key], { ...ACT, msg: `webgpu eiffel ${key}` });
      }
      const bytes = await Deno.readFile(new URL("eiffel.logits.f32", FIXTURE));
      const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      assert.deepEqual(result.shape, c.logits_full.shape);
      await assertClose(result, expected, { ...LOGIT, msg: "webgpu eiffel logits" });
      await checkSummaries(result.get(0), c.logits, ref.probe_ids, "webgpu eiffel");
    });
    assert.equal(liveBuffers(), before, "live buffers after a forward in tidy");
  },
});

Deno.test({
  name: "webgpu: greedy tokens match and a generation leaves no live buffer",
  ignore,
  fn: async () => {
    for (const name of ["eiffel", "hello"]) {
      const c = ref.cases[name];
      const before = liveBuffers();
      const T = c.input_ids[0].length;
      const newTokens = await tidy(async () => {
        const out = await generate(model, c.input_ids, { maxNewTokens: 5 });
        assert.equal(out.device, "webgpu");
        return new Int32Array(await out.get(`0, ${T}:`).data());
      });
      await assertExact(newTokens, c.generate_greedy.new_tokens, `webgpu ${name} greedy`);
      assert.equal(liveBuffers(), before, `live buffers after generating ${name}`);
    }
  },
});

Deno.test({
  name: "webgpu: an error thrown by a hook mid-forward leaves no live buffer inside tidy",
  ignore,
  fn: () => {
    const before = liveBuffers();
    const block = model.transformer.h.at(1);
    block.hook = {
      output: () => {
        throw new Error("hook failed");
      },
    };
    try {
      assert.throws(() => tidy(() => model.call(ids(ref.cases.eiffel.input_ids))), /hook failed/);
    } finally {
      block.hook = null;
    }
    assert.equal(liveBuffers(), before);
  },
});
