// Tracing GPT-2 end to end on the tiny-gpt2 fixture with GPT-2's tokenizer: the tutorial
// "Multiple Token Generation" line for line, the fixture's interventions and attention
// patterns, two invokes against the batched reference, and the errors users meet.

import assert from "node:assert/strict";
import { type Device, type Tensor, tensor, zeros } from "../../engine/mod.ts";
import { type GPT2LanguageModel, LanguageModel } from "../../trace/language_model.ts";
import { list } from "../../trace/containers.ts";
import { InterventionError, MissingValueError } from "../../trace/errors.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import { ACT, checkSummaries, FIXTURE, type Json, reference } from "../model/_tiny_gpt2.ts";

type P = InterventionProxy;
const PROMPT = "The Eiffel Tower is in the city of";
const cached = new Map<Device, Promise<GPT2LanguageModel>>();
/** The fixture model on `device`, loaded once per device. */
function tiny(device: Device = "cpu"): Promise<GPT2LanguageModel> {
  let m = cached.get(device);
  if (!m) cached.set(device, m = LanguageModel.load(FIXTURE.pathname, { device }));
  return m;
}

async function newTokens(ids: Tensor, n: number): Promise<number[]> {
  return [...(await ids.get(`0, -${n}:`).data())];
}

deviceTest("gpt2: the tutorial's cells give the documented shapes and lengths", async (device) => {
  const model = await tiny(device);
  assert.equal(model.device, device);
  const layers = model.transformer.h;
  let out!: P;
  await model.generate(PROMPT, { maxNewTokens: 3 }, () => {
    out = model.generator.output.save();
  });
  assert.deepEqual(out.value.shape, [1, 13]);
  const ref: Json = await reference();
  const greedy = ref.cases.eiffel.generate_greedy.new_tokens;
  assert.deepEqual(await newTokens(out.value, 3), greedy.slice(0, 3));
  assert.equal(
    model.tokenizer.decode(await out.value.get("0, -3:").toArray()),
    model.tokenizer.decode(greedy.slice(0, 3)),
  );

  let h1!: P, h2!: P, h3!: P;
  await model.generate(PROMPT, { maxNewTokens: 3 }, () => {
    h1 = layers[-1].output[0].save();
    h2 = layers[-1].next().output[0].save();
    h3 = layers[-1].next().output[0].save();
    out = model.generator.output.save();
  });
  assert.deepEqual([h1.value.shape, h2.value.shape, h3.value.shape, out.value.shape], [
    [1, 10, 32],
    [1, 1, 32],
    [1, 1, 32],
    [1, 13],
  ]);
  const plain = await model.trace(PROMPT, () => layers[-1].output[0]);
  await assertClose(h1.value, plain, { atol: 0, rtol: 0, msg: "h1 vs plain trace" });
  await assertClose(h1.value.get("0"), ref.cases.eiffel.activations["transformer.h.2"], ACT);

  const hs = list().save();
  await model.generate(PROMPT, { maxNewTokens: 50 }, () => {
    layers.all(() => {
      layers[0].output[0].set(":", 0);
      hs.append(layers[-1].output);
    });
  });
  assert.equal(hs.value.length, 50);
  assert.deepEqual(hs.value[0][0].shape, [1, 10, 32]);
  assert.deepEqual(hs.value[49][0].shape, [1, 1, 32]);
});

deviceTest("gpt2: the fixture's interventions give its greedy tokens", async (device) => {
  const model = await tiny(device);
  const layers = model.transformer.h;
  const ref: Json = (await reference()).cases.eiffel.interventions;
  const every = await model.generate(PROMPT, { maxNewTokens: 5 }, () => {
    layers.all(() => layers[0].output[0].set(":", 0));
    return model.generator.output;
  });
  await assertExact(
    await newTokens(every, 5),
    ref.zero_block0_output_every_step.generate_greedy.new_tokens,
  );
  const first = await model.generate(PROMPT, { maxNewTokens: 5 }, (t) => {
    layers[0].output[0].set(":", 0);
    return t.result;
  });
  await assertExact(
    await newTokens(first, 5),
    ref.zero_block0_output_first_step_only.generate_greedy.new_tokens,
  );
  const vector = tensor(ref.add_vector_block1_last_prompt_pos.vector);
  const steered = await model.generate(PROMPT, { maxNewTokens: 5 }, () => {
    const h = layers[1].output[0];
    h.set(":, 9, :", h.get(":, 9, :").add(vector));
    return model.generator.output;
  });
  await assertExact(
    await newTokens(steered, 5),
    ref.add_vector_block1_last_prompt_pos.generate_greedy.new_tokens,
  );
});

