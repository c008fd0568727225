// The intervention runtime on a toy module tree: getters, edits, iteration cursors and scopes,
// run-time containers, and the fixes to nnsight 0.4's re-run and missing-value defects.
// Toy math: block k maps x to (1 + k) x for x > 0, so layers give 2x, 6x, 24x and head 240x.

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import { dict, list } from "../../trace/containers.ts";
import { MissingValueError, OutOfOrderError } from "../../trace/errors.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { toy, x2 } from "./_toy.ts";

type P = InterventionProxy;

Deno.test("trace: a saved getter and the returned structure hold the real values", async () => {
  const m = toy();
  let h!: P;
  const r = await m.trace(x2([[1, 2]]), () => {
    h = m.layers[0].output[0].save();
    return { logits: m.head.output, shape: m.layers[1].output[0].shape };
  });
  await assertClose(h.value, [[2, 4]]);
  await assertClose(r.logits, [[240, 480]]);
  assert.deepEqual([...r.shape], [1, 2]);
});

Deno.test("trace: proxies mirror the Tensor API and index tuples and tensors", async () => {
  const m = toy();
  const r = await m.trace(x2([[1, 2], [3, -4]]), () => {
    const h = m.layers[0].output[0]; // [[2, 4], [6, -4]]
    return {
      last: h.get(":, -1"),
      row: h[-1],
      sum: h.sum(-1),
      top: h.topk(1).values,
      tupleLast: m.layers[0].output[-1],
      chain: h.mul(2).add(1).neg(),
    };
  });
  await assertClose(r.last, [4, -4]);
  await assertClose(r.row, [6, -4]);
  await assertClose(r.sum, [6, 2]);
  await assertClose(r.top, [[4], [6]]);
  await assertClose(r.tupleLast, [[1, 2], [3, -4]]);
  await assertClose(r.chain, [[-5, -9], [-13, 7]]);
});

Deno.test("edits: set() in place and output = v both act before the next module runs", async () => {
  const m = toy();
  const zeroed = await m.trace(x2([[1, 2]]), () => {
    m.layers[0].output[0].set(":", 0);
    return m.head.output;
  });
  await assertClose(zeroed, [[0, 0]]);
  const swapped = await m.trace(x2([[1, 2]]), () => {
    m.layers[1].fc.output = m.layers[1].fc.output.mul(0); // block 1 becomes x + relu(0) = x
    return { after: m.layers[1].fc.output, out: m.head.output };
  });
  await assertClose(swapped.after, [[0, 0]]); // reads after a swap see the replacement
  await assertClose(swapped.out, [[80, 160]]);
  const tuple = await m.trace(x2([[1, 1]]), () => {
    m.layers[2].output.set(0, m.layers[2].output[1]); // h[2] acts as identity
    return m.head.output;
  });
  await assertClose(tuple, [[60, 60]]);
});

Deno.test("iteration: step n is the n-th call; next() advances an envoy and its children", async () => {
  const m = toy();
  let h0!: P, h1!: P, h2!: P, fc1!: P, tap!: P;
  await m.steps(x2([[1, 1]]), 3, () => {
    h0 = m.layers[2].output[0].save();
    h1 = m.layers[2].next().output[0].save();
    fc1 = m.layers[2].fc.output.save(); // the child follows its parent's cursor: step 1
    h2 = m.layers[2].next().output[0].save();
    tap = m.tap.output.save();
  });
  await assertClose(h0.value, [[24, 24]]);
  await assertClose(h1.value, [[24 * 2.4, 24 * 2.4]], { rtol: 1e-5 });
  await assertClose(fc1.value, [[3 * 6 * 2.4, 3 * 6 * 2.4]], { rtol: 1e-5 });
  await assertClose(h2.value, [[24 * 2.4 ** 2, 24 * 2.4 ** 2]], { rtol: 1e-5 });
  await assertClose(tap.value, [[240 * 2.4 ** 2, 240 * 2.4 ** 2]], { rtol: 1e-5 });
});

Deno.test("iteration: all() and iter() collect exactly their steps", async () => {
  const m = toy();
  const all = list<Tensor>(), mid = list<Tensor>(), some = list<Tensor>(), one = list<Tensor>();
  await m.steps(x2([[1]]), 5, () => {
    m.layers.all(() => all.append(m.layers[0].output[0]));
    m.layers.iter("2:4", () => mid.append(m.layers[0].output[0]));
    m.iter([0, 2, 4], () => some.append(m.layers[0].output[0]));
    m.layers[0].iter(3, () => one.append(m.layers[0].output[0]));
  });
  const steps = async (l: Tensor[]) =>
    (await Promise.all(l.map((t) => t.item()))).map((v) =>
      Math.round(Math.log(v / 2) / Math.log(2.4))
    );
  assert.deepEqual(await steps(all.value), [0, 1, 2, 3, 4]);
  assert.deepEqual(await steps(mid.value), [2, 3]);
  assert.deepEqual(await steps(some.value), [0, 2, 4]);
  assert.deepEqual(await steps(one.value), [3]);
});

Deno.test("iteration: .all() is recursive only over the envoy's subtree", async () => {
  const m = toy();
  const inLayers = list(), inModel = list();
  await m.steps(x2([[1]]), 4, () => {
    m.layers.all(() => inLayers.append(m.head.output)); // head is not under layers: step 0 only
    m.all(() => inModel.append(m.head.output));
  });
  assert.equal(inLayers.value.length, 1);
  assert.equal(inModel.value.length, 4);
});

