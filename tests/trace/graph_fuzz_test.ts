// Fuzzing model.run: a seeded generator mutates requests recorded from real traces of the tiny
// GPT-2 (refs, ops, paths, kinds, steps, invokes, args, modes, inputs, outputs, prototype keys,
// deep nesting, huge numbers). Each case must be refused with a named error, or be a benign
// mutation with the unmutated result; after each, no hooks, same weights, tokens, prototypes.
// TSIGHT_FUZZ_CASES=N runs N cases (default 2000, a few seconds).

import assert from "node:assert/strict";
import { Tensor } from "../../engine/mod.ts";
import { list } from "../../trace/containers.ts";
import {
  GraphLimitError,
  GraphValidationError,
  InterventionError,
  MissingValueError,
} from "../../trace/errors.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { TraceRequest } from "../../trace/nnsight.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { FIXTURE } from "../model/_tiny_gpt2.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
type P = InterventionProxy;
type Expect = "reject" | "benign";
// Short prompts: the lm_head's [T, 32] x [32, 50257] product is most of a run's time.
const PROMPT = "The Eiffel Tower";
const CASES = Number(Deno.env.get("TSIGHT_FUZZ_CASES") ?? 2000);
const SEED = Number(Deno.env.get("TSIGHT_FUZZ_SEED") ?? 8);

const model = await LanguageModel.load(FIXTURE.pathname, { device: "cpu" });
const h = model.transformer.h;

/** The requests the fuzzer starts from: each recorded from a real trace. */
function bases(): TraceRequest[] {
  const gen = { kind: "generate" as const, options: { maxNewTokens: 2 } };
  return [
    model.record(() => ({
      last: h[0].output[0].get(":, -1").mul(2),
      top: model.lm_head.output.get("0, -1").argmax(),
      shape: h[1].output[0].shape,
    }), { input: PROMPT }),
    model.record(() => {
      h[1].mlp.output.set(":", 0);
      return model.lm_head.output.get(":, -1").softmax(-1).topk(3).values;
    }, { input: PROMPT }),
    model.record(() => {
      const hs = list().save();
      h.all(() => hs.append(h[-1].output[0].sum(-1)));
      return { ids: model.generator.output, hs };
    }, { input: [464, 412, 6775], mode: gen }),
    model.record((t) => {
      let clean!: P, patched!: P;
      t.invoke(PROMPT, () => {
        clean = h[1].output[0].get(":, -1").save();
      });
      t.invoke("The Colosseum", () => {
        h[1].output[0].set(":, -1", clean);
        patched = model.lm_head.output.get(":, -1").argmax(-1).save();
      });
      return { patched };
    }),
    model.record(() => {
      const o = h[2].output;
      h[2].output = [o[0].mul(1)];
      const lens = model.lm_head.call(model.transformer.ln_f.output).get(":, -1").argmax(-1);
      return { lens, attn: h[0].attn.attn_dropout.output.get("0, 0").sum(-1) };
    }, { input: PROMPT }),
  ].map((r) => JSON.parse(JSON.stringify(r)));
}

