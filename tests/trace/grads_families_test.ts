// `.grad` in traces on every family the project loads (both GPT-NeoX residual forms), on every
// device: each decoder layer's gradient of a logit difference agrees with central finite
// differences of that metric (along the gradient and a random direction) and with grads.json.

import assert from "node:assert/strict";
import { randn, type Tensor } from "../../engine/mod.ts";
import type { Envoy } from "../../trace/envoy.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

type P = InterventionProxy;
/** The tolerance for float32 gradients. */
const GRAD = { atol: 1e-4, rtol: 1e-3 };
const EPS = 1e-2;
const FIXTURES = [
  "tiny-gpt2",
  "tiny-llama",
  "tiny-mistral",
  "tiny-qwen2",
  "tiny-qwen3",
  "tiny-gemma2",
  "tiny-gemma3",
  "tiny-gpt-neox",
  "tiny-gpt-neox-serial",
  "tiny-olmo2",
  "tiny-phi3",
];

/** The spacing of float32 numbers at `x`. */
function ulp(x: number): number {
  return 2 ** (Math.floor(Math.log2(Math.abs(x))) - 23);
}

/** The envoy at a dotted path below the root. */
function envoyAt(model: LanguageModel, path: string): Envoy {
  return path.split(".").reduce(
    (e: Envoy, part) => (/^\d+$/.test(part) ? e.at(Number(part)) : e.child(part)),
    model.envoy,
  );
}

/** A fixture's prompt ids and the top-2 ids at its last position (transformers' logits). */
async function promptOf(dir: URL): Promise<{ ids: number[]; a: number; b: number }> {
  const read = async (f: string) => JSON.parse(await Deno.readTextFile(new URL(f, dir)));
  const ref = await read("reference.json");
  if (ref.prompt?.ids) {
    const [a, b] = ref.forward.logits.top5_ids[0].at(-1);
    return { ids: ref.prompt.ids, a, b };
  }
  const g = await read("grads.json"); // tiny-gpt2's reference.json predates prompt.ids
  return { ids: g.prompt_ids, a: g.metric.a, b: g.metric.b };
}

for (const name of FIXTURES) {
  deviceTest(
    `family grads: ${name}: every layer's .grad agrees with finite differences`,
    async (device) => {
      const dir = new URL(`../fixtures/${name}/`, import.meta.url);
      const { ids, a, b } = await promptOf(dir);
      const model = await LanguageModel.load(dir.pathname, { device });
      const { layers, lmHead, layerReturnsTuple } = model.paths;
      const n = model.module.getModule(layers)!.children().length;
      const hidden = (i: number): P => {
        const out = envoyAt(model, `${layers}.${i}`).output;
        return layerReturnsTuple ? out[0] : out;
      };
      const metric = (): P => {
        const logits = envoyAt(model, lmHead).output;
        return logits.get(`0, -1, ${a}`).sub(logits.get(`0, -1, ${b}`));
      };
      const gs: P[] = [];
      let top!: P;
      await model.trace(ids, () => {
        for (let i = 0; i < n; i++) gs.push(hidden(i).grad.save());
        metric().backward();
        top = envoyAt(model, lmHead).output.get("0, -1").abs().max().save();
      });
      // These fixtures' logits are large (up to thousands), so float32 rounds the metric to a
      // spacing of ulp(max |logit|): a finite difference holds to a few of those over 2 EPS.
      const noise = 4 * ulp((top.value as Tensor).dataSync()[0]) / (2 * EPS);
      for (let i = 0; i < n; i++) {
        const g = gs[i].value as Tensor; // (1, T, C)
        assert.ok(g.abs().sum().dataSync()[0] > 0, `${layers}.${i}: a nonzero gradient`);
        const r = randn(g.shape, { seed: 11 + i });
        for (const [what, d] of [["the gradient", g], ["a random direction", r]] as const) {
          const v = d.div(d.mul(d).sum().sqrt()); // (1, T, C), unit length
          const at = async (s: number) => {
            const m = await model.trace(ids, () => {
              hidden(i).set(":", hidden(i).add(v.mul(s)));
              return metric();
            }) as Tensor;
            return (await m.data())[0];
          };
          const fd = ((await at(EPS)) - (await at(-EPS))) / (2 * EPS);
          const dot = g.mul(v).sum().dataSync()[0];
          assert.ok(
            Math.abs(dot - fd) <= GRAD.atol + GRAD.rtol * Math.abs(fd) + noise,
            `${name} ${layers}.${i} along ${what}: gradient . v = ${dot}, finite differences ${fd} (float32 rounding allows ${noise})`,
          );
        }
      }
    },
  );
}

// Where a fixture has transformers' float64 gradients (grads.json; tiny-llama's were made with
// unrounded rotary frequencies, hence dtype float32), every device matches them.
for (const [name, load] of [["tiny-gpt2", {}], ["tiny-llama", { dtype: "float32" }]] as const) {
  deviceTest(`family grads: ${name}: layer gradients match grads.json`, async (device) => {
    const dir = new URL(`../fixtures/${name}/`, import.meta.url);
    const grads = JSON.parse(await Deno.readTextFile(new URL("grads.json", dir)));
    const model = await LanguageModel.load(dir.pathname, { ...load, device });
    const { layers, lmHead, layerReturnsTuple } = model.paths;
    const gs: P[] = [];
    await model.trace(grads.prompt_ids, () => {
      for (const path of Object.keys(grads.grads)) {
        const out = envoyAt(model, path).output;
        gs.push((layerReturnsTuple ? out[0] : out).grad.save());
      }
      const logits = envoyAt(model, lmHead).output;
      logits.get(`0, -1, ${grads.metric.a}`).sub(logits.get(`0, -1, ${grads.metric.b}`))
        .backward();
    });
    for (const [i, path] of Object.keys(grads.grads).entries()) {
      assert.ok(path.startsWith(layers));
      await assertClose((gs[i].value as Tensor).get("0"), grads.grads[path], {
        ...GRAD,
        msg: path,
      });
    }
  });
}
