// Creation and reading: tensor() from nested, flat and typed data (and its ragged and bad-value
// errors), zeros/ones/full/arange (integer and fractional), seeded randn, and data/dataSync/
// toArray/item on every device.

import assert from "node:assert/strict";
import {
  arange,
  full,
  getBackend,
  hasBackend,
  ones,
  randn,
  Rng,
  tensor,
  zeros,
} from "../../engine/mod.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

deviceTest("tensor() from nested, flat and typed data", async (device) => {
  const o = { device };
  const n = tensor([[1, 2, 3], [4, 5, 6]], undefined, o);
  assert.deepEqual([n.shape, n.dtype, n.device], [[2, 3], "float32", device]);
  assert.deepEqual(await n.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(await tensor([1, 2, 3, 4], [2, 2], o).toArray(), [[1, 2], [3, 4]]);
  assert.deepEqual(tensor([1, 2, 3, 4, 5, 6], [3, -1], o).shape, [3, 2]);
  assert.deepEqual(tensor([[1, 2], [3, 4]], [4], o).shape, [4]);
  const f = tensor(new Float32Array([0.5, 1.5]), undefined, o);
  assert.deepEqual([f.shape, f.dtype], [[2], "float32"]);
  const src = new Int32Array([1, 2, 3, 4]);
  const i = tensor(src, [2, 2], o);
  assert.deepEqual([i.shape, i.dtype], [[2, 2], "int32"]);
  src[0] = 99; // the tensor holds a copy
  await assertExact(i, [1, 2, 3, 4]);
  const cast = tensor([1.9, -1.9, 2], undefined, { dtype: "int32", device });
  assert.equal(cast.dtype, "int32");
  await assertExact(cast, [1, -1, 2]);
  assert.equal(
    tensor(new Int32Array([3]), undefined, { dtype: "float32", device }).dtype,
    "float32",
  );
  // Scalars and empties.
  const s = tensor(2.5, undefined, o);
  assert.deepEqual([s.shape, s.size, s.ndim], [[], 1, 0]);
  assert.equal(await s.toArray(), 2.5);
  assert.equal(await s.item(), 2.5);
  assert.deepEqual(tensor([], undefined, o).shape, [0]);
  assert.deepEqual(tensor([[], []], undefined, o).shape, [2, 0]);
  assert.deepEqual(await tensor([[], []], undefined, o).toArray(), [[], []]);
  assert.deepEqual(tensor([[[1]]], undefined, o).shape, [1, 1, 1]);
  assert.equal(await tensor([[[1]]], undefined, o).item(), 1);
  assert.equal(n.toString(), `Tensor(float32, [2, 3], ${device})`);
});

Deno.test("tensor() rejects ragged arrays, non-numbers and a wrong shape", () => {
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => tensor([[1, 2], [3]]), TypeError, /^tensor: nested arrays are ragged/],
    [() => tensor([[1], [2, 3], []]), TypeError, /^tensor: nested arrays are ragged/],
    [() => tensor([[1, 2], [3, [4]]] as never), TypeError, /^tensor: nested arrays are ragged/],
    [() => tensor([[1, 2], 3] as never), TypeError, /^tensor: nested arrays are ragged/],
    [() => tensor([1, "2"] as never), TypeError, /^tensor: element 1 is "2", not a number/],
    [() => tensor([[1, null]] as never), TypeError, /^tensor: element 1 is null, not a number/],
    [
      () => tensor([1, 2, 3], [2, 2]),
      RangeError,
      /^tensor: shape \[2, 2\] has 4 elements, the tensor 3/,
    ],
    [
      () => tensor([1, 2, 3], [-1, 2]),
      RangeError,
      /^tensor: cannot infer -1 in \[-1, 2\] for 3 elements/,
    ],
  ];
  for (const [f, cls, re] of cases) assert.throws(f, { name: cls.name, message: re }, String(re));
  // The ragged message names the position that breaks the pattern.
  assert.throws(() => tensor([[1], [2, 3], []]), { message: /at \[1\]: length 2, expected 1/ });
});

deviceTest("zeros, ones, full", async (device) => {
  const z = zeros([2, 3], { device });
  assert.deepEqual([z.shape, z.dtype, z.device], [[2, 3], "float32", device]);
  await assertExact(z, [0, 0, 0, 0, 0, 0]);
  await assertExact(ones([3], { device }), [1, 1, 1]);
  const f = full([2], -2.5, { device });
  await assertExact(f, [-2.5, -2.5]);
  const fi = full([2, 1], 7, { dtype: "int32", device });
  assert.equal(fi.dtype, "int32");
  await assertExact(fi, [7, 7]);
  assert.equal(ones([], { device }).size, 1);
  assert.equal(await ones([], { device }).item(), 1);
  assert.deepEqual(zeros([2, 0, 3], { device }).shape, [2, 0, 3]);
  assert.deepEqual(await zeros([2, 0], { device }).toArray(), [[], []]);
});

Deno.test("zeros/ones/full/randn reject shapes that are not lists of non-negative integers", () => {
  assert.throws(() => zeros([-1]), { name: "TypeError", message: /^zeros: invalid shape \[-1\]/ });
  assert.throws(() => ones([2, 1.5]), {
    name: "TypeError",
    message: /^ones: invalid shape \[2, 1.5\]/,
  });
  assert.throws(() => full([NaN], 1), {
    name: "TypeError",
    message: /^full: invalid shape \[NaN\]/,
  });
  assert.throws(() => randn([-2], { seed: 1 }), {
    name: "TypeError",
    message: /^randn: invalid shape/,
  });
});

