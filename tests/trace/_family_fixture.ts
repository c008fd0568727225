// The fixture checks every decoder family runs (reference.json from transformers 4.57.6 in
// float64): module paths and output structures, activations, logits, greedy tokens, per-step
// values collected with .all(), padded batches and the three interventions. Table-driven:
// a family adds one FamilyFixture and calls familyFixtureTests.

import assert from "node:assert/strict";
import { type Device, Tensor, tensor } from "../../engine/mod.ts";
import { BaseModelOutput } from "../../model/outputs.ts";
import type { Module } from "../../model/module.ts";
import { list } from "../../trace/containers.ts";
import type { Envoy } from "../../trace/envoy.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

/** One fixture folder under tests/fixtures and where its family keeps things. */
export interface FamilyFixture {
  /** Folder name: "tiny-llama". */
  name: string;
  /** Whether a decoder layer returns a tuple (GPT-2, NeoX, Gemma 2) rather than a Tensor. */
  layerTuple: boolean;
}

// deno-lint-ignore no-explicit-any
type Json = any;
type P = InterventionProxy;
const TOL = { atol: 1e-4, rtol: 1e-4 };

/** Element 0 of a value that may be a tuple. */
function first(v: unknown): Tensor {
  if (v instanceof Tensor) return v;
  return (v as Tensor[])[0];
}

function kindOf(v: unknown): string {
  if (v instanceof Tensor) return "Tensor";
  if (v instanceof BaseModelOutput) return "BaseModelOutputWithPast";
  if (Array.isArray(v)) return `tuple[${v.map(kindOf).join(", ")}]`;
  return String(v);
}

/** The envoy at a dotted path below the root. */
function envoyAt(model: LanguageModel, path: string): Envoy {
  return path.split(".").reduce(
    (e: Envoy, part) => (/^\d+$/.test(part) ? e.at(Number(part)) : e.child(part)),
    model.envoy,
  );
}

/** Runs one forward pass with hooks recording every module's output, then removes them. */
function captureAll(root: Module, run: () => void): Map<string, unknown> {
  const outs = new Map<string, unknown>();
  const mods = root.namedModules();
  try {
    for (const [p, m] of mods) {
      m.hook = {
        output: (_m, o) => {
          outs.set(p, o);
          return undefined;
        },
      };
    }
    run();
  } finally {
    for (const [, m] of mods) m.hook = null;
  }
  return outs;
}

async function checkLogitSummary(logits: Tensor, exp: Json, rows: number[], msg: string) {
  const [T, V] = logits.shape;
  const data = await logits.data();
  for (const [k, t] of rows.entries()) {
    const row = data.subarray(t * V, (t + 1) * V);
    const order = [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, 5);
    await assertExact(order, exp.top5_ids[k], `${msg} top-5 ids at ${t}`);
    await assertClose(order.map((i) => row[i]), exp.top5_values[k], {
      ...TOL,
      msg: `${msg} top-5 at ${t}`,
    });
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    await assertClose([max + Math.log(sum)], [exp.logsumexp[k]], {
      ...TOL,
      msg: `${msg} logsumexp at ${t}`,
    });
  }
  assert.ok(T >= rows.length);
}

/**
 * Registers the fixture tests of `fx` on every device.
 *
 * @example
 * ```ts ignore
 * familyFixtureTests({ name: "tiny-llama", layerTuple: false });
 * ```
 */
