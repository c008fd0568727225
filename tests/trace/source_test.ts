// `.source`: the points inside attention and MLP forwards (q, k, v, scores, probs, context, act)
// read, saved and edited like module outputs on tiny-gpt2 and tiny-llama, checked against the
// fixtures (transformers' attention probabilities, MLP activations, attention outputs).

import assert from "node:assert/strict";
import { type Device, type Tensor, tensor, zeros } from "../../engine/mod.ts";
import { attend, attentionBias } from "../../model/layers/attention.ts";
import { list } from "../../trace/containers.ts";
import { Graph } from "../../trace/graph.ts";
import {
  type GPT2LanguageModel,
  LanguageModel,
  type LlamaLanguageModel,
} from "../../trace/language_model.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";
import { ACT, FIXTURE, type Json, reference } from "../model/_tiny_gpt2.ts";

type P = InterventionProxy;
const PROMPT = "The Eiffel Tower is in the city of";
const LLAMA = new URL("../fixtures/tiny-llama/", import.meta.url);
const LLAMA_REF: Json = JSON.parse(Deno.readTextFileSync(new URL("reference.json", LLAMA)));
const EXACT = { atol: 0, rtol: 0 };

const gpt2s = new Map<Device, Promise<GPT2LanguageModel>>();
function gpt2(device: Device): Promise<GPT2LanguageModel> {
  let m = gpt2s.get(device);
  if (!m) gpt2s.set(device, m = LanguageModel.load(FIXTURE.pathname, { device }));
  return m;
}
const llamas = new Map<Device, Promise<LlamaLanguageModel>>();
function llama(device: Device): Promise<LlamaLanguageModel> {
  let m = llamas.get(device);
  if (!m) {
    llamas.set(device, m = LanguageModel.load<LlamaLanguageModel>(LLAMA.pathname, { device }));
  }
  return m;
}

deviceTest("source: gpt2 points equal the fixture and the modules around them", async (device) => {
  const model = await gpt2(device);
  const ref: Json = (await reference()).cases.eiffel.activations;
  for (const i of [0, 2]) {
    const attn = model.transformer.h[i].attn, mlp = model.transformer.h[i].mlp;
    const s = await model.trace(PROMPT, () => ({
      q: attn.source.q.output,
      k: attn.source.k.output,
      v: attn.source.v.output,
      scores: attn.source.scores.output,
      probs: attn.source.probs.output,
      context: attn.source.context.output,
      pattern: attn.attn_dropout.output,
      cProjIn: attn.c_proj.input,
      projected: attn.c_proj.call(attn.source.context.output),
      act: mlp.source.act.output,
    }));
    const msg = `h.${i}`;
    assert.deepEqual(s.q.shape, [1, 4, 10, 8]);
    assert.deepEqual(s.scores.shape, [1, 4, 10, 10]);
    assert.deepEqual(s.context.shape, [1, 10, 32]);
    await assertClose(s.probs.get("0"), ref[`transformer.h.${i}.attn.attn_probs`], ACT);
    await assertClose(s.scores.softmax(-1), s.probs, { atol: 1e-6, rtol: 1e-5, msg });
    await assertClose(s.pattern, s.probs, { ...EXACT, msg: `${msg} pattern` });
    await assertClose(s.cProjIn, s.context, { ...EXACT, msg: `${msg} c_proj input` });
    await assertClose(s.projected.get("0"), ref[`transformer.h.${i}.attn`], ACT);
    await assertClose(s.act.get("0"), ref[`transformer.h.${i}.mlp.act`], ACT);
    // q | k | v are c_attn's output split into heads: (T, 3C) -> 3 x (nh, T, hs).
    const qkv = tensor(ref[`transformer.h.${i}.attn.c_attn`], undefined, { device });
    for (const [j, name] of (["q", "k", "v"] as const).entries()) {
      const exp = qkv.get(`:, ${j * 32}:${(j + 1) * 32}`).reshape(10, 4, 8).transpose(0, 1);
      await assertClose(s[name].get("0"), exp, { ...ACT, msg: `${msg} ${name}` });
    }
  }
});