deviceTest("arange: integer, fractional and negative steps", async (device) => {
  const o = { device };
  const a = arange(5, undefined, 1, o);
  assert.deepEqual([a.dtype, a.shape], ["int32", [5]]);
  await assertExact(a, [0, 1, 2, 3, 4]);
  await assertExact(arange(2, 10, 3, o), [2, 5, 8]);
  await assertExact(arange(5, 0, -2, o), [5, 3, 1]);
  await assertExact(arange(-3, -1, 1, o), [-3, -2]);
  const q = arange(0, 1, 0.25, o);
  assert.equal(q.dtype, "float32");
  await assertExact(q, [0, 0.25, 0.5, 0.75]);
  // 0.3 / 0.1 is 2.9999999999999996 in float64: three values, as in NumPy.
  await assertClose(arange(0, 0.3, 0.1, o), [0, 0.1, 0.2], { atol: 1e-7 });
  await assertExact(arange(0.5, undefined, 1, o), [0]);
  await assertExact(arange(1, 2.5, 1, o), [1, 2]);
  assert.equal(arange(1, 2.5, 1, o).dtype, "float32");
  assert.equal(arange(3, undefined, 1, { dtype: "float32", device }).dtype, "float32");
  assert.deepEqual(arange(1, 0, 1, o).shape, [0]);
  assert.deepEqual(arange(0, 0, 1, o).shape, [0]);
  assert.throws(() => arange(0, 5, 0, o), {
    name: "RangeError",
    message: "arange: step cannot be 0",
  });
});

deviceTest("randn is reproducible per seed with mean about 0 and std about 1", async (device) => {
  const a = Array.from(await randn([100, 100], { seed: 7, device }).data());
  const b = Array.from(await randn([100, 100], { seed: 7, device }).data());
  const c = Array.from(await randn([100, 100], { seed: 8, device }).data());
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  const std = Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
  // 10,000 samples: the standard error of the mean is 0.01, of the std about 0.007.
  assert.ok(Math.abs(mean) < 0.04, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.03, `std ${std}`);
  const within1 = a.filter((v) => Math.abs(v) < 1).length / a.length;
  assert.ok(Math.abs(within1 - 0.6827) < 0.02, `P(|z| < 1) = ${within1}`);
  const shifted = await randn([10000], { seed: 7, mean: 3, std: 0.5, device }).data();
  await assertClose(shifted, a.map((v) => 3 + 0.5 * v), { atol: 1e-5 });
  const r = randn([2, 3], { seed: 1, device });
  assert.deepEqual([r.shape, r.dtype], [[2, 3], "float32"]);
});

deviceTest("reading: data, toArray, item and their errors", async (device) => {
  const t = tensor([[1, 2, 3], [4, 5, 6]], undefined, { device });
  const d = await t.data();
  assert.ok(d instanceof Float32Array);
  d[0] = 99; // a copy
  assert.deepEqual(await t.toArray(), [[1, 2, 3], [4, 5, 6]]);
  assert.deepEqual(await t.transpose().toArray(), [[1, 4], [2, 5], [3, 6]]);
  assert.deepEqual(Array.from(await t.get(":, 1").data()), [2, 5]);
  const i = await tensor([1, 2], undefined, { dtype: "int32", device }).data();
  assert.ok(i instanceof Int32Array);
  await assert.rejects(() => t.item(), {
    name: "RangeError",
    message: "item() needs a tensor with one element, got shape [2, 3]",
  });
  await assert.rejects(() => zeros([0], { device }).item(), {
    name: "RangeError",
    message: /shape \[0\]/,
  });
});

Deno.test("dataSync on the cpu returns a row-major copy", () => {
  const t = tensor([[1, 2], [3, 4]]);
  const d = t.transpose().dataSync();
  assert.deepEqual(Array.from(d), [1, 3, 2, 4]);
  d[0] = 9;
  assert.deepEqual(Array.from(t.dataSync()), [1, 2, 3, 4]);
});

Deno.test("an unknown device is a TypeError naming it", () => {
  assert.throws(() => zeros([1], { device: "tpu" as never }), {
    name: "TypeError",
    message: 'Unknown device "tpu": use "cpu", "webgpu" or "meta"',
  });
});

Deno.test("Rng: a seed fixes the sequence; uniform is in [0, 1)", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xs = Array.from({ length: 1000 }, () => a.uniform());
  assert.deepEqual(Array.from({ length: 1000 }, () => b.uniform()), xs);
  assert.notDeepEqual(Array.from({ length: 1000 }, () => c.uniform()), xs);
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length; // std error 0.009
  assert.ok(Math.abs(mean - 0.5) < 0.04, `mean ${mean}`);
  assert.equal(new Rng(1).normal(), new Rng(1).normal());
});

Deno.test("the cpu and meta backends are always registered", () => {
  assert.ok(hasBackend("cpu") && hasBackend("meta"));
  assert.equal(getBackend("cpu").device, "cpu");
  assert.equal(getBackend("meta").device, "meta");
  const t = tensor([1, 2]);
  assert.equal(t.backend, getBackend("cpu"));
  t.dispose(); // a no-op on the cpu
});