export function familyFixtureTests(fx: FamilyFixture): void {
  const dir = new URL(`../fixtures/${fx.name}/`, import.meta.url);
  const ref: Json = JSON.parse(Deno.readTextFileSync(new URL("reference.json", dir)));
  const cache = new Map<Device, Promise<LanguageModel>>();
  const load = (device: Device) => {
    let m = cache.get(device);
    if (!m) cache.set(device, m = LanguageModel.load(dir.pathname, { device }));
    return m;
  };
  const prompt: number[] = ref.prompt.ids;
  const layersPath = ref.modules.find((m: string[]) => m[1] === "ModuleList")[0] as string;
  const nLayers =
    ref.modules.filter((m: string[]) =>
      new RegExp(`^${layersPath.replace(/\./g, "\\.")}\\.\\d+$`).test(m[0])
    ).length;
  const layer = (model: LanguageModel, i: number) => envoyAt(model, `${layersPath}.${i}`);
  const h0 = (v: P) => (fx.layerTuple ? v[0] : v);

  deviceTest(
    `${fx.name}: module paths resolve with transformers' output structures`,
    async (device) => {
      const model = await load(device);
      const outs = captureAll(model.module, () => {
        model.module.call(tensor([prompt], undefined, { dtype: "int32", device }));
      });
      for (const [path, , kind] of ref.modules as string[][]) {
        assert.ok(model.module.getModule(path), `${path} resolves`);
        assert.ok(envoyAt(model, path), `${path} has an envoy`);
        if (kind === "not called") assert.ok(!outs.has(path), `${path} is not called`);
        else assert.equal(kindOf(outs.get(path)), kind, `${path} returns ${kind}`);
      }
      for (const [path, exp] of Object.entries(ref.forward.activations as Record<string, Json>)) {
        await assertClose(first(outs.get(path)), exp, { ...TOL, msg: `${fx.name} ${path}` });
      }
      const probs = (outs.get(`${layersPath}.0.${model.paths.attention}`) as Tensor[])[1];
      await assertClose(probs, ref.forward.attention_probs_layer0, {
        ...TOL,
        msg: "layer-0 probs",
      });
    },
  );

  Deno.test(`${fx.name}: text needs the folder's tokenizer`, async () => {
    const model = await load("cpu");
    if (ref.prompt.text === undefined) {
      assert.equal(model.hasTokenizer, false);
      await assert.rejects(model.trace("Hello"), /needs a tokenizer, and this model has none/);
      await assert.rejects(model.generate("Hello", { maxNewTokens: 1 }), /needs a tokenizer/);
      assert.deepEqual((await model.trace([prompt]) as Tensor).shape.slice(0, 2), [
        1,
        prompt.length,
      ]);
    } else {
      assert.deepEqual(model.tokenizer.encode(ref.prompt.text), prompt);
    }
  });

  deviceTest(
    `${fx.name}: logits, greedy tokens and per-step values with .all()`,
    async (device) => {
      const model = await load(device);
      const logits = await model.trace(prompt) as Tensor; // (1, T, V)
      const T = prompt.length;
      await checkLogitSummary(
        logits.get(0),
        {
          top5_ids: ref.forward.logits.top5_ids[0],
          top5_values: ref.forward.logits.top5_values[0],
          logsumexp: ref.forward.logits.logsumexp[0],
        },
        [...Array(T).keys()],
        `${fx.name} logits`,
      );
      await assertClose(logits.get(`0, -1`), ref.forward.logits.last_position_full[0], {
        ...TOL,
        msg: "last logits row",
      });
      const steps = ref.greedy.new_tokens.length;
      const hs = list<Tensor>().save();
      const ids = await model.generate(prompt, { maxNewTokens: steps }, () => {
        const last = envoyAt(model, layersPath).at(-1);
        last.all(() => hs.append(h0(last.output).get(":, -1")));
        return model.envoy.child("generator").output;
      }) as Tensor;
      await assertExact(await ids.get(`0, -${steps}:`).data(), ref.greedy.new_tokens, "greedy");
      assert.equal(hs.value.length, steps);
      for (let s = 0; s < steps; s++) {
        await assertClose(hs.value[s].get(0), ref.greedy.last_layer_last_position_per_step[s], {
          ...TOL,
          msg: `last layer at step ${s}`,
        });
      }
    },
  );

  deviceTest(`${fx.name}: each left-padded batch row equals that row alone`, async (device) => {
    const model = await load(device);
    const b = ref.batch;
    const rows: number[][] = b.input_ids.map((r: number[], i: number) =>
      r.filter((_, j) => b.attention_mask[i][j] === 1)
    );
    const width = b.input_ids[0].length;
    const last = list<Tensor>().save();
    const logits = await model.trace(rows, (t) => {
      last.append(h0(layer(model, nLayers - 1).output));
      return t.result; // the model's logits (Gemma 2's softcapped), whatever its head is called
    }) as Tensor;
    for (let i = 0; i < rows.length; i++) {
      const pads = width - rows[i].length;
      await assertClose(
        last.value[0].get(`${i}, ${pads}:`),
        b.last_layer_output[i].slice(pads),
        { ...TOL, msg: `batch row ${i} last layer` },
      );
      await checkLogitSummary(
        logits.get(`${i}, -1:`),
        {
          top5_ids: b.logits_last_position.top5_ids[i],
          top5_values: b.logits_last_position.top5_values[i],
          logsumexp: b.logits_last_position.logsumexp[i],
        },
        [0],
        `batch row ${i}`,
      );
    }
    const n = b.greedy_new_tokens[0].length;
    const out = await model.generate(rows, { maxNewTokens: n });
    for (let i = 0; i < rows.length; i++) {
      await assertExact(await out.get(`${i}, -${n}:`).data(), b.greedy_new_tokens[i], `row ${i}`);
      const alone = await model.generate([rows[i]], { maxNewTokens: n });
      await assertExact(
        await alone.get(`0, -${n}:`).data(),
        b.alone_greedy_new_tokens[i],
        `alone ${i}`,
      );
    }
  });

  deviceTest(`${fx.name}: the three interventions give transformers' tokens`, async (device) => {
    const model = await load(device);
    const iv = ref.interventions;
    const steps = iv.zero_mlp0_every_step.new_tokens.length;
    const mlp0 = () => envoyAt(model, `${layersPath}.0.${model.paths.mlp}`);
    const run = async (fn: () => void) => {
      const ids = await model.generate(prompt, { maxNewTokens: steps }, () => {
        fn();
        return model.envoy.child("generator").output;
      }) as Tensor;
      return await ids.get(`0, -${steps}:`).data();
    };
    await assertExact(
      await run(() => mlp0().all(() => mlp0().output.set(":", 0))),
      iv.zero_mlp0_every_step.new_tokens,
      "zero mlp0 every step",
    );
    await assertExact(
      await run(() => mlp0().iter(iv.zero_mlp0_steps_2_4.steps, () => mlp0().output.set(":", 0))),
      iv.zero_mlp0_steps_2_4.new_tokens,
      "zero mlp0 steps 2-4",
    );
    const steer = tensor(ref.steering_vector, undefined, { device });
    const l1 = () => layer(model, 1);
    await assertExact(
      await run(() =>
        l1().all(() => {
          if (fx.layerTuple) l1().output.set(0, l1().output[0].add(steer));
          else l1().output = l1().output.add(steer);
        })
      ),
      iv.steer_layer1_every_step.new_tokens,
      "steer layer 1",
    );
  });
}