/** mulberry32: a small seeded generator. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE_NAMES = [
  "constructor",
  "__proto__",
  "prototype",
  "call",
  "apply",
  "bind",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "dataSync",
  "dispose",
  "data",
  "asView",
  "storage",
  "backend",
  "then",
  "eval",
  "",
  "sum ",
  "Function",
  "globalThis",
];
const HOSTILE_VALUES: Json[] = [
  null,
  true,
  "x",
  -1,
  0.5,
  1e308,
  2 ** 53,
  -(2 ** 31) - 1,
  {},
  [],
  { $ref: "0" },
  { $number: "1e400" },
  { $tensor: { dtype: "float64", shape: [1], data: [1] } },
  { $what: 1 },
  { __proto__: null, constructor: 1 },
];
const HOSTILE_PATHS: Json[] = [
  "transformer.h.99",
  "__proto__",
  "constructor",
  "transformer..h",
  "transformer.h.0.",
  ".lm_head",
  "transformer/h/0",
  5,
  null,
  "x".repeat(600),
];
const HOSTILE_STEPS: Json[] = [
  { kind: "at", step: -1 },
  { kind: "at", step: 0.5 },
  { kind: "at", step: 1e300 },
  { kind: "at", step: "0" },
  { kind: "every" },
  { kind: "range", start: 0, stop: null, step: 0 },
  { kind: "range", start: 3, stop: 1, step: 1 },
  { kind: "set", steps: [2, 1] },
  { kind: "set", steps: [] },
  { kind: "at", step: 0, extra: 1 },
  null,
  "all",
];

function deep(n: number, leaf: Json = 1): Json {
  let v = leaf;
  for (let i = 0; i < n; i++) v = [v];
  return v;
}

/** Paths to every `{"$ref": n}` in `v`, as [holder, key]. */
function refsIn(v: Json, out: [Json, string | number][] = []): [Json, string | number][] {
  if (Array.isArray(v)) {
    v.forEach((x, i) => (x?.$ref !== undefined ? out.push([v, i]) : refsIn(x, out)));
  } else if (v && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      if ((x as Json)?.$ref !== undefined) out.push([v, k]);
      else refsIn(x, out);
    }
  }
  return out;
}