deviceTest("gpt2: iter() and all() select steps; streamer step 0 is the prompt", async (device) => {
  const model = await tiny(device);
  const toks = list<Tensor>(), shapes = list<Tensor>(), inLayers = list(), inModel = list();
  const ids = await model.generate(PROMPT, { maxNewTokens: 6 }, (t) => {
    model.iter("2:5", () => toks.append(model.generator.streamer.output));
    model.transformer.h[0].iter([0, 2, 4], () => shapes.append(model.transformer.h[0].output[0]));
    model.transformer.h.all(() => inLayers.append(model.lm_head.output));
    model.all(() => inModel.append(model.lm_head.output));
    return t.result;
  });
  const generated = await newTokens(ids, 6);
  // The streamer's step 0 is the prompt (as transformers calls it), so steps 2-4 are tokens 1-3.
  assert.deepEqual(await Promise.all(toks.value.map((x) => x.item())), generated.slice(1, 4));
  assert.deepEqual(shapes.value.map((x) => x.shape), [[1, 10, 32], [1, 1, 32], [1, 1, 32]]);
  assert.equal(inLayers.value.length, 1);
  assert.equal(inModel.value.length, 6);
});

deviceTest("gpt2: attn_dropout's output is the fixture's attention pattern", async (device) => {
  const model = await tiny(device);
  const ref: Json = (await reference()).cases.eiffel.activations;
  const probs = await model.trace(
    PROMPT,
    () => [0, 1, 2].map((i) => model.transformer.h[i].attn.attn_dropout.output),
  );
  for (let i = 0; i < 3; i++) {
    assert.deepEqual(probs[i].shape, [1, 4, 10, 10]);
    await assertClose(probs[i].get("0"), ref[`transformer.h.${i}.attn.attn_probs`], {
      ...ACT,
      msg: `h.${i}`,
    });
  }
});

deviceTest("gpt2: two invokes equal the left-padded batched fixture", async (device) => {
  const model = await tiny(device);
  const ref: Json = (await reference()).cases.batch_eiffel_hello_leftpad;
  const exp = ref.positions_from_mask;
  const got: P[][] = [];
  const logits = await model.trace((t) => {
    for (const text of [PROMPT, "Hello, my dog is cute"]) {
      t.invoke(
        text,
        () => void got.push([0, 1, 2].map((i) => model.transformer.h[i].output[0].save())),
      );
    }
    return t.result;
  });
  assert.deepEqual(logits.shape, [2, 10, 50257]);
  for (let row = 0; row < 2; row++) {
    for (let i = 0; i < 3; i++) {
      const h = got[row][i].value as Tensor;
      assert.deepEqual(h.shape, [1, 10, 32]);
      const want = exp.activations[`transformer.h.${i}`][row];
      const valid = want.flatMap((v: number[] | null, pos: number) => (v ? [pos] : []));
      await assertClose(
        valid.map((p: number) => [...h.get(`0, ${p}`).dataSync()]),
        valid.map((p: number) => want[p]),
        { ...ACT, msg: `row ${row} h.${i}` },
      );
    }
    await checkSummaries(
      logits.get(`${row}`),
      exp.logits[row],
      (await reference()).probe_ids,
      `row ${row}`,
    );
  }
  const ids = await model.generate({ maxNewTokens: 5 }, (t) => {
    t.invoke(PROMPT, () => {});
    t.invoke("Hello, my dog is cute", () => {});
    return t.result;
  });
  for (let row = 0; row < 2; row++) {
    await assertExact(
      [...ids.get(`${row}, -5:`).dataSync()],
      ref.generate_greedy_rows[row].new_tokens,
    );
  }
});

deviceTest(
  "gpt2: inputs as text, texts, ids, rows and tensors run the same forward",
  async (device) => {
    const model = await tiny(device);
    const ids = model.tokenizer.encode(PROMPT);
    const want = await model.trace(PROMPT);
    assert.deepEqual(want.shape, [1, 10, 50257]);
    for (const input of [[PROMPT], ids, [ids], tensor([ids], undefined, { dtype: "int32" })]) {
      await assertClose(await model.trace(input), want, { atol: 1e-5, rtol: 1e-5 });
    }
    const all = await model.generate(ids, { maxNewTokens: 2 });
    assert.deepEqual(all.shape, [1, 12]);
  },
);

