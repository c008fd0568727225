// Control flow and batching on the toy tree: cond/elif/else chains, proxy.stop(), empty invokes,
// invoker.inputs and skip inside one of several invokes; then the same on tiny-gpt2 against
// nnsight 0.4.11's numbers (tests/fixtures/tiny-gpt2/nnsight_0_4_flow.json). Toy math: for x > 0 the layers give
// 2x, 6x, 24x and the head 240x (see _toy.ts).

import assert from "node:assert/strict";
import { type Tensor, tensor } from "../../engine/mod.ts";
import { Condition, list, type Tracer } from "../../trace/mod.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import type { Json } from "../model/_tiny_gpt2.ts";
import { nnsight, PROMPT, tiny, TOL } from "./_nnsight_flow.ts";
import { toy, x2 } from "./_toy.ts";

type P = InterventionProxy;

/** Runs a three-branch chain on h0's sum (6 for input [[1, 2]]) and returns which branch ran. */
async function chain(lo: number, hi: number): Promise<number[]> {
  const m = toy();
  let a!: P, b!: P, c!: P;
  await m.trace(x2([[1, 2]]), (t) => {
    const s = m.layers[0].output[0].sum();
    t.cond(s.gt(hi), () => void (a = s.mul(1).save()))
      .elif(s.gt(lo), () => void (b = s.mul(2).save()))
      .else(() => void (c = s.mul(3).save()));
  });
  const got: number[] = [];
  for (const [i, p] of [a, b, c].entries()) {
    try {
      got.push(i, (await p.value.data())[0]);
    } catch (e) {
      assert.match(String(e), /has no value: its tracer\.cond\(\) condition was false/);
    }
  }
  return got;
}

Deno.test("cond: exactly one branch of an if/elif/else chain runs, by run-time values", async () => {
  assert.deepEqual(await chain(1, 100), [1, 12]); // 6 > 1 only: elif
  assert.deepEqual(await chain(1, 2), [0, 6]); // 6 > 2: if (elif and else skipped)
  assert.deepEqual(await chain(10, 100), [2, 18]); // neither: else
});

Deno.test("cond: a chain on a per-step value picks its branch at every step", async () => {
  const m = toy();
  const got = list<Tensor>();
  await m.steps(x2([[1]]), 3, (t: Tracer) => {
    m.layers.all(() => {
      const s = m.layers[0].output[0].sum(); // 2, 4.8, 11.52 at steps 0, 1, 2
      t.cond(s.gt(10), () => got.append(s.mul(1)))
        .elif(s.gt(3), () => got.append(s.mul(2)))
        .else(() => got.append(s.mul(3)));
    });
  });
  await assertClose(got.value.map((t) => t.dataSync()[0]), [6, 9.6, 11.52], { atol: 1e-4 });
});

Deno.test("cond: plain predicates decide while recording; mixed chains gate on the proxies", async () => {
  const m = toy();
  const ran: string[] = [];
  let e!: P;
  const out = await m.trace(x2([[1]]), (t) => {
    t.cond(false, () => ran.push("if")).elif(true, () => ran.push("elif")).else(() =>
      ran.push("else")
    );
    const s = m.layers[0].output[0].sum(); // 2
    t.cond(s.gt(5), () => m.head.output.set(":", 0))
      .elif(true, () => m.head.output.set(":", -1)) // runs: the proxy predicate was false
      .else(() => void (e = s.save()));
    return m.head.output;
  });
  assert.deepEqual(ran, ["elif"]);
  await assertClose(out, [[-1]]);
  assert.equal(e, undefined); // the else cannot run after a plain true elif: never recorded
  const c = new Condition(() => {}, true);
  c.else(() => {});
  assert.throws(
    () => c.elif(true, () => {}),
    /\.elif\(\) after \.else\(\): the chain already ended/,
  );
});