deviceTest(
  "source: llama q, k, v reproduce transformers' attention probabilities",
  async (device) => {
    const model = await llama(device);
    const ids = tensor([LLAMA_REF.prompt.ids], undefined, { dtype: "int32", device });
    const attn = model.model.layers[0].self_attn;
    const s = await model.trace(ids, () => ({
      q: attn.source.q.output,
      k: attn.source.k.output,
      v: attn.source.v.output,
      probs: attn.source.probs.output,
      context: attn.source.context.output,
      out: attn.output[0],
      act: model.model.layers[0].mlp.source.act.output,
      downIn: model.model.layers[0].mlp.down_proj.input,
    }));
    // Grouped kv heads: 4 query heads, 2 key/value heads, before the heads are shared.
    assert.deepEqual([s.q.shape, s.k.shape, s.v.shape], [[1, 4, 11, 8], [1, 2, 11, 8], [
      1,
      2,
      11,
      8,
    ]]);
    const probsRef = LLAMA_REF.forward.attention_probs_layer0;
    const tol = { atol: 1e-4, rtol: 1e-4 };
    await assertClose(s.probs, probsRef, { ...tol, msg: "probs point" });
    // Saved values come back on the cpu; run the checks on the model's device.
    const [y, p] = attend(s.q.to(device), s.k.to(device), s.v.to(device), {
      scale: 8 ** -0.5,
      bias: attentionBias(1, 11, 0, undefined, device),
    });
    await assertClose(p, probsRef, { ...tol, msg: "probs from the q, k, v points" });
    await assertClose(y.transpose(1, 2).reshape(1, 11, 32), s.context, { ...tol, msg: "context" });
    const oProj = model.module.getModule("model.layers.0.self_attn.o_proj")!;
    await assertClose(oProj.callUntyped(s.context.to(device)) as Tensor, s.out, {
      ...EXACT,
      msg: "o_proj",
    });
    await assertClose(s.out, LLAMA_REF.forward.activations["model.layers.0.self_attn"], tol);
    await assertClose(s.act, s.downIn, { ...EXACT, msg: "act is down_proj's input" });
  },
);

deviceTest("source: editing a point changes what follows it", async (device) => {
  const model = await gpt2(device);
  const attn = model.transformer.h[1].attn;
  const bias = model.module.getModule("transformer.h.1.attn.c_proj")!.parameter("bias");
  // Zero probabilities in place: the heads mix nothing, so attn's output is c_proj's bias.
  const [out, probs] = await model.trace(PROMPT, () => {
    attn.source.probs.output.set(":", 0);
    return [attn.output[0], attn.attn_dropout.output];
  });
  await assertClose(out, bias.reshape(1, 1, 32).expand([1, 10, 32]), { ...EXACT, msg: "out" });
  await assertClose(probs, zeros([1, 4, 10, 10], { device }), EXACT);
  // Replacing a point: the same as replacing the module input it feeds.
  const viaPoint = await model.trace(PROMPT, () => {
    attn.source.context.output = zeros([1, 10, 32], { device });
    return model.lm_head.output;
  });
  const viaModule = await model.trace(PROMPT, () => {
    attn.c_proj.input = zeros([1, 10, 32], { device });
    return model.lm_head.output;
  });
  await assertClose(viaPoint, viaModule, { ...EXACT, msg: "context = 0 vs c_proj.input = 0" });
  const plain = await model.trace(PROMPT, () => model.lm_head.output);
  assert.ok(
    Math.abs(await plain.sub(viaPoint).abs().max().item()) > 1e-3,
    "the edit changes logits",
  );
  // An edit of q is seen by scores: scaling q by 2 doubles the (unmasked) scores.
  const s1 = await model.trace(PROMPT, () => attn.source.scores.output);
  const doubled = await model.trace(PROMPT, () => {
    attn.source.q.output = attn.source.q.output.mul(2);
    return attn.source.scores.output;
  });
  const causal = (t: Tensor) => t.get("0, :, -1"); // last query sees every key
  await assertClose(causal(doubled), causal(s1).mul(2), { atol: 1e-5, rtol: 1e-5 });
});

