// The shared building blocks against hand-computed values: Linear, RMSNorm (both scalings),
// rotary tables (default, linear, llama3, partial), masks with sliding windows, grouped
// attention with softcapping, the gated MLP. Every device.

import assert from "node:assert/strict";
import { tensor } from "../../engine/mod.ts";
import {
  applyRotary,
  attend,
  attentionBias,
  GatedMLP,
  Linear,
  MASKED,
  RMSNorm,
  ropeInvFreq,
  RotaryEmbedding,
} from "../../model/layers/mod.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

const ids = (rows: number[][], device: "cpu" | "webgpu" | "meta") =>
  tensor(rows, undefined, { dtype: "int32", device });

deviceTest("layers: Linear is x W^T + b with W [out, in]", async (device) => {
  const lin = new Linear(2, 3, { device });
  lin.setParameter("weight", tensor([[1, 0], [0, 1], [1, 1]], undefined, { device }));
  lin.setParameter("bias", tensor([1, 2, 3], undefined, { device }));
  await assertClose(lin.call(tensor([[[2, 5]]], undefined, { device })), [[[3, 7, 10]]]);
  const noBias = new Linear(2, 1, { bias: false, device });
  assert.deepEqual(noBias.namedParameters().map(([p]) => p), ["weight"]);
});

deviceTest("layers: RMSNorm scales by w, or by 1 + w (Gemma)", async (device) => {
  const x = tensor([[3, 4]], undefined, { device }); // rms = sqrt(12.5)
  const r = 1 / Math.sqrt(12.5 + 1e-6);
  const llama = new RMSNorm(2, 1e-6, { device });
  llama.setParameter("weight", tensor([2, 1], undefined, { device }));
  await assertClose(llama.call(x), [[6 * r, 4 * r]], { atol: 1e-6 });
  const gemma = new RMSNorm(2, 1e-6, { unitOffset: true, device });
  gemma.setParameter("weight", tensor([1, 0], undefined, { device }));
  await assertClose(gemma.call(x), [[6 * r, 4 * r]], { atol: 1e-6 });
});

Deno.test("layers: rope inverse frequencies for default, linear and llama3 scaling", () => {
  const f = Math.fround;
  const base = ropeInvFreq({ headDim: 4, base: 100 });
  assert.deepEqual([...base], [1, f(1 / 10)]);
  const linear = ropeInvFreq({
    headDim: 4,
    base: 100,
    scaling: { rope_type: "linear", factor: 2 },
  });
  assert.deepEqual([...linear], [0.5, f(1 / 10) / 2]);
  // llama3: wavelength 2*pi*10 = 62.8 > original / low (64 / 1 = 64)? no; < original / high (16)? no: smooth.
  const l3 = ropeInvFreq({
    headDim: 4,
    base: 100,
    scaling: {
      rope_type: "llama3",
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 64,
    },
  });
  const inv = f(1 / 10), wavelen = 2 * Math.PI / inv;
  const smooth = (64 / wavelen - 1) / 3;
  assert.equal(l3[0], 1); // wavelength 6.3 < 16: kept
  assert.ok(Math.abs(l3[1] - ((1 - smooth) * inv / 8 + smooth * inv)) < 1e-12);
  assert.throws(
    () => ropeInvFreq({ headDim: 4, scaling: { rope_type: "yarn" } }),
    /Unsupported rope_scaling type "yarn": tsight supports "default", "linear", "llama3"/,
  );
  // A bfloat16 checkpoint rotates by bf16-rounded frequencies (transformers casts the buffer).
  const bf = ropeInvFreq({ headDim: 8, base: 10000, bufferDtype: "bfloat16" });
  assert.equal(bf[1], 0.10009765625); // 0.1 in bfloat16
});

