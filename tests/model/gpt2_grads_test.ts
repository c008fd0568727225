// GPT-2 gradients against transformers (tests/fixtures/tiny-gpt2/grads.json, float64): the
// gradient of a logit difference with respect to every layer's output (captured through module
// hooks and the tape's registerHook), parameter gradients, a gradient edit, attribution patching.

import assert from "node:assert/strict";
import { keep, noGrad, type Tensor, tensor, zeroGrad } from "../../engine/mod.ts";
import type { GPT2LMHeadModel } from "../../model/gpt2/model.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import { assertClose, type Tolerance } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import { FIXTURE, hidden, ids, type Json, tinyModel } from "./_tiny_gpt2.ts";

/** The fixture README's tolerance for a float32 implementation. */
const GRAD: Tolerance = { atol: 1e-4, rtol: 1e-3 };
const LAYERS = ["transformer.h.0", "transformer.h.1", "transformer.h.2"];
const grads: Json = JSON.parse(await Deno.readTextFile(new URL("grads.json", FIXTURE)));
const model = await tinyModel();

/**
 * Runs the metric logits[0, -1, a] - logits[0, -1, b] on `prompt` and its backward pass,
 * with hooks capturing each layer's output[0] and its gradient; `edit` may replace the
 * gradient arriving at a layer. Returns the metric, the outputs and the gradients (T, C).
 */
function run(
  m: GPT2LMHeadModel,
  prompt: number[],
  edit: Record<string, (g: Tensor) => Tensor> = {},
): { metric: number; outs: Map<string, Tensor>; grads: Map<string, Tensor> } {
  const outs = new Map<string, Tensor>(), gs = new Map<string, Tensor>();
  const mods = LAYERS.map((p) => m.getModule(p)!);
  try {
    for (const mod of mods) {
      mod.hook = {
        output: (md, out) => {
          const h = hidden(out); // (1, T, C)
          outs.set(md.path, h);
          h.registerHook((g) => {
            const e = edit[md.path]?.(g) ?? g;
            gs.set(md.path, e.clone());
            return e;
          });
          return undefined;
        },
      };
    }
    const logits = m.call(ids([prompt])) as Tensor; // (1, T, V)
    const { a, b } = grads.metric;
    const metric = logits.get(`0, -1, ${a}`).sub(logits.get(`0, -1, ${b}`));
    const value = metric.dataSync()[0];
    metric.backward();
    return { metric: value, outs, grads: gs };
  } finally {
    for (const mod of mods) mod.hook = null;
  }
}

Deno.test("GPT-2: the metric's gradient at every layer output and at the listed parameters matches transformers", async () => {
  model.requiresGrad();
  try {
    const r = run(model, grads.prompt_ids);
    assert.ok(
      Math.abs(r.metric - grads.metric.value) <= 1e-4 + 1e-3 * Math.abs(grads.metric.value),
    );
    for (const path of LAYERS) {
      await assertClose(r.grads.get(path)!.get("0"), grads.grads[path], { ...GRAD, msg: path });
    }
    const params = new Map(model.namedParameters());
    for (const [path, exp] of Object.entries(grads.param_grads) as [string, Json][]) {
      const g = params.get(path)!.grad!;
      assert.deepEqual(g.shape, exp.shape, path);
      const d = g.dataSync();
      let sum = 0, abs = 0;
      for (const v of d) {
        sum += v;
        abs += Math.abs(v);
      }
      await assertClose(d.slice(0, 8), exp.first8, { ...GRAD, msg: `${path} first8` });
      await assertClose([abs], [exp.abs_sum], { ...GRAD, msg: `${path} abs_sum` });
      await assertClose([sum], [exp.sum], { atol: 1e-4 + 1e-6 * exp.abs_sum, msg: `${path} sum` });
    }
    // The tied LM head adds into the one wte.weight gradient: no separate lm_head gradient.
    assert.equal(params.has("lm_head.weight"), false);
  } finally {
    zeroGrad(model.parameters());
    model.requiresGrad(false);
  }
});

/**
 * Makes the layer outputs need a gradient without any parameter requiring one: the embeddings'
 * sum becomes a leaf through a hook on the dropout after them.
 */
function fromEmbeddings<R>(fn: () => R): R {
  const drop = model.getModule("transformer.drop")!;
  drop.hook = { output: (_m, out) => (out as Tensor).detach().requiresGrad() };
  try {
    return fn();
  } finally {
    drop.hook = null;
  }
}

Deno.test("GPT-2: zeroing the gradient at layer 1 stops it reaching earlier layers", () => {
  const edit = grads.grad_edit_zero_layer1;
  const r = fromEmbeddings(() => run(model, grads.prompt_ids, { [edit.edited]: (g) => g.mul(0) }));
  for (const path of LAYERS) {
    const abs = r.grads.get(path)!.abs().sum().dataSync()[0];
    const exp = edit.grads_abs_sum[path];
    assert.ok(Math.abs(abs - exp) <= 1e-4 + 1e-3 * exp, `${path}: ${abs} != ${exp}`);
  }
});

Deno.test("GPT-2: attribution patching (clean, corrupted) matches transformers", async () => {
  const ap = grads.attribution_patching;
  const clean = new Map<string, Tensor>();
  noGrad(() => {
    const mods = LAYERS.map((p) => model.getModule(p)!);
    try {
      for (const m of mods) m.hook = { output: (md, out) => void clean.set(md.path, hidden(out)) };
      model.call(ids([ap.clean_ids]));
    } finally {
      for (const m of mods) m.hook = null;
    }
  });
  const r = fromEmbeddings(() => run(model, ap.corrupted_ids));
  assert.ok(Math.abs(r.metric - ap.metric_on_corrupted) <= 1e-4 + 1e-3 * ap.metric_on_corrupted);
  for (const [i, path] of LAYERS.entries()) {
    const attr = clean.get(path)!.sub(r.outs.get(path)!).mul(r.grads.get(path)!).sum(-1).get("0");
    await assertClose(attr, ap.per_layer_per_position[i], { ...GRAD, msg: path });
  }
});

deviceTest("GPT-2: layer-output and parameter gradients on every device", async (device) => {
  const m = (await LanguageModel.load(FIXTURE.pathname, { device })).module.requiresGrad();
  const gs = new Map<string, Tensor>();
  for (const path of LAYERS) {
    m.getModule(path)!.hook = {
      output: (md, out) => {
        // A hook that stores a gradient keeps it: the backward pass frees its temporaries.
        hidden(out).registerHook((g) => void gs.set(md.path, keep(g.clone())));
        return undefined;
      },
    };
  }
  try {
    const logits = m.call(tensor([grads.prompt_ids], undefined, { dtype: "int32", device }));
    const { a, b } = grads.metric;
    const metric = (logits as Tensor).get(`0, -1, ${a}`).sub((logits as Tensor).get(`0, -1, ${b}`));
    metric.backward();
    for (const path of LAYERS) {
      await assertClose(gs.get(path)!.get("0"), grads.grads[path], { ...GRAD, msg: path });
    }
    const wpe = new Map(m.namedParameters()).get("transformer.wpe.weight")!;
    const exp = grads.param_grads["transformer.wpe.weight"].first8;
    await assertClose((await wpe.grad!.data()).slice(0, 8), exp, { ...GRAD, msg: "wpe first8" });
  } finally {
    for (const path of LAYERS) m.getModule(path)!.hook = null;
    for (const g of gs.values()) g.dispose();
    m.zeroGrad();
  }
});
