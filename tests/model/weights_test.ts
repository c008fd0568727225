// Checkpoint loading: hub and save_pretrained layouts, tied and untied heads, errors that name
// every missing key and wrong shape (nothing assigned on failure), seeded random init.

import assert from "node:assert/strict";
import { type Tensor, tensor } from "../../engine/mod.ts";
import { GPT2LMHeadModel } from "../../model/gpt2/model.ts";
import { initRandom, loadWeights } from "../../model/gpt2/weights.ts";
import { loadGPT2, randomGPT2 } from "../../model/load.ts";
import {
  loadSafetensors,
  readSafetensors,
  type TensorToWrite,
  writeSafetensors,
} from "../../model/safetensors.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { FIXTURE, ids, reference } from "./_tiny_gpt2.ts";

const ref = await reference();
const hub = await loadSafetensors(new URL("model.safetensors", FIXTURE));
const config = JSON.parse(await Deno.readTextFile(new URL("config.json", FIXTURE)));
const EIFFEL = ids(ref.cases.eiffel.input_ids);

/** The fixture's tensors under new names (and edits), as a readable safetensors file. */
function rewrite(edit: (tensors: Record<string, TensorToWrite>) => void) {
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of hub.names) {
    tensors[name] = { dtype: "F32", shape: hub.info(name).shape, data: hub.float32(name) };
  }
  edit(tensors);
  return writeSafetensors(tensors, { format: "pt" });
}

/** save_pretrained layout: "transformer." prefix, no attn.bias buffers, explicit lm_head. */
function savePretrained(head: (wte: Float32Array) => Float32Array) {
  return rewrite((t) => {
    for (const name of Object.keys(t)) {
      const v = t[name];
      delete t[name];
      if (!/\.attn\.bias$/.test(name)) t[`transformer.${name}`] = v;
    }
    t["lm_head.weight"] = { ...t["transformer.wte.weight"], data: head(hub.float32("wte.weight")) };
  });
}

Deno.test("loadGPT2 reads the fixture directory (hub layout) and marks weights constant", async () => {
  let report;
  const { model, tokenizer, config: c } = await loadGPT2(FIXTURE.pathname, {
    onReport: (r) => (report = r),
  });
  assert.equal(c.n_layer, 3);
  assert.deepEqual(report, { unused: [], untied: false });
  assert.equal(model.lm_head.tied, true);
  assert.equal(model.namedParameters().length, 2 + 3 * 12 + 2); // no lm_head.weight when tied
  assert.ok(model.namedParameters().every(([, t]) => t.storage.constant === true));
  assert.deepEqual(tokenizer.encode(" Paris"), [6342]);
  const logits = model.call(EIFFEL) as Tensor;
  await assertExact(logits.get("0, -1").argmax(), ref.cases.eiffel.generate_greedy.new_tokens[0]);
});

Deno.test("save_pretrained layout: tied head stays tied, a different head is untied", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    await Deno.writeFile(`${dir}/model.safetensors`, savePretrained((w) => w.slice()));
    const tied = await loadGPT2(dir);
    assert.equal(tied.model.lm_head.tied, true);
    const expected = tied.model.call(EIFFEL) as Tensor;
    const probes = tensor(ref.probe_ids, undefined, { dtype: "int32" });
    await assertClose(
      expected.get("0, 3").indexSelect(0, probes),
      ref.cases.eiffel.logits.probe_values[3],
      {
        atol: 2e-4,
        rtol: 1e-4,
      },
    );
    await Deno.writeFile(`${dir}/model.safetensors`, savePretrained((w) => w.map((x) => 2 * x)));
    const untied = await loadGPT2(dir);
    assert.equal(untied.model.lm_head.tied, false);
    assert.ok(untied.model.namedParameters().some(([p]) => p === "lm_head.weight"));
    // logits are linear in the head weight: a doubled head doubles them.
    await assertClose(untied.model.call(EIFFEL) as Tensor, expected.mul(2), { atol: 1e-5 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a bad checkpoint names every missing key and wrong shape, assigning nothing", () => {
  const bytes = rewrite((t) => {
    delete t["h.1.mlp.c_fc.bias"];
    delete t["ln_f.weight"];
    t["h.0.attn.c_attn.weight"] = { dtype: "F32", shape: [32, 95], data: new Float32Array(3040) };
  });
  const model = new GPT2LMHeadModel(config);
  const before = model.transformer.wte.weight;
  assert.throws(() => loadWeights(model, readSafetensors(bytes)), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.match(
      e.message,
      /missing "transformer\.h\.1\.mlp\.c_fc\.bias" \(or "h\.1\.mlp\.c_fc\.bias"\)/,
    );
    assert.match(e.message, /missing "transformer\.ln_f\.weight"/);
    assert.match(
      e.message,
      /"h\.0\.attn\.c_attn\.weight" has shape \[32, 95\], expected \[32, 96\]/,
    );
    return true;
  });
  assert.equal(model.transformer.wte.weight, before, "nothing assigned");
});

Deno.test("an untied config without lm_head.weight is an error; unknown keys are reported", () => {
  const model = new GPT2LMHeadModel({ ...config, tie_word_embeddings: false });
  assert.throws(() => loadWeights(model, hub), /missing "lm_head.weight"/);
  const extra = readSafetensors(rewrite((t) => {
    t["h.0.attn.masked_bias"] = { dtype: "F32", shape: [1], data: [-1e4] };
    t["score.weight"] = { dtype: "F32", shape: [1], data: [0] };
  }));
  assert.deepEqual(loadWeights(new GPT2LMHeadModel(config), extra).unused, ["score.weight"]);
});

Deno.test("random init is seeded and follows HF's scheme", async () => {
  const small = { n_layer: 2, n_embd: 16, n_head: 2, n_positions: 32, vocab_size: 100 };
  const a = initRandom(new GPT2LMHeadModel(small), 1);
  const b = initRandom(new GPT2LMHeadModel(small), 1);
  const c = initRandom(new GPT2LMHeadModel(small), 2);
  const w = (m: GPT2LMHeadModel) => m.transformer.h.at(0).attn.c_attn.weight;
  await assertExact(w(a), await w(b).data(), "same seed");
  assert.notDeepEqual(w(a).dataSync(), w(c).dataSync());
  await assertExact(a.transformer.ln_f.parameter("weight"), new Array(16).fill(1), "ln gain 1");
  await assertExact(a.transformer.h.at(1).mlp.c_fc.bias, new Array(64).fill(0), "bias 0");
  const wte = a.transformer.wte.weight.dataSync() as Float32Array;
  const std = Math.sqrt(wte.reduce((s: number, x: number) => s + x * x, 0) / wte.length);
  assert.ok(Math.abs(std - 0.02) < 0.002, `wte std ${std}`);
  const { model } = await randomGPT2(small, { seed: 1 });
  await assertExact(w(model), await w(a).data(), "randomGPT2 = initRandom");
});
