// model.edit(): in place or on a copy, cleared, applied at every generate step, exported and
// imported as validated JSON, and an attached module routed through; against nnsight 0.4.11.

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import { Module } from "../../model/module.ts";
import { GraphValidationError } from "../../trace/errors.ts";
import { LOGIT, reference } from "../model/_tiny_gpt2.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import { flat, type InterventionProxy as P, nnsightCases, PROMPT, tiny } from "./_tiny.ts";

/** The last position's first 8 logits and argmax against nnsight's. */
async function checkLast(logits: Tensor, want: { first8: number[]; argmax: number }, msg: string) {
  await assertClose(logits.get("0, -1, :8"), want.first8, { ...LOGIT, msg });
  assert.equal((await flat(logits.get("0, -1").argmax(-1)))[0], want.argmax, msg);
}

deviceTest(
  "edit: in place, on a copy, then cleared (nnsight's test_non_inplace_editing)",
  async (device) => {
    const model = await tiny(device);
    const want = await nnsightCases();
    const h = model.transformer.h;
    try {
      assert.equal(model.edit(() => h[1].output[0].set(":, 0", 0), { inplace: true }), model);
      const copy = model.edit(() => h[1].output[0].set(":, 1", 0));
      assert.notEqual(copy, model);
      await checkLast(await model.trace(PROMPT), want.edit_inplace, "in place");
      await checkLast(await copy.trace(PROMPT), want.edit_copy, "copy");
      const seen = await copy.trace(
        PROMPT,
        () => copy.transformer.h[1].output[0].get(":, :2").save(),
      );
      assert.equal((await flat(seen.abs().sum()))[0], 0); // the trace reads the edited value
      assert.equal(copy.tokenizer, model.tokenizer);
      model.clearEdits();
      await checkLast(await model.trace(PROMPT), want.edit_cleared, "cleared");
      await checkLast(await copy.trace(PROMPT), want.edit_copy, "the copy keeps its edits");
    } finally {
      model.clearEdits();
    }
  },
);

Deno.test("edit: .save() inside an edit is an error, and no edit is kept", async () => {
  const model = await tiny("cpu");
  assert.throws(
    () => model.edit(() => model.transformer.h[0].output[0].save(), { inplace: true }),
    (e: Error) =>
      e instanceof TypeError && /\.save\(\) inside model\.edit\(\) keeps nothing/.test(e.message),
  );
  assert.equal(model.exportEdits().graph.nodes.length, 0, "nothing recorded");
  model.edit(() => model.transformer.h[0].output[0].set(":", 0), { inplace: true });
  const json = model.exportEdits();
  model.clearEdits();
  const saved = structuredClone(json);
  (saved.graph.nodes.at(-1) as { saved?: boolean }).saved = true;
  assert.throws(() => model.importEdits(saved), /saved/);
  assert.equal(model.exportEdits().graph.nodes.length, 0, "a refused import adds nothing");
});

deviceTest(
  "edit: applies at every step of generate (the fixture's zero-block-0 tokens)",
  async (device) => {
    const model = await tiny(device);
    const ref = (await reference()).cases.eiffel.interventions.zero_block0_output_every_step;
    const edited = model.edit(() => model.transformer.h[0].output[0].set(":", 0));
    const ids = await edited.generate(PROMPT, { maxNewTokens: 5 });
    await assertExact(ids.get("0, -5:"), ref.generate_greedy.new_tokens);
    // nnsight 0.4 applies an edit at the first step only; model.iter(0, ...) scopes it so.
    const first = model.edit(() =>
      model.iter(0, () => model.transformer.h[0].output[0].set(":", 0))
    );
    const once = await first.generate(PROMPT, { maxNewTokens: 5 });
    await assertExact(once.get("0, -5:"), (await nnsightCases()).edit_generate.new_tokens);
    const plain = await model.generate(PROMPT, { maxNewTokens: 5 });
    const greedy = (await reference()).cases.eiffel.generate_greedy.new_tokens.slice(0, 5);
    await assertExact(plain.get("0, -5:"), greedy);
  },
);