deviceTest("source: points during generate, per step with .all() and .next()", async (device) => {
  const model = await gpt2(device);
  const attn = model.transformer.h[0].attn;
  const ks = list<Tensor>(), probs = list<Tensor>();
  let q1!: P;
  await model.generate(PROMPT, { maxNewTokens: 3 }, () => {
    attn.source.k.all(() => ks.append(attn.source.k.output));
    attn.all(() => probs.append(attn.source.probs.output));
    q1 = attn.source.q.next().output.save();
  });
  assert.deepEqual(ks.value.map((x) => x.shape), [[1, 4, 10, 8], [1, 4, 1, 8], [1, 4, 1, 8]]);
  assert.deepEqual(probs.value.map((x) => x.shape), [[1, 4, 10, 10], [1, 4, 1, 11], [1, 4, 1, 12]]);
  assert.deepEqual(q1.value.shape, [1, 4, 1, 8]);
  for (const p of probs.value) await assertClose(p.sum(-1), p.sum(-1).mul(0).add(1), ACT);
  // Zeroing the context at every step generates what zeroing c_proj's input does.
  const gen = (edit: () => void) =>
    model.generate(PROMPT, { maxNewTokens: 4 }, (t) => {
      model.transformer.h[2].all(edit);
      return t.result;
    });
  const a = await gen(() => {
    const c = model.transformer.h[2].attn.source.context.output;
    c.set(":", 0);
  });
  const b = await gen(() => {
    model.transformer.h[2].attn.c_proj.input.set(":", 0);
  });
  assert.deepEqual(await a.toArray(), await b.toArray());
});

deviceTest("source: .grad of a point is the gradient of the input it feeds", async (device) => {
  const model = await gpt2(device);
  const attn = model.transformer.h[1].attn;
  let viaPoint!: P, viaModule!: P, probsGrad!: P;
  await model.trace(PROMPT, () => {
    viaPoint = attn.source.context.output.grad.save();
    viaModule = attn.c_proj.input.grad.save();
    probsGrad = attn.source.probs.output.grad.save();
    model.lm_head.output.get("0, -1, 0").backward();
  });
  assert.deepEqual(viaPoint.value.shape, [1, 10, 32]);
  await assertClose(viaPoint.value, viaModule.value, { ...EXACT, msg: "context .grad" });
  assert.deepEqual(probsGrad.value.shape, [1, 4, 10, 10]);
  assert.ok((await probsGrad.value.abs().sum().item()) > 0, "probs get a gradient");
});

deviceTest("source: an invoke sees and edits only its own rows of a point", async (device) => {
  const model = await gpt2(device);
  const attn = model.transformer.h[0].attn;
  const bias = model.module.getModule("transformer.h.0.attn.c_proj")!.parameter("bias");
  const got: P[] = [];
  await model.trace((t) => {
    t.invoke(PROMPT, () => void got.push(attn.source.probs.output.save(), attn.output[0].save()));
    t.invoke(PROMPT, () => {
      attn.source.probs.output = attn.source.probs.output.mul(0);
      got.push(attn.output[0].save());
    });
  });
  const [probs, kept, zeroed] = got.map((p) => p.value as Tensor);
  assert.deepEqual(probs.shape, [1, 4, 10, 10]);
  const alone = await model.trace(PROMPT, () => attn.output[0]);
  await assertClose(kept, alone, { ...ACT, msg: "invoke 0 is untouched" });
  await assertClose(zeroed, bias.reshape(1, 1, 32).expand([1, 10, 32]), { ...EXACT, msg: "1" });
});

