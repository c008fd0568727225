// Views: reshape/view/transpose/permute/squeeze/unsqueeze/expand/flatten edit the layout only,
// share storage, and read back the right values on every device; viewStrides matches PyTorch's
// computeStride; clone/contiguous/astype copy when they must.

import assert from "node:assert/strict";
import { type Device, type Tensor, tensor, zeros } from "../../engine/mod.ts";
import { isContiguous, viewStrides } from "../../engine/layout.ts";
import { assertExact } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** The [2, 3] tensor [[0, 1, 2], [3, 4, 5]] on a device. */
const t23 = (device: Device) => tensor(range(6), [2, 3], { device });

Deno.test("viewStrides: PyTorch computeStride cases", () => {
  // [shape, strides, target, expected strides or null]
  const cases: [number[], number[], number[], number[] | null][] = [
    [[2, 3], [3, 1], [3, 2], [2, 1]], // contiguous: any target
    [[2, 3], [3, 1], [6], [1]],
    [[], [], [1, 1], [1, 1]], // scalar
    [[4, 3], [6, 1], [2, 2, 3], [12, 6, 1]], // a column slice: split the outer axis
    [[4, 3], [6, 1], [4, 1, 3], [6, 3, 1]],
    [[4, 3], [6, 1], [12], null], // merging across the gap needs a copy
    [[4, 3], [6, 1], [4, 3, 1], [6, 1, 1]],
    [[3, 2], [1, 3], [3, 2, 1], [1, 3, 3]], // transposed: trailing unit axis
    [[3, 2], [1, 3], [6], null],
    [[3, 2], [1, 3], [2, 3], null],
    [[3, 4], [0, 1], [3, 2, 2], [0, 2, 1]], // expanded rows
    [[3, 4], [0, 1], [12], null],
    [[4], [-1], [2, 2], [-2, -1]], // flipped
    [[2, 1, 3], [3, 99, 1], [6], [1]], // size-1 axes may have any stride
    [[3, 0], [4, 1], [0, 3], [3, 1]], // empty: always viewable
    [[3, 0], [4, 1], [3, 0], [4, 1]],
  ];
  for (const [shape, strides, target, want] of cases) {
    assert.deepEqual(
      viewStrides(shape, strides, target),
      want,
      `[${shape}]/[${strides}] -> [${target}]`,
    );
  }
});

Deno.test("isContiguous ignores the strides of size-1 axes", () => {
  assert.equal(isContiguous([2, 3], [3, 1]), true);
  assert.equal(isContiguous([2, 1, 3], [3, 7, 1]), true);
  assert.equal(isContiguous([3, 2], [1, 3]), false);
  assert.equal(isContiguous([], []), true);
});

deviceTest("reshape and view: values, storage sharing, -1", async (device) => {
  const t = t23(device);
  for (const shape of [[3, 2], [6], [1, 6, 1], [-1, 2], [3, -1], [2, 1, 3]]) {
    const v = t.view(...shape);
    assert.equal(v.storage, t.storage);
    await assertExact(v, range(6), `view(${shape})`);
  }
  assert.deepEqual(t.reshape(-1, 2).shape, [3, 2]);
  assert.deepEqual(t.flatten().shape, [6]);
  assert.deepEqual(tensor(5, undefined, { device }).reshape(1, 1).shape, [1, 1]);
  assert.deepEqual(zeros([0, 4], { device }).reshape(-1, 2).shape, [0, 2]);
  // A transposed tensor reshapes through a copy, but view refuses.
  const tt = t.transpose();
  const r = tt.reshape(6);
  assert.notEqual(r.storage, t.storage);
  await assertExact(r, [0, 3, 1, 4, 2, 5]);
  assert.throws(() => tt.view(6), {
    name: "TypeError",
    message:
      "view: cannot view shape [3, 2] with strides [1, 3] as [6] without a copy: use reshape()",
  });
  // A viewable non-contiguous layout: split the rows of a column slice.
  const cols = tensor(range(24), [4, 6], { device }).get(":, 1:4");
  const split = cols.view(2, 2, 3);
  assert.equal(split.storage, cols.storage);
  await assertExact(split, [1, 2, 3, 7, 8, 9, 13, 14, 15, 19, 20, 21]);
  await assertExact(cols.reshape(12), [1, 2, 3, 7, 8, 9, 13, 14, 15, 19, 20, 21]);
});

deviceTest("reshape errors name the op and the shapes", (device) => {
  const t = t23(device);
  const cases: [() => Tensor, ErrorConstructor, string][] = [
    [() => t.reshape(4), RangeError, "reshape: shape [4] has 4 elements, the tensor 6"],
    [() => t.view(-1, 4), RangeError, "view: cannot infer -1 in [-1, 4] for 6 elements"],
    [() => t.reshape(-1, -1), TypeError, "reshape: only one dimension can be -1, got [-1, -1]"],
    [() => t.reshape(2, -3), TypeError, "reshape: invalid dimension -3 in [2, -3]"],
    [() => t.reshape(1.5, 4), TypeError, "reshape: invalid dimension 1.5 in [1.5, 4]"],
    [
      () => zeros([0, 3], { device }).reshape(0, -1),
      RangeError,
      "reshape: cannot infer -1 in [0, -1] for 0 elements",
    ],
  ];
  for (const [f, cls, message] of cases) assert.throws(f, { name: cls.name, message });
  return Promise.resolve();
});

