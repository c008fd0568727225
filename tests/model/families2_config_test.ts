// Gemma 2 and GPT-NeoX configs (defaults, legacy key names, named errors), registry lookup,
// checkpoint checks (one error for every problem, old buffers ignored) and seeded random init.
// The fixtures themselves run through tests/trace/family_fixture_test.ts.

import assert from "node:assert/strict";
import { tensor } from "../../engine/mod.ts";
import { familyOf } from "../../model/families.ts";
import { parseGemma2Config } from "../../model/gemma2/config.ts";
import { Gemma2ForCausalLM } from "../../model/gemma2/model.ts";
import { parseGPTNeoXConfig } from "../../model/gpt_neox/config.ts";
import { parseOlmo2Config } from "../../model/olmo2/config.ts";
import type { GPTNeoXForCausalLM } from "../../model/gpt_neox/model.ts";
import { randomModel } from "../../model/load.ts";
import type { WeightSource } from "../../model/weights.ts";

const SMALL_GEMMA = {
  model_type: "gemma2" as const,
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 4,
  intermediate_size: 16,
  num_hidden_layers: 3,
  vocab_size: 20,
};
const SMALL_NEOX = {
  model_type: "gpt_neox",
  hidden_size: 8,
  num_attention_heads: 2,
  intermediate_size: 16,
  num_hidden_layers: 2,
  vocab_size: 20,
  rotary_pct: 0.5,
};

Deno.test("gemma2 config: Gemma2Config defaults, alternating layer types, legacy hidden_act", () => {
  const c = parseGemma2Config({ model_type: "gemma2", num_hidden_layers: 4, hidden_act: "gelu" });
  assert.deepEqual(c.layer_types, [
    "sliding_attention",
    "full_attention",
    "sliding_attention",
    "full_attention",
  ]);
  assert.equal(c.hidden_activation, "gelu");
  assert.equal(parseGemma2Config({}).hidden_activation, "gelu_pytorch_tanh");
  assert.deepEqual(
    [
      c.query_pre_attn_scalar,
      c.sliding_window,
      c.attn_logit_softcapping,
      c.final_logit_softcapping,
    ],
    [256, 4096, 50, 30],
  );
  assert.equal(c.tie_word_embeddings, true);
  assert.deepEqual(c.eos_token_id, [1]);
  const uncapped = parseGemma2Config({
    attn_logit_softcapping: null,
    final_logit_softcapping: null,
  });
  assert.deepEqual([uncapped.attn_logit_softcapping, uncapped.final_logit_softcapping], [
    null,
    null,
  ]);
});

Deno.test("gemma2 config: named errors quote the value", () => {
  assert.throws(
    () => parseGemma2Config({ num_attention_heads: 6, num_key_value_heads: 4 }),
    /"num_attention_heads" \(6\) is not divisible by "num_key_value_heads" \(4\)/,
  );
  assert.throws(
    () => parseGemma2Config({ num_hidden_layers: 2, layer_types: ["sliding_attention", "local"] }),
    /"layer_types" has "local": use "full_attention" or "sliding_attention"/,
  );
  assert.throws(
    () => parseGemma2Config({ num_hidden_layers: 2, layer_types: ["full_attention"] }),
    /give one entry per layer \(2\)/,
  );
  assert.throws(() => parseGemma2Config({ hidden_activation: "swish" }), /"swish"/);
  assert.throws(
    () => parseGemma2Config({ query_pre_attn_scalar: 0 }),
    /"query_pre_attn_scalar" is "0"/,
  );
  assert.throws(
    () => parseGemma2Config({ model_type: "gemma" }),
    /model_type "gemma" is not Gemma 2/,
  );
  assert.throws(() => parseGemma2Config([1]), TypeError);
});

