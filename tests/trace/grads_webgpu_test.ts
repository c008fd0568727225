// `.grad` and `backward()` in a trace of tiny-gpt2 on webgpu: the layer-output gradients match
// transformers (grads.json), a gradient edit applies, and the live-buffer count is back at its
// start afterwards (the tape and the backward pass's temporaries are freed).

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import { initWebGPU, liveBuffers } from "../../engine/webgpu/mod.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { FIXTURE, type Json } from "../model/_tiny_gpt2.ts";

type P = InterventionProxy;
const ready = await initWebGPU();
const gpu = ready ? await LanguageModel.load(FIXTURE.pathname, { device: "webgpu" }) : null!;
const grads: Json = JSON.parse(await Deno.readTextFile(new URL("grads.json", FIXTURE)));

Deno.test({
  name: "webgpu trace: .grad after backward() matches transformers, edits apply, nothing left",
  ignore: !ready,
  fn: async () => {
    const paths = Object.keys(grads.grads);
    const { a, b } = grads.metric;
    const run = async (zeroLayer1: boolean) => {
      const gs: P[] = [];
      const before = liveBuffers();
      await gpu.trace(grads.prompt_ids, () => {
        for (let i = 0; i < paths.length; i++) {
          if (zeroLayer1 && i === 1) gpu.transformer.h[i].output[0].grad.set(":", 0);
          gs.push(gpu.transformer.h[i].output[0].grad.save());
        }
        const logits = gpu.lm_head.output;
        logits.get(`0, -1, ${a}`).sub(logits.get(`0, -1, ${b}`)).backward();
      });
      assert.equal(liveBuffers(), before, "live buffers after a backward trace");
      return gs.map((g) => g.value as Tensor);
    };
    const gs = await run(false);
    for (const [i, path] of paths.entries()) {
      assert.equal(gs[i].device, "cpu");
      await assertClose(gs[i].get("0"), grads.grads[path], { atol: 1e-4, rtol: 1e-3, msg: path });
    }
    const edited = await run(true);
    const sums = grads.grad_edit_zero_layer1.grads_abs_sum;
    for (const [i, path] of paths.entries()) {
      await assertClose([edited[i].abs().sum().dataSync()[0]], [sums[path]], {
        atol: 1e-4,
        rtol: 1e-3,
        msg: path,
      });
    }
    for (const p of gpu.module.parameters()) assert.equal(p.needsGrad, false);
  },
});
