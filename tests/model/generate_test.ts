// generate() and the KV cache: cached decoding equals full recomputation, batches equal their
// rows alone, generator/streamer events, interventions from the fixture, sampling, errors.

import assert from "node:assert/strict";
import { arange, type Tensor, tensor, zeros } from "../../engine/mod.ts";
import { prepareBatch } from "../../model/batch.ts";
import { generate } from "../../model/generate.ts";
import { KVCache } from "../../model/kv_cache.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { reference, tinyModel } from "./_tiny_gpt2.ts";

const model = await tinyModel();
const ref = await reference();
const EIFFEL: number[] = ref.cases.eiffel.input_ids[0];
const HELLO: number[] = ref.cases.hello.input_ids[0];
const STEP = { atol: 1e-4, rtol: 1e-4 };

/** Generates with lm_head hooked: returns all ids and each step's last-position logits (B, V). */
async function generateWithLogits(rows: number[][], maxNewTokens: number) {
  const steps: Tensor[] = [];
  model.lm_head.hook = { output: (_m, o) => void steps.push((o as Tensor).get(":, -1")) };
  try {
    return { all: await generate(model, rows, { maxNewTokens }), steps };
  } finally {
    model.lm_head.hook = null;
  }
}

Deno.test("KV-cache decoding equals full recomputation at every step", async () => {
  const { all, steps } = await generateWithLogits([EIFFEL], 6);
  assert.equal(steps.length, 6);
  const full = model.call(all) as Tensor; // (1, 16, V) without a cache
  for (let s = 0; s < 6; s++) {
    await assertClose(steps[s], full.get(`:, ${EIFFEL.length - 1 + s}`), {
      ...STEP,
      msg: `step ${s}`,
    });
  }
});

Deno.test("a padded batch decodes like each row alone (logits of every step)", async () => {
  const batch = await generateWithLogits([EIFFEL, HELLO], 4);
  for (const [b, row] of [[0, EIFFEL], [1, HELLO]] as const) {
    const alone = await generateWithLogits([row], 4);
    await assertExact(batch.all.get(`${b}, -4:`), alone.all.get("0, -4:"), `row ${b} ids`);
    for (let s = 0; s < 4; s++) {
      await assertClose(batch.steps[s].get(b), alone.steps[s].get(0), {
        ...STEP,
        msg: `row ${b} step ${s}`,
      });
    }
  }
});

Deno.test("streamer fires every step with (B, 1) ids, generator once with all ids", async () => {
  const streamed: number[][] = [];
  const finals: Tensor[] = [];
  model.generator.streamer.hook = {
    output: (_m, o) => void streamed.push([...(o as Tensor).dataSync()]),
  };
  model.generator.hook = { output: (_m, o) => void finals.push(o as Tensor) };
  try {
    const out = await generate(model, [EIFFEL, HELLO], { maxNewTokens: 3 });
    assert.equal(finals.length, 1);
    assert.equal(finals[0], out);
    assert.deepEqual(out.shape, [2, 13]);
    const rows = ref.cases.batch_eiffel_hello_leftpad.generate_greedy_rows;
    assert.deepEqual(streamed, [0, 1, 2].map((s) => [0, 1].map((b) => rows[b].new_tokens[s])));
  } finally {
    model.generator.streamer.hook = null;
    model.generator.hook = null;
  }
});

Deno.test("interventions: fixture tokens for zeroing block 0 and a steering vector", async () => {
  const iv = ref.cases.eiffel.interventions;
  const h0 = model.transformer.h.at(0), h1 = model.transformer.h.at(1);
  let calls = 0;
  const zero = { output: (_m: unknown, o: unknown) => void (o as Tensor[])[0].fill(0) };
  const run = async () => (await generate(model, [EIFFEL], { maxNewTokens: 5 })).get("0, 10:");
  try {
    h0.hook = zero;
    await assertExact(await run(), iv.zero_block0_output_every_step.generate_greedy.new_tokens);
    h0.hook = { output: (m, o) => (calls++ === 0 ? zero.output(m, o) : undefined) };
    await assertExact(
      await run(),
      iv.zero_block0_output_first_step_only.generate_greedy.new_tokens,
    );
    h0.hook = null;
    calls = 0;
    const vector = tensor(iv.add_vector_block1_last_prompt_pos.vector); // (32,)
    h1.hook = {
      output: (_m, o) => {
        if (calls++ > 0) return undefined;
        const h = (o as Tensor[])[0]; // (1, 10, 32) in the prompt pass
        return [h.set("0, 9", h.get("0, 9").add(vector)), (o as unknown[])[1]];
      },
    };
    await assertExact(await run(), iv.add_vector_block1_last_prompt_pos.generate_greedy.new_tokens);
  } finally {
    h0.hook = h1.hook = null;
  }
});