/** One mutation of a deep copy of `base`, and what the run must do with it. */
function mutate(base: TraceRequest, r: () => number): { req: Json; expect: Expect; what: string } {
  const req: Json = structuredClone(base);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const nodes: Json[] = req.graph.nodes;
  const node = () => pick(nodes);
  const nodeOf = (op: string) => pick(nodes.filter((n) => n.op === op));
  const getters = nodes.filter((n) => n.op === "getter");
  const calls = nodes.filter((n) => n.op === "call");
  const reject = (what: string) => ({ req, expect: "reject" as const, what });
  const benign = (what: string) => ({ req, expect: "benign" as const, what });
  // Runs are what cost time: 5% benign mutations and 2% huge sizes run the model; the rest
  // must be refused by validation.
  const roll = r();
  const kind = roll < 0.05
    ? 21 + Math.floor(r() * 5)
    : roll < 0.07
    ? 18
    : pick([...Array(18).keys(), 19, 20]);
  switch (kind) {
    case 0:
      req.format = pick(["tsight-request v0", "", null, 1, "TSIGHT-REQUEST V1"]);
      return reject("format");
    case 1:
      req.mode = pick([
        { kind: "train" },
        { kind: "__proto__" },
        { kind: 5 },
        {},
        null,
        "trace",
        { kind: "trace", options: { [pick(["beams", "__proto__", "logitstokeep"])]: 1 } },
        { kind: "trace", options: { logitsToKeep: pick([-1, 0.5, "1", null]) } },
        { kind: "generate", options: { maxNewTokens: pick(["5", -1, 1e9, 0.5, null]) } },
        {
          kind: "generate",
          options: { [pick(["beams", "constructor", "__proto__", "maxnewtokens"])]: 1 },
        },
        { kind: "generate", options: { temperature: pick([0, -1, "1"]) } },
      ]);
      return reject("mode");
    case 2:
      req.inputs = pick([
        [],
        {},
        null,
        "Hello",
        [[]],
        [[2 ** 32 + 464]],
        [[-1]],
        [[0.5]],
        [[50257]],
        [{
          a: 1,
        }],
        [true],
        [deep(40)],
        [Array(65).fill(1)],
        [""],
      ]);
      return reject("inputs");
    case 3:
      node()[pick(["extra", "Op", "__proto__", "id", "deps", "multi", "init"])] = 1;
      return reject("unknown node field");
    case 4:
      node().op = pick([
        "apply",
        "constructor",
        "__proto__",
        "eval",
        "",
        "Getter",
        "execute",
        7,
        null,
      ]);
      return reject("op");
    case 5: {
      const refs = nodes.flatMap((n, i) => refsIn(n.args).map((x) => [i, x] as const));
      if (refs.length === 0) break;
      const [i, [holder, k]] = pick(refs);
      holder[k] = pick([
        { $ref: i },
        { $ref: i + 1 + Math.floor(r() * 5) },
        { $ref: -1 },
        {
          $ref: 0.5,
        },
        { $ref: "0" },
        { $ref: 2 ** 60 },
        { $ref: 0, x: 1 },
      ]);
      return reject("ref");
    }
    case 6: {
      if (!calls.length) break;
      pick(calls).args[1] = pick(HOSTILE_NAMES);
      return reject("method name");
    }
    case 7: {
      const n = node();
      if (n.op === "getattr" || n.op === "getitem" || n.op === "dictset") {
        n.args[1] = pick(["constructor", "__proto__", "prototype", "toString", "storage"]);
        return reject("property or key");
      }
      // More arguments than any op or method takes (dims: at most 16).
      n.args.push(...Array(19 + Math.floor(r() * 20)).fill(1));
      if (n.op !== "log" && n.op !== "module") return reject("arity");
      // Logs and module calls take any arguments: make it a call of a module that is not there.
      n.op = "module";
      n.args = ["transformer.h.99", ...n.args];
      return reject("module path in args");
    }
    case 8: {
      const withNum = calls.filter((c) => c.args.slice(2).some((a: Json) => typeof a === "number"));
      if (!withNum.length) break;
      const c = pick(withNum);
      const i = c.args.findIndex((a: Json, j: number) => j >= 2 && typeof a === "number");
      c.args[i] = pick([null, "2", [], {}, true, deep(3), { $undefined: true, x: 1 }]);
      return reject("argument kind");
    }
    case 9:
      nodeOf("getter").kind = pick(["outputs", "Output", "", 5, null, "__proto__", "grad"]);
      return reject("getter kind");
    case 10:
      nodeOf("getter").path = pick(HOSTILE_PATHS);
      return reject("module path");
    case 11:
      nodeOf("getter").steps = structuredClone(pick(HOSTILE_STEPS));
      return reject("steps");
    case 12:
      node().invoke = pick([req.inputs.length, req.inputs.length + 7, -2, 0.5, "0", null, 1e300]);
      return reject("invoke");
    case 13: {
      const i = Math.floor(r() * nodes.length);
      nodes[i][pick(["cond", "after"])] = pick([[i], [i + 1], [-1], [0.5], "0", 3, [null]]);
      return reject("cond/after");
    }
    case 14:
      node().saved = pick(["yes", 1, 0, null, []]);
      return reject("saved");
    case 15: {
      const unsaved = nodes.findIndex((n) => !n.saved);
      req.output = pick([
        { $ref: nodes.length },
        { $ref: nodes.length + 100 },
        { x: { $ref: -3 } },
        ...(unsaved >= 0 ? [{ $ref: unsaved }] : []),
        { $bad: 1 },
      ]);
      return reject("output");
    }
    case 16: {
      const where = pick(["args", "output", "options", "inputs"]);
      const evil = JSON.parse(
        `{"${pick(["__proto__", "constructor", "prototype"])}": {"polluted": 1}}`,
      );
      if (where === "args") node().args.push(evil);
      else if (where === "output") req.output = { a: req.output, b: evil };
      else if (where === "options") req.mode = { kind: "generate", options: evil };
      else req.inputs = [evil];
      return reject(`prototype key in ${where}`);
    }
    case 17: {
      const where = pick(["args", "output", "inputs", "options"]);
      const d = deep(33 + Math.floor(r() * 3000));
      if (where === "args") node().args.push(d);
      else if (where === "output") req.output = d;
      else if (where === "inputs") req.inputs = [d];
      else req.mode = { kind: "generate", options: { maxNewTokens: d } };
      return reject(`deep nesting in ${where}`);
    }
    case 18: {
      // Huge sizes: refused by the work budget before anything is allocated.
      const g = getters.find((n) => n.kind === "output" && /h\.\d$/.test(n.path));
      if (!g) break;
      const id = nodes.indexOf(g);
      const big = pick([[3e6, 10, 32], [1e9, 1, 1, 32], [4e4, 1e4]]);
      const e = nodes.push({ op: "getitem", args: [{ $ref: id }, 0] }) - 1;
      const x = nodes.push({ op: "call", args: [{ $ref: e }, "expand", ...big] }) - 1;
      nodes.push({ op: "call", args: [{ $ref: x }, "sum"], saved: true });
      req.output = { $ref: nodes.length - 1 };
      return reject("huge expand");
    }
    case 19:
      node().args.push(
        pick(
          HOSTILE_VALUES.filter((v) =>
            v && typeof v === "object" && !Array.isArray(v) &&
            Object.keys(v).some((k) => k.startsWith("$"))
          ),
        ),
      );
      return reject("bad tag");
    case 20:
      req.graph = pick([null, [], { format: "tsight-graph v1" }, { format: "x", nodes }, {
        format: "tsight-graph v1",
        nodes,
        extra: 1,
      }, { format: "tsight-graph v1", nodes: {} }]);
      return reject("graph");
    case 21: {
      // Benign: explicit defaults.
      const n = node();
      if (n.saved === undefined) n.saved = false;
      if (n.invoke === undefined) n.invoke = -1;
      if (n.cond === undefined && n.op !== "getter" && n.op !== "result") n.cond = [];
      if (n.after === undefined) n.after = [];
      return benign("explicit defaults");
    }
    case 22:
      node().saved = true;
      return benign("saved flag added");
    case 23: {
      // Benign: `after` on what a node already depends on.
      const withRefs = nodes.map((n, i) => [i, refsIn(n.args)] as const).filter(([, x]) =>
        x.length
      );
      if (!withRefs.length) break;
      const [i, refs] = pick(withRefs);
      const [holder, k] = pick(refs);
      nodes[i].after = [...(nodes[i].after ?? []), holder[k].$ref];
      return benign("after on a dependency");
    }
    case 24: {
      // Benign: step k written as the range [k, k+1).
      const g = getters.filter((n) => n.steps.kind === "at");
      if (!g.length) break;
      const s = pick(g);
      s.steps = { kind: "range", start: s.steps.step, stop: s.steps.step + 1, step: 1 };
      return benign("step as a range");
    }
    case 25: {
      // Benign: keys of every node in another order.
      req.graph.nodes = nodes.map((n) => Object.fromEntries(Object.entries(n).reverse()));
      return benign("key order");
    }
  }
  return mutate(base, r);
}

