// In-place writes: set() with a scalar or a broadcast tensor into any indexed region, through
// views (transposed, flipped, offset) into the shared storage, fill(), the storage version
// counter, dtype conversion on write, overlapping source and destination, and the errors.

import assert from "node:assert/strict";
import { type Device, slice, tensor, zeros } from "../../engine/mod.ts";
import { assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const t23 = (device: Device) => tensor(range(6), [2, 3], { device });

deviceTest("set a scalar into a region returns the tensor itself", async (device) => {
  const t = t23(device);
  assert.equal(t.set("0, :", 9), t);
  await assertExact(t, [9, 9, 9, 3, 4, 5]);
  t.set(":, -1", -1);
  await assertExact(t, [9, 9, -1, 3, 4, -1]);
  t.set("1, ::2", 7).set([0, slice(1, 2)], 8);
  await assertExact(t, [9, 8, -1, 7, 4, 7]);
  t.set("..., null, 0", 0);
  await assertExact(t, [0, 8, -1, 0, 4, 7]);
  t.set(":, 3:", 100); // an empty region writes nothing
  await assertExact(t, [0, 8, -1, 0, 4, 7]);
  t.set(-1, 2.5).fill(1.5);
  await assertExact(t, [1.5, 1.5, 1.5, 1.5, 1.5, 1.5]);
  const s = tensor(3, undefined, { device }).fill(4);
  assert.equal(await s.item(), 4);
});

deviceTest("set broadcasts a tensor into the region", async (device) => {
  const t = zeros([2, 3], { device });
  t.set("...", tensor([1, 2, 3], undefined, { device }));
  await assertExact(t, [1, 2, 3, 1, 2, 3]);
  t.set(":", tensor([[10], [20]], undefined, { device }));
  await assertExact(t, [10, 10, 10, 20, 20, 20]);
  t.set("1, 1:", tensor([7, 8], undefined, { device }));
  await assertExact(t, [10, 10, 10, 20, 7, 8]);
  t.set("0", tensor(5, undefined, { device }));
  await assertExact(t, [5, 5, 5, 20, 7, 8]);
  // The source may itself be a strided view.
  t.set(":, 0:2", tensor([[1, 2], [3, 4]], undefined, { device }).transpose());
  await assertExact(t, [1, 3, 5, 2, 4, 8]);
  t.set("..., ::-1", tensor([1, 2, 3], undefined, { device }));
  await assertExact(t, [3, 2, 1, 3, 2, 1]);
});

deviceTest("set through views writes the shared storage", async (device) => {
  const t = t23(device);
  const row = t.get("1");
  row.set("0", 30);
  await assertExact(t, [0, 1, 2, 30, 4, 5]);
  const tt = t.transpose();
  tt.set("0", tensor([-1, -2], undefined, { device })); // column 0 of t
  await assertExact(t, [-1, 1, 2, -2, 4, 5]);
  tt.set(":, 1", 9); // row 1 of t
  await assertExact(t, [-1, 1, 2, 9, 9, 9]);
  t.get("::-1, ::-1").set("0", tensor([1, 2, 3], undefined, { device })); // row 1, reversed
  await assertExact(t, [-1, 1, 2, 3, 2, 1]);
  const flat = t.view(6);
  flat.set("1:5", 0);
  await assertExact(t, [-1, 0, 0, 0, 0, 1]);
  t.unsqueeze(0).get("0, 0").fill(4);
  await assertExact(flat, [4, 4, 4, 0, 0, 1]);
  // A copy does not see later writes.
  const c = t.clone();
  t.fill(0);
  await assertExact(c, [4, 4, 4, 0, 0, 1]);
});

deviceTest("set converts the value to the tensor's dtype", async (device) => {
  const i = tensor([1, 2, 3], undefined, { dtype: "int32", device });
  i.set("0", tensor([7.9], undefined, { device }));
  i.set("1", -2.7);
  i.set("2:", tensor([5], undefined, { dtype: "int32", device }));
  assert.equal(i.dtype, "int32");
  await assertExact(i, [7, -2, 5]);
  const f = zeros([2], { device }).set(":", tensor([3, 4], undefined, { dtype: "int32", device }));
  assert.equal(f.dtype, "float32");
  await assertExact(f, [3, 4]);
  // Leading unit axes of the value beyond the region's rank are dropped, as in torch.
  f.set("0", tensor([[[6]]], undefined, { device }));
  await assertExact(f, [6, 4]);
});

deviceTest(
  "set from an overlapping view of the same storage reads before it writes",
  async (device) => {
    // NumPy semantics: t[1:] = t[:-1] shifts right.
    const t = tensor([1, 2, 3, 4], undefined, { device });
    t.set("1:", t.get(":-1"));
    await assertExact(t, [1, 1, 2, 3]);
    const m = tensor(range(4), [2, 2], { device });
    m.set("...", m.transpose());
    await assertExact(m, [0, 2, 1, 3]);
  },
);

deviceTest("every write bumps the storage version, seen through every view", (device) => {
  const t = t23(device);
  const v = t.get("0");
  const start = t.storage.version;
  t.set("0, 0", 1);
  assert.equal(t.storage.version, start + 1);
  v.set(":", tensor([1, 2, 3], undefined, { device }));
  t.fill(0);
  assert.equal(v.storage.version, start + 3);
  t.clone().fill(1);
  assert.equal(t.storage.version, start + 3, "writing a clone leaves the original alone");
  return Promise.resolve();
});

deviceTest("set errors name the shapes and the bad value", (device) => {
  const t = t23(device);
  const cases: [() => unknown, ErrorConstructor, RegExp][] = [
    [
      () => t.set(":", tensor([1, 2], undefined, { device })),
      RangeError,
      /^set: cannot broadcast \[2\] to \[2, 3\], the region ":" selects of \[2, 3\]/,
    ],
    [
      () => t.set("0", zeros([2, 3], { device })),
      RangeError,
      /^set: cannot broadcast \[2, 3\] to \[3\], the region "0" selects/,
    ],
    [() => t.set("2", 0), RangeError, /^Index 2 is out of range for axis 0 of size 2/],
    [() => t.set("0, 0, 0", 0), RangeError, /has 3 items for a tensor of shape \[2, 3\]/],
    [() => t.set("a", 0), TypeError, /^Invalid index "a"/],
    [
      () => t.set("0", "1" as unknown as number),
      TypeError,
      /^set: expected a Tensor or a number, got string "1"/,
    ],
    [
      () => t.set("0", [1, 2, 3] as unknown as number),
      TypeError,
      /^set: expected a Tensor or a number, got an array/,
    ],
    [
      () => t.set("0", zeros([3], { device: "meta" })),
      TypeError,
      /^set: tensors are on different devices/,
    ],
  ];
  const before = t.storage.version;
  for (const [f, cls, re] of cases) assert.throws(f, { name: cls.name, message: re }, String(re));
  assert.equal(t.storage.version, before, "a failed set writes nothing");
  return Promise.resolve();
});