Deno.test("cond: a chain survives JSON (the branch node is serialisable and validated)", async () => {
  const m = toy();
  const req = m.record((t) => {
    const s = m.layers[0].output[0].sum(); // 2
    t.cond(s.gt(5), () => m.head.output.set(":", 0)).else(() => m.head.output.set(":", 7));
    return m.head.output;
  }, { input: x2([[1]]) });
  const { output } = await m.run(JSON.parse(JSON.stringify(req)));
  await assertClose(output, [[7]]);
  const bad = JSON.parse(JSON.stringify(req));
  const branch = bad.graph.nodes.find((n: { op: string }) => n.op === "branch");
  branch.args[0] = [5];
  await assert.rejects(m.run(bad), /a list of references to the earlier predicates/);
});

Deno.test("proxy.stop(): the run ends once that value exists; earlier saves stay readable", async () => {
  const m = toy();
  let h0!: P, h2!: P;
  await m.trace(x2([[1]]), () => {
    h0 = m.layers[0].output[0].save();
    m.layers[1].output[0].stop();
    h2 = m.layers[2].output[0].save();
  });
  await assertClose(h0.value, [[2]]);
  assert.throws(
    () => h2.value,
    /has no value: the trace stopped early \(tracer\.stop\(\) or proxy\.stop\(\)\)/,
  );
  for (const [path, mod] of m.module.namedModules()) assert.equal(mod.hook, null, path);
});

Deno.test("invoke: an empty invoke sees the whole batch; invoker.inputs is the invoke's input", async () => {
  const m = toy();
  let all!: P, one!: P;
  const seen: unknown[] = [];
  await m.trace((t) => {
    t.invoke(x2([[1, 1]]), (inv) => {
      one = m.layers[0].output[0].save();
      seen.push(inv.index, inv.inputs);
    });
    t.invoke(x2([[2, 2], [3, 3]]), (inv) => void seen.push(inv.index));
    t.invoke((inv) => {
      all = m.layers[0].output[0].save();
      seen.push(inv.index);
    });
  });
  await assertClose(one.value, [[2, 2]]);
  await assertClose(all.value, [[2, 2], [4, 4], [6, 6]]);
  assert.equal(seen[0], 0);
  await assertClose(seen[1] as never, [[1, 1]]);
  assert.deepEqual(seen.slice(2), [1, -1]);
  await assert.rejects(
    m.trace(x2([[1]]), (t) => t.invoke(() => t.invoke(() => {}))),
    /cannot be nested/,
  );
});

Deno.test("skip: inside one of several invokes it replaces only that invoke's rows", async () => {
  const m = toy();
  let skipped!: P, ran!: P;
  const out = await m.trace((t) => {
    t.invoke(x2([[1]]), () => {
      m.layers[1].skip([m.layers[1].input, m.layers[1].input]); // block 1 -> identity
      skipped = m.layers[1].output[0].save();
    });
    t.invoke(x2([[1]]), () => void (ran = m.layers[1].output[0].save()));
    t.invoke(x2([[2]]), () => m.layers[2].skip([m.layers[2].input, m.layers[2].input]));
    return t.result;
  });
  await assertClose(skipped.value, [[2]]);
  await assertClose(ran.value, [[6]]);
  // row 0: 2 -> (skip) 2 -> 8 -> 80; row 1: 2 -> 6 -> 24 -> 240; row 2: 4 -> 12 -> (skip) 12 -> 120
  await assertClose(out, [[80], [240], [120]]);
});

// ---- tiny-gpt2 against nnsight 0.4.11 ---------------------------------------------------------

deviceTest("cond on gpt2: if/elif/else give nnsight 0.4.11's logits", async (device) => {
  const model = await tiny(device);
  const ref: Json = await nnsight();
  const h = model.transformer.h;
  for (const name of ["if", "elif", "else"]) {
    const { lo, hi, logits_last_8 } = ref.cond[name];
    const run = model.trace(PROMPT, (t) => {
      const s = h[0].output[0].sum();
      t.cond(s.gt(hi), () => h[1].output[0].set(":", 0))
        .elif(s.gt(lo), () => h[1].output[0].set(":", h[1].output[0].mul(2)))
        .else(() => h[1].output[0].set("..., :4", 3));
      return model.lm_head.output.get("0, -1, :8");
    });
    if (device === "webgpu") {
      await assert.rejects(run, /is a webgpu tensor: conditions are read during the forward pass/);
      continue;
    }
    await assertClose(await run, logits_last_8, { ...TOL, msg: `${name} branch` });
  }
});