deviceTest("layers: rotary tables and partial rotation", async (device) => {
  const rope = new RotaryEmbedding({ headDim: 4, base: 100, partialRotaryFactor: 0.5, device });
  assert.equal(rope.rotaryDim, 2);
  const [cos, sin] = rope.call(tensor([0], undefined, { device }), ids([[0, 2]], device));
  await assertClose(cos, [[[1, 1], [Math.cos(2), Math.cos(2)]]], { atol: 1e-6 });
  await assertClose(sin, [[[0, 0], [Math.sin(2), Math.sin(2)]]], { atol: 1e-6 });
  const x = tensor([[[[1, 2, 3, 4], [1, 2, 3, 4]]]], undefined, { device }); // (1, 1, 2, 4)
  const y = applyRotary(x, cos, sin); // first two channels rotate, last two pass through
  const c = Math.cos(2), s = Math.sin(2);
  await assertClose(y, [[[[1, 2, 3, 4], [c - 2 * s, 2 * c + s, 3, 4]]]], { atol: 1e-6 });
});

deviceTest("layers: masks are causal, padded and windowed", async (device) => {
  const M = MASKED;
  await assertClose(attentionBias(1, 3, 0, undefined, device, 2)!, [[[[0, M, M], [0, 0, M], [
    M,
    0,
    0,
  ]]]]);
  assert.equal(attentionBias(1, 1, 4, undefined, device), null);
  // one query after 4 past positions with a window of 2 sees positions 3 and 4 only
  await assertClose(attentionBias(1, 1, 4, undefined, device, 2)!, [[[[M, M, M, 0, 0]]]]);
  const mask = ids([[0, 1, 1]], device);
  await assertClose(attentionBias(1, 2, 1, mask, device)!, [[[[M, 0, M], [M, 0, 0]]]]);
});

deviceTest(
  "layers: grouped attention shares kv heads; softcapping bounds scores",
  async (device) => {
    // 2 query heads, 1 kv head, T = S = 1: each output is v; probabilities are 1.
    const q = tensor([[[[1, 0]], [[0, 1]]]], undefined, { device });
    const k = tensor([[[[1, 1]]]], undefined, { device });
    const v = tensor([[[[3, 4]]]], undefined, { device });
    const [y, p] = attend(q, k, v, { scale: 1, bias: null });
    await assertClose(y, [[[[3, 4]], [[3, 4]]]]);
    await assertClose(p, [[[[1]], [[1]]]]);
    // two keys: scores 10 and 0; capped at 1 -> tanh(10) and 0
    const k2 = tensor([[[[10, 0], [0, 0]]]], undefined, { device });
    const v2 = tensor([[[[1, 0], [0, 1]]]], undefined, { device });
    const [, capped] = attend(q.get(":, :1"), k2, v2, { scale: 1, bias: null, softcap: 1 });
    const e = Math.exp(Math.tanh(10));
    await assertClose(capped, [[[[e / (e + 1), 1 / (e + 1)]]]], { atol: 1e-6 });
  },
);

deviceTest("layers: the gated MLP is down(act(gate x) * up x)", async (device) => {
  const mlp = new GatedMLP({ hiddenSize: 1, intermediateSize: 1, activation: "silu", device });
  for (const [name, w] of [["gate_proj", 2], ["up_proj", 3], ["down_proj", 0.5]] as const) {
    mlp.setParameter(`${name}.weight`, tensor([[w]], undefined, { device }));
  }
  const x = 1.5, g = 2 * x;
  await assertClose(mlp.call(tensor([[[x]]], undefined, { device })), [[[
    0.5 * (g / (1 + Math.exp(-g))) * 3 * x,
  ]]], { atol: 1e-6 });
});

Deno.test("llama config: rope_theta and scaling from transformers 5's rope_parameters", async () => {
  const { parseLlamaConfig } = await import("../../model/llama/config.ts");
  const c = parseLlamaConfig({
    model_type: "llama",
    rope_parameters: { rope_type: "linear", factor: 2, rope_theta: 500000 },
  });
  assert.equal(c.rope_theta, 500000);
  assert.equal(c.rope_scaling?.factor, 2);
  assert.equal(parseLlamaConfig({ rope_parameters: { rope_type: "default" } }).rope_scaling, null);
});
