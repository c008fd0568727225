// prepackWeights: packs every matmul weight at load on the cpu fast tier (none on the reference
// tier), and a prepacked model computes what an unpacked one does, also after a weight changes.

import assert from "node:assert/strict";
import { setCpuTier, type Tensor, tensor } from "../../engine/mod.ts";
import { randomModel } from "../../model/load.ts";
import { prepackWeights } from "../../model/weights.ts";
import { assertClose } from "../_assert.ts";

const CONFIG = { model_type: "llama", hidden_size: 128, intermediate_size: 256 };
const LLAMA = {
  ...CONFIG,
  num_attention_heads: 4,
  num_hidden_layers: 2,
  vocab_size: 300,
  max_position_embeddings: 64,
};

Deno.test("prepackWeights packs each matmul weight on the fast tier only", async () => {
  const { model } = await randomModel(LLAMA, { seed: 1 });
  // 7 projections per layer (q, k, v, o, gate, up, down) and the head.
  assert.equal(prepackWeights(model), 2 * 7 + 1);
  const prev = setCpuTier("reference");
  try {
    assert.equal(prepackWeights(model), 0);
  } finally {
    setCpuTier(prev);
  }
});

Deno.test("a prepacked model computes what the reference tier does, also after an edit", async () => {
  const { model } = await randomModel(LLAMA, { seed: 2 });
  prepackWeights(model);
  const ids = tensor([[1, 5, 9, 200, 7]], [1, 5], { dtype: "int32" }); // (B, T)
  const ref = () => {
    const prev = setCpuTier("reference");
    try {
      return model.call(ids) as Tensor;
    } finally {
      setCpuTier(prev);
    }
  };
  await assertClose(model.call(ids) as Tensor, ref(), { atol: 1e-4, rtol: 1e-4, msg: "packed" });
  const w = model.getModule("model.layers.0.mlp.down_proj")!.parameter("weight");
  w.set(":, :3", 0.5); // bumps the storage version: the packed panels are stale and must be repacked
  await assertClose(model.call(ids) as Tensor, ref(), { atol: 1e-4, rtol: 1e-4, msg: "edited" });
});
