// logitsToKeep (HF logits_to_keep) in the model layer: every family's kept logits equal the full
// forward's last rows on each device; generate() keeps one row only while nothing observes the
// logits or the head, with the same tokens either way; values are checked with named errors.

import assert from "node:assert/strict";
import { type Device, type Tensor, tensor, zeros } from "../../engine/mod.ts";
import type { CausalLM, CausalLMForwardOptions } from "../../model/causal_lm.ts";
import { generate } from "../../model/generate.ts";
import { loadModel } from "../../model/load.ts";
import { keepLastPositions } from "../../model/logits_to_keep.ts";
import { LogitsToKeepError } from "../../model/validate.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

const FAMILIES = [
  "tiny-gpt2",
  "tiny-llama",
  "tiny-gemma2",
  "tiny-gemma3",
  "tiny-gpt-neox",
  "tiny-olmo2",
  "tiny-phi3",
];
const IDS = [[5, 9, 3, 7, 1, 2], [4, 8, 6, 2, 0, 1]];

async function load(name: string, device: Device): Promise<CausalLM> {
  const dir = new URL(`../fixtures/${name}/`, import.meta.url).pathname;
  return (await loadModel(dir, { device })).model;
}

for (const name of FAMILIES) {
  deviceTest(`${name}: logitsToKeep n gives the full forward's last n rows`, async (device) => {
    const model = await load(name, device);
    const ids = tensor(IDS.flat(), [2, 6], { dtype: "int32", device }); // (B, T)
    const full = model.call(ids) as Tensor; // (B, T, V)
    const V = full.shape[2];
    for (const n of [1, 3]) {
      const kept = model.call(ids, { logitsToKeep: n }) as Tensor; // (B, n, V)
      assert.deepEqual(kept.shape, [2, n, V]);
      await assertClose(kept, full.get(`:, ${6 - n}:`), { atol: 1e-5, rtol: 1e-5, msg: `n=${n}` });
    }
    for (const n of [0, 6, 100]) {
      assert.deepEqual((model.call(ids, { logitsToKeep: n }) as Tensor).shape, [2, 6, V]);
    }
  });
}

/** Runs generate and records the logitsToKeep each forward got. */
async function keptPerStep(model: CausalLM, opts: { logitsToKeep?: number } = {}) {
  const seen: (number | undefined)[] = [];
  const forward = model.forward.bind(model);
  Object.defineProperty(model, "forward", {
    configurable: true,
    value: (ids: Tensor, o: CausalLMForwardOptions) => (seen.push(o.logitsToKeep), forward(ids, o)),
  });
  try {
    const ids = await generate(model, IDS, { maxNewTokens: 3, ...opts });
    return { ids, seen };
  } finally {
    delete (model as { forward?: unknown }).forward;
  }
}

Deno.test("generate keeps only the last row unobserved, every row when the head is hooked", async () => {
  const model = await load("tiny-gpt2", "cpu");
  const plain = await keptPerStep(model);
  assert.deepEqual(plain.seen, [1, 1, 1]);
  const head = model.getModule(model.paths.lmHead)!;
  const shapes: (readonly number[])[] = [];
  head.hook = { output: (_m, o) => void shapes.push((o as Tensor).shape) };
  let hooked;
  try {
    hooked = await keptPerStep(model);
  } finally {
    head.hook = null;
  }
  assert.deepEqual(hooked.seen, [undefined, undefined, undefined]);
  assert.deepEqual(shapes.map((s) => s[1]), [6, 1, 1]); // the prompt step sees every position
  await assertExact(plain.ids, hooked.ids, "same tokens observed or not");
  model.hook = { output: () => undefined }; // the root observed: every row too
  try {
    assert.deepEqual((await keptPerStep(model)).seen, [undefined, undefined, undefined]);
  } finally {
    model.hook = null;
  }
  const forced = await keptPerStep(model, { logitsToKeep: 0 });
  assert.deepEqual(forced.seen, [0, 0, 0]);
  await assertExact(plain.ids, forced.ids, "logitsToKeep 0 gives the same tokens");
});

Deno.test("bad logitsToKeep values throw named errors before anything runs", async () => {
  const model = await load("tiny-gpt2", "cpu");
  for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 2]) {
    await assert.rejects(
      () => generate(model, [[1, 2]], { logitsToKeep: bad }),
      LogitsToKeepError,
    );
  }
  await assert.rejects(
    () => generate(model, [[1, 2]], { logitsToKeep: "1" as unknown as number }),
    TypeError,
  );
  assert.throws(() => keepLastPositions(zeros([1, 3, 2]), -2), LogitsToKeepError);
  assert.throws(() => keepLastPositions(zeros([1, 3, 2]), -2), /must be an integer >= 0/);
});