deviceTest("transpose and permute", async (device) => {
  const t = t23(device);
  const tt = t.transpose();
  assert.deepEqual([tt.shape, tt.strides, tt.isContiguous], [[3, 2], [1, 3], false]);
  assert.equal(tt.storage, t.storage);
  await assertExact(tt, [0, 3, 1, 4, 2, 5]);
  await assertExact(t.transpose(0, 1).transpose(-1, -2), range(6));
  const x = tensor(range(24), [2, 3, 4], { device });
  const p = x.permute(2, 0, 1);
  assert.deepEqual([p.shape, p.strides], [[4, 2, 3], [1, 12, 4]]);
  await assertExact(p.get("1"), [1, 5, 9, 13, 17, 21]);
  await assertExact(x.permute(-1, -3, -2).get("3, 1"), [15, 19, 23]);
  await assertExact(x.transpose(0, 2).contiguous().get("0"), [0, 12, 4, 16, 8, 20]);
  assert.throws(() => x.permute(0, 0, 1), {
    name: "RangeError",
    message: "permute: [0, 0, 1] is not a permutation of 3 axes",
  });
  assert.throws(() => x.permute(1, 0), { name: "RangeError", message: /not a permutation of 3/ });
  assert.throws(() => x.permute(0, 1, 3), {
    name: "RangeError",
    message: /^permute: axis 3 is out of range/,
  });
  assert.throws(() => t.transpose(0, 2), {
    name: "RangeError",
    message: /^transpose: axis 2 is out of range for a tensor of rank 2/,
  });
  assert.throws(() => tensor([1, 2], undefined, { device }).transpose(), {
    name: "RangeError",
    message: /^transpose: axis -2/,
  });
});

deviceTest("squeeze, unsqueeze, expand", async (device) => {
  const t = tensor(range(3), [1, 3, 1], { device });
  assert.deepEqual(t.squeeze().shape, [3]);
  assert.deepEqual(t.squeeze(0).shape, [3, 1]);
  assert.deepEqual(t.squeeze(-1).shape, [1, 3]);
  assert.equal(t.squeeze(1), t, "squeezing a non-unit axis is a no-op, as in torch");
  assert.deepEqual(tensor(1, undefined, { device }).squeeze().shape, []);
  assert.throws(() => t.squeeze(3), {
    name: "RangeError",
    message: /^squeeze: axis 3 is out of range/,
  });
  const u = tensor(range(6), [2, 3], { device });
  assert.deepEqual(u.unsqueeze(0).shape, [1, 2, 3]);
  assert.deepEqual(u.unsqueeze(1).shape, [2, 1, 3]);
  assert.deepEqual(u.unsqueeze(-1).shape, [2, 3, 1]);
  assert.deepEqual(u.unsqueeze(2).shape, [2, 3, 1]);
  assert.equal(u.unsqueeze(1).storage, u.storage);
  await assertExact(u.transpose().unsqueeze(1), [0, 3, 1, 4, 2, 5]);
  assert.throws(() => u.unsqueeze(3), {
    name: "RangeError",
    message: /^unsqueeze: axis 3 is out of range for a tensor of rank 3 \(use -3 to 2\)/,
  });
  // expand: broadcast as a 0-stride view.
  const col = tensor([1, 2, 3], [3, 1], { device });
  const e = col.expand(3, 4);
  assert.deepEqual([e.shape, e.strides, e.storage === col.storage], [[3, 4], [1, 0], true]);
  await assertExact(e, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  await assertExact(col.expand(2, -1, 2), [1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3]);
  await assertExact(e.reshape(2, 6).get("1"), [2, 2, 3, 3, 3, 3]);
  assert.throws(() => tensor([1, 2, 3], undefined, { device }).expand(2), {
    name: "RangeError",
    message: "expand: cannot broadcast [3] to [2]",
  });
  assert.throws(() => col.expand(4), {
    name: "RangeError",
    message: "expand: cannot broadcast [3, 1] to [4]",
  });
});

deviceTest("clone, contiguous and astype copy only when they must", async (device) => {
  const t = t23(device);
  assert.equal(t.contiguous(), t);
  const row = t.get("1");
  assert.equal(row.isContiguous, true);
  assert.equal(row.contiguous(), row, "an offset view is already contiguous");
  await assertExact(row, [3, 4, 5]);
  const tt = t.transpose();
  const c = tt.contiguous();
  assert.notEqual(c.storage, t.storage);
  assert.deepEqual([c.shape, c.strides, c.isContiguous], [[3, 2], [2, 1], true]);
  await assertExact(c, [0, 3, 1, 4, 2, 5]);
  const k = t.clone();
  assert.notEqual(k.storage, t.storage);
  await assertExact(k, range(6));
  const i = tensor([1, 2], undefined, { dtype: "int32", device });
  assert.equal(i.clone().dtype, "int32");
  assert.equal(i.astype("int32"), i);
  const f = i.astype("float32");
  assert.equal(f.dtype, "float32");
  await assertExact(f, [1, 2]);
  const trunc = tensor([1.75, -1.75, 2.5, -0.5], undefined, { device }).astype("int32");
  assert.equal(trunc.dtype, "int32");
  await assertExact(trunc, [1, -1, 2, 0]);
  await assertExact(tt.astype("int32"), [0, 3, 1, 4, 2, 5]);
});
