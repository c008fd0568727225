// GPT-2 on the webgpu device against the tiny-gpt2 fixture: the eiffel activations and full
// logits, greedy tokens, no buffer left behind by a forward or a generation (also without a
// tidy), and weights allocated once when loading. Skipped (not deleted) without an adapter.

import assert from "node:assert/strict";
import { type Tensor, tensor } from "../../engine/mod.ts";
import { initWebGPU, liveBuffers, tidy, webgpuStats } from "../../engine/webgpu/mod.ts";
import { parseGPT2Config } from "../../model/config.ts";
import { generate } from "../../model/generate.ts";
import { GPT2LMHeadModel } from "../../model/gpt2/model.ts";
import { loadWeights } from "../../model/gpt2/weights.ts";
import { loadGPT2 } from "../../model/load.ts";
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

Deno.test({
  name: "webgpu: generate() frees its intermediates by itself; only the returned ids stay",
  ignore,
  fn: async () => {
    const c = ref.cases.hello;
    const before = liveBuffers();
    const out = await generate(model, c.input_ids, { maxNewTokens: 5 });
    assert.equal(liveBuffers(), before + 1, "the result is the only live buffer");
    const T = c.input_ids[0].length;
    await assertExact(await out.get(`0, ${T}:`).data(), c.generate_greedy.new_tokens);
    out.dispose();
    assert.equal(liveBuffers(), before);
    const block = model.transformer.h.at(2);
    block.hook = {
      output: () => {
        throw new Error("hook failed");
      },
    };
    try {
      await assert.rejects(generate(model, c.input_ids, { maxNewTokens: 3 }), /hook failed/);
    } finally {
      block.hook = null;
    }
    assert.equal(liveBuffers(), before, "after an error in a hook");
  },
});

Deno.test({
  name: "webgpu: loading allocates every weight once (no zero weights held besides them)",
  ignore,
  fn: async () => {
    const storages = (m: GPT2LMHeadModel) => new Set(m.namedParameters().map(([, t]) => t.storage));
    const acquired = () => webgpuStats()!.created + webgpuStats()!.reused;
    const live0 = liveBuffers(), got0 = acquired();
    const { model: loaded } = await loadGPT2(FIXTURE.pathname, { device: "webgpu" });
    const n = storages(loaded).size;
    assert.equal(n, 2 + 12 * loaded.config.n_layer + 2, "wte, wpe, 12 per block, ln_f (tied head)");
    assert.equal(liveBuffers() - live0, n);
    assert.equal(acquired() - got0, n, "one buffer per weight: no placeholder took memory");
    for (const s of storages(loaded)) assert.equal(s.device, "webgpu");
    // A model built with zero weights frees them when loadWeights replaces them.
    const live1 = liveBuffers();
    const zeroed = new GPT2LMHeadModel(loaded.config, { device: "webgpu" });
    assert.equal(liveBuffers() - live1, n);
    loadWeights(zeroed, await loadSafetensors(new URL("model.safetensors", FIXTURE)));
    assert.equal(liveBuffers() - live1, n, "the zeros were freed");
    for (const m of [loaded, zeroed]) for (const [, t] of m.namedParameters()) t.dispose();
    assert.equal(liveBuffers(), live0);
  },
});
