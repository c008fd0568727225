// Loading a Llama-style checkpoint: sharded like save_pretrained writes it (index.json), tied
// heads, and one error that lists every missing, extra and misshapen tensor.

import assert from "node:assert/strict";
import { tensor } from "../../engine/mod.ts";
import { loadModel } from "../../model/load.ts";
import { loadSafetensors } from "../../model/safetensors.ts";
import { type TensorToWrite, writeSafetensors } from "../../model/safetensors_write.ts";
import { assertClose } from "../_assert.ts";

const FIXTURE = new URL("../fixtures/tiny-qwen2/", import.meta.url).pathname;

async function tensorsOf(dir: string): Promise<Record<string, TensorToWrite>> {
  const file = await loadSafetensors(`${dir}/model.safetensors`);
  return Object.fromEntries(
    file.names.map((n) => [n, { dtype: "F32", shape: file.info(n).shape, data: file.float32(n) }]),
  ) as Record<string, TensorToWrite>;
}

Deno.test("qwen2: a sharded checkpoint loads to the same logits, tied head included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const all = await tensorsOf(FIXTURE);
    const names = Object.keys(all);
    const half = Math.floor(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    for (const [i, part] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await Deno.writeFile(
        `${dir}/${file}`,
        writeSafetensors(Object.fromEntries(part.map((n) => [n, all[n]])), { format: "pt" }),
      );
      for (const n of part) weightMap[n] = file;
    }
    await Deno.writeTextFile(
      `${dir}/model.safetensors.index.json`,
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    await Deno.copyFile(`${FIXTURE}/config.json`, `${dir}/config.json`);
    const ids = tensor([[1, 2, 3]], undefined, { dtype: "int32" });
    const sharded = await loadModel(dir);
    const single = await loadModel(FIXTURE);
    assert.equal(sharded.tokenizer, null);
    assert.ok(!names.includes("lm_head.weight"), "save_pretrained omits the tied head");
    await assertClose(sharded.model.call(ids), single.model.call(ids), { atol: 0, rtol: 0 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("qwen2: one error names every missing, extra and misshapen tensor", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const all = await tensorsOf(FIXTURE);
    delete all["model.norm.weight"];
    all["model.layers.0.self_attn.q_proj.bias"] = { dtype: "F32", shape: [3], data: [1, 2, 3] };
    all["score.weight"] = { dtype: "F32", shape: [1], data: [0] };
    await Deno.writeFile(`${dir}/model.safetensors`, writeSafetensors(all, { format: "pt" }));
    await Deno.copyFile(`${FIXTURE}/config.json`, `${dir}/config.json`);
    await assert.rejects(loadModel(dir), (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /^Checkpoint does not fit Qwen2 \(2 layers, hidden 32, vocab 2048\)/);
      assert.match(e.message, /missing "model\.norm\.weight" \[32\]/);
      assert.match(
        e.message,
        /"model\.layers\.0\.self_attn\.q_proj\.bias" has shape \[3\], expected \[32\]/,
      );
      assert.match(e.message, /extra "score\.weight" \[1\]/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an unknown model_type names every supported one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ model_type: "mamba" }));
    await assert.rejects(
      loadModel(dir),
      /Unsupported model_type "mamba": tsight loads model_type "gpt2", "llama", "mistral", "qwen2", "qwen3"/,
    );
    // Names of Object's members are unknown types too, not lookups into a family's tables.
    const { familyOf } = await import("../../model/families.ts");
    for (const t of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      assert.throws(() => familyOf({ model_type: t }), new RegExp(`Unsupported model_type "${t}"`));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