Deno.test("source: unknown points, inputs and graph JSON", async () => {
  const model = await gpt2("cpu");
  await assert.rejects(
    model.trace(PROMPT, () => model.transformer.h[0].attn.source.prob.output),
    (e: Error) =>
      e instanceof RangeError &&
      e.message.includes("q, k, v, scores, probs, context") && e.message.includes('"probs"'),
  );
  await assert.rejects(
    model.trace(PROMPT, () => model.transformer.ln_f.source.x.output),
    /"transformer.ln_f" \(LayerNorm\) has no points/,
  );
  await assert.rejects(
    model.trace(PROMPT, () => model.transformer.h[0].attn.source.q.input),
    /Point\(transformer.h.0.attn.source.q\) has no input/,
  );
  // A request carries point getters; a point has only an output.
  const req = model.record(() => model.transformer.h[0].mlp.source.act.output.sum().save(), {
    input: PROMPT,
  });
  const json = JSON.parse(JSON.stringify(req));
  const direct = await model.trace(
    PROMPT,
    () => model.transformer.h[0].mlp.source.act.output.sum(),
  );
  const { output } = await model.run(json);
  await assertClose(output, direct, EXACT);
  const getter = json.graph.nodes.find((n: Json) => n.op === "getter");
  assert.equal(getter.path, "transformer.h.0.mlp.source.act");
  getter.kind = "input";
  await assert.rejects(model.run(json), /a point has no input/);
  getter.kind = "output";
  getter.path = "transformer.h.0.mlp.source.nope";
  await assert.rejects(model.run(json), /a module of this model, or of a point/);
  assert.ok(Graph.fromJSON(JSON.parse(JSON.stringify(req.graph))));
});

const FAMILIES = [
  "tiny-llama",
  "tiny-mistral",
  "tiny-qwen2",
  "tiny-qwen3",
  "tiny-gemma2",
  "tiny-gemma3",
  "tiny-gpt-neox",
  "tiny-olmo2",
  "tiny-phi3",
];
for (const name of FAMILIES) {
  deviceTest(
    `source: ${name} probs, context and act match the fixture and modules`,
    async (device) => {
      const dir = new URL(`../fixtures/${name}/`, import.meta.url);
      const ref: Json = JSON.parse(await Deno.readTextFile(new URL("reference.json", dir)));
      const model = await LanguageModel.load<object>(dir.pathname, { device });
      const p = model.paths;
      const layer = p.layers.split(".").reduce((e, part) => e.child(part), model.envoy).at(0);
      const attn = layer.child(p.attention), mlp = layer.child(p.mlp);
      const out = attn.module.child("o_proj") ? "o_proj" : "dense";
      const down = mlp.module.child("down_proj") ? "down_proj" : "dense_4h_to_h";
      const ids = tensor([ref.prompt.ids], undefined, { dtype: "int32", device });
      const config = JSON.parse(await Deno.readTextFile(new URL("config.json", dir)));
      const s = await model.trace(ids, () => ({
        q: attn.source.q.output,
        k: attn.source.k.output,
        scores: attn.source.scores.output,
        probs: attn.source.probs.output,
        weights: attn.output[1],
        context: attn.source.context.output,
        outIn: attn.child(out).input,
        act: mlp.source.act.output,
        downIn: mlp.child(down).input,
      }));
      const tol = { atol: 1e-4, rtol: 1e-4, msg: `${name} probs` };
      await assertClose(s.probs, ref.forward.attention_probs_layer0, tol);
      await assertClose(s.weights, s.probs, { ...EXACT, msg: `${name} attn_weights` });
      await assertClose(s.outIn, s.context, { ...EXACT, msg: `${name} context` });
      await assertClose(s.downIn, s.act, { ...EXACT, msg: `${name} act` });
      await assertClose(s.scores.softmax(-1), s.probs, { atol: 1e-6, rtol: 1e-5, msg: "scores" });
      const kvHeads = config.num_key_value_heads ?? config.num_attention_heads;
      assert.equal(s.k.shape[1], kvHeads, `${name}: k has the kv heads`);
      // The last query's score for its own key (never masked) is q . k scaled, then softcapped.
      const H = config.num_attention_heads, D = s.q.shape[3];
      const scale = (config.query_pre_attn_scalar ?? D) ** -0.5,
        cap = config.attn_logit_softcapping;
      const [q, k] = [await s.q.get("0, :, -1").toArray(), await s.k.get("0, :, -1").toArray()];
      const want = (q as number[][]).map((qh, h) => {
        const kh = (k as number[][])[Math.floor(h / (H / kvHeads))];
        const dot = qh.reduce((a, x, d) => a + x * kh[d], 0) * scale;
        return cap ? cap * Math.tanh(dot / cap) : dot;
      });
      await assertClose(s.scores.get("0, :, -1, -1"), want, { atol: 1e-4, rtol: 1e-4, msg: "q.k" });
    },
  );
}
