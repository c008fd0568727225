// A serialised request is untrusted input: the Function-constructor attack of issue 8, each
// malformed field named by a GraphValidationError, the limits (depth, nodes, work budget), the
// tuple-replacement error, and what a torch/nnsight user types (issue 9) on the tiny GPT-2.

import assert from "node:assert/strict";
import { tensor } from "../../engine/mod.ts";
import { GraphLimitError, GraphValidationError, InterventionError } from "../../trace/errors.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { TraceRequest } from "../../trace/nnsight.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { FIXTURE } from "../model/_tiny_gpt2.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
const PROMPT = "The Eiffel Tower is in the city of";
const model = await LanguageModel.load(FIXTURE.pathname, { device: "cpu" });
const g = globalThis as Record<string, unknown>;

function request(nodes: Json[], output: Json = null, extra: Json = {}): TraceRequest {
  return {
    format: "tsight-request v1",
    mode: { kind: "trace" },
    inputs: [PROMPT],
    graph: { format: "tsight-graph v1", nodes },
    output,
    ...extra,
  };
}

function noHooks(): void {
  for (const [path, m] of model.module.namedModules()) assert.equal(m.hook, null, path);
}

Deno.test("security: the Function-constructor graph of issue 8 is refused before it runs", async () => {
  delete g.__pwned;
  const attack = request([
    { op: "list", args: [] },
    { op: "getattr", args: [{ $ref: 0 }, "constructor"] },
    { op: "call", args: [{ $ref: 1 }, "constructor", "globalThis.__pwned = 1; return 1"] },
    { op: "call", args: [{ $ref: 2 }, "call"], saved: true },
  ], { $ref: 3 });
  await assert.rejects(
    () => model.run(JSON.parse(JSON.stringify(attack))),
    (e) =>
      e instanceof GraphValidationError && e.nodeId === 1 && e.field === "args[1]" &&
      /Node %1 args\[1\] is "constructor": allowed is shape, dtype/.test(e.message),
  );
  // The same reach through every other door: a method call, a module path, container keys.
  const getter = {
    op: "getter",
    args: [],
    path: "lm_head",
    kind: "output",
    steps: { kind: "at", step: 0 },
  };
  const doors: [Json[], RegExp][] = [
    [
      [getter, { op: "call", args: [{ $ref: 0 }, "constructor", "x"] }],
      /args\[1\] is "constructor": allowed is a Tensor method/,
    ],
    [[getter, { op: "call", args: [{ $ref: 0 }, "__proto__"] }], /args\[1\] is "__proto__"/],
    [[getter, { op: "call", args: [{ $ref: 0 }, "dataSync"] }], /args\[1\] is "dataSync"/],
    [[getter, { op: "getattr", args: [{ $ref: 0 }, "backend"] }], /args\[1\] is "backend"/],
    [
      [{ op: "module", args: ["constructor"] }],
      /Node %0 args\[0\] is "constructor": allowed is the path of a module/,
    ],
    [
      [{ op: "dict", args: [] }, { op: "dictset", args: [{ $ref: 0 }, "__proto__", 1] }],
      /args\[1\] is "__proto__"/,
    ],
    [
      [{ op: "dict", args: [] }, { op: "getitem", args: [{ $ref: 0 }, "constructor"] }],
      /args\[1\] is "constructor"/,
    ],
    [[{ op: "apply", args: [] }], /op is "apply": allowed is an op JSON can carry/],
    [
      [JSON.parse('{"op": "log", "args": [{"__proto__": 1}]}')],
      /Node %0 args\[0\].__proto__ is "__proto__"/,
    ],
  ];
  for (const [nodes, msg] of doors) {
    await assert.rejects(() => model.run(JSON.parse(JSON.stringify(request(nodes)))), (e) => {
      assert.ok(e instanceof GraphValidationError, String(e));
      assert.match(e.message, msg);
      return true;
    });
  }
  assert.equal(g.__pwned, undefined);
  noHooks();
});