Deno.test("gpt_neox config: rotary_pct / partial_rotary_factor, rotary_emb_base / rope_theta", () => {
  const legacy = parseGPTNeoXConfig({ rotary_pct: 0.25, rotary_emb_base: 500 });
  assert.deepEqual([legacy.rotary_pct, legacy.rotary_emb_base], [0.25, 500]);
  const newer = parseGPTNeoXConfig({ partial_rotary_factor: 0.5, rope_theta: 1000 });
  assert.deepEqual([newer.rotary_pct, newer.rotary_emb_base], [0.5, 1000]);
  const d = parseGPTNeoXConfig({});
  assert.deepEqual(
    [d.use_parallel_residual, d.tie_word_embeddings, d.attention_bias, d.hidden_act],
    [true, false, true, "gelu"],
  );
  assert.deepEqual(d.eos_token_id, [2]);
  assert.equal(parseGPTNeoXConfig({ bos_token_id: null }).bos_token_id, null);
});

Deno.test("gpt_neox config: named errors quote the value", () => {
  assert.throws(
    () => parseGPTNeoXConfig({ rotary_pct: 1.5 }),
    /"rotary_pct" is "1.5": it must be in \(0, 1\]/,
  );
  assert.throws(
    () => parseGPTNeoXConfig({ hidden_size: 8, num_attention_heads: 2, rotary_pct: 0.1 }),
    /rotates fewer than 2 of the 4 channels/,
  );
  assert.throws(
    () => parseGPTNeoXConfig({ hidden_size: 10, num_attention_heads: 4 }),
    /"hidden_size" \(10\) is not divisible by "num_attention_heads" \(4\)/,
  );
  assert.throws(
    () => parseGPTNeoXConfig({ use_parallel_residual: "yes" }),
    /"yes": it must be true or false/,
  );
  assert.throws(() => parseGPTNeoXConfig({ model_type: "gpt2" }), /is not GPT-NeoX/);
});

Deno.test("registry: model_type and architectures find the two families", () => {
  assert.equal(familyOf({ model_type: "gemma2" }).name, "Gemma 2");
  assert.equal(familyOf({ model_type: "gpt_neox" }).name, "GPT-NeoX");
  assert.equal(familyOf({ architectures: ["GPTNeoXForCausalLM"] }).name, "GPT-NeoX");
  assert.equal(familyOf({ architectures: ["Gemma2ForCausalLM"] }).name, "Gemma 2");
});

/** A WeightSource over named shapes (values all 0.5). */
function source(shapes: Record<string, number[]>): WeightSource {
  return {
    names: Object.keys(shapes),
    info: (n) => ({ shape: shapes[n] }),
    float32: (n) => new Float32Array(shapes[n].reduce((a, b) => a * b, 1)).fill(0.5),
  };
}

Deno.test("gpt_neox weights: one error lists missing, extra and misshapen; old buffers are ignored", () => {
  const family = familyOf(SMALL_NEOX);
  const model = family.create(SMALL_NEOX, { device: "cpu" }) as GPTNeoXForCausalLM;
  const shapes = Object.fromEntries(model.namedParameters().map(([p, t]) => [p, [...t.shape]]));
  const withBuffers = {
    ...shapes,
    "gpt_neox.layers.0.attention.bias": [1, 1, 128, 128],
    "gpt_neox.layers.0.attention.masked_bias": [],
    "gpt_neox.layers.0.attention.rotary_emb.inv_freq": [1],
  };
  family.loadWeights(model, source(withBuffers));
  assert.equal(model.embed_out.weight.dataSync()[0], 0.5);
  const bad: Record<string, number[]> = { ...shapes, "gpt_neox.extra.weight": [2] };
  delete bad["embed_out.weight"];
  bad["gpt_neox.final_layer_norm.bias"] = [9];
  const fresh = family.create(SMALL_NEOX, { device: "cpu" });
  assert.throws(() => family.loadWeights(fresh, source(bad)), (e: Error) => {
    assert.match(e.message, /missing "embed_out.weight" \[20, 8\]/);
    assert.match(e.message, /extra "gpt_neox.extra.weight" \[2\]/);
    assert.match(e.message, /"gpt_neox.final_layer_norm.bias" has shape \[9\], expected \[8\]/);
    return true;
  });
  // Nothing was assigned: the fresh model still has its zero weights.
  assert.equal((fresh as GPTNeoXForCausalLM).gpt_neox.embed_in.weight.dataSync()[0], 0);
});

