// Tracing Gemma 2 and GPT-NeoX through LanguageModel on every device: `.all()` collects the
// fixtures' per-step last-layer values, and the three interventions written as nnsight code
// (`.all()`, `.iter()`, `set`) give the reference tokens.

import { type Device, type Tensor, tensor } from "../../engine/mod.ts";
import { list } from "../../trace/containers.ts";
import type { Envoy } from "../../trace/envoy.ts";
import type { EnvoyList } from "../../trace/envoys/common.ts";
import type { Gemma2Envoys } from "../../trace/envoys/gemma2.ts";
import type { GPTNeoXEnvoys } from "../../trace/envoys/gpt_neox.ts";
import type { Olmo2Envoys } from "../../trace/envoys/olmo2.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
/** A layer envoy with `.mlp` (both families' layers have one). */
type LayerEnvoy = Envoy & { readonly mlp: Envoy };

/** The model, its layers, and the hidden state in a layer's output (element 0 of a 1-tuple or the Tensor). */
type Loaded = {
  model: LanguageModel & { generator: Envoy };
  layers: EnvoyList<LayerEnvoy>;
  hidden: (layer: Envoy) => Envoy["output"];
};
const element0 = (layer: Envoy) => layer.output[0];
const gemma2 = async (dir: string, device: Device): Promise<Loaded> => {
  const model = await LanguageModel.load<Gemma2Envoys>(dir, { device });
  return { model, layers: model.model.layers, hidden: element0 };
};
const neox = async (dir: string, device: Device): Promise<Loaded> => {
  const model = await LanguageModel.load<GPTNeoXEnvoys>(dir, { device });
  return { model, layers: model.gpt_neox.layers, hidden: element0 };
};
const olmo2 = async (dir: string, device: Device): Promise<Loaded> => {
  const model = await LanguageModel.load<Olmo2Envoys>(dir, { device });
  return { model, layers: model.model.layers, hidden: (layer) => layer.output };
};
const CASES: [string, (dir: string, device: Device) => Promise<Loaded>][] = [
  ["tiny-gemma2", gemma2],
  ["tiny-gpt-neox", neox],
  ["tiny-gpt-neox-serial", neox],
  ["tiny-olmo2", olmo2],
];

for (const [name, loadCase] of CASES) {
  const dir = new URL(`../fixtures/${name}`, import.meta.url).pathname;
  const ref: Json = JSON.parse(await Deno.readTextFile(`${dir}/reference.json`));
  const prompt: number[] = ref.prompt.ids;
  const T = prompt.length;

  deviceTest(
    `${name}: .all() collects the per-step last-layer values; greedy tokens`,
    async (device) => {
      const { model, layers, hidden } = await loadCase(dir, device);
      const steps = list<Tensor>().save();
      const ids = await model.generate([prompt], { maxNewTokens: 8 }, () => {
        layers[-1].all(() => steps.append(hidden(layers[-1]).get(":, -1")));
        return model.generator.output;
      });
      await assertExact(ids.get(`0, ${T}:`), ref.greedy.new_tokens, "greedy");
      await assertExact([steps.value.length], [8], "steps");
      for (let s = 0; s < 8; s++) {
        await assertClose(steps.value[s], [ref.greedy.last_layer_last_position_per_step[s]], {
          atol: 1e-4,
          rtol: 1e-4,
          msg: `step ${s}`,
        });
      }
    },
  );

  deviceTest(`${name}: interventions written with all(), iter() and set()`, async (device) => {
    const { model, layers, hidden } = await loadCase(dir, device);
    const iv = ref.interventions;
    const zeroAll = await model.generate([prompt], { maxNewTokens: 8 }, () => {
      layers[0].mlp.all(() => layers[0].mlp.output.set(":", 0));
      return model.generator.output;
    });
    await assertExact(zeroAll.get(`0, ${T}:`), iv.zero_mlp0_every_step.new_tokens, "zero all");
    const zeroSome = await model.generate([prompt], { maxNewTokens: 8 }, () => {
      layers[0].mlp.iter([2, 3, 4], () => layers[0].mlp.output.set(":", 0));
      return model.generator.output;
    });
    await assertExact(zeroSome.get(`0, ${T}:`), iv.zero_mlp0_steps_2_4.new_tokens, "zero 2-4");
    const vector = tensor(ref.steering_vector, undefined, { device });
    const steered = await model.generate([prompt], { maxNewTokens: 8 }, () => {
      layers[1].all(() => {
        const h = hidden(layers[1]);
        h.set(":", h.add(vector));
      });
      return model.generator.output;
    });
    await assertExact(steered.get(`0, ${T}:`), iv.steer_layer1_every_step.new_tokens, "steer");
  });
}