Deno.test("a hook's exception propagates unchanged and leaves no state behind", async () => {
  const boom = new Error("stop here");
  let calls = 0;
  model.transformer.h.at(2).hook = {
    output: () => {
      if (++calls === 3) throw boom;
    },
  };
  try {
    await assert.rejects(() => generate(model, [EIFFEL], { maxNewTokens: 5 }), (e) => e === boom);
  } finally {
    model.transformer.h.at(2).hook = null;
  }
  const out = await generate(model, [EIFFEL], { maxNewTokens: 5 });
  await assertExact(out.get("0, 10:"), ref.cases.eiffel.generate_greedy.new_tokens);
});

Deno.test("sampling: seeded, top-k 1 and tiny top-p are greedy, tokens stay in the top k", async () => {
  const greedy = ref.cases.eiffel.generate_greedy.new_tokens;
  const sample = (o: object) =>
    generate(model, [EIFFEL, HELLO], { maxNewTokens: 5, doSample: true, ...o });
  const a = await sample({ seed: 7, temperature: 1.5 }),
    b = await sample({ seed: 7, temperature: 1.5 });
  await assertExact(a, await b.data(), "same seed, same tokens");
  await assertExact((await sample({ topK: 1, seed: 1 })).get("0, 10:"), greedy, "top-k 1");
  await assertExact((await sample({ topP: 1e-6, seed: 2 })).get("0, 10:"), greedy, "top-p tiny");
  const steps: Tensor[] = [];
  model.lm_head.hook = { output: (_m, o) => void steps.push((o as Tensor).get(":, -1")) };
  let out: Tensor;
  try {
    out = await sample({ topK: 3, seed: 3, temperature: 5 });
  } finally {
    model.lm_head.hook = null;
  }
  for (let s = 0; s < 5; s++) {
    const top = [...steps[s].topk(3).indices.dataSync()];
    for (let b = 0; b < 2; b++) {
      const id = out.dataSync()[b * 15 + 10 + s];
      assert.ok(top.slice(b * 3, b * 3 + 3).includes(id), `step ${s} row ${b}: ${id} not in top 3`);
    }
  }
  await assert.rejects(() => sample({ temperature: 0 }), RangeError);
  await assert.rejects(() => sample({ topP: 1.5 }), RangeError);
  await assert.rejects(() => sample({ topK: 0 }), RangeError);
});

Deno.test("stopAtEos: finished rows emit padding and the loop ends when all finish", async () => {
  let step = 0;
  model.generator.streamer.hook = {
    output: (_m, o) => {
      const t = o as Tensor; // (2, 1)
      if (step === 1) t.set("0", 50256); // row 0 ends at step 1
      if (step === 2) t.set("1", 50256); // row 1 ends at step 2
      step++;
    },
  };
  try {
    const out = await generate(model, [EIFFEL, HELLO], { maxNewTokens: 8, stopAtEos: true });
    assert.deepEqual(out.shape, [2, 13]);
    await assertExact(out.get("0, 11:"), [50256, 50256], "row 0 padded after eos");
    assert.equal(out.dataSync()[13 + 12], 50256);
  } finally {
    model.generator.streamer.hook = null;
  }
});

Deno.test("generate validates its input and options", async () => {
  await assert.rejects(() => generate(model, []), TypeError);
  await assert.rejects(() => generate(model, [[1], []]), TypeError);
  await assert.rejects(() => generate(model, [[1, 50257]]), /token id 50257/);
  await assert.rejects(() => generate(model, [EIFFEL], { maxNewTokens: 60 }), /64 positions/);
  const none = await generate(model, [5, 6], { maxNewTokens: 0 });
  await assertExact(none, [[5, 6]]);
});

Deno.test("KVCache: appends per layer, advances once, grows past its capacity", async () => {
  const cache = new KVCache({ numLayers: 2, numKvHeads: 2, headDim: 3 }, { batch: 1, capacity: 2 });
  const kv = (start: number, T: number) => arange(start, start + 6 * T).reshape(1, 2, T, 3);
  for (const layer of [0, 1]) cache.update(layer, kv(0, 2), kv(100, 2));
  cache.advance(2);
  const [k, v] = cache.update(1, kv(12, 1), kv(112, 1)); // grows: 3 > 2
  assert.ok(cache.capacity >= 3);
  assert.deepEqual(k.shape, [1, 2, 3, 3]);
  await assertExact(k.get("0, 0"), [[0, 1, 2], [3, 4, 5], [12, 13, 14]]);
  await assertExact(v.get("0, 1, 2"), [115, 116, 117]);
  assert.throws(() => cache.update(0, zeros([2, 2, 1, 3]), zeros([2, 2, 1, 3])), /expected \[1, 2/);
  assert.throws(() => cache.update(2, kv(0, 1), kv(0, 1)), /layer 2 is out of range/);
  const b = prepareBatch([[1, 2, 3], [4]], 0);
  await assertExact(b.positionIds, [[0, 1, 2], [0, 0, 0]]);
});
