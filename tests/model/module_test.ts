// Module tree and hooks on GPT-2: HuggingFace paths, namedModules order, input/output
// replacement (checked against the fixture's interventions), skip, calls with no hook, meta.

import assert from "node:assert/strict";
import { type Tensor, tensor, zeros } from "../../engine/mod.ts";
import { GPT2LMHeadModel } from "../../model/gpt2/model.ts";
import { Module, ModuleList } from "../../model/module.ts";
import { assertClose } from "../_assert.ts";
import { ACT, capture, checkSummaries, hidden, ids, reference, tinyModel } from "./_tiny_gpt2.ts";

const model = await tinyModel();
const ref = await reference();
const EIFFEL = ids(ref.cases.eiffel.input_ids);

Deno.test("paths and typed children mirror HuggingFace's GPT-2", () => {
  assert.equal(model.transformer.h.at(-1).attn.path, "transformer.h.2.attn");
  assert.equal(model.transformer.h.at(0).mlp.act.path, "transformer.h.0.mlp.act");
  assert.equal(
    model.transformer.h.at(1).attn.attn_dropout.path,
    "transformer.h.1.attn.attn_dropout",
  );
  assert.equal(model.generator.streamer.path, "generator.streamer");
  assert.equal(model.getModule("transformer.h.2.mlp.c_proj"), model.transformer.h.at(2).mlp.c_proj);
  assert.deepEqual(model.children().map(([n]) => n), ["transformer", "lm_head", "generator"]);
});

Deno.test("namedModules lists the tree depth first in registration order", () => {
  const paths = model.namedModules().map(([p]) => p);
  const block = (i: number) =>
    [
      "",
      ".ln_1",
      ".attn",
      ".attn.c_attn",
      ".attn.c_proj",
      ".attn.attn_dropout",
      ".attn.resid_dropout",
      ".ln_2",
      ".mlp",
      ".mlp.c_fc",
      ".mlp.act",
      ".mlp.c_proj",
      ".mlp.dropout",
    ].map((s) => `transformer.h.${i}${s}`);
  assert.deepEqual(paths, [
    "",
    "transformer",
    "transformer.wte",
    "transformer.wpe",
    "transformer.drop",
    "transformer.h",
    ...block(0),
    ...block(1),
    ...block(2),
    "transformer.ln_f",
    "lm_head",
    "generator",
    "generator.streamer",
  ]);
});

Deno.test("an output hook's replacement is consumed downstream (zero block 0)", async () => {
  const iv = ref.cases.eiffel.interventions.zero_block0_output_every_step;
  const h0 = model.transformer.h.at(0);
  h0.hook = { output: (_m, o) => [zeros((o as Tensor[])[0].shape), (o as unknown[])[1]] };
  try {
    const { result, outputs } = capture(
      model,
      ["transformer.h.1", "transformer.ln_f"],
      () => model.call(EIFFEL) as Tensor,
    );
    for (const key of ["transformer.h.1", "transformer.ln_f"]) {
      await assertClose(hidden(outputs.get(key)![0]), iv.activations[key], { ...ACT, msg: key });
    }
    await checkSummaries(result.get(0), iv.logits, ref.probe_ids, "zeroed block 0");
  } finally {
    h0.hook = null;
  }
});

Deno.test("an in-place edit in an output hook is seen downstream (steering vector)", async () => {
  const iv = ref.cases.eiffel.interventions.add_vector_block1_last_prompt_pos;
  const vector = tensor(iv.vector);
  model.transformer.h.at(1).hook = {
    output: (_m, o) =>
      void (o as Tensor[])[0].set("0, 9", (o as Tensor[])[0].get("0, 9").add(vector)),
  };
  try {
    const { result, outputs } = capture(
      model,
      ["transformer.ln_f"],
      () => model.call(EIFFEL) as Tensor,
    );
    await assertClose(
      hidden(outputs.get("transformer.ln_f")![0]),
      iv.activations["transformer.ln_f"],
      ACT,
    );
    await checkSummaries(result.get(0), iv.logits, ref.probe_ids, "steered");
  } finally {
    model.transformer.h.at(1).hook = null;
  }
});

Deno.test("an input hook replaces arguments; skip bypasses forward", async () => {
  const lnf = model.transformer.ln_f;
  lnf.hook = { input: (_m, args) => [zeros((args[0] as Tensor).shape), ...args.slice(1)] };
  let logits: Tensor;
  try {
    logits = model.call(EIFFEL) as Tensor;
  } finally {
    lnf.hook = null;
  }
  // ln_f of zeros is its bias at every position, so all positions share one logit row.
  await assertClose(logits.get("0, 0"), logits.get("0, 9"), { atol: 0, rtol: 0 });
  await assertClose(
    logits.get("0, 0, 0:3"),
    lnf.parameter("bias").matmul(model.transformer.wte.weight.get("0:3").transpose()),
    { atol: 1e-5 },
  );

  const [h0, h1, h2] = [0, 1, 2].map((i) => model.transformer.h.at(i));
  let attnRan = false, out0: unknown, in2: unknown;
  h0.hook = { output: (_m, o) => void (out0 = (o as unknown[])[0]) };
  h1.hook = { skip: (_m, args) => ({ value: [args[0], null] }) }; // block 1 becomes the identity
  h1.attn.hook = { output: () => void (attnRan = true) };
  h2.hook = { input: (_m, args) => void (in2 = args[0]) };
  try {
    model.call(EIFFEL);
  } finally {
    h0.hook =
      h1.hook =
      h1.attn.hook =
      h2.hook =
        null;
  }
  assert.equal(attnRan, false, "a skipped block's children never run");
  assert.equal(in2, out0, "block 2 receives block 0's output");
});

Deno.test("call with no hook equals forward; lists index from the end and refuse calls", () => {
  class Double extends Module {
    forward(x: number) {
      return 2 * x;
    }
  }
  const d = new Double();
  assert.equal(d.hook, null);
  assert.equal(d.call(21), 42);
  assert.equal(d.forward(21), 42);
  const list = new ModuleList([new Double(), new Double()]);
  assert.equal(list.at(-1), list.at(1));
  assert.throws(() => list.at(2), /Index 2 is out of range/);
  assert.throws(() => list.call(), TypeError);
});

Deno.test("the meta device builds the same tree and forward shapes with no data", () => {
  const meta = new GPT2LMHeadModel(model.config, { device: "meta" });
  assert.ok(meta.namedParameters().every(([, t]) => t.device === "meta" && t.storage.constant));
  const logits = meta.call(ids([[1, 2, 3]]).to("meta")) as Tensor;
  assert.deepEqual(logits.shape, [1, 3, 50257]);
  assert.equal(logits.device, "meta");
});