const NAMED = [GraphValidationError, GraphLimitError, InterventionError, MissingValueError];

async function same(a: unknown, b: unknown, at = "output"): Promise<void> {
  if (a instanceof Tensor || b instanceof Tensor) {
    assert.ok(a instanceof Tensor && b instanceof Tensor, `${at}: tensor vs ${typeof a}`);
    assert.deepEqual(a.shape, b.shape, at);
    assert.deepEqual([...await a.data()], [...await b.data()], at);
  } else if (Array.isArray(a)) {
    assert.ok(Array.isArray(b) && a.length === b.length, at);
    for (let i = 0; i < a.length; i++) await same(a[i], b[i], `${at}[${i}]`);
  } else if (a && typeof a === "object") {
    assert.deepEqual(Object.keys(a), Object.keys(b as object), at);
    for (const k of Object.keys(a)) {
      await same((a as Json)[k], (b as Json)[k], `${at}.${k}`);
    }
  } else assert.deepEqual(a, b, at);
}

/** Own property names and values of the built-ins a graph could patch. */
function builtins(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const objs: [string, object][] = [
    ["Object.prototype", Object.prototype],
    ["Array.prototype", Array.prototype],
    ["Function.prototype", Function.prototype],
    ["String.prototype", String.prototype],
    ["Number.prototype", Number.prototype],
    ["Promise.prototype", Promise.prototype],
    ["Float32Array.prototype", Float32Array.prototype],
    ["Math", Math],
    ["JSON", JSON],
    ["Tensor.prototype", Tensor.prototype],
    ["globalThis", globalThis],
  ];
  for (const [name, o] of objs) {
    for (const k of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, k)!;
      out.set(`${name}.${String(k)}`, d.get ?? d.set ?? d.value);
    }
    out.set(`${name} [[Prototype]]`, Object.getPrototypeOf(o));
  }
  return out;
}

