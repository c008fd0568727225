// Tests model/safetensors.ts: the fixture checkpoint, dtype conversion, validation errors,
// the writer and sharded directories.

import assert from "node:assert/strict";
import {
  ByteLengthError,
  checkFiniteWeights,
  HeaderFormatError,
  HeaderLengthError,
  loadSafetensors,
  loadSafetensorsDir,
  NonFiniteWeightError,
  OffsetRangeError,
  readSafetensors,
  SafetensorsError,
  TensorLayoutError,
  UnknownDtypeError,
  writeSafetensors,
} from "../../model/safetensors.ts";

const FIXTURE = new URL("../fixtures/tiny-gpt2/model.safetensors", import.meta.url);

/** Builds a file from a raw header and data bytes; the header is space-padded to `headerLength`. */
function raw(header: unknown, data: Uint8Array | number[] = [], headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = headerLength ?? Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + data.length).fill(0x20, 8, 8 + n);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.set(data, 8 + n);
  return out;
}

function bytesOf(arr: ArrayBufferView): number[] {
  return [...new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength)];
}

Deno.test("fixture checkpoint has the hub gpt2 layout", async () => {
  const file = await loadSafetensors(FIXTURE);
  assert.deepEqual(file.metadata, { format: "pt" });
  assert.equal(file.names.length, 4 + 3 * 13);
  assert.deepEqual(file.info("wte.weight"), {
    dtype: "F32",
    shape: [50257, 32],
    byteOffset: file.info("wte.weight").byteOffset,
    byteLength: 50257 * 32 * 4,
  });
  assert.deepEqual(file.info("h.0.attn.bias").shape, [1, 1, 64, 64]);
  assert.deepEqual(file.info("h.2.attn.c_attn.weight").shape, [32, 96]);
  const mask = file.float32("h.0.attn.bias");
  assert.equal(mask[0], 1);
  assert.equal(mask[1], 0);
  assert.equal(mask[64], 1);
  assert.equal(mask[65], 1);
  assert.ok(file.float32("ln_f.weight").every(Number.isFinite));
  assert.equal(file.has("lm_head.weight"), false);
});

Deno.test("F32 and I32 are zero-copy views when aligned and copies when not", () => {
  const bytes = writeSafetensors({
    a: { dtype: "F32", shape: [2, 2], data: [1, 2, 3, 4] },
    b: { dtype: "I32", shape: [3], data: [-1, 0, 7] },
  });
  const file = readSafetensors(bytes);
  const a = file.float32("a");
  assert.equal(a.buffer, bytes.buffer);
  assert.deepEqual([...a], [1, 2, 3, 4]);
  assert.deepEqual([...file.int32("b")], [-1, 0, 7]);
  // A header of odd length puts the data at an odd offset, so the reader must copy.
  const header = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const odd = raw(header, bytesOf(new Float32Array([1.5, -2])), 81);
  const copied = readSafetensors(odd).float32("a");
  assert.notEqual(copied.buffer, odd.buffer);
  assert.deepEqual([...copied], [1.5, -2]);
});

Deno.test("F16, BF16 and I64 convert to float32 and int32", () => {
  const f16 = [0x3c00, 0xc000, 0x0001, 0x7c00, 0x3555]; // 1, -2, 2^-24, inf, ~1/3
  const bf16 = [0x3f80, 0xc040, 0x4049]; // 1, -3, 3.140625
  const i64 = new BigInt64Array([5n, -7n, 2147483647n]);
  const data = [
    ...bytesOf(new Uint16Array(f16)),
    ...bytesOf(new Uint16Array(bf16)),
    ...bytesOf(i64),
  ];
  const file = readSafetensors(raw({
    h: { dtype: "F16", shape: [5], data_offsets: [0, 10] },
    b: { dtype: "BF16", shape: [3], data_offsets: [10, 16] },
    l: { dtype: "I64", shape: [3], data_offsets: [16, 40] },
  }, data));
  const h = file.float32("h");
  assert.deepEqual([...h.slice(0, 4)], [1, -2, 2 ** -24, Infinity]);
  assert.ok(Math.abs(h[4] - 1 / 3) < 1e-3);
  assert.deepEqual([...file.float32("b")], [1, -3, 3.140625]);
  assert.deepEqual([...file.int32("l")], [5, -7, 2147483647]);
  const entries = [...file.entries()].map((e) => [e.name, e.dtype, e.data.constructor.name]);
  assert.deepEqual(entries, [["b", "BF16", "Float32Array"], ["h", "F16", "Float32Array"], [
    "l",
    "I64",
    "Int32Array",
  ]]);
  assert.throws(() => file.int32("h"), TypeError);
  assert.throws(() => file.float32("l"), TypeError);
  assert.throws(() => file.float32("nope"), /Unknown tensor "nope"/);
});