Deno.test("security: each malformed field is named with what was found and what is allowed", async () => {
  const at0 = { kind: "at", step: 0 };
  const h0 = { op: "getter", args: [], path: "transformer.h.0", kind: "output", steps: at0 };
  const cases: [TraceRequest, RegExp][] = [
    [{ ...request([]), format: "v0" }, /^Request format is "v0": allowed is "tsight-request v1"$/],
    [
      request([], null, { mode: { kind: "train" } }),
      /Request mode.kind is "train": allowed is "trace" or "generate"/,
    ],
    [
      request([], null, { mode: { kind: "generate", options: { maxNewTokens: "5" } } }),
      /mode.options.maxNewTokens is "5": allowed is an integer/,
    ],
    [
      request([], null, { mode: { kind: "generate", options: { beams: 2 } } }),
      /mode.options.beams is "beams": allowed is an option of generate\(\): maxNewTokens/,
    ],
    [
      request([], null, { inputs: [] }),
      /Request inputs is \[\]: allowed is a list of one or more inputs/,
    ],
    [
      request([], null, { inputs: [[2 ** 32 + 464]] }),
      /Request inputs\[0\] is 4294967760: allowed is token ids: integers in \[0, 50257\)/,
    ],
    [
      request([], null, { inputs: [{ a: 1 }] }),
      /Request inputs\[0\] is \{"a":1\}: allowed is text, texts, token ids/,
    ],
    [
      request([{ ...h0, kind: "outputs" }]),
      /Node %0 kind is "outputs": allowed is "input", "inputs" or "output"/,
    ],
    [
      request([{ ...h0, path: "transformer.h.9" }]),
      /Node %0 path is "transformer.h.9": allowed is the path of a module of this model/,
    ],
    [
      request([{ ...h0, steps: { kind: "at", step: -1 } }]),
      /Node %0 steps.step is -1: allowed is an integer >= 0/,
    ],
    [
      request([{ ...h0, steps: { kind: "range", start: 0, stop: null, step: 0 } }]),
      /steps.step is 0: allowed is an integer >= 1/,
    ],
    [request([{ ...h0, steps: { kind: "every" } }]), /steps.kind is "every"/],
    [
      request([{ ...h0, invoke: 1 }]),
      /Node %0 invoke is 1: allowed is -1 \(the whole batch\) or an invoke index below 1/,
    ],
    [
      request([h0, { op: "getitem", args: [{ $ref: 0 }, 0], cond: [1] }]),
      /Node %1 cond\[0\] is a reference to %1: allowed is a reference to an earlier node \(%0 to %0\)/,
    ],
    [
      request([h0, { op: "getitem", args: [{ $ref: 0 }, 0], saved: "yes" }]),
      /Node %1 saved is "yes": allowed is true or false/,
    ],
    [
      request([h0, { op: "getitem", args: [{ $ref: 0 }, 0], extra: 1 }]),
      /Node %1 extra is "extra": allowed is a node field/,
    ],
    [request([h0, { op: "eval", args: [] }]), /Node %1 op is "eval": allowed is a node op/],
    [
      request([h0, { op: "call", args: [{ $ref: 0 }, "add"] }]),
      /Node %1 args is "0 method arguments": allowed is 1 argument/,
    ],
    [
      request([h0, { op: "call", args: [{ $ref: 0 }, "sum", "x"] }]),
      /Node %1 args\[2\] is "x": allowed is an integer \(sum\(int\?, bool\?\)\)/,
    ],
    [
      request([h0, { op: "swap", args: [0, 1] }]),
      /Node %1 args\[0\] is 0: allowed is a reference to a getter/,
    ],
    [
      request([h0, { op: "getitem", args: [{ $ref: 0 }, { $number: "1e3" }] }]),
      /args\[1\].\$number is "1e3"/,
    ],
    [
      request([h0, {
        op: "getitem",
        args: [{ $ref: 0 }, { $tensor: { dtype: "float32", shape: [2], data: [1] } }],
      }]),
      /args\[1\].\$tensor.data is "1 numbers": allowed is 2 numbers/,
    ],
    [
      request([{ ...h0, saved: true }], { $ref: 3 }),
      /Request output is a reference to %3: allowed is a reference to a node of the graph/,
    ],
    [
      request([h0], { $ref: 0 }),
      /Request output is a reference to %0: allowed is a reference to a saved node/,
    ],
  ];
  for (const [req, msg] of cases) {
    await assert.rejects(() => model.run(JSON.parse(JSON.stringify(req))), (e) => {
      assert.ok(e instanceof GraphValidationError, `${msg}: ${e}`);
      assert.match(e.message, msg);
      return true;
    });
  }
  noHooks();
});

