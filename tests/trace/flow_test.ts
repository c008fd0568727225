// Control flow and batching on the toy tree: cond/elif/else chains, proxy.stop(), empty invokes,
// invoker.inputs and skip inside one of several invokes. Toy math: for x > 0 the layers give
// 2x, 6x, 24x and the head 240x (see _toy.ts).

import assert from "node:assert/strict";
import { Condition } from "../../trace/mod.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
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
