// Untrusted inputs on every path and device: token ids (trace, generate, invokes, tensors, pad
// ids; cpu, webgpu, meta), too-long prompts, option objects, and NaN/Inf logits at a step.

import assert from "node:assert/strict";
import { type Device, type Tensor, tensor } from "../../engine/mod.ts";
import { NonFiniteLogitsError } from "../../model/finite.ts";
import { generate } from "../../model/generate.ts";
import {
  checkOptions,
  checkTokenId,
  PromptLengthError,
  TokenIdError,
} from "../../model/validate.ts";
import { type GPT2LanguageModel, LanguageModel } from "../../trace/language_model.ts";
import { GraphValidationError } from "../../trace/errors.ts";
import type { GPT2Envoys } from "../../trace/envoys/gpt2.ts";
import type { GPT2LMHeadModel } from "../../model/gpt2/model.ts";
import { deviceTest } from "../_devices.ts";
import { FIXTURE, type Json, reference } from "./_tiny_gpt2.ts";

const V = 50257, P = 64; // the fixture's vocabulary and positions
const PROMPT = "The Eiffel Tower is in the city of";
const cached = new Map<Device, Promise<GPT2LanguageModel>>();
function tiny(device: Device): Promise<GPT2LanguageModel> {
  let m = cached.get(device);
  if (!m) cached.set(device, m = LanguageModel.load<GPT2Envoys>(FIXTURE.pathname, { device }));
  return m;
}

/** Awaits `p`, expecting an error of `type` whose message contains every fragment. */
async function rejects(
  p: Promise<unknown>,
  type: abstract new (...a: never[]) => Error,
  ...fragments: string[]
): Promise<Error> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof type, `expected ${type.name}, got ${err}`);
  for (const f of fragments) assert.ok(err.message.includes(f), `"${err.message}" lacks "${f}"`);
  return err;
}

/** After an error the model has no hooks left and still gives the fixture's greedy tokens. */
async function stillUsable(model: GPT2LanguageModel): Promise<void> {
  for (const [path, m] of model.module.namedModules()) assert.equal(m.hook, null, path);
  const ref: Json = await reference();
  const ids = await model.generate(PROMPT, { maxNewTokens: 3 });
  assert.deepEqual(
    [...await ids.get("0, -3:").data()],
    ref.cases.eiffel.generate_greedy.new_tokens.slice(0, 3),
  );
}

deviceTest("inputs: token ids outside [0, vocab) are refused on every path", async (device) => {
  const model = await tiny(device);
  const wrapped = 2 ** 32 + 464; // would wrap through Int32 to 464
  const range = `[0, ${V})`;
  await rejects(model.trace([wrapped]), TokenIdError, `${wrapped}`, range, "Row 0, position 0");
  await rejects(model.trace([464, V]), TokenIdError, `token id ${V}`, "position 1", range);
  await rejects(model.trace([-1]), TokenIdError, "token id -1");
  await rejects(model.trace([[1.5]]), TokenIdError, "token id 1.5");
  await rejects(model.trace([[1, "2" as unknown as number]]), TokenIdError, 'the string "2"');
  await rejects(
    model.trace((t) => {
      t.invoke([464], () => {});
      t.invoke([[464, 1], [2, V + 7]], () => {});
    }),
    TokenIdError,
    "Invoke 1, row 1, position 1",
    `${V + 7}`,
  );
  const ids = tensor([[464, V]], undefined, { dtype: "int32", device });
  await rejects(model.trace(ids), TokenIdError, `token id ${V}`);
  await rejects(model.generate([wrapped], { maxNewTokens: 1 }), TokenIdError, `${wrapped}`);
  await rejects(model.generate([[1, 2], [V]], { maxNewTokens: 1 }), TokenIdError, "Row 1");
  await rejects(
    model.generate([[1, 2], [3]], { maxNewTokens: 1, padTokenId: V }),
    TokenIdError,
    "padTokenId",
  );
  await rejects(generate(model.module, [wrapped], { maxNewTokens: 1 }), TokenIdError);
  await rejects(
    generate(model.module, [3], { maxNewTokens: 1, eosTokenId: -2 }),
    TokenIdError,
    "eosTokenId",
  );
  const e = await rejects(model.trace([V]), TokenIdError);
  assert.ok(e instanceof RangeError);
  assert.equal((e as TokenIdError).value, V);
  assert.equal((e as TokenIdError).vocabSize, V);
  await stillUsable(model);
});

Deno.test("inputs: scan (meta) refuses the same ids and lengths as a trace", async () => {
  const model = await tiny("cpu");
  const fn = () => model.lm_head.output.save();
  await rejects(model.scan([2 ** 32 + 464], fn), TokenIdError, `${2 ** 32 + 464}`);
  await rejects(model.scan([V], fn), TokenIdError, `[0, ${V})`);
  await rejects(model.scan(new Array(P + 1).fill(1), fn), PromptLengthError);
});

