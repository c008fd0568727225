// GPT-2 against the tiny-gpt2 fixture (float64 PyTorch reference): every activation, the full
// logits on both cpu tiers, logit summaries, greedy tokens, left-padded batches and GELU forms.

import assert from "node:assert/strict";
import { setCpuTier, type Tensor, tensor } from "../../engine/mod.ts";
import { prepareBatch } from "../../model/batch.ts";
import { generate } from "../../model/generate.ts";
import { geluExact } from "../../model/layers/activation.ts";
import { assertClose, assertExact } from "../_assert.ts";
import {
  ACT,
  capture,
  checkSummaries,
  FIXTURE,
  hidden,
  ids,
  type Json,
  reference,
  tinyModel,
} from "./_tiny_gpt2.ts";

const model = await tinyModel();
const ref = await reference();
const CASES = ["eiffel", "hello", "bos", "long48"];

/** Module path of a stored activation key (attn_probs is attn_dropout's output). */
const modulePath = (key: string) => key.replace(/attn\.attn_probs$/, "attn.attn_dropout");

/** Runs one unpadded prompt with hooks on every stored activation; returns outputs and logits. */
function runCase(m: typeof model, input: number[][], keys: string[]) {
  const { result, outputs } = capture(m, keys.map(modulePath), () => m.call(ids(input)) as Tensor);
  return { logits: result, get: (key: string) => hidden(outputs.get(modulePath(key))![0]) };
}

async function checkActivations(
  got: (key: string) => Tensor,
  expected: Record<string, Json>,
  msg: string,
) {
  for (const [key, exp] of Object.entries(expected)) {
    await assertClose(got(key), exp, { ...ACT, msg: `${msg} ${key}` });
  }
}

Deno.test("eiffel: every stored activation matches the reference", async () => {
  const c = ref.cases.eiffel;
  const keys = Object.keys(c.activations);
  assert.equal(keys.length, 3 * 9 + 2); // drop, 9 per block, ln_f
  const { get } = runCase(model, c.input_ids, keys);
  assert.deepEqual(get("transformer.h.0.attn.attn_probs").shape, [1, 4, 10, 10]);
  assert.deepEqual(get("transformer.h.2").shape, [1, 10, 32]);
  await checkActivations(get, c.activations, "eiffel");
});

for (const tier of ["fast", "reference"] as const) {
  Deno.test(`eiffel: full logits match eiffel.logits.f32 (cpu tier ${tier})`, async () => {
    const prev = setCpuTier(tier);
    try {
      const bytes = await Deno.readFile(new URL("eiffel.logits.f32", FIXTURE));
      const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const logits = model.call(ids(ref.cases.eiffel.input_ids)) as Tensor;
      assert.deepEqual(logits.shape, ref.cases.eiffel.logits_full.shape);
      await assertClose(logits, tensor(expected, logits.shape), {
        atol: 2e-4,
        rtol: 1e-4,
        msg: `eiffel logits (${tier})`,
      });
    } finally {
      setCpuTier(prev);
    }
  });
}

for (const name of CASES) {
  Deno.test(`${name}: activations, logit summaries and greedy tokens match`, async () => {
    const c = ref.cases[name];
    const { logits, get } = runCase(model, c.input_ids, Object.keys(c.activations));
    await checkActivations(get, c.activations, name);
    await checkSummaries(logits.get(0), c.logits, ref.probe_ids, name);
    const out = await generate(model, c.input_ids, { maxNewTokens: 5 });
    const T = c.input_ids[0].length;
    await assertExact(out.get(`0, ${T}:`), c.generate_greedy.new_tokens, `${name} greedy`);
  });
}

const batch = ref.cases.batch_eiffel_hello_leftpad;

/** Checks a padded-batch run against one position convention's stored values. */
async function checkBatch(conv: Json, opts: { positionIds: Tensor; attentionMask: Tensor }) {
  const keys = Object.keys(conv.activations);
  const { result, outputs } = capture(
    model,
    keys,
    () => model.call(ids(batch.input_ids), opts) as Tensor,
  );
  for (const key of keys) {
    const h = hidden(outputs.get(key)![0]);
    for (let b = 0; b < 2; b++) {
      for (let t = 0; t < 10; t++) {
        const exp = conv.activations[key][b][t];
        if (exp === null) continue;
        await assertClose(h.get(`${b}, ${t}`), exp, { ...ACT, msg: `${key} row ${b} pos ${t}` });
      }
    }
  }
  for (let b = 0; b < 2; b++) {
    await checkSummaries(result.get(b), conv.logits[b], ref.probe_ids, `row ${b}`);
  }
}