Deno.test("I64 values outside int32 are a RangeError naming the tensor", () => {
  const file = readSafetensors(raw(
    { big: { dtype: "I64", shape: [1], data_offsets: [0, 8] } },
    bytesOf(new BigInt64Array([2n ** 40n])),
  ));
  assert.throws(() => file.int32("big"), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /"big".*"1099511627776"/);
    return true;
  });
});

Deno.test("writer pads the header to 8 bytes and sorts tensors", () => {
  const bytes = writeSafetensors({
    z: { dtype: "F32", shape: [1], data: new Float32Array([9]) },
    a: { dtype: "I32", shape: [1, 2], data: new Int32Array([1, 2]) },
  }, { format: "pt" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  assert.deepEqual(Object.keys(header), ["__metadata__", "a", "z"]);
  assert.deepEqual(header.a.data_offsets, [0, 8]);
  assert.deepEqual(header.z.data_offsets, [8, 12]);
  assert.equal(bytes.length, 8 + n + 12);
  const file = readSafetensors(bytes);
  assert.deepEqual(file.metadata, { format: "pt" });
  assert.deepEqual([...file.float32("z")], [9]);
  assert.throws(
    () => writeSafetensors({ x: { dtype: "F32", shape: [3], data: [1] } }),
    /"x".*"\[3\]"/,
  );
});

function throwsNamed(bytes: Uint8Array, cls: typeof SafetensorsError, pattern: RegExp): void {
  assert.throws(() => readSafetensors(bytes), (e: Error) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    assert.ok(e instanceof SafetensorsError);
    assert.match(e.message, pattern);
    assert.match(e.message, /^[A-Z]/);
    assert.doesNotMatch(e.message, /\.$/);
    return true;
  });
}

Deno.test("malformed files raise one named error each", () => {
  const f32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({
    dtype: "F32",
    shape,
    data_offsets: [begin, end],
  });
  throwsNamed(new Uint8Array(5), HeaderLengthError, /"5" bytes/);
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 200_000_000n, true);
  throwsNamed(huge, HeaderLengthError, /"200000000".*100 MB/);
  const long = new Uint8Array(16);
  new DataView(long.buffer).setBigUint64(0, 9n, true);
  throwsNamed(long, HeaderLengthError, /"9" is larger than the file/);
  const notJson = raw({});
  notJson.set(new TextEncoder().encode("{oops"), 8);
  throwsNamed(notJson, HeaderFormatError, /not JSON/);
  throwsNamed(raw([1, 2]), HeaderFormatError, /"\[1,2\]" is not a JSON object/);
  throwsNamed(
    raw({ t: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }),
    HeaderFormatError,
    /"t"/,
  );
  throwsNamed(
    raw({ t: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, [0]),
    UnknownDtypeError,
    /"t".*"F8_E4M3"/,
  );
  throwsNamed(raw({ t: f32(0, 8) }, [0, 0, 0, 0]), OffsetRangeError, /"t".*"\[0, 8\]"/);
  throwsNamed(raw({ t: f32(4, 0, [0]) }, [0, 0, 0, 0]), OffsetRangeError, /"t"/);
  throwsNamed(
    raw({ t: f32(0, 8, [3]) }, new Array(8).fill(0)),
    ByteLengthError,
    /"t".*"\[3\]".*12 bytes/,
  );
  throwsNamed(
    raw({ a: f32(0, 8), b: f32(4, 8) }, new Array(8).fill(0)),
    TensorLayoutError,
    /"b" .*overlaps "a"/,
  );
  throwsNamed(
    raw({ a: f32(0, 4), b: f32(8, 12) }, new Array(12).fill(0)),
    TensorLayoutError,
    /"b" .*gap after "a"/,
  );
  throwsNamed(raw({ a: f32(4, 8) }, new Array(8).fill(0)), TensorLayoutError, /"a" .*gap/);
  throwsNamed(raw({ a: f32(0, 4) }, new Array(8).fill(0)), TensorLayoutError, /trailing/);
  // Any order tiles, and empty tensors may share an offset.
  const ok = readSafetensors(
    raw({ b: f32(4, 8), e: f32(4, 4, [0]), a: f32(0, 4) }, new Array(8).fill(0)),
  );
  assert.deepEqual(ok.names, ["a", "b", "e"]);
});

Deno.test("sharded directories merge through the index weight_map", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(
      `${dir}/s1.safetensors`,
      writeSafetensors({ a: { dtype: "F32", shape: [1], data: [1] } }),
    );
    await Deno.writeFile(
      `${dir}/s2.safetensors`,
      writeSafetensors({
        b: { dtype: "F32", shape: [2], data: [2, 3] },
        c: { dtype: "I32", shape: [1], data: [4] },
      }),
    );
    const index = {
      metadata: { total_size: 16 },
      weight_map: { a: "s1.safetensors", b: "s2.safetensors", c: "s2.safetensors" },
    };
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
    const file = await loadSafetensorsDir(dir);
    assert.deepEqual(file.names, ["a", "b", "c"]);
    assert.deepEqual(file.metadata, { total_size: "16" });
    assert.deepEqual([...file.float32("b")], [2, 3]);
    assert.deepEqual([...file.int32("c")], [4]);
    index.weight_map.a = "s2.safetensors";
    await Deno.writeTextFile(`${dir}/model.safetensors.index.json`, JSON.stringify(index));
    await assert.rejects(loadSafetensorsDir(dir), /"a" in "s2.safetensors"/);
    await Deno.remove(`${dir}/model.safetensors.index.json`);
    await assert.rejects(loadSafetensorsDir(dir), Deno.errors.NotFound);
    const single = await loadSafetensorsDir(
      new URL("../fixtures/tiny-gpt2", import.meta.url).pathname,
    );
    assert.ok(single.has("wte.weight"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hostile headers: non-string metadata, duplicate names, prototype dtypes", () => {
  const entry = { dtype: "F32", shape: [1], data_offsets: [0, 4] };
  for (
    const meta of [{ format: 1 }, { a: "x", b: null }, { nested: { x: "y" } }, { list: ["a"] }]
  ) {
    assert.throws(
      () => readSafetensors(raw({ __metadata__: meta, w: entry }, [0, 0, 0, 0])),
      (e: Error) =>
        e instanceof HeaderFormatError && /"__metadata__" has key ".*" with value/.test(e.message),
    );
  }
  assert.deepEqual(
    readSafetensors(raw({ __metadata__: { format: "pt" }, w: entry }, [0, 0, 0, 0])).metadata,
    { format: "pt" },
  );
  // Duplicate names: JSON.parse would keep the last silently. Hand-written JSON text.
  const dup = (text: string, data: number[]) => {
    const json = new TextEncoder().encode(text);
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    return out;
  };
  const e = JSON.stringify(entry);
  for (
    const [text, name] of [
      [`{"w":${e},"w":${e}}`, "w"],
      [
        `{"w":${e}, "v\\"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"v\\u0022x":${e}}`,
        'v"x',
      ],
      [`{"__metadata__":{"a":"1"},"w":${e},"__metadata__":{"a":"2"}}`, "__metadata__"],
    ]
  ) {
    assert.throws(() => readSafetensors(dup(text, new Array(8).fill(0))), (err: Error) => {
      assert.ok(err instanceof HeaderFormatError);
      assert.equal(
        err.message.includes(`names tensor ${JSON.stringify(name)} twice`),
        true,
        err.message,
      );
      return true;
    });
  }
  // The same key nested deeper, or as a value, is no duplicate.
  const nested = `{"__metadata__":{"w":"w"},"w":${e}}`;
  assert.deepEqual(readSafetensors(dup(nested, [0, 0, 0, 0])).names, ["w"]);
  for (const dtype of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
    assert.throws(
      () => readSafetensors(raw({ w: { ...entry, dtype } }, [0, 0, 0, 0])),
      (err: Error) => err instanceof UnknownDtypeError && err.message.includes(`"${dtype}"`),
    );
  }
});

Deno.test("index shard names must stay inside the directory", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/m`);
    await Deno.writeFile(
      `${dir}/outside.safetensors`,
      writeSafetensors({ a: { dtype: "F32", shape: [1], data: [1] } }),
    );
    for (const shard of ["../outside.safetensors", "/etc/x.safetensors", "config.json", 7]) {
      const index = { weight_map: { a: shard } };
      await Deno.writeTextFile(`${dir}/m/model.safetensors.index.json`, JSON.stringify(index));
      await assert.rejects(loadSafetensorsDir(`${dir}/m`), (e: Error) => {
        assert.ok(e instanceof HeaderFormatError);
        assert.match(
          e.message,
          /puts tensor "a" in .*, which .*: shards must be plain .safetensors names/,
        );
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("non-finite weights are found from the stored bits of every float dtype", () => {
  const file = readSafetensors(writeSafetensors({
    ok: { dtype: "F32", shape: [3], data: [1, -2, 3.4e38] },
    ints: { dtype: "I32", shape: [2], data: [-1, 2147483647] },
    f32: { dtype: "F32", shape: [4], data: [0, Infinity, NaN, -Infinity] },
  }));
  assert.equal(file.nonFinite("ok"), undefined);
  assert.equal(file.nonFinite("ints"), undefined);
  assert.deepEqual(file.nonFinite("f32"), { index: 1, count: 3, value: Infinity });
  assert.throws(() => checkFiniteWeights(file), (e: Error) => {
    assert.ok(e instanceof NonFiniteWeightError);
    assert.equal(e.tensor, "f32");
    assert.equal(e.index, 1);
    assert.match(
      e.message,
      /^Tensor "f32" holds Infinity at index 1 \(3 non-finite values in all\): .*allowNonFinite: true/,
    );
    return true;
  });
  checkFiniteWeights(file, { allowNonFinite: true });
  // F16 (0x7c00 inf, 0x7e00 NaN, 0x7bff the largest finite) and BF16 (0x7f80 inf, 0xffc0 NaN).
  const half = (dtype: string, bits: number[]) => {
    const data = new Uint8Array(new Uint16Array(bits).buffer);
    return readSafetensors(
      raw({ t: { dtype, shape: [bits.length], data_offsets: [0, data.length] } }, data),
    );
  };
  assert.equal(half("F16", [0x3c00, 0x7bff, 0xfbff]).nonFinite("t"), undefined);
  assert.deepEqual(half("F16", [0x3c00, 0xfc00, 0x7e00]).nonFinite("t"), {
    index: 1,
    count: 2,
    value: -Infinity,
  });
  assert.equal(half("BF16", [0x3f80, 0x7f7f]).nonFinite("t"), undefined);
  const bf = half("BF16", [0x3f80, 0x3f80, 0xffc0]).nonFinite("t");
  assert.equal(bf?.index, 2);
  assert.ok(Number.isNaN(bf?.value));
});

Deno.test("the fixture checkpoint is finite; one NaN in it is refused at load, naming the tensor", async () => {
  const { loadGPT2 } = await import("../../model/load.ts");
  const bytes = await Deno.readFile(FIXTURE);
  checkFiniteWeights(readSafetensors(bytes));
  const file = readSafetensors(bytes);
  const { byteOffset } = file.info("h.1.mlp.c_fc.weight");
  const dir = await Deno.makeTempDir();
  try {
    const broken = bytes.slice();
    const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
    new DataView(broken.buffer).setFloat32(dataStart + byteOffset + 4 * 5, NaN, true);
    await Deno.writeFile(`${dir}/model.safetensors`, broken);
    await Deno.copyFile(
      new URL("../fixtures/tiny-gpt2/config.json", import.meta.url),
      `${dir}/config.json`,
    );
    await assert.rejects(loadGPT2(dir), (e: Error) => {
      assert.ok(e instanceof NonFiniteWeightError);
      assert.match(e.message, /^Tensor "h.1.mlp.c_fc.weight" holds NaN at index 5:/);
      return true;
    });
    const { model } = await loadGPT2(dir, { allowNonFinite: true });
    assert.ok(Number.isNaN((await model.transformer.h.at(1).mlp.c_fc.weight.data())[5]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