Deno.test("inputs: without a vocabulary, ids must still fit int32", () => {
  assert.equal(checkTokenId(2 ** 31 - 1, Infinity, "Row 0, position 0"), 2 ** 31 - 1);
  assert.throws(
    () => checkTokenId(2 ** 31, Infinity, "Row 0, position 0"),
    (e: Error) => e instanceof TokenIdError && e.message.includes("(int32)"),
  );
});

deviceTest("inputs: too-long prompts get one message from trace and generate", async (device) => {
  const model = await tiny(device);
  const long = new Array(P + 1).fill(464);
  const msg = `Prompt of ${P + 1} tokens exceeds the model's ${P} positions: shorten the prompt`;
  const a = await rejects(model.trace(long), PromptLengthError);
  const b = await rejects(model.generate(long, { maxNewTokens: 1 }), PromptLengthError);
  const c = await rejects(generate(model.module, long, { maxNewTokens: 1 }), PromptLengthError);
  assert.deepEqual([a.message, b.message, c.message], [msg, msg, msg]);
  await rejects(
    model.generate(new Array(P - 2).fill(464), { maxNewTokens: 3 }),
    PromptLengthError,
    `Prompt of ${P - 2} tokens plus maxNewTokens 3 exceeds the model's ${P} positions`,
  );
  const fits = await model.trace(new Array(P).fill(464));
  assert.deepEqual(fits.shape, [1, P, V]);
  await stillUsable(model);
});

Deno.test("inputs: generate options are checked by key, type, null and range", async () => {
  const model = await tiny("cpu");
  const bad = (opts: unknown) => model.generate(PROMPT, opts as { maxNewTokens: number });
  const known =
    "maxNewTokens, doSample, temperature, topK, topP, seed, stopAtEos, eosTokenId, padTokenId";
  await rejects(bad({ maxNewToken: 3 }), TypeError, 'Unknown option "maxNewToken"', known);
  await rejects(bad({ maxNewTokens: "5" }), TypeError, 'maxNewTokens is the string "5"');
  await rejects(bad({ maxNewTokens: null }), TypeError, "maxNewTokens is null");
  await rejects(bad({ maxNewTokens: -1 }), RangeError, "maxNewTokens is -1: it must be >= 0");
  await rejects(bad({ maxNewTokens: 2.5 }), RangeError, "safe integer");
  await rejects(bad({ doSample: 1 }), TypeError, "doSample is 1: it must be a boolean");
  await rejects(bad({ doSample: true, seed: 2 ** 53 }), RangeError, "seed is", "safe integer");
  await rejects(bad({ doSample: true, seed: "1" }), TypeError, 'seed is the string "1"');
  await rejects(bad({ temperature: NaN }), RangeError, "temperature is NaN");
  await rejects(bad({ temperature: 0 }), RangeError, "temperature is 0: it must be > 0");
  await rejects(bad({ topP: 1.5 }), RangeError, "topP is 1.5");
  await rejects(bad({ topK: 0 }), RangeError, "topK is 0");
  await rejects(bad({ padTokenId: "7" }), TypeError, 'padTokenId is the string "7"');
  await rejects(bad(null), TypeError, "The generate options are null");
  await rejects(bad([]), TypeError, "The generate options are an array");
  await rejects(
    generate(model.module, [1], { stopAtEos: "yes" } as unknown as { stopAtEos: boolean }),
    TypeError,
    'stopAtEos is the string "yes"',
  );
  // undefined means "the default", as an absent key does
  const ids = await model.generate(PROMPT, { maxNewTokens: 2, seed: undefined });
  assert.deepEqual(ids.shape, [1, 12]);
});

Deno.test("inputs: load and random options are checked the same way", async () => {
  await rejects(
    LanguageModel.load(FIXTURE.pathname, { devise: "cpu" } as never),
    TypeError,
    'Unknown option "devise" in the load options',
    "revision, endpoint, cacheDir, token, offline, onProgress, onReport, allowNonFinite, maxJsonBytes, device",
  );
  await rejects(
    LanguageModel.load(FIXTURE.pathname, { offline: "yes" } as never),
    TypeError,
    'offline is the string "yes": it must be a boolean',
  );
  await rejects(
    LanguageModel.load(FIXTURE.pathname, { device: "gpu" } as never),
    RangeError,
    'device is the string "gpu": it must be one of "auto", "cpu", "webgpu", "meta"',
  );
  await rejects(LanguageModel.load(FIXTURE.pathname, null as never), TypeError, "are null");
  await rejects(
    LanguageModel.random({ n_layer: 1 }, { seed: 0.5 }),
    RangeError,
    "seed is 0.5: it must be a safe integer",
  );
  await rejects(LanguageModel.random({}, { sed: 1 } as never), TypeError, 'Unknown option "sed"');
  assert.throws(
    () => checkOptions({ a: 1 }, { a: "string" }, "test options"),
    /a is 1: it must be a string/,
  );
});

