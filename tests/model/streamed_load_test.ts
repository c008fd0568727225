// SafetensorsReader (tensors read from disk on demand) and loadModel's streamed load: the same
// values as the in-memory reader for every dtype, shards and chunks; named errors for bad files,
// NaN and files that change; every family loads with its matmul weights only as packed panels
// and computes what the model it was saved from computes; a failed load changes nothing.

import assert from "node:assert/strict";
import { isPackedOnly, setCpuTier, type Tensor, tensor } from "../../engine/mod.ts";
import {
  HeaderLengthError,
  loadModel,
  NonFiniteWeightError,
  randomModel,
  readSafetensors,
  SafetensorsReader,
  type TensorToWrite,
  writeSafetensors,
} from "../../model/mod.ts";

const FIXTURE = new URL("../fixtures/tiny-gpt2", import.meta.url).pathname;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tsight-stream-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("reader: every tensor of the fixture, whole and in row chunks, equals readSafetensors'", async () => {
  const memory = readSafetensors(await Deno.readFile(`${FIXTURE}/model.safetensors`));
  using reader = await SafetensorsReader.openDir(FIXTURE);
  assert.deepEqual(reader.names, memory.names);
  for (const name of reader.names) {
    const want = memory.float32(name);
    assert.deepEqual(reader.float32(name), want, name);
    const { shape } = reader.info(name);
    if (shape.length < 2) continue;
    const rest = want.length / shape[0];
    const r0 = Math.floor(shape[0] / 3), r1 = Math.min(shape[0], r0 + 5);
    const dst = new Float32Array((r1 - r0) * rest);
    reader.float32Rows(name, dst, r0, r1);
    assert.deepEqual(dst, want.subarray(r0 * rest, r1 * rest), `${name} rows ${r0}..${r1}`);
  }
});

/** A safetensors file of 16-bit tensors (writeSafetensors writes F32 and I32 only). */
function halfFile(
  tensors: Record<string, { dtype: "F16" | "BF16"; shape: number[]; bits: number[] }>,
) {
  const header: Record<string, unknown> = {};
  const data: number[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [data.length, data.length + 2 * t.bits.length],
    };
    for (const b of t.bits) data.push(b & 0xff, b >> 8);
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + data.length).fill(0x20, 8, 8 + n);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.set(data, 8 + n);
  return out;
}

Deno.test("reader: F16 and BF16 widen as readSafetensors does; integers are refused", async () => {
  await withDir(async (dir) => {
    // F16: 1, -2.5, 65504, a subnormal, ...; BF16: 1, -2, 3.3e38, ...
    const f16 = [0x3c00, 0xc100, 0x7bff, 0x0001, 0x3555, 0x8000, 0x4700, 0x4800];
    const bf16 = [0x3f80, 0xc000, 0x7f7f, 0x0001, 0x3eab, 0x8000, 0x40e0, 0x4100];
    const bytes = halfFile({
      h: { dtype: "F16", shape: [4, 2], bits: f16 },
      b: { dtype: "BF16", shape: [2, 4], bits: bf16 },
    });
    await Deno.writeFile(`${dir}/model.safetensors`, bytes);
    const memory = readSafetensors(bytes);
    using reader = await SafetensorsReader.openDir(dir);
    for (const name of ["h", "b"]) {
      const all = memory.float32(name);
      assert.deepEqual(reader.float32(name), all, name);
      const rows = reader.info(name).shape[0], rest = all.length / rows;
      const got = new Float32Array(rest), inMemory = new Float32Array(rest);
      reader.float32Rows(name, got, 1, 2);
      memory.float32Rows(name, inMemory, 1, 2);
      assert.deepEqual(got, all.subarray(rest, 2 * rest), `${name} row 1`);
      assert.deepEqual(inMemory, got, `${name} row 1 in memory`);
    }
  });
  await withDir(async (dir) => {
    await Deno.writeFile(
      `${dir}/model.safetensors`,
      writeSafetensors({ i: { dtype: "I32", shape: [2], data: [1, 2] } }),
    );
    using reader = await SafetensorsReader.openDir(dir);
    assert.throws(() => reader.float32("i"), /Tensor "i" has integer dtype "I32"/);
  });
});