Deno.test("left-padded batch: prepareBatch positions (cumsum(mask) - 1) match", async () => {
  const rows = [ref.cases.eiffel.input_ids[0], ref.cases.hello.input_ids[0]];
  const b = prepareBatch(rows, batch.pad_token_id);
  await assertExact(b.inputIds, batch.input_ids, "padded ids");
  await assertExact(b.attentionMask, batch.attention_mask, "mask");
  const expPos = batch.positions_from_mask.position_ids.map((r: (number | null)[]) =>
    r.map((p) => p ?? 0)
  );
  await assertExact(b.positionIds, expPos, "position ids");
  await checkBatch(batch.positions_from_mask, b);
});

Deno.test("left-padded batch: explicit positions 0..T-1 match positions_arange", async () => {
  const b = prepareBatch([ref.cases.eiffel.input_ids[0], ref.cases.hello.input_ids[0]], 50256);
  const positionIds = ids(batch.positions_arange.position_ids);
  await checkBatch(batch.positions_arange, { positionIds, attentionMask: b.attentionMask });
});

Deno.test("left-padded batch: greedy rows equal each prompt alone", async () => {
  const rows = [ref.cases.eiffel.input_ids[0], ref.cases.hello.input_ids[0]];
  const out = await generate(model, rows, { maxNewTokens: 5 });
  assert.deepEqual(out.shape, [2, 15]);
  for (let b = 0; b < 2; b++) {
    await assertExact(out.get(`${b}, 10:`), batch.generate_greedy_rows[b].new_tokens, `row ${b}`);
  }
  await assertExact(out.get("1, :4"), [50256, 50256, 50256, 50256], "left pads kept");
});

Deno.test("a missing position offset is caught: arange and cumsum positions differ", async () => {
  const { outputs } = capture(model, ["transformer.ln_f"], () => {
    const b = prepareBatch([ref.cases.eiffel.input_ids[0], ref.cases.hello.input_ids[0]], 50256);
    return model.call(b.inputIds, b);
  });
  const got = hidden(outputs.get("transformer.ln_f")![0]).get("1, 4:");
  const wrong = batch.positions_arange.activations["transformer.ln_f"][1].slice(4);
  await assert.rejects(() => assertClose(got, wrong, ACT), /outside atol/);
});

Deno.test("gelu_check: exact-erf GELU reproduces the table and the exact-GELU model", async () => {
  const table = ref.gelu_check.table;
  const x = tensor(table.x);
  // erfc-based composite: relative error ~1e-7 on the whole grid, tails included.
  await assertClose(geluExact(x), table.gelu_exact_erf, { atol: 1e-7, rtol: 1e-6, msg: "gelu" });
  await assertClose(x.gelu(), table.gelu_new, { atol: 1e-7, rtol: 1e-6, msg: "gelu_new" });
  await assert.rejects(() => assertClose(x.gelu(), table.gelu_exact_erf, { atol: 1e-5 }));

  const exact = ref.gelu_check.eiffel_with_exact_erf_gelu;
  const keys = Object.keys(exact.activations);
  const erfModel = await tinyModel("gelu");
  const run = runCase(erfModel, ref.cases.eiffel.input_ids, keys);
  await checkActivations(run.get, exact.activations, "exact gelu");
  await checkSummaries(run.logits.get(0), exact.logits, ref.probe_ids, "exact gelu");
  // The wrong GELU fails each reference: gelu_new is far from the exact-GELU values and back.
  const tanhRun = runCase(model, ref.cases.eiffel.input_ids, keys);
  await assert.rejects(() =>
    checkSummaries(tanhRun.logits.get(0), exact.logits, ref.probe_ids, "gelu_new vs exact")
  );
  await assert.rejects(() =>
    checkSummaries(run.logits.get(0), ref.cases.eiffel.logits, ref.probe_ids, "exact vs new")
  );
});