/** Replaces lm_head's output at step `step` of a model-layer generate by `value`. */
async function generateWithLogitsAt(
  model: GPT2LanguageModel,
  step: number,
  value: number,
  opts: { doSample?: boolean; topK?: number } = {},
): Promise<Tensor> {
  let calls = 0;
  (model.module as GPT2LMHeadModel).lm_head.hook = {
    output: (_m, o) => (calls++ === step ? (o as Tensor).get(":, :, :").mul(1).add(value) : o),
  };
  try {
    return await generate(model.module, [[464, 412, 318], [1]], { maxNewTokens: 4, ...opts });
  } finally {
    (model.module as GPT2LMHeadModel).lm_head.hook = null;
  }
}

deviceTest("inputs: NaN or ±Inf logits stop generate() at their step", async (device) => {
  const model = await tiny(device);
  for (const value of [NaN, Infinity, -Infinity]) {
    for (const opts of [{}, { doSample: true }, { doSample: true, topK: 5 }]) {
      const e = await rejects(
        generateWithLogitsAt(model, 2, value, opts),
        NonFiniteLogitsError,
        "Step 2 of generation",
        `${V} of row 0's ${V} logits are NaN or ±Inf`,
      ) as NonFiniteLogitsError;
      assert.deepEqual([e.step, e.row, e.count], [2, 0, V]);
    }
  }
  // One non-finite logit in row 1 is enough.
  let calls = 0;
  (model.module as GPT2LMHeadModel).lm_head.hook = {
    output: (_m, o) => {
      if (calls++ !== 1) return o;
      const mask = new Float32Array(2 * V);
      mask[V + 17] = NaN;
      return (o as Tensor).add(tensor(mask, [2, 1, V], { device }));
    },
  };
  try {
    const e = await rejects(
      generate(model.module, [[464, 412], [1, 2]], { maxNewTokens: 3 }),
      NonFiniteLogitsError,
      "Step 1",
      `1 of row 1's ${V} logits`,
    ) as NonFiniteLogitsError;
    assert.deepEqual(e.interventions, []);
  } finally {
    (model.module as GPT2LMHeadModel).lm_head.hook = null;
  }
  // Finite logits as large as float32 allows are fine.
  const big = await generateWithLogitsAt(model, 1, 3e38);
  assert.deepEqual(big.shape, [2, 7]);
  await stillUsable(model);
});

deviceTest(
  "inputs: a traced generate names the interventions of the failing step",
  async (device) => {
    const model = await tiny(device);
    const layers = model.transformer.h;
    const e = await rejects(
      model.generate(PROMPT, { maxNewTokens: 3 }, () => {
        layers[0].output[0].set(":", 1); // step 0, finite
        layers[1].next().output[0].set(":", NaN); // step 1
      }),
      NonFiniteLogitsError,
      "Step 1 of generation",
      "interventions recorded for this step: %",
      "transformer.h.1.output.i1[0].set(",
    ) as NonFiniteLogitsError;
    assert.equal(e.interventions.length, 1);
    assert.ok(!e.message.includes("transformer.h.0.output.i0"), e.message);
    await stillUsable(model);
  },
);

Deno.test("inputs: a serialised request is checked like a call (ids, options, length)", async () => {
  const model = await tiny("cpu");
  const fn = () => model.lm_head.output.get(":, -1").save();
  const req = (input: unknown, mode?: { kind: "generate"; options: Record<string, unknown> }) =>
    JSON.parse(JSON.stringify(model.record(fn, { input, mode })));
  // A request is checked before anything runs: the same rules, as GraphValidationErrors that
  // name the request's field.
  await rejects(model.run(req([2 ** 32 + 464])), GraphValidationError, `${2 ** 32 + 464}`);
  await rejects(model.run(req(new Array(P + 1).fill(1))), GraphValidationError, "positions");
  const gen = (options: Record<string, unknown>) => req([464], { kind: "generate", options });
  await rejects(model.run(gen({ maxNewTokens: "5" })), GraphValidationError, "maxNewTokens");
  await rejects(model.run(gen({ steps: 3 })), GraphValidationError, "mode.options.steps");
  await rejects(model.run(gen({ padTokenId: V })), GraphValidationError, "padTokenId");
  const ok = await model.run(gen({ maxNewTokens: 2 }));
  assert.equal(ok.saved.size, 1);
});

deviceTest("inputs: the finite check keeps one readback per generated token", async (device) => {
  const model = await tiny(device);
  const proto = Object.getPrototypeOf(tensor([1])) as { data: () => Promise<unknown> };
  const data = proto.data;
  let reads = 0;
  proto.data = function (this: unknown) {
    reads++;
    return data.call(this);
  };
  try {
    await generate(model.module, [[464, 412], [1]], { maxNewTokens: 5 });
    await generate(model.module, [[464]], { maxNewTokens: 3, doSample: true, topK: 4, seed: 1 });
  } finally {
    proto.data = data;
  }
  assert.equal(reads, 5 + 3);
});