/** Each weight's storage version (bumped by every in-place write) and a strided sample. */
function weightSample(): number[] {
  return model.module.namedParameters().flatMap(([, w]) => {
    const d = w.storage.buf as Float32Array;
    let s = 0;
    for (let i = 0; i < d.length; i += 61) s += d[i];
    return [w.storage.version, s];
  });
}

function weightSum(): number[] {
  return model.module.namedParameters().map(([, w]) => {
    let s = 0;
    for (const x of w.dataSync()) s += x;
    return s;
  });
}

async function greedy(): Promise<number> {
  return await (await model.trace([464])).get("0, -1").argmax().item();
}

Deno.test(`fuzz: ${CASES} mutated requests are refused with a named error or run unchanged`, async () => {
  const base = bases();
  const want: unknown[] = [];
  for (const b of base) want.push((await model.run(structuredClone(b))).output);
  const protos = builtins();
  const weights = weightSum(), sample = weightSample();
  const storages = model.module.namedParameters().map(([, w]) => w.storage);
  const tokens = await greedy();
  let forwards = 0;
  const root = model.module as unknown as { forward: (...a: unknown[]) => unknown };
  const forward = root.forward;
  root.forward = function (...a: unknown[]) {
    forwards++;
    return forward.apply(this, a);
  };
  const counts: Record<string, number> = {};
  const bump = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const r = rng(SEED);
  const t0 = performance.now();
  try {
    for (let c = 0; c < CASES; c++) {
      const b = Math.floor(r() * base.length);
      const { req, expect, what } = mutate(base[b], r);
      const label = `case ${c} (base ${b}, ${what})`;
      const before = forwards;
      let ran = true;
      try {
        const { output } = await model.run(req);
        assert.equal(expect, "benign", `${label} ran; it must be refused`);
        await same(output, want[b]);
        bump("benign, same result");
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        const named = NAMED.find((k) => e instanceof k);
        if (!named || expect !== "reject") {
          throw new Error(`${label}: ${expect} mutation ended in ${e}`, { cause: e });
        }
        ran = forwards !== before;
        if (e instanceof GraphValidationError) {
          assert.equal(forwards, before, `${label}: the model ran before validation failed`);
        }
        bump(`${(e as Error).name}${ran ? " while running" : " before running"}`);
      }
      for (const [path, m] of model.module.namedModules()) {
        assert.equal(m.hook, null, `${label}: hook on ${path}`);
      }
      assert.deepEqual(
        model.module.namedParameters().map(([, w]) => w.storage),
        storages,
        `${label}: a weight was replaced`,
      );
      assert.deepEqual(weightSample(), sample, `${label}: weights changed`);
      const now = builtins();
      for (const [k, v] of protos) assert.equal(now.get(k), v, `${label}: ${k} changed`);
      assert.equal(now.size, protos.size, `${label}: a built-in property was added`);
      if (ran) assert.equal(await greedy(), tokens, `${label}: the greedy token changed`);
    }
  } finally {
    root.forward = forward;
    delete (root as Partial<typeof root>).forward;
  }
  assert.deepEqual(weightSum(), weights, "weights changed");
  assert.equal(await greedy(), tokens);
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  assert.equal(total, CASES);
  console.log(
    `fuzz: ${CASES} cases (seed ${SEED}) in ${((performance.now() - t0) / 1000).toFixed(1)} s:`,
    JSON.stringify(counts),
  );
  assert.ok(counts["benign, same result"] > 0 && counts["GraphValidationError before running"] > 0);
});
