// Gemma 2 and GPT-NeoX (parallel and sequential residual) against their float64 transformers
// references, on every device: module tree and output structures, every stored activation,
// layer-0 attention probabilities, logits, greedy tokens, per-step values, a left-padded batch
// and three interventions during generation.

import assert from "node:assert/strict";
import { type Device, keep, Tensor, tensor, zeros } from "../../engine/mod.ts";
import { prepareBatch } from "../../model/batch.ts";
import type { CausalLM } from "../../model/causal_lm.ts";
import { generate } from "../../model/generate.ts";
import { loadModel } from "../../model/load.ts";
import type { Module } from "../../model/module.ts";
import { BaseModelOutput } from "../../model/outputs.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
const TOL = { atol: 1e-4, rtol: 1e-4 };
const FIXTURES = ["tiny-gemma2", "tiny-gpt-neox", "tiny-gpt-neox-serial", "tiny-olmo2"];

const dirOf = (name: string) => new URL(`../fixtures/${name}`, import.meta.url).pathname;
const ids = (rows: number[][], device: Device) =>
  tensor(rows, undefined, { dtype: "int32", device });
const first = (out: unknown): Tensor => out instanceof Tensor ? out : (out as { 0: Tensor })[0];

/** Runs `fn` with output hooks on `paths`; `edit(path, output, call)` may replace an output. */
async function hooked<R>(
  model: CausalLM,
  paths: string[],
  fn: () => R | Promise<R>,
  edit?: (path: string, out: unknown, call: number) => unknown,
): Promise<{ result: R; outputs: Map<string, unknown[]> }> {
  const outputs = new Map<string, unknown[]>(paths.map((p) => [p, []]));
  const mods: Module[] = paths.map((p) => {
    const m = model.getModule(p);
    if (!m) throw new Error(`module path "${p}" does not resolve`);
    return m;
  });
  mods.forEach((m, i) => {
    m.hook = {
      output: (_m, out) => {
        const seen = outputs.get(paths[i])!;
        const replaced = edit?.(paths[i], out, seen.length);
        seen.push(replaced ?? out);
        return replaced;
      },
    };
  });
  try {
    return { result: await fn(), outputs };
  } finally {
    for (const m of mods) m.hook = null;
  }
}

/** Checks an output against the reference's structure string. */
function checkStructure(path: string, kind: string, outs: unknown[]) {
  if (kind === "not called") return assert.equal(outs.length, 0, `${path} is not called`);
  assert.equal(outs.length, 1, `${path} is called once`);
  const out = outs[0];
  if (kind === "Tensor") return assert.ok(out instanceof Tensor, `${path} returns a Tensor`);
  if (kind === "BaseModelOutputWithPast") {
    return assert.ok(out instanceof BaseModelOutput, `${path} returns a BaseModelOutput`);
  }
  const m = /^tuple\[(.*)\]$/.exec(kind);
  assert.ok(m, `unknown structure "${kind}"`);
  const n = m[1].split(",").length;
  assert.ok(Array.isArray(out) && out.length === n, `${path} returns a ${n}-tuple`);
  for (const t of out) assert.ok(t instanceof Tensor, `${path} holds Tensors`);
}

/** top-5 ids exact and values, logsumexp per row of `logits` (N, V) against the reference. */
async function checkLogits(logits: Tensor, exp: Json, msg: string) {
  const [N, V] = logits.shape;
  const data = await logits.data();
  for (let n = 0; n < N; n++) {
    const row = Array.from(data.subarray(n * V, (n + 1) * V));
    const order = row.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
    assert.deepEqual(order.map((o) => o[1]), exp.top5_ids[n], `${msg} top-5 ids row ${n}`);
    await assertClose(order.map((o) => o[0]), exp.top5_values[n], { ...TOL, msg: `${msg} top-5` });
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    await assertClose([lse], [exp.logsumexp[n]], { ...TOL, msg: `${msg} logsumexp row ${n}` });
  }
}

