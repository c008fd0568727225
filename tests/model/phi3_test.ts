// Phi-3: config parsing (the hub's Phi-3-mini-4k-instruct keys, longrope as Phi-3.5 / Phi-4-mini
// spell it, transformers 5's rope_parameters), named errors, longrope's context limit, the fused
// projections as plain Linear modules under HF's names, and the sliding window on every layer. The fixture itself runs
// through tests/trace/family_fixture_test.ts on every device.

import assert from "node:assert/strict";
import { tensor } from "../../engine/mod.ts";
import { familyOf } from "../../model/families.ts";
import { Linear } from "../../model/layers/linear.ts";
import { loadModel, randomModel } from "../../model/load.ts";
import { parsePhi3Config } from "../../model/phi3/config.ts";
import type { Phi3ForCausalLM } from "../../model/phi3/model.ts";

/** microsoft/Phi-3-mini-4k-instruct's config.json, its model keys. */
const PHI3_MINI = {
  architectures: ["Phi3ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 1,
  embd_pdrop: 0.0,
  eos_token_id: 32000,
  hidden_act: "silu",
  hidden_size: 3072,
  initializer_range: 0.02,
  intermediate_size: 8192,
  max_position_embeddings: 4096,
  model_type: "phi3",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  original_max_position_embeddings: 4096,
  pad_token_id: 32000,
  resid_pdrop: 0.0,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  sliding_window: 2047,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  vocab_size: 32064,
};

const SMALL = {
  model_type: "phi3",
  hidden_size: 8,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  intermediate_size: 16,
  num_hidden_layers: 2,
  vocab_size: 20,
};

Deno.test("phi3 config: the hub's Phi-3-mini-4k-instruct keys", () => {
  const c = parsePhi3Config(PHI3_MINI);
  assert.deepEqual([c.head_dim, c.num_key_value_heads, c.sliding_window], [96, 32, 2047]);
  assert.deepEqual([c.rope_theta, c.partial_rotary_factor, c.dtype], [10000, 1, "bfloat16"]);
  assert.deepEqual([c.tie_word_embeddings, c.eos_token_id, c.pad_token_id], [
    false,
    [32000],
    32000,
  ]);
  assert.equal(familyOf(PHI3_MINI).name, "Phi-3");
  assert.equal(familyOf({ architectures: ["Phi3ForCausalLM"] }).name, "Phi-3");
  const v5 = parsePhi3Config({
    ...SMALL,
    rope_parameters: { rope_type: "default", rope_theta: 250000, partial_rotary_factor: 0.5 },
  });
  assert.deepEqual([v5.rope_theta, v5.partial_rotary_factor, v5.sliding_window], [
    250000,
    0.5,
    null,
  ]);
});

Deno.test("phi3 config: longrope (Phi-3.5-mini's keys, also spelled su) in its short regime", () => {
  const half = Array.from({ length: 48 }, (_, i) => 1 + i / 10);
  const c = parsePhi3Config({
    ...PHI3_MINI,
    max_position_embeddings: 131072,
    rope_scaling: { type: "longrope", short_factor: half, long_factor: half },
  });
  assert.deepEqual(
    [
      c.rope_scaling?.rope_type,
      c.rope_scaling?.factor,
      c.rope_scaling?.original_max_position_embeddings,
    ],
    ["longrope", 32, 4096],
  );
  const su = parsePhi3Config({
    ...SMALL,
    rope_parameters: { rope_type: "su", short_factor: [1, 2], long_factor: [3, 4], factor: 8 },
  });
  assert.deepEqual([su.rope_scaling?.rope_type, su.rope_scaling?.factor], ["longrope", 8]);
});

Deno.test("phi3 config: unsupported rope types and bad values are named errors", () => {
  const bad: [Record<string, unknown>, RegExp][] = [
    [
      { rope_scaling: { type: "dynamic", factor: 2 } },
      /Unsupported rope_scaling type "dynamic" for Phi-3: tsight supports plain rotary \("default" or null\) and "longrope"/,
    ],
    [{ rope_parameters: { rope_type: "llama3" } }, /rope_parameters type "llama3"/],
    [
      { rope_scaling: { type: "longrope", short_factor: [1], long_factor: [1, 2] } },
      /"short_factor" is "\[1\]": longrope needs 2 positive numbers/,
    ],
    [
      { rope_scaling: { type: "su", short_factor: [1, 2], long_factor: [1, -2] } },
      /"long_factor" is "\[1,-2\]"/,
    ],
    [{
      rope_scaling: {
        type: "longrope",
        short_factor: [1, 2],
        long_factor: [1, 2],
        attention_factor: 0,
      },
    }, /"attention_factor" is "0"/],
    [{ partial_rotary_factor: 1.5 }, /"partial_rotary_factor" is "1.5": it must be in \(0, 1\]/],
    [{ sliding_window: 0 }, /"sliding_window" is "0"/],
    [{ num_key_value_heads: 3 }, /not divisible by "num_key_value_heads" \(3\)/],
    [{ hidden_act: "relu2" }, /Unsupported hidden_act "relu2"/],
    [{ model_type: "phi" }, /model_type "phi" is not Phi-3: use "phi3"/],
  ];
  for (const [extra, re] of bad) {
    assert.throws(() => parsePhi3Config({ ...SMALL, ...extra }), re, JSON.stringify(extra));
  }
});

Deno.test("phi3: longrope past original_max_position_embeddings is a named error", async () => {
  const dir = new URL("../fixtures/tiny-phi3/", import.meta.url).pathname;
  const { model } = await loadModel(dir);
  const ids = (n: number) =>
    tensor([Array.from({ length: n }, (_, i) => 3 + i)], undefined, { dtype: "int32" });
  assert.deepEqual(model.call(ids(32)).shape, [1, 32, 2048]); // the whole original context
  assert.throws(
    () => model.call(ids(33)),
    /33 positions exceed original_max_position_embeddings \(32\): past it transformers' longrope switches/,
  );
});

Deno.test("phi3: qkv_proj and gate_up_proj are Linear modules under HF's names; gate | up halves", async () => {
  const { model } = await randomModel(SMALL, { seed: 2 });
  const m = model as Phi3ForCausalLM;
  const attn = m.model.layers.at(0).self_attn, mlp = m.model.layers.at(0).mlp;
  assert.ok(attn.qkv_proj instanceof Linear && mlp.gate_up_proj instanceof Linear);
  assert.deepEqual(attn.qkv_proj.parameter("weight").shape, [(2 + 2 * 1) * 4, 8]);
  assert.deepEqual(mlp.gate_up_proj.parameter("weight").shape, [32, 8]);
  assert.deepEqual(
    m.namedModules().map(([p]) => p).filter((p) => p.startsWith("model.layers.0.")),
    [
      "model.layers.0.self_attn",
      "model.layers.0.self_attn.o_proj",
      "model.layers.0.self_attn.qkv_proj",
      "model.layers.0.mlp",
      "model.layers.0.mlp.gate_up_proj",
      "model.layers.0.mlp.down_proj",
      "model.layers.0.mlp.activation_fn",
      "model.layers.0.input_layernorm",
      "model.layers.0.post_attention_layernorm",
      "model.layers.0.resid_attn_dropout",
      "model.layers.0.resid_mlp_dropout",
    ],
  );
  // The MLP by hand: gate is the first half of gate_up_proj's rows, up the second.
  const x = tensor([[[0.5, -1, 2, 0.25, 1, -0.5, 0.75, -2]]]); // (1, 1, 8)
  const w = [...mlp.gate_up_proj.parameter("weight").dataSync()], xs = [...x.dataSync()];
  const row = (r: number) => w.slice(r * 8, r * 8 + 8).reduce((a, v, i) => a + v * xs[i], 0);
  const silu = (z: number) => z / (1 + Math.exp(-z));
  const act = Array.from({ length: 16 }, (_, i) => row(16 + i) * silu(row(i)));
  const d = [...mlp.down_proj.parameter("weight").dataSync()];
  const want = Array.from(
    { length: 8 },
    (_, o) => act.reduce((a, v, i) => a + v * d[o * 16 + i], 0),
  );
  const got = mlp.call(x).dataSync();
  want.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-5, `mlp ${i}: ${got[i]} vs ${v}`));
});

Deno.test("phi3: sliding_window masks every layer; without it nothing beyond causal", async () => {
  const ids = tensor([[1, 5, 9, 3, 7, 2, 4, 8]], undefined, { dtype: "int32" });
  const run = async (
    cfg: Record<string, unknown>,
  ) => [...((await randomModel(cfg, { seed: 5 })).model.call(ids)).dataSync()];
  const none = await run(SMALL), wide = await run({ ...SMALL, sliding_window: 8 });
  const narrow = await run({ ...SMALL, sliding_window: 2 });
  assert.deepEqual(wide, none); // the window covers the whole prompt
  const V = 20, first = (a: number[]) => a.slice(0, 2 * V);
  assert.deepEqual(first(narrow), first(none)); // positions 0, 1 see the same keys
  assert.notDeepEqual(narrow.slice(7 * V), none.slice(7 * V));
});
