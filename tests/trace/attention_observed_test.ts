// Attention weights and the fused kernel, per family: a trace that reads an attention module's
// output gets the eager probabilities (equal to transformers' layer-0 pattern); modules no trace
// observes run the fused kernel (counted) and the model's outputs do not change.

import assert from "node:assert/strict";
import { type Device, getBackend, type Kernels, type Tensor } from "../../engine/mod.ts";
import type { Envoy } from "../../trace/envoy.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

function envoyAt(model: LanguageModel, path: string): Envoy {
  return path.split(".").reduce(
    (e: Envoy, part) => (/^\d+$/.test(part) ? e.at(Number(part)) : e.child(part)),
    model.envoy,
  );
}

/** Runs `fn` counting the fused attention kernel's calls on `device`. */
async function countFused<T>(device: Device, fn: () => Promise<T>): Promise<[T, number]> {
  const kernels: Kernels = getBackend(device).kernels;
  const orig = kernels.attention;
  let n = 0;
  kernels.attention = (...args) => {
    n++;
    orig(...args);
  };
  try {
    return [await fn(), n];
  } finally {
    kernels.attention = orig;
  }
}

/** [fixture folder, whether a decoder layer returns a tuple]. */
const FAMILIES: [string, boolean][] = [
  ["tiny-gpt2", true],
  ["tiny-llama", false],
  ["tiny-gemma2", true],
  ["tiny-gemma3", true],
  ["tiny-gpt-neox", true],
  ["tiny-olmo2", false],
  ["tiny-phi3", false],
];

for (const [name, tuple] of FAMILIES) {
  deviceTest(
    `${name}: attention weights are eager when observed, fused otherwise`,
    async (device) => {
      const dir = new URL(`../fixtures/${name}/`, import.meta.url);
      const ref: Json = JSON.parse(await Deno.readTextFile(new URL("reference.json", dir)));
      const model = await LanguageModel.load(dir.pathname, { device });
      const layersPath = model.paths.layers;
      const nLayers = model.shape.numLayers;
      const last = envoyAt(model, `${layersPath}.${nLayers - 1}`);
      const attn0 = envoyAt(model, `${layersPath}.0.${model.paths.attention}`);
      const h = (v: InterventionProxy) => (tuple ? v[0] : v);
      // tiny-gpt2's reference.json predates the family format: its case "eiffel" holds the same.
      const eiffel = ref.cases?.eiffel;
      const prompt: number[] = ref.prompt?.ids ?? eiffel.input_ids[0];
      const want = ref.forward?.attention_probs_layer0 ??
        eiffel.activations[`${layersPath}.0.attn.attn_probs`];

      const [plain, fusedPlain] = await countFused(device, async () => {
        let out!: InterventionProxy;
        await model.trace([prompt], () => {
          out = h(last.output).save();
        });
        return out.value as Tensor;
      });
      assert.equal(fusedPlain, nLayers, "every attention module used the fused kernel");

      const [[probs, hidden], fusedObserved] = await countFused(device, async () => {
        let w!: InterventionProxy, out!: InterventionProxy;
        await model.trace([prompt], () => {
          w = attn0.output[1].save();
          out = h(last.output).save();
        });
        return [w.value as Tensor | null, out.value as Tensor];
      });
      assert.equal(fusedObserved, nLayers - 1, "the observed module ran eagerly");
      assert.ok(probs !== null, "observed attention weights are the probabilities");
      await assertClose(probs, want, {
        atol: 1e-4,
        rtol: 1e-4,
        msg: `${name} layer-0 probabilities`,
      });
      await assertClose(hidden, plain, { atol: 1e-5, rtol: 1e-5, msg: "fused vs eager outputs" });
      if (name === "tiny-gpt2") {
        // GPT-2's pattern is also attn_dropout's output: observing that alone keeps attn eager.
        const [, n] = await countFused(device, () =>
          model.trace([prompt], () => {
            attn0.child("attn_dropout").output.save();
          }));
        assert.equal(n, nLayers - 1, "observing attn_dropout keeps its attention eager");
      }
    },
  );
}
