// Gemma 3 text: config parsing (the legacy keys of the hub's gemma-3 configs and transformers 5's
// per-layer-type rope_parameters), named errors, the multimodal config refused, random init,
// scaled embedding, separate local/global rotary tables and optional final softcapping. The
// fixture itself runs through tests/trace/family_fixture_test.ts on every device.

import assert from "node:assert/strict";
import { tensor } from "../../engine/mod.ts";
import { familyOf } from "../../model/families.ts";
import { parseGemma3Config } from "../../model/gemma3/config.ts";
import { Gemma3ForCausalLM } from "../../model/gemma3/model.ts";
import { randomModel } from "../../model/load.ts";

const SMALL = {
  model_type: "gemma3_text" as const,
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 4,
  intermediate_size: 16,
  num_hidden_layers: 3,
  vocab_size: 20,
};

/** google/gemma-3-1b-it's config.json (written by transformers 4.50), its text keys. */
const GEMMA3_1B = {
  architectures: ["Gemma3ForCausalLM"],
  attn_logit_softcapping: null,
  bos_token_id: 2,
  eos_token_id: [1, 106],
  final_logit_softcapping: null,
  head_dim: 256,
  hidden_activation: "gelu_pytorch_tanh",
  hidden_size: 1152,
  intermediate_size: 6912,
  max_position_embeddings: 32768,
  model_type: "gemma3_text",
  num_attention_heads: 4,
  num_hidden_layers: 26,
  num_key_value_heads: 1,
  pad_token_id: 0,
  query_pre_attn_scalar: 256,
  rms_norm_eps: 1e-6,
  rope_local_base_freq: 10000,
  rope_scaling: null,
  rope_theta: 1000000,
  sliding_window: 512,
  sliding_window_pattern: 6,
  torch_dtype: "bfloat16",
  vocab_size: 262144,
};

Deno.test("gemma3 config: the hub's gemma-3-1b-it keys; every 6th layer global", () => {
  const c = parseGemma3Config(GEMMA3_1B);
  assert.equal(c.layer_types.length, 26);
  assert.deepEqual(
    c.layer_types.flatMap((t, i) => (t === "full_attention" ? [i] : [])),
    [5, 11, 17, 23],
  );
  assert.deepEqual([c.rope_theta, c.rope_local_base_freq, c.rope_scaling], [1e6, 1e4, null]);
  assert.deepEqual([c.sliding_window, c.query_pre_attn_scalar, c.dtype], [512, 256, "bfloat16"]);
  assert.deepEqual([c.attn_logit_softcapping, c.final_logit_softcapping], [null, null]);
  assert.deepEqual(c.eos_token_id, [1, 106]);
  assert.equal(c.tie_word_embeddings, true);
  assert.equal(familyOf(GEMMA3_1B).name, "Gemma 3");
  assert.equal(familyOf({ architectures: ["Gemma3ForCausalLM"] }).name, "Gemma 3");
});

Deno.test("gemma3 config: linear rope_scaling (4B+), rope_parameters per layer type, layer_types", () => {
  const big = parseGemma3Config({ ...SMALL, rope_scaling: { rope_type: "linear", factor: 8 } });
  assert.deepEqual(big.rope_scaling, { rope_type: "linear", factor: 8 });
  const legacy = parseGemma3Config({ ...SMALL, rope_scaling: { type: "linear", factor: 4 } });
  assert.deepEqual(legacy.rope_scaling, { rope_type: "linear", factor: 4 });
  const v5 = parseGemma3Config({
    ...SMALL,
    rope_parameters: {
      full_attention: { rope_type: "linear", factor: 2, rope_theta: 5e5 },
      sliding_attention: { rope_type: "default", rope_theta: 2e4 },
    },
  });
  assert.deepEqual([v5.rope_theta, v5.rope_local_base_freq], [5e5, 2e4]);
  assert.deepEqual(v5.rope_scaling, { rope_type: "linear", factor: 2 });
  const old = parseGemma3Config({ ...SMALL, _sliding_window_pattern: 2 });
  assert.deepEqual(old.layer_types, ["sliding_attention", "full_attention", "sliding_attention"]);
  const given = ["full_attention", "full_attention", "sliding_attention"];
  assert.deepEqual(parseGemma3Config({ ...SMALL, layer_types: given }).layer_types, given);
});

