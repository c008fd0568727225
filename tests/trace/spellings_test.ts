// nnsight 0.7's spellings beside 0.4's on tiny-gpt2: tracer.iter/all/next/result, envoy.get,
// modules and namedModules, a ModuleList's .output, and weights read in a trace as copies
// (nnsight's test_parameter_protocol, _result and _safety, with nnsight 0.4.11's numbers).

import assert from "node:assert/strict";
import type { Tensor } from "../../engine/mod.ts";
import { list } from "../../trace/containers.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import type { Json } from "../model/_tiny_gpt2.ts";
import { nnsight, PROMPT, tiny, TOL } from "./_nnsight_flow.ts";

type P = InterventionProxy;

deviceTest(
  "tracer.iter/all/next select generation steps like model.iter/all/next",
  async (device) => {
    const model = await tiny(device);
    const streamer = model.generator.streamer;
    const viaTracer = list<Tensor>(), viaModel = list<Tensor>(), every = list<Tensor>();
    let second!: P, secondModel!: P;
    const ids = await model.generate(PROMPT, { maxNewTokens: 6 }, (t) => {
      t.iter("2:5", () => viaTracer.append(model.lm_head.output.argmax(-1)));
      model.iter("2:5", () => viaModel.append(model.lm_head.output.argmax(-1)));
      t.all(() => every.append(model.lm_head.output));
      t.next();
      second = model.lm_head.output.save();
      secondModel = streamer.output.save(); // the cursor moved for every module
      return t.result;
    });
    assert.equal(viaTracer.value.length, 3);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await viaTracer.value[i].toArray(), await viaModel.value[i].toArray());
    }
    assert.equal(every.value.length, 6);
    assert.deepEqual(second.value.shape, [1, 1, 50257]);
    await assertClose(second.value, every.value[1], { atol: 0, rtol: 0 });
    assert.deepEqual(ids.shape, [1, 16]);
    assert.deepEqual(secondModel.value.shape, [1, 1]);
  },
);

deviceTest(
  "tracer.iter over a collection calls back per item; tracer.result is the root output",
  async (device) => {
    const model = await tiny(device);
    const seen: [number, number][] = [];
    const out = await model.trace(PROMPT, (t) => {
      const hs = [0, 2].map((i) => model.transformer.h[i].output[0].get("0, -1, 0"));
      t.iter([0, 2], (layer, i) => void seen.push([layer, i]));
      return { hs, result: t.result, root: model.output };
    });
    assert.deepEqual(seen, [[0, 0], [2, 1]]);
    await assertClose(out.result, out.root, { atol: 0, rtol: 0 });
    assert.deepEqual(out.result.shape, [1, 10, 50257]);
    await assert.rejects(
      model.trace(PROMPT, (t) => t.iter(model.lm_head.output as unknown as number[], () => {})),
      /tracer\.iter\(\) over a value of the running model is not supported/,
    );
    await assert.rejects(
      model.trace(PROMPT, (t) => t.iter({} as unknown as number[], () => {})),
      /tracer\.iter\(\) takes a step \(3\), a slice \("2:5"\) or a collection/,
    );
  },
);

Deno.test("envoy.get, modules and namedModules walk the tree; a ModuleList's .output names its items", async () => {
  const model = await tiny("cpu");
  assert.equal(model.get("transformer.h.0.mlp").path, "transformer.h.0.mlp");
  assert.equal(model.get("transformer.h.-1").path, "transformer.h.2");
  assert.equal(model.transformer.get("h.1.attn").path, "transformer.h.1.attn");
  assert.equal(model.get("").path, "");
  assert.throws(() => model.get("transformer.hh"), /Unknown module "transformer\.hh"/);
  const named = model.namedModules();
  assert.equal(named[0][0], "");
  assert.deepEqual(
    named.map(([p]) => p),
    model.module.namedModules().map(([p]) => p),
  );
  const mlp = model.transformer.h[0].mlp;
  assert.deepEqual(
    mlp.modules().map((e) => e.path),
    [
      "transformer.h.0.mlp",
      "transformer.h.0.mlp.c_fc",
      "transformer.h.0.mlp.act",
      "transformer.h.0.mlp.c_proj",
      "transformer.h.0.mlp.dropout",
    ].filter((p) => model.module.getModule(p)),
  );
  assert.deepEqual(
    model.modules((e) => e.path.endsWith(".mlp")).map((e) => e.path),
    ["transformer.h.0.mlp", "transformer.h.1.mlp", "transformer.h.2.mlp"],
  );
  await assert.rejects(
    model.trace(PROMPT, () => model.transformer.h.output),
    /"transformer\.h" is a list of modules and is never called itself, so it has no \.output: read its items' \(transformer\.h\.0 to transformer\.h\.2\)/,
  );
});

deviceTest(
  "weights in a trace are copies with nnsight 0.4.11's values; editing one leaves the model",
  async (device) => {
    const model = await tiny(device);
    const ref: Json = (await nnsight()).param;
    const c_proj = model.transformer.h[0].mlp.c_proj;
    let w!: P, b!: P, manual!: P, real!: P;
    await model.trace(PROMPT, () => {
      w = c_proj.weight.save();
      b = c_proj.bias.save();
      const x = c_proj.input;
      manual = x.reshape(-1, x.shape.get(-1)).matmul(c_proj.weight).add(c_proj.bias).save();
      real = c_proj.output.save();
    });
    await assertClose(w.value.get("0, :4"), ref.weight_first_4, TOL);
    await assertClose(b.value.get(":4"), ref.bias_first_4, TOL);
    assert.notEqual(
      w.value,
      model.module.getModule("transformer.h.0.mlp.c_proj")!.parameter("weight"),
    );
    await assertClose(manual.value.reshape(...real.value.shape), real.value, TOL);
    const edited = await model.trace(PROMPT, () => {
      c_proj.weight.set(":", 0);
      return c_proj.output.get("0, -1, :4");
    });
    const clean = await model.trace(PROMPT, () => c_proj.output.get("0, -1, :4"));
    await assertClose(edited, ref.output_after_zeroing_copy_last_4, TOL);
    await assertClose(clean, ref.output_clean_last_4, TOL);
    await assert.rejects(
      model.trace(PROMPT, () => model.transformer.h[0].mlp.weight),
      /Module "transformer\.h\.0\.mlp" has no parameter "weight": it has none of its own/,
    );
  },
);