deviceTest("gpt2: errors name what went wrong and leave no hooks behind", async (device) => {
  const model = await tiny(device);
  const layers = model.transformer.h;
  const clean = () => {
    for (const [p, m] of model.module.namedModules()) assert.equal(m.hook, null, `hook on ${p}`);
  };
  await assert.rejects(
    model.trace(PROMPT, () => (model.transformer as unknown as Record<string, unknown>).hh),
    /Unknown module "transformer\.hh": "transformer" has wte, wpe, drop, h, ln_f; did you mean "h"\?/,
  );
  await assert.rejects(
    model.generate(PROMPT, { maxNewTokens: 3 }, () => void layers[-1].next(5).output.save()),
    (e: Error) =>
      e instanceof MissingValueError &&
      e.message === "transformer.h.2.output.i5 was never produced: generation ran 3 steps",
  );
  await assert.rejects(
    model.trace(PROMPT, () => void layers[0].output[0].add(zeros([5])).save()),
    (e: Error) =>
      e instanceof InterventionError &&
      /transformer\.h\.0\.output\.i0\[0\]\.add\(Tensor\[5\]\) failed at transformer\.h\.0\.output\.i0/
        .test(e.message) &&
      /\[1, 10, 32\] and \[5\]/.test(e.message),
  );
  await assert.rejects(
    model.trace(PROMPT, () => {
      layers[1].output = [zeros([1, 9, 32])];
    }),
    /replacement has shape \[1, 9, 32\] but the value it replaces has shape \[1, 10, 32\]/,
  );
  await assert.rejects(
    model.trace(PROMPT, (t) => {
      t.apply(() => {
        throw new Error("user bug");
      });
    }),
    /Node %0 apply\(fn\) failed at the start of the run: user bug/,
  );
  await assert.rejects(
    model.trace(PROMPT, () => void model.generator.output.save()),
    /generator\.output\.i0 was never produced: the forward pass ran once .* and never called "generator"/,
  );
  clean();
  const logits = await model.trace(PROMPT, () => model.lm_head.output);
  assert.deepEqual(logits.shape, [1, 10, 50257]);
});

Deno.test("gpt2: scan gives shapes on the meta device without computing", async () => {
  const model = await tiny();
  const r = await model.scan(PROMPT, () => ({
    h: model.transformer.h[0].output[0],
    att: model.transformer.h[0].attn.attn_dropout.output,
  }));
  assert.equal(r.h.device, "meta");
  assert.deepEqual(r.h.shape, [1, 10, 32]);
  assert.deepEqual(r.att.shape, [1, 4, 10, 10]);
  await assert.rejects(
    model.scan(PROMPT, () => void model.transformer.h[0].output[0].matmul(zeros([5, 2])).save()),
    /matmul: shapes \[1, 10, 32\] and \[5, 2\] do not match/,
  );
});

deviceTest("gpt2: a serialised generate request runs with the same results", async (device) => {
  const model = await tiny(device);
  const layers = model.transformer.h;
  const fn = () => {
    layers.all(() => layers[0].output[0].set(":", 0));
    return { ids: model.generator.output, h: layers[1].output[0].get(":, -1") };
  };
  const direct = await model.generate(PROMPT, { maxNewTokens: 3 }, fn);
  const request = model.record(fn, {
    input: PROMPT,
    mode: { kind: "generate", options: { maxNewTokens: 3 } },
  });
  const { output } = await model.run(JSON.parse(JSON.stringify(request)));
  await assertExact(output.ids, direct.ids);
  await assertClose(output.h, direct.h, { atol: 0, rtol: 0 });
});

deviceTest(
  "gpt2: envoy.call() runs a module inside the trace (logit lens) without counting a step",
  async (device) => {
    const model = await tiny(device);
    const layers = model.transformer.h;
    const r = await model.trace(PROMPT, () => ({
      lens: model.lm_head.call(model.transformer.ln_f.call(layers[-1].output[0])),
      logits: model.lm_head.output,
    }));
    await assertClose(r.lens, r.logits, { atol: 1e-5, rtol: 1e-5 });
    const steps = list();
    await model.generate(PROMPT, { maxNewTokens: 2 }, () => {
      model.transformer.ln_f.all(() => {
        steps.append(model.transformer.ln_f.call(model.transformer.ln_f.output));
      });
    });
    assert.equal(steps.value.length, 2);
  },
);

deviceTest(
  "gpt2: one prompt's embeddings transplanted into another invoke give its logits",
  async (device) => {
    const model = await tiny(device);
    const other = "Big Ben is a big clock in the city of"; // 10 tokens, like PROMPT
    assert.equal(model.tokenizer.encode(other).length, model.tokenizer.encode(PROMPT).length);
    const r = await model.trace((t) => {
      let emb!: P, a!: P, b!: P;
      t.invoke(PROMPT, () => {
        emb = model.transformer.wte.output;
        a = model.lm_head.output;
      });
      t.invoke(other, () => {
        model.transformer.wte.output = emb;
        b = model.lm_head.output;
      });
      return { a, b };
    });
    assert.deepEqual(r.b.shape, [1, 10, 50257]);
    await assertClose(r.b, r.a, { atol: 1e-5, rtol: 1e-5 });
  },
);

deviceTest(
  "gpt2: a second trace while one is running waits its turn; both finish",
  async (device) => {
    const model = await tiny(device);
    let h!: P;
    const first = model.generate(PROMPT, { maxNewTokens: 3 }, () => {
      h = model.transformer.h[0].output[0].save();
    });
    const second = await model.trace(PROMPT, () => model.lm_head.output);
    await first;
    assert.deepEqual(second.shape, [1, 10, 50257]);
    assert.deepEqual(h.value.shape, [1, 10, 32]);
    for (const [p, m] of model.module.namedModules()) assert.equal(m.hook, null, `hook on ${p}`);
    assert.deepEqual((await model.trace(PROMPT)).shape, [1, 10, 50257]);
  },
);