Deno.test("reader: shards through the index; a tensor missing from its shard; no weights", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(
      `${dir}/s1.safetensors`,
      writeSafetensors({ a: { dtype: "F32", shape: [1], data: [1] } }),
    );
    await Deno.writeFile(
      `${dir}/s2.safetensors`,
      writeSafetensors({ b: { dtype: "F32", shape: [2], data: [2, 3] } }),
    );
    const index = { weight_map: { a: "s1.safetensors", b: "s2.safetensors" } };
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
    {
      using reader = await SafetensorsReader.openDir(dir);
      assert.deepEqual(reader.names, ["a", "b"]);
      assert.deepEqual([...reader.float32("b")], [2, 3]);
      assert.throws(() => reader.info("zz"), /Unknown tensor "zz": the checkpoint has 2/);
    }
    index.weight_map.a = "s2.safetensors";
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
    await assert.rejects(SafetensorsReader.openDir(dir), /"a" in "s2.safetensors"/);
    await Deno.remove(`${dir}/model.safetensors.index.json`);
    await assert.rejects(SafetensorsReader.openDir(dir), Deno.errors.NotFound);
  });
});

Deno.test("reader: a bad header is the named error; a file cut after opening names the file", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/model.safetensors`;
    await Deno.writeFile(path, new Uint8Array(4));
    await assert.rejects(SafetensorsReader.openDir(dir), HeaderLengthError);
    const bytes = writeSafetensors({
      w: { dtype: "F32", shape: [64], data: new Array(64).fill(1) },
    });
    await Deno.writeFile(path, bytes);
    using reader = await SafetensorsReader.openDir(dir);
    await Deno.truncate(path, bytes.byteLength - 16);
    assert.throws(
      () => reader.float32("w"),
      (e: Error) => {
        assert.ok(e instanceof RangeError);
        assert.match(e.message, /model\.safetensors" ended at byte \d+ while reading bytes/);
        assert.match(e.message, /changed after its header was read/);
        return true;
      },
    );
  });
});

Deno.test("reader: NaN or Inf in any chunk is refused with index and count, unless allowed", async () => {
  await withDir(async (dir) => {
    const data = new Array(40).fill(0.5);
    data[33] = Infinity;
    data[35] = NaN;
    await Deno.writeFile(
      `${dir}/model.safetensors`,
      writeSafetensors({ w: { dtype: "F32", shape: [10, 4], data } }),
    );
    using reader = await SafetensorsReader.openDir(dir);
    reader.float32Rows("w", new Float32Array(8), 0, 2); // finite rows read fine
    assert.throws(() => reader.float32Rows("w", new Float32Array(8), 8, 10), (e: Error) => {
      assert.ok(e instanceof NonFiniteWeightError);
      assert.match(
        e.message,
        /^Tensor "w" holds Infinity at index 33 \(2 non-finite values in all\)/,
      );
      return true;
    });
    using lenient = await SafetensorsReader.openDir(dir, { allowNonFinite: true });
    assert.ok(Number.isNaN(lenient.float32("w")[35]));
  });
});

// Every family at a size whose projections the fast tier packs (K * N >= 16384).
const FAMILIES: Record<string, Record<string, unknown>> = {
  gpt2: { model_type: "gpt2", n_layer: 2, n_embd: 128, n_head: 4, vocab_size: 300 },
  llama: {
    model_type: "llama",
    hidden_size: 128,
    intermediate_size: 256,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
    vocab_size: 300,
    tie_word_embeddings: false,
  },
  qwen3: {
    model_type: "qwen3",
    hidden_size: 128,
    intermediate_size: 256,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 32,
    num_hidden_layers: 2,
    vocab_size: 300,
    tie_word_embeddings: true,
  },
  gemma2: {
    model_type: "gemma2",
    hidden_size: 128,
    intermediate_size: 256,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 32,
    num_hidden_layers: 2,
    vocab_size: 300,
  },
  gemma3_text: {
    model_type: "gemma3_text",
    hidden_size: 128,
    intermediate_size: 256,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 32,
    num_hidden_layers: 2,
    vocab_size: 300,
    sliding_window: 4,
    sliding_window_pattern: 2,
  },
  phi3: {
    model_type: "phi3",
    hidden_size: 128,
    intermediate_size: 256,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    num_hidden_layers: 2,
    vocab_size: 300,
    partial_rotary_factor: 0.5,
    sliding_window: 4,
  },
  gpt_neox: {
    model_type: "gpt_neox",
    hidden_size: 128,
    intermediate_size: 512,
    num_attention_heads: 4,
    num_hidden_layers: 2,
    vocab_size: 300,
    rotary_pct: 0.5,
  },
};

/** Saves `model` as save_pretrained would (a tied head left out) with its config. */
async function save(
  dir: string,
  model: { namedParameters(): [string, Tensor][] },
  config: Record<string, unknown>,
  tiedHead: string | null,
): Promise<void> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of model.namedParameters()) {
    if (name === tiedHead) continue;
    tensors[name] = { dtype: "F32", shape: [...t.shape], data: t.dataSync() as Float32Array };
  }
  await Deno.writeFile(`${dir}/model.safetensors`, writeSafetensors(tensors));
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
}

for (const [family, config] of Object.entries(FAMILIES)) {
  Deno.test(`streamed load (${family}): matmul weights are only panels; logits match the saved model`, async () => {
    const { model: saved } = await randomModel(config, { seed: 4 });
    const ids = tensor([[1, 5, 9, 200, 7, 3]], [1, 6], { dtype: "int32" }); // (B, T)
    const want = (saved.call(ids) as Tensor).dataSync();
    await withDir(async (dir) => {
      const tied = family === "gpt2" ? "lm_head.weight" : null;
      await save(dir, saved, config, config.tie_word_embeddings ? "lm_head.weight" : tied);
      const { model } = await loadModel(dir);
      const weights = model.namedParameters().filter(([p, t]) => t.ndim === 2 && !/wpe/.test(p));
      const packed = weights.filter(([, t]) => isPackedOnly(t.storage)).map(([p]) => p);
      // Every projection, the head and the embedding a tied head reads.
      assert.ok(packed.length >= 2 * 4 + 1, `packed: ${packed.join(", ")}`);
      assert.deepEqual(
        (model.call(ids) as Tensor).dataSync(),
        want,
        "the same panels, bit for bit",
      );
      assert.deepEqual(
        packed.filter((p) =>
          !isPackedOnly(model.namedParameters().find(([q]) => q === p)![1].storage)
        ),
        [],
        "a forward pass makes no host copy",
      );
      // The values read back exactly, and the reference tier computes from them.
      for (const [p, t] of model.namedParameters()) {
        const s = saved.namedParameters().find(([q]) => q === p)![1];
        assert.deepEqual(t.dataSync(), s.dataSync(), p);
      }
      const prev = setCpuTier("reference");
      try {
        const ref = (model.call(ids) as Tensor).dataSync() as Float32Array;
        ref.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `logit ${i}: ${v}`));
      } finally {
        setCpuTier(prev);
      }
    });
  });
}

Deno.test("streamed load: a NaN in the last tensor rejects the load; a failed reload changes nothing", async () => {
  const config = FAMILIES.llama;
  const { model: saved } = await randomModel(config, { seed: 5 });
  await withDir(async (dir) => {
    await save(dir, saved, config, null);
    const { model, family } = await loadModel(dir);
    const ids = tensor([[3, 1, 4, 1, 5]], [1, 5], { dtype: "int32" });
    const before = (model.call(ids) as Tensor).dataSync();
    // Poison the last tensor in file order (a late chunk of a packed weight).
    const bytes = await Deno.readFile(`${dir}/model.safetensors`);
    const file = readSafetensors(bytes);
    const last = file.names.map((n) => [n, file.info(n).byteOffset] as const)
      .sort((a, b) => b[1] - a[1])[0][0];
    const info = file.info(last);
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    new DataView(bytes.buffer).setFloat32(
      dataStart + info.byteOffset + info.byteLength - 4,
      NaN,
      true,
    );
    await Deno.writeFile(`${dir}/model.safetensors`, bytes);
    await assert.rejects(loadModel(dir), (e: Error) => {
      assert.ok(e instanceof NonFiniteWeightError, String(e));
      assert.match(e.message, new RegExp(`^Tensor "${last.replaceAll(".", "\\.")}" holds NaN`));
      return true;
    });
    // Into the loaded model: refused before any weight is replaced.
    using reader = await SafetensorsReader.openDir(dir);
    assert.throws(() => family.loadWeights(model, reader), NonFiniteWeightError);
    assert.deepEqual((model.call(ids) as Tensor).dataSync(), before);
  });
});
