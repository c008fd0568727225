// Runs on one model at once (Promise.allSettled): traces and generates queue on the model's lock,
// so each gets what it gets alone; a plain module.call between a traced generate's steps runs
// the plain forward, never the trace's hooks.

import assert from "node:assert/strict";
import { type Device, type Tensor, tensor } from "../../engine/mod.ts";
import { generate } from "../../model/generate.ts";
import { lockOf } from "../../model/lock.ts";
import { list } from "../../trace/containers.ts";
import { type GPT2LanguageModel, LanguageModel } from "../../trace/language_model.ts";
import type { GPT2Envoys } from "../../trace/envoys/gpt2.ts";
import { assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import { FIXTURE } from "../model/_tiny_gpt2.ts";

const PROMPT = "The Eiffel Tower is in the city of";
const N = 4; // tokens per generate
const cached = new Map<Device, Promise<GPT2LanguageModel>>();
function tiny(device: Device): Promise<GPT2LanguageModel> {
  let m = cached.get(device);
  if (!m) cached.set(device, m = LanguageModel.load<GPT2Envoys>(FIXTURE.pathname, { device }));
  return m;
}

/** The runs every mix is made of; each resolves to host numbers to compare. */
function runs(model: GPT2LanguageModel) {
  const layers = model.transformer.h;
  const ids = model.tokenizer.encode(PROMPT);
  const host = async (t: Tensor) => [...await t.data()];
  return {
    /** A trace that zeroes block 0's output: the last position's logits. */
    ablatedTrace: async () =>
      host(
        await model.trace(PROMPT, () => {
          layers[0].output[0].set(":", 0);
          return model.lm_head.output.get(":, -1");
        }),
      ),
    /** A plain trace: the last position's logits. */
    plainTrace: async () =>
      host(await model.trace(PROMPT, () => model.lm_head.output.get(":, -1"))),
    /** A traced generate ablating block 0 at every step, saving block 2's output per step. */
    ablatedGenerate: async () => {
      const saved = list<Tensor[]>().save();
      const out = await model.generate(PROMPT, { maxNewTokens: N }, () => {
        layers.all(() => {
          layers[0].output[0].set(":", 0);
          saved.append(layers[2].output);
        });
        return model.generator.output;
      });
      return [...await host(out), saved.value.length, ...saved.value.map((o) => o[0].shape[1])];
    },
    /** LanguageModel.generate without a callback. */
    plainGenerate: async () => host(await model.generate(PROMPT, { maxNewTokens: N })),
    /** The model-layer generate() on the wrapped module. */
    moduleGenerate: async () => host(await generate(model.module, [ids], { maxNewTokens: N })),
  };
}

type RunName = keyof ReturnType<typeof runs>;
const MIXES: [RunName, RunName][] = [
  ["ablatedTrace", "plainTrace"],
  ["ablatedTrace", "ablatedTrace"],
  ["ablatedTrace", "plainGenerate"],
  ["ablatedGenerate", "plainGenerate"],
  ["ablatedGenerate", "moduleGenerate"],
  ["moduleGenerate", "ablatedGenerate"],
  ["moduleGenerate", "ablatedTrace"],
  ["plainTrace", "ablatedGenerate"],
  ["ablatedGenerate", "ablatedGenerate"],
];

deviceTest(
  "concurrency: every mix of runs on one model gives each its own result",
  async (device) => {
    const model = await tiny(device);
    const r = runs(model);
    const alone = new Map<RunName, number[]>();
    for (const name of Object.keys(r) as RunName[]) alone.set(name, await r[name]());
    // The ablation changes what a run sees, so a run that picked up another's hooks would differ.
    assert.notDeepEqual(alone.get("ablatedTrace"), alone.get("plainTrace"));
    assert.notDeepEqual(alone.get("ablatedGenerate")!.slice(0, 14), alone.get("plainGenerate"));
    for (const [a, b] of MIXES) {
      const settled = await Promise.allSettled([r[a](), r[b](), r[a]()]);
      settled.forEach((s, i) => {
        const name = [a, b, a][i];
        assert.equal(
          s.status,
          "fulfilled",
          `${a} + ${b}: ${name} ${(s as PromiseRejectedResult).reason}`,
        );
        assert.deepEqual(
          (s as PromiseFulfilledResult<number[]>).value,
          alone.get(name),
          `${a} + ${b}: ${name}`,
        );
      });
    }
    for (const [path, m] of model.module.namedModules()) assert.equal(m.hook, null, path);
    assert.equal(lockOf(model.module).held, false);
  },
);

deviceTest(
  "concurrency: module.call between a traced generate's steps runs the plain forward",
  async (device) => {
    const model = await tiny(device);
    const r = runs(model);
    const x = tensor([model.tokenizer.encode(PROMPT)], undefined, { dtype: "int32", device });
    const clean = [...await (model.module.call(x) as Tensor).get(":, -1").data()];
    const expected = await r.ablatedGenerate();
    const lock = lockOf(model.module);
    let done = false, duringTrace = 0;
    const calls: Promise<number[]>[] = [];
    const traced = r.ablatedGenerate().finally(() => (done = true));
    // Calls made at every microtask turn (and now and then a timer turn, which webgpu readbacks
    // need) until the traced generate ends: some land while it holds the lock and waits
    // between steps, with its hooks installed.
    for (let turn = 0; !done; turn++) {
      await (turn % 8 === 7 ? new Promise((resolve) => setTimeout(resolve, 0)) : null);
      if (done) break;
      if (lock.held) duringTrace++;
      const logits = model.module.call(x) as Tensor; // (1, T, V)
      calls.push(logits.get(":, -1").data().then((d) => [...d]));
    }
    assert.deepEqual(await traced, expected);
    assert.ok(duringTrace > 0, "no call landed while the trace held the model");
    for (const c of calls) await assertExact(await c, clean, "plain call during a trace");
  },
);

deviceTest("concurrency: an error in one run leaves the queue moving", async (device) => {
  const model = await tiny(device);
  const r = runs(model);
  const expected = await r.plainTrace();
  const settled = await Promise.allSettled([
    model.trace(PROMPT, () => model.transformer.h[0].output[0].add(tensor([1, 2])).save()),
    r.plainTrace(),
    generate(model.module, [[model.config.vocab_size]], { maxNewTokens: 1 }),
    r.plainTrace(),
  ]);
  assert.deepEqual(settled.map((s) => s.status), [
    "rejected",
    "fulfilled",
    "rejected",
    "fulfilled",
  ]);
  assert.deepEqual((settled[1] as PromiseFulfilledResult<number[]>).value, expected);
  assert.deepEqual((settled[3] as PromiseFulfilledResult<number[]>).value, expected);
  assert.equal(lockOf(model.module).held, false);
});