Deno.test("edit: export and import as JSON; bad JSON is a named error and changes nothing", async () => {
  const model = await tiny("cpu");
  const h = model.transformer.h;
  const edited = model.edit(() => h[1].output[0].set(":, 0", h[0].output[0].get(":, 0").mul(2)));
  const json = JSON.parse(JSON.stringify(edited.exportEdits()));
  assert.equal(json.format, "tsight-edits v1");
  const fresh = model.edit(() => {});
  fresh.importEdits(json);
  await assertClose(await fresh.trace(PROMPT), await edited.trace(PROMPT));
  const before = JSON.stringify(fresh.exportEdits());
  const bad = (j: unknown, re: RegExp) =>
    assert.throws(
      () => fresh.importEdits(j),
      (e) => e instanceof GraphValidationError && re.test(e.message),
    );
  bad({ ...json, format: "x" }, /edits\.format/);
  bad({ ...json, extra: 1 }, /edits\.extra/);
  const path = structuredClone(json);
  path.graph.nodes[0].path = "transformer.h.9";
  bad(path, /transformer\.h\.9/);
  const inv = structuredClone(json);
  inv.graph.nodes[0].invoke = 0;
  bad(inv, /invoke/);
  assert.equal(JSON.stringify(fresh.exportEdits()), before);
  const withFn = model.edit((t) => h[0].output.set(0, t.apply((x: Tensor) => x, h[0].output[0])));
  assert.throws(() => withFn.exportEdits(), /apply\(\) runs a TypeScript function/);
  assert.throws(
    () => model.edit((t) => t.invoke(PROMPT, () => {})),
    /edits apply to the whole batch/,
  );
});

/** x -> x, like nnsight's WrapperModule. */
class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}
/** one(x) * 2, with `one` an attached submodule whose hooks fire. */
class Complex extends Module {
  readonly one = this.addModule("one", new Identity());
  forward(x: Tensor): Tensor {
    return this.one.call(x).mul(2);
  }
}

deviceTest(
  "edit: an attached module is routed through and its hooks fire (test_editing)",
  async (device) => {
    const model = await tiny(device);
    const want = (await nnsightCases()).attach;
    const l0 = model.transformer.h[0];
    const att = l0.module.child("attachment")
      ? l0.child("attachment")
      : l0.attach("attachment", new Complex());
    const edited = model.edit(() => l0.output[0].set(":", att.call(l0.output[0])));
    let one!: P, routed!: P;
    await edited.trace(PROMPT, () => {
      one = att.child("one").output.clone().save(); // the edit then writes into layer 0 in place
      routed = model.lm_head.output.save();
    });
    const original = await model.trace(PROMPT, () => l0.output[0].save());
    assert.equal(want.one_equals_h0, true);
    await assertExact(one.value, original);
    await checkLast(routed.value, want.routed, "routed through the attachment");
    // Its output can be edited: zeroing it zeroes what layer 0 hands on.
    const zero = await edited.trace(PROMPT, () => {
      att.output = att.output.mul(0);
      return l0.output[0].abs().sum();
    });
    assert.equal((await flat(zero))[0], 0);
  },
);

Deno.test("edit: attaching by assignment, and its errors", async () => {
  const model = await tiny("cpu");
  const mlp = model.transformer.h[2].mlp;
  if (!mlp.module.child("probe")) Reflect.set(mlp, "probe", new Identity());
  assert.equal(mlp.child("probe").path, "transformer.h.2.mlp.probe");
  assert.throws(() => mlp.attach("c_fc", new Identity()), /already has a module "c_fc" of its own/);
  assert.throws(() => mlp.attach("x y", new Identity()), /identifier-like name/);
  assert.throws(() => mlp.attach("again", mlp.child("c_fc").module), /already in a tree/);
  assert.throws(() => Reflect.set(mlp, "probe2", 3), /or a Module attached/);
});
