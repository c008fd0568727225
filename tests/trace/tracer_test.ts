// Tracer features on the toy tree: invokes (row narrowing, values flowing between invokes,
// swap-back), stop, apply, log, cond, skip, result, scan, serialisation and error recovery.
// Toy math: for x > 0 the layers give 2x, 6x, 24x and the head 240x.

import assert from "node:assert/strict";
import { type Tensor, tensor, zeros } from "../../engine/mod.ts";
import { InterventionError } from "../../trace/errors.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { toy, x2 } from "./_toy.ts";

type P = InterventionProxy;

function noHooks(m: ReturnType<typeof toy>): void {
  for (const [path, mod] of m.module.namedModules()) {
    assert.equal(mod.hook, null, `hook left on "${path}"`);
  }
}

Deno.test("invoke: each invoke sees its rows; values flow between invokes; swaps go back to their rows", async () => {
  const m = toy();
  let a!: P, b!: P, r!: P;
  await m.trace((t) => {
    t.invoke(x2([[1, 1]]), () => {
      a = m.layers[0].output[0].save();
    });
    t.invoke(x2([[2, 2], [3, 3]]), () => {
      b = m.layers[0].output[0].clone().save();
      m.layers[0].output[0].set(":", a); // invoke 0's value, broadcast over invoke 1's rows
      m.layers[1].fc.output = m.layers[1].fc.output.mul(0); // block 1 -> identity on rows 1..2
    });
    r = t.result.save();
  });
  await assertClose(a.value, [[2, 2]]);
  await assertClose(b.value, [[4, 4], [6, 6]]);
  await assertClose(r.value, [[240, 240], [80, 80], [80, 80]]);
});

Deno.test("stop: ends the run once every earlier node ran; later values are missing", async () => {
  const m = toy();
  let h0!: P, h1!: P, h2!: P;
  await m.trace(x2([[1]]), (t) => {
    h0 = m.layers[0].output[0].save();
    h1 = m.layers[1].output[0].save();
    t.stop();
    h2 = m.layers[2].output[0].save();
  });
  await assertClose(h1.value, [[6]]);
  await assertClose(h0.value, [[2]]);
  assert.throws(() => h2.value, /has no value: the trace stopped early/);
  noHooks(m);
});

Deno.test("apply, log and cond run at run time on real values", async () => {
  const m = toy();
  const logged: unknown[][] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void logged.push(a);
  try {
    const r = await m.trace(x2([[1, 2]]), (t) => {
      const total = t.apply((h: Tensor) => h.sum(), m.layers[0].output[0]);
      t.log("h0 sum", total);
      t.cond(total.gt(100), () => m.head.output.set(":", 0)); // false: 6 < 100
      t.cond(total.gt(5), () => m.layers[2].output[0].set(":", -1)); // true
      return { total, head: m.head.output };
    });
    await assertClose(r.total, [6]);
    await assertClose(r.head, [[-10, -10]]);
  } finally {
    console.log = log;
  }
  assert.equal(logged.length, 1);
  assert.equal(logged[0][0], "h0 sum");
  assert.match(String(logged[0][1]), /Tensor\(float32, \[\], cpu\) \[6\]/);
});

Deno.test("skip: replaces a module's output without running it", async () => {
  const m = toy();
  const out = await m.trace(x2([[1]]), () => {
    m.layers[1].skip([m.layers[1].input, m.layers[1].input]);
    return m.head.output;
  });
  await assertClose(out, [[80]]);
  await assert.rejects(
    m.trace(x2([[1]]), () => {
      m.layers[1].skip([m.layers[1].input, m.layers[1].input]);
      m.layers[1].fc.output.save();
    }),
    /layers\.1\.fc\.output\.i0 was never produced: the forward pass ran once and never called "layers\.1\.fc"/,
  );
});

Deno.test("errors: unknown modules name the nearest valid children", async () => {
  const m = toy();
  const rec = <T>(fn: () => T) => m.trace(x2([[1]]), fn);
  await assert.rejects(
    rec(() => (m as unknown as Record<string, unknown>).layerz),
    /Unknown module "layerz": "model" has layers, head, tap; did you mean "layers"\?/,
  );
  await assert.rejects(
    rec(() => (m.layers[0] as unknown as Record<string, unknown>).fcc),
    /Unknown module "layers\.0\.fcc": "layers\.0" has fc, act; did you mean "fc"\?/,
  );
  await assert.rejects(rec(() => m.layers[3]), /Index 3 is out of range for "layers" with 3 items/);
  assert.equal(m.layers[-1].path, "layers.2");
  assert.equal(m.layers.at(-3).path, "layers.0");
  assert.throws(() => m.layers[0].output, /is only available inside a trace callback/);
});