Deno.test("gemma3 config: named errors quote the value and name the fix", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [
      { rope_scaling: { rope_type: "yarn", factor: 8 } },
      /rope_scaling type "yarn" for Gemma 3's global layers: tsight supports "default" and "linear"/,
    ],
    [{ rope_parameters: { full_attention: { rope_type: "dynamic" } } }, /"dynamic"/],
    [
      { rope_parameters: { sliding_attention: { rope_type: "linear", factor: 2 } } },
      /sliding_attention type "linear": .*"default"/,
    ],
    [{ rope_scaling: { rope_type: "linear", factor: -1 } }, /"rope_scaling.factor" is "-1"/],
    [{ layer_types: ["full_attention"] }, /"layer_types" is .*one entry per layer \(3\)/],
    [
      { layer_types: ["full_attention", "chunked", "full_attention"] },
      /"layer_types" has "chunked"/,
    ],
    [{ use_bidirectional_attention: true }, /"use_bidirectional_attention" is "true"/],
    [{ num_key_value_heads: 3 }, /not divisible by "num_key_value_heads" \(3\)/],
    [{ sliding_window_pattern: 0 }, /"sliding_window_pattern" is "0"/],
    [{ hidden_activation: "swish" }, /Unsupported hidden_activation "swish"/],
  ];
  for (const [extra, re] of bad) {
    assert.throws(() => parseGemma3Config({ ...SMALL, ...extra }), re, JSON.stringify(extra));
  }
});

Deno.test('gemma3: the multimodal model_type "gemma3" is refused, naming the text model', () => {
  const mm = { model_type: "gemma3", architectures: ["Gemma3ForConditionalGeneration"] };
  const re = /model_type "gemma3" is the multimodal .*"gemma3_text", Gemma3ForCausalLM/;
  assert.throws(() => familyOf(mm), re);
  assert.throws(() => parseGemma3Config(mm), re);
});

Deno.test("gemma3: embed_tokens.output is scaled (in the stored dtype); local and global rotary differ", async () => {
  const { model } = await randomModel(SMALL, { seed: 3 });
  const m = model as Gemma3ForCausalLM;
  assert.deepEqual([...m.model.norm.parameter("weight").dataSync()], new Array(8).fill(0));
  assert.equal(m.model.embed_tokens.scale, Math.fround(Math.sqrt(8)));
  const bf16 = new Gemma3ForCausalLM({ ...SMALL, hidden_size: 3072, dtype: "bfloat16" });
  assert.equal(bf16.model.embed_tokens.scale, 55.5); // HF's comment: sqrt(3072) in bfloat16
  const ids = tensor([[1, 2, 3]], undefined, { dtype: "int32" });
  const row = m.model.embed_tokens.weight.get(2).dataSync();
  const out = m.model.embed_tokens.call(ids).get("0, 1").dataSync();
  out.forEach((v, i) => assert.ok(Math.abs(v - row[i] * Math.sqrt(8)) < 1e-6));
  const pos = tensor([[0, 1, 2]], undefined, { dtype: "int32" });
  const x = tensor([0]);
  const c5 = parseGemma3Config({ ...SMALL, rope_theta: 1e6, rope_local_base_freq: 10 });
  const m5 = new Gemma3ForCausalLM(c5);
  const [gCos] = m5.model.rotary_emb.call(x, pos), [lCos] = m5.model.rotary_emb_local.call(x, pos);
  // cos(2 * inv_freq[1]) at position 2: base 1e6 -> inv 1e-3, base 10 -> inv 10^-0.5.
  assert.ok(Math.abs(gCos.get("0, 2, 1").dataSync()[0] - Math.cos(2e-3)) < 1e-6);
  assert.ok(Math.abs(lCos.get("0, 2, 1").dataSync()[0] - Math.cos(2 / Math.sqrt(10))) < 1e-6);
  assert.ok(m.call(ids).dataSync().every(Number.isFinite));
});

Deno.test("gemma3: final_logit_softcapping, when set, bounds the logits; lm_head.output is before", () => {
  const m = new Gemma3ForCausalLM({ ...SMALL, final_logit_softcapping: 0.5 });
  m.lm_head.addParameter("weight", tensor(new Float32Array(160).fill(3), [20, 8]));
  m.model.embed_tokens.addParameter("weight", tensor(new Float32Array(160).fill(1), [20, 8]));
  let raw: number[] = [];
  m.lm_head.hook = {
    output: (_m, out) => void (raw = [...(out as { dataSync(): Float32Array }).dataSync()]),
  };
  const capped = [...m.call(tensor([[1]], undefined, { dtype: "int32" })).dataSync()];
  m.lm_head.hook = null;
  assert.ok(raw.every((x) => x > 10));
  for (let i = 0; i < raw.length; i++) {
    assert.ok(Math.abs(capped[i] - 0.5 * Math.tanh(raw[i] / 0.5)) < 1e-6);
  }
});