Deno.test("limits: nesting, node count and the work budget end in GraphLimitError", async () => {
  let deep: Json = 1;
  for (let i = 0; i < 100_000; i++) deep = [deep];
  await assert.rejects(
    () => model.run(request([{ op: "log", args: [deep] }])),
    (e) => e instanceof GraphLimitError && e.limit === "maxDepth" && e.max === 32,
  );
  await assert.rejects(
    () => model.run(request([], deep)),
    /Request output\[0\]\[0\].* is nested deeper than maxDepth 32/,
  );
  const many = Array.from({ length: 11 }, () => ({ op: "list", args: [] }));
  await assert.rejects(
    () => model.run(request(many), { maxNodes: 10 }),
    /The graph has 11 nodes, more than maxNodes 10/,
  );
  // expand(3e6, 10, 32).sum() is refused before anything is allocated.
  const big = model.record(
    () => model.transformer.h[0].output[0].expand(3e6, 10, 32).sum().save(),
    { input: PROMPT },
  );
  const t0 = performance.now();
  await assert.rejects(() => model.run(JSON.parse(JSON.stringify(big))), (e) => {
    assert.ok(e instanceof GraphLimitError, String(e));
    assert.equal(e.limit, "maxBytes");
    assert.equal(e.found, 3e6 * 10 * 32 * 4);
    assert.match(
      e.message,
      /Node %2 .*expand\(3000000, 10, 32\): expand\(\) would make or read 3840000000 bytes, more than maxBytes 1073741824/,
    );
    return true;
  });
  assert.ok(performance.now() - t0 < 2000, "refused at once");
  noHooks();
  // The budget is an option; a small one refuses the model's own logits too.
  const small = model.record(() => model.transformer.h[0].output[0].mul(2).save(), {
    input: PROMPT,
  });
  await assert.rejects(
    () => model.run(small, { maxBytes: 1000 }),
    /bytes of logits, more than maxBytes 1000/,
  );
  await assert.rejects(
    () => model.run(small, { maxNodes: -1 }),
    /Limit maxNodes is -1: it must be a number > 0/,
  );
  const ok = await model.run(small, { maxBytes: 2 ** 24 });
  const direct = await model.trace(PROMPT, () => model.transformer.h[0].output[0].mul(2));
  await assertClose(ok.output, direct, { atol: 0, rtol: 0 });
});

Deno.test("swap: replacing a tuple output with a tensor names the expected structure", async () => {
  await assert.rejects(
    () =>
      model.trace(PROMPT, () => {
        model.transformer.h[0].output = tensor([1]);
        return model.lm_head.output;
      }),
    (e) => {
      assert.ok(e instanceof InterventionError, String(e));
      assert.match(
        e.message,
        /transformer.h.0.output is a tuple of \d items \(a Tensor \[1, 10, 32\].*\), so its replacement must be a tuple of \d items, got a Tensor \[1\]/,
      );
      return true;
    },
  );
  noHooks();
  // The whole tuple with a new first element works.
  const out = await model.trace(PROMPT, () => {
    const o = model.transformer.h[0].output;
    model.transformer.h[0].output = [o[0].mul(1)];
    return model.lm_head.output;
  });
  await assertClose(out, await model.trace(PROMPT), { atol: 0, rtol: 0 });
});

Deno.test("user spellings: EnvoyList iterates, trace(undefined, fn), proxy property errors", async () => {
  const h = model.transformer.h;
  const paths: string[] = [];
  for (const block of h) paths.push(block.path);
  assert.deepEqual(paths, ["transformer.h.0", "transformer.h.1", "transformer.h.2"]);
  assert.equal(h.length, 3);
  assert.equal(h.at(-1).path, "transformer.h.2");
  assert.deepEqual(h.map((b, i) => `${i}:${b.attn.path}`), [
    "0:transformer.h.0.attn",
    "1:transformer.h.1.attn",
    "2:transformer.h.2.attn",
  ]);
  assert.throws(
    () => [...model.transformer.wte as unknown as Iterable<unknown>],
    /"transformer.wte" is not a list of modules, so it cannot be iterated/,
  );

  const fn = (t: { invoke(x: unknown, f: () => void): void }) => {
    let out!: InterventionProxy;
    t.invoke(PROMPT, () => {
      out = model.lm_head.output.save();
    });
    return out;
  };
  await assertClose(await model.trace(undefined, fn), await model.trace(fn), { atol: 0, rtol: 0 });

  await model.trace(PROMPT, () => {
    const p = model.transformer.h[0].output[0] as unknown as Record<string, unknown>;
    assert.throws(() => p[":, -1"], /has no property ":, -1": to index, write .get\(":, -1"\)/);
    assert.throws(
      () => p.foo,
      /has no method or property "foo".*to read key "foo" of an object value, write .get\("foo"\)/,
    );
    assert.throws(() => p.sumx, /did you mean "sum"\?/);
    assert.throws(() => p.constructor, /has no method or property "constructor"/);
    assert.throws(
      () => (p.add as () => unknown)(),
      /add\(\) takes 1 argument \(add\(tensorlike\)\), got 0 method arguments/,
    );
    assert.throws(
      () => (p.sum as (x: unknown) => unknown)("x"),
      /sum\(\): argument 1 is "x": it must be an integer/,
    );
  });
  noHooks();
});