Deno.test("errors: a shape mismatch names the node, the module and both shapes; then the model is clean", async () => {
  const m = toy();
  await assert.rejects(
    m.trace(x2([[1, 2]]), () => m.layers[1].output[0].add(tensor([1, 2, 3])).save()),
    (e: Error) => {
      assert(e instanceof InterventionError);
      assert.match(
        e.message,
        /^Node %2 layers\.1\.output\.i0\[0\]\.add\(Tensor\[3\]\) failed at layers\.1\.output\.i0: /,
      );
      assert.match(e.message, /shapes \[1, 2\] and \[3\] cannot be broadcast/);
      return true;
    },
  );
  noHooks(m);
  await assert.rejects(
    m.trace(x2([[1, 2]]), () => {
      m.layers[0].output = [zeros([1, 3]), zeros([1, 2])];
    }),
    /failed at layers\.0\.output\.i0: the replacement has shape \[1, 3\] but the value it replaces has shape \[1, 2\]/,
  );
  const boom = new Error("boom");
  await assert.rejects(
    m.trace(x2([[1]]), (t) => {
      t.apply(() => {
        throw boom;
      }, m.head.output);
    }),
    (e: Error) =>
      e instanceof InterventionError && e.cause === boom &&
      /apply\(fn, head\.output\.i0\)/.test(e.message),
  );
  noHooks(m);
  await assertClose(await m.trace(x2([[1]])), [[240]]); // the next trace works
});

Deno.test("errors: async callbacks and nested traces are refused", async () => {
  const m = toy();
  await assert.rejects(
    m.trace(x2([[1]]), async () => {}),
    /returned a promise: it must be synchronous/,
  );
  await assert.rejects(
    m.trace(x2([[1]]), () => void m.trace(x2([[1]]), () => {})),
    /A trace was started inside a trace callback/,
  );
  await assertClose(await m.trace(x2([[1]]), () => m.head.output), [[240]]);
});

Deno.test("scan: runs the graph on the meta device with the same shape errors", async () => {
  const m = toy();
  const r = await m.scan(
    x2([[1, 2], [3, 4]]),
    () => ({ h: m.layers[0].output[0].get(":, 0"), out: m.head.output }),
  );
  assert.equal(r.h.device, "meta");
  assert.deepEqual([...r.h.shape], [2]);
  assert.deepEqual([...r.out.shape], [2, 2]);
  await assert.rejects(
    m.scan(x2([[1, 2]]), () => m.head.output.add(zeros([3])).save()),
    /cannot be broadcast/,
  );
});

Deno.test("serialisation: a graph survives JSON and runs with the same results", async () => {
  const m = toy();
  const fn = () => {
    m.layers[0].output[0].set(":, 0", 0);
    return { h: m.layers[1].output[0].mul(2), out: m.head.output };
  };
  const direct = await m.trace(x2([[1, 2]]), fn);
  const request = JSON.parse(JSON.stringify(m.record(fn, { input: x2([[1, 2]]) })));
  const { output } = await m.run(request);
  await assertClose(output.h, direct.h);
  await assertClose(output.out, direct.out);
  await assertClose(output.out, [[0, 480]]);
  assert.throws(
    () => m.record((t) => t.apply((x: Tensor) => x, m.head.output), { input: x2([[1]]) }),
    /Node %1 apply\(.*\) cannot be serialised: apply\(\) runs a TypeScript function/,
  );
});

Deno.test("invoke: tracer.result and tuple elements are per invoke", async () => {
  const m = toy();
  const r = await m.trace((t) => {
    let a!: P, b!: P;
    t.invoke(x2([[1]]), () => {
      a = t.result;
    });
    t.invoke(x2([[2], [3]]), () => {
      m.layers[2].output.set(0, m.layers[2].output[1]); // block 2 -> identity on these rows
      b = t.result;
    });
    return { a, b };
  });
  await assertClose(r.a, [[240]]);
  await assertClose(r.b, [[120], [180]]);
});
