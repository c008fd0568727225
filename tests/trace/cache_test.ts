// tracer.cache(): every module's output (and inputs) by path, a list per step in generate, the
// values after the trace's edits, one invoke's rows, and its option errors.

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import type { Cache, CacheEntry } from "../../trace/cache.ts";
import { assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import { flat, type InterventionProxy as P, PROMPT, tiny } from "./_tiny.ts";

function one(e: CacheEntry | CacheEntry[] | undefined): CacheEntry {
  assert.ok(e && !Array.isArray(e), "one call");
  return e;
}

deviceTest("cache: every module's output and inputs equal the saved values", async (device) => {
  const model = await tiny(device);
  const h = model.transformer.h;
  let h1!: P, mlp!: P, logits!: P;
  const cache = await model.trace(PROMPT, (tracer) => {
    h1 = h[1].output[0].save();
    mlp = h[2].mlp.input.save();
    logits = model.lm_head.output.save();
    return tracer.cache({ includeInputs: true });
  });
  const ran = model.module.namedModules().map(([p]) => p)
    .filter((p) => p !== "transformer.h" && !p.startsWith("generator")); // generate() only
  assert.deepEqual(cache.keys(), ran); // the ModuleList itself is never called
  assert.equal(cache.get("transformer.h"), undefined);
  await assertExact(one(cache.get("transformer.h.1")).output[0], h1.value);
  await assertExact(one(cache.get("transformer.h.2.mlp")).input, mlp.value);
  await assertExact(one(cache.get("lm_head")).output, logits.value);
  await assertExact(one(cache.get("")).output, logits.value);
  assert.equal(one(cache.get("model")).output, one(cache.get("")).output); // nnsight's keys
  await assertExact(one(cache.get("model.transformer.h.1")).output[0], h1.value);
  // A module's input is what the module before it handed on.
  await assertExact(one(cache.get("transformer.h.2")).inputs![0], h1.value);
});

deviceTest("cache: a list per step in generate; chosen modules; outputs only", async (device) => {
  const model = await tiny(device);
  const h = model.transformer.h;
  let steps!: P;
  const cache = await model.generate(PROMPT, { maxNewTokens: 3 }, (tracer) => {
    steps = h[0].all().output[0].save();
    return tracer.cache({ modules: [h[0], "lm_head"] });
  });
  assert.deepEqual(cache.keys(), ["transformer.h.0", "lm_head"]);
  const calls = cache.calls("transformer.h.0");
  assert.deepEqual(calls.map((c) => c.output[0].shape), [[1, 10, 32], [1, 1, 32], [1, 1, 32]]);
  assert.equal(calls[0].inputs, undefined);
  await assertExact(calls[2].output[0], steps.value); // a multi-step save keeps the last step
  assert.ok(Array.isArray(cache.get("lm_head")));
  assert.throws(() => cache.get("transformer.h.1"), /is not cached: cache it with tracer\.cache/);
});

deviceTest("cache: sees the trace's edits, and one invoke's rows", async (device) => {
  const model = await tiny(device);
  const h = model.transformer.h;
  const cache = await model.trace(PROMPT, (tracer) => {
    const c = tracer.cache({ modules: ["transformer.h.0"] });
    h[0].output[0].set(":", 0); // recorded after cache(): the cache still sees it
    return c;
  });
  assert.equal((await flat(one(cache.get("transformer.h.0")).output[0].abs().sum()))[0], 0);
  let c1!: Cache;
  let full!: P;
  await model.trace((tracer) => {
    tracer.invoke(PROMPT, () => {});
    tracer.invoke("Hello", () => {
      c1 = tracer.cache({ modules: ["transformer.h.1"] });
    });
    full = h[1].output[0].save();
  });
  const rows: Tensor = one(c1.get("transformer.h.1")).output[0];
  assert.deepEqual(rows.shape, [1, 10, 32]);
  await assertExact(rows, full.value.get("1:2"));
});

Deno.test("cache: option errors name the fix", async () => {
  const model = await tiny("cpu");
  const bad = (opts: unknown, re: RegExp) =>
    assert.rejects(
      model.trace(PROMPT, (t) => {
        t.cache(opts as Parameters<typeof t.cache>[0]);
      }),
      re,
    );
  await bad({ device: "webgpu" }, /cached values come back on the cpu/);
  await bad({ modules: ["transformer.h.7"] }, /unknown module "transformer\.h\.7"/);
  await bad({ include: true }, /unknown option "include"/);
  let late!: () => void;
  await model.trace(PROMPT, (t) => {
    late = () => t.cache();
  });
  assert.throws(late, /after the trace callback returned/);
});