for (const name of FIXTURES) {
  const ref: Json = JSON.parse(await Deno.readTextFile(`${dirOf(name)}/reference.json`));
  const load = async (device: Device) => (await loadModel(dirOf(name), { device })).model;
  const L = Object.keys(ref.forward.activations).filter((k) => /layers\.\d+$/.test(k)).length;
  const base = ref.modules[0][0]; // "model" or "gpt_neox"
  const lastLayer = `${base}.layers.${L - 1}`;

  deviceTest(
    `${name}: module tree, output structures, activations, probabilities, logits`,
    async (device) => {
      const model = await load(device);
      const paths = ref.modules.map((m: string[]) => m[0]);
      const attn0 = ref.modules.find((m: string[]) =>
        /layers\.0\.(self_attn|attention)$/.test(m[0])
      )[0];
      const { result, outputs } = await hooked(
        model,
        paths,
        () => model.call(ids([ref.prompt.ids], device)),
      );
      for (const [path, , kind] of ref.modules) checkStructure(path, kind, outputs.get(path)!);
      for (const [path, exp] of Object.entries(ref.forward.activations)) {
        await assertClose(first(outputs.get(path)![0]), exp as Json, { ...TOL, msg: path });
      }
      const probs = (outputs.get(attn0)![0] as Tensor[])[1];
      await assertClose(probs, ref.forward.attention_probs_layer0, { ...TOL, msg: "probs" });
      const logits = result.get(0); // (T, V)
      const lg = ref.forward.logits; // batch of one: [[per position]]
      await checkLogits(logits, {
        top5_ids: lg.top5_ids[0],
        top5_values: lg.top5_values[0],
        logsumexp: lg.logsumexp[0],
      }, "logits");
      await assertClose(logits.get(-1), ref.forward.logits.last_position_full[0], {
        ...TOL,
        msg: "last row",
      });
    },
  );

  deviceTest(`${name}: greedy tokens and per-step last-layer values`, async (device) => {
    const model = await load(device);
    const T = ref.prompt.ids.length;
    const steps: Tensor[] = [];
    const { result } = await hooked(model, [lastLayer], () =>
      generate(model, [ref.prompt.ids], { maxNewTokens: 8 }), (_p, out) => {
      steps.push(keep(first(out).get(":, -1").clone())); // outlives the step's tidy
      return undefined;
    });
    const out = result;
    await assertExact(out.get(`0, ${T}:`), ref.greedy.new_tokens, "greedy");
    assert.equal(steps.length, 8);
    for (let s = 0; s < 8; s++) {
      await assertClose(steps[s], [ref.greedy.last_layer_last_position_per_step[s]], {
        ...TOL,
        msg: `step ${s}`,
      });
    }
    for (const t of steps) {
      t.dispose();
    }
  });

  deviceTest(`${name}: left-padded batch rows equal each row alone`, async (device) => {
    const model = await load(device);
    const b = ref.batch;
    const rows = b.input_ids.map((r: number[], i: number) =>
      r.filter((_, t) =>
        b.attention_mask[i][t]
      )
    );
    const batch = prepareBatch(rows, b.pad_token_id, { device });
    await assertExact(batch.inputIds, b.input_ids, "padded ids");
    await assertExact(batch.positionIds, b.position_ids, "positions");
    const { result, outputs } = await hooked(
      model,
      [lastLayer],
      () =>
        model.call(batch.inputIds, batch),
    );
    const h = first(outputs.get(lastLayer)![0]);
    for (let r = 0; r < rows.length; r++) {
      const pads = b.attention_mask[r].indexOf(1);
      await assertClose(h.get(`${r}, ${pads}:`), b.last_layer_output[r].slice(pads), {
        ...TOL,
        msg: `row ${r}`,
      });
    }
    const last = b.logits_last_position; // per row: [[top-5]], [lse]
    await checkLogits(result.get(":, -1"), {
      top5_ids: last.top5_ids.map((x: number[][]) => x[0]),
      top5_values: last.top5_values.map((x: number[][]) => x[0]),
      logsumexp: last.logsumexp.map((x: number[]) => x[0]),
    }, "batch logits");
    const out = await generate(model, rows, { maxNewTokens: 6, padTokenId: b.pad_token_id });
    await assertExact(out.get(":, 10:"), b.greedy_new_tokens, "batch greedy");
    await assertExact(out.get(":, 10:"), b.alone_greedy_new_tokens, "alone greedy");
  });

  deviceTest(`${name}: three interventions give the reference tokens`, async (device) => {
    const model = await load(device);
    const T = ref.prompt.ids.length;
    const steer = tensor(ref.steering_vector, undefined, { device });
    for (const [key, iv] of Object.entries(ref.interventions) as [string, Json][]) {
      const edit = (_p: string, out: unknown, call: number) => {
        if (iv.steps !== "all" && !iv.steps.includes(call)) return undefined;
        const h = first(out);
        const edited = key.startsWith("zero") ? zeros(h.shape, { device }) : h.add(steer);
        return out instanceof Tensor ? edited : [edited]; // element 0 of a 1-tuple
      };
      const { result } = await hooked(
        model,
        [iv.module],
        () => generate(model, [ref.prompt.ids], { maxNewTokens: 8 }),
        edit,
      );
      await assertExact(result.get(`0, ${T}:`), iv.new_tokens, key);
    }
  });
}

Deno.test("tiny-gpt-neox-serial differs from the parallel fixture only in use_parallel_residual", async () => {
  const a = JSON.parse(await Deno.readTextFile(`${dirOf("tiny-gpt-neox")}/config.json`));
  const b = JSON.parse(await Deno.readTextFile(`${dirOf("tiny-gpt-neox-serial")}/config.json`));
  assert.equal(a.use_parallel_residual, true);
  assert.deepEqual({ ...b, use_parallel_residual: true }, a);
  const ra = JSON.parse(await Deno.readTextFile(`${dirOf("tiny-gpt-neox")}/reference.json`));
  const rb = JSON.parse(await Deno.readTextFile(`${dirOf("tiny-gpt-neox-serial")}/reference.json`));
  assert.notDeepEqual(ra.greedy.new_tokens, rb.greedy.new_tokens);
});