Deno.test("iteration: bare .all() holds for the rest of the trace; next() inside a scope is an error", async () => {
  const m = toy();
  const hs = list();
  await m.steps(x2([[1]]), 3, () => {
    m.layers[0].all();
    hs.append(m.layers[0].output[0]);
  });
  assert.equal(hs.value.length, 3);
  await assert.rejects(
    m.steps(x2([[1]]), 3, () => m.layers.all(() => m.layers[0].next())),
    /next\(\) inside \.all\(\)\/\.iter\(\) on "layers"/,
  );
});

Deno.test("fix: a node re-runs only when what it depends on fired again", async () => {
  const m = toy();
  const hs = list(), doubled = list<Tensor>();
  await m.steps(x2([[1]]), 4, () => {
    m.layers.all(() => {
      hs.append(m.layers[0].output[0]);
      const h = m.layers[1].output[0];
      doubled.append(h.add(h)); // one dependency used twice still counts once per firing
    });
    hs.append(7); // a constant after an .all() block: appended once
    hs.append(m.head.output.sum()); // head is at step 0: appended once
  });
  assert.equal(hs.value.length, 6);
  assert.equal(hs.value.filter((v) => v === 7).length, 1);
  assert.equal(doubled.value.length, 4);
  await assertClose(doubled.value[0], [[12]]);
});

Deno.test("fix: containers are created once per trace, also when used in several scopes", async () => {
  const m = toy();
  const hs = list();
  await m.steps(x2([[1]]), 3, () => {
    hs.append(m.layers[0].output[0]);
    m.layers.all(() => hs.append(m.layers[1].output[0]));
    hs.append(m.layers[2].next(2).output[0]);
  });
  assert.equal(hs.value.length, 5); // 1 + 3 + 1, nothing lost to a re-created list
});

Deno.test("fix: a step that never ran names its provider key and the run's length", async () => {
  const m = toy();
  await assert.rejects(
    m.steps(x2([[1]]), 3, () => void m.layers[1].next(5).output.save()),
    (e: Error) => {
      assert(e instanceof MissingValueError);
      assert.equal(e.message, "layers.1.output.i5 was never produced: generation ran 3 steps");
      return true;
    },
  );
  await assert.rejects(
    m.trace(x2([[1]]), () => void m.layers[0].fc.next().output.save()),
    /layers\.0\.fc\.output\.i1 was never produced: the forward pass ran once/,
  );
  assert.equal(m.module.layers.at(1).hook, null);
});

Deno.test("fix: an edit that can only run after its module passed the value on is an error", async () => {
  const m = toy();
  await assert.rejects(
    m.trace(x2([[1]]), () => void m.layers[0].output[0].set(":", m.layers[1].output[0])),
    (e: Error) => {
      assert(e instanceof OutOfOrderError);
      assert.match(
        e.message,
        /edits layers\.0\.output\.i0 but could only run at layers\.1\.output\.i0/,
      );
      return true;
    },
  );
  await assert.rejects(
    m.trace(x2([[1]]), () => {
      m.layers[0].output = m.layers[2].output;
    }),
    OutOfOrderError,
  );
  // recording order alone does not matter: this edit depends only on h[0]
  const out = await m.trace(x2([[1]]), () => {
    const later = m.head.output.save();
    m.layers[0].output[0].set(":", 0);
    return later;
  });
  await assertClose(out, [[0]]);
});

Deno.test("values: .value before the run, unsaved, and after a cond are clear errors", async () => {
  const m = toy();
  let early = "";
  let unsaved!: P, skipped!: P;
  await m.trace(x2([[-1]]), (t) => {
    const h = m.layers[0].output[0].save();
    try {
      h.value;
    } catch (e) {
      early = (e as Error).message;
    }
    unsaved = m.layers[1].output[0];
    t.cond(m.layers[0].output[0].sum().gt(0), () => {
      skipped = m.head.output.mul(2).save();
    });
  });
  assert.match(early, /has no value yet: values exist after the trace's promise resolves/);
  assert.throws(() => unsaved.value, /was not saved: call \.save\(\) on it inside the callback/);
  assert.throws(() => skipped.value, /has no value: its tracer\.cond\(\) condition was false/);
});

Deno.test("containers: dict stores values by key and reads them back as proxies", async () => {
  const m = toy();
  const acts = dict<Tensor>();
  const r = await m.steps(x2([[1]]), 2, () => {
    acts.set("h0", m.layers[0].output[0]);
    m.layers.all(() => acts.set("last", m.layers[2].output[0])); // overwritten each step
    return acts.get("h0").mul(10);
  });
  assert.deepEqual(Object.keys(acts.value), ["h0", "last"]);
  await assertClose(acts.value.h0, [[2]]);
  await assertClose(acts.value.last, [[24 * 2.4]], { rtol: 1e-5 });
  await assertClose(r, [[20]]);
});

Deno.test("containers: a read recorded after writes runs after them", async () => {
  const m = toy();
  const hs = list();
  const n = await m.steps(x2([[1]]), 3, (t) => {
    m.layers.all(() => hs.append(m.layers[0].output[0]));
    return t.apply((l: unknown[]) => l.length, hs);
  });
  assert.equal(n, 3);
});