deviceTest(
  "stop on gpt2: values before proxy.stop() match nnsight; later ones say it stopped",
  async (device) => {
    const model = await tiny(device);
    const ref: Json = await nnsight();
    let h0!: P, h2!: P;
    await model.trace(PROMPT, () => {
      h0 = model.transformer.h[0].output[0].get("0, -1, :4").save();
      model.transformer.h[1].output[0].stop();
      h2 = model.transformer.h[2].output[0].save();
    });
    await assertClose(h0.value, ref.stop.h0_last_4, TOL);
    assert.equal(ref.stop.later_readable, false);
    assert.throws(() => h2.value, /the trace stopped early/);
  },
);

deviceTest(
  "invoker.inputs on gpt2: each invoke's own token ids, as nnsight's input_ids",
  async (device) => {
    const model = await tiny(device);
    const ref: Json = await nnsight();
    const ids: unknown[] = [];
    let all: unknown;
    let whole!: P, one!: P;
    await model.trace((t) => {
      t.invoke(PROMPT, (inv) => {
        ids.push(inv.inputs);
        one = model.lm_head.output.save();
      });
      t.invoke("Hello, my dog is cute", (inv) => void ids.push(inv.inputs));
      t.invoke((inv) => {
        all = inv.inputs;
        whole = model.lm_head.output.save();
      });
    });
    assert.deepEqual(ids, ref.invoker_input_ids);
    assert.deepEqual(all, ref.invoker_input_ids.flat(1));
    assert.deepEqual(whole.value.shape, [2, 10, 50257]);
    await assertClose(whole.value.get("0:1"), one.value, { atol: 0, rtol: 0 });
    // A tensor input on the model's device: cpu ids read back; a webgpu tensor cannot be read
    // synchronously, which the error says (the trace itself still runs).
    const idsTensor = tensor(ref.invoker_input_ids[0], [1, 10], { dtype: "int32", device });
    let seen: unknown;
    const read = () => model.trace((t) => t.invoke(idsTensor, (inv) => void (seen = inv.inputs)));
    if (device === "webgpu") {
      await assert.rejects(
        read,
        /invoker\.inputs reads the invoke's token ids synchronously, but they are a webgpu tensor/,
      );
      let out!: P;
      await model.trace((t) => t.invoke(idsTensor, () => void (out = model.lm_head.output.save())));
      assert.deepEqual(out.value.shape, [1, 10, 50257]);
    } else {
      await read();
      assert.deepEqual(seen, ref.invoker_input_ids[0]);
    }
  },
);

deviceTest(
  "skip on gpt2: one invoke skips a block, the other's rows are untouched",
  async (device) => {
    const model = await tiny(device);
    const h = model.transformer.h;
    const clean = await model.trace(PROMPT, () => h[2].output[0].save().get("0, -1"));
    const skipped = await model.trace(PROMPT, () => {
      h[1].skip([h[1].input]);
      return h[2].output[0].get("0, -1");
    });
    let a!: P, b!: P;
    await model.trace((t) => {
      t.invoke(PROMPT, () => {
        h[1].skip([h[1].input]);
        a = h[2].output[0].get("0, -1").save();
      });
      t.invoke(PROMPT, () => void (b = h[2].output[0].get("0, -1").save()));
    });
    await assertClose(a.value, skipped, TOL);
    await assertClose(b.value, clean, TOL);
    await assert.rejects(
      model.trace((t) => {
        t.invoke(PROMPT, () => h[1].skip([h[1].input, null]));
        t.invoke(PROMPT, () => {});
      }),
      /transformer\.h\.1\.output is a tuple of 1 items .*, so its replacement must be a tuple of 1 items/,
    );
  },
);