Deno.test("gemma2 weights: the tied head reads embed_tokens; a checkpoint copy is accepted", () => {
  const family = familyOf(SMALL_GEMMA);
  const model = family.create(SMALL_GEMMA, { device: "cpu" }) as Gemma2ForCausalLM;
  const shapes = Object.fromEntries(model.namedParameters().map(([p, t]) => [p, [...t.shape]]));
  family.loadWeights(model, source({ ...shapes, "lm_head.weight": [20, 8] }));
  assert.equal(model.lm_head.weight, model.model.embed_tokens.weight);
});

Deno.test("random init: Gemma norms start at 0 (scale 1), NeoX LayerNorms at 1; same seed, same model", async () => {
  const { model: g } = await randomModel(SMALL_GEMMA, { seed: 3 });
  const gm = g as Gemma2ForCausalLM;
  assert.deepEqual([...gm.model.norm.parameter("weight").dataSync()], new Array(8).fill(0));
  const { model: n } = await randomModel(SMALL_NEOX, { seed: 3 });
  const nm = n as GPTNeoXForCausalLM;
  assert.deepEqual(
    [...nm.gpt_neox.final_layer_norm.parameter("weight").dataSync()],
    new Array(8).fill(1),
  );
  assert.notEqual(nm.embed_out.weight, nm.gpt_neox.embed_in.weight); // untied
  const again = (await randomModel(SMALL_NEOX, { seed: 3 })).model as GPTNeoXForCausalLM;
  assert.deepEqual([...again.embed_out.weight.dataSync()], [...nm.embed_out.weight.dataSync()]);
  const ids = tensor([[1, 2, 3]], undefined, { dtype: "int32" });
  for (const m of [g, n]) {
    const logits = m.call(ids).dataSync();
    assert.ok(logits.every(Number.isFinite));
  }
});

Deno.test("gemma2: final_logit_softcapping bounds the logits; lm_head.output is before capping", () => {
  const m = new Gemma2ForCausalLM({ ...SMALL_GEMMA, final_logit_softcapping: 0.5 });
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

const fixture = (name: string, file: string) =>
  Deno.readTextFile(new URL(`../fixtures/${name}/${file}`, import.meta.url));

Deno.test("tiny-gpt-neox-serial differs from tiny-gpt-neox only in use_parallel_residual", async () => {
  const a = JSON.parse(await fixture("tiny-gpt-neox", "config.json"));
  const b = JSON.parse(await fixture("tiny-gpt-neox-serial", "config.json"));
  assert.equal(a.use_parallel_residual, true);
  assert.deepEqual({ ...b, use_parallel_residual: true }, a);
  const ra = JSON.parse(await fixture("tiny-gpt-neox", "reference.json"));
  const rb = JSON.parse(await fixture("tiny-gpt-neox-serial", "reference.json"));
  assert.notDeepEqual(ra.greedy.new_tokens, rb.greedy.new_tokens); // the residual form matters
});

Deno.test("olmo2 config: defaults, rope_parameters of transformers 5 configs, named errors", () => {
  const c = parseOlmo2Config({ num_attention_heads: 8, rope_parameters: { rope_theta: 500000 } });
  assert.deepEqual([c.num_key_value_heads, c.rope_theta, c.rope_scaling], [8, 500000, null]);
  assert.deepEqual([c.rms_norm_eps, c.tie_word_embeddings, c.pad_token_id], [1e-5, false, 1]);
  assert.equal(parseOlmo2Config({ rope_theta: 7 }).rope_theta, 7);
  assert.throws(
    () => parseOlmo2Config({ num_attention_heads: 6, num_key_value_heads: 4 }),
    /"num_attention_heads" \(6\) must divide "hidden_size" \(4096\) and be divisible by "num_key_value_heads" \(4\)/,
  );
  assert.throws(() => parseOlmo2Config({ model_type: "olmo" }), /model_type "olmo" is not OLMo 2/);
  assert.equal(familyOf({ model_type: "olmo2" }).name, "OLMo 2");
});
