// reshape/view/permute/expand take sizes as numbers or as one array, as torch does; shapes in
// error messages print as [2, 3]. Written once, run on every device, and on meta for shapes.

import assert from "node:assert/strict";
import { type Device, tensor } from "../../engine/mod.ts";
import { deviceTest } from "../_devices.ts";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

deviceTest(
  "reshape, view, permute and expand take one array as well as numbers",
  async (device) => {
    const x = tensor(range(6), [2, 3], { device });
    const pairs = [
      [x.reshape([3, 2]), x.reshape(3, 2)],
      [x.reshape([-1]), x.reshape(-1)],
      [x.view([3, -1]), x.view(3, -1)],
      [x.permute([1, 0]), x.permute(1, 0)],
      [x.get("0:1").expand([4, 3]), x.get("0:1").expand(4, 3)],
      [x.get("0:1").expand([4, -1]), x.get("0:1").expand(4, 3)],
    ];
    for (const [a, b] of pairs) {
      assert.deepEqual(a.shape, b.shape);
      assert.deepEqual(a.strides, b.strides);
      assert.deepEqual(await a.toArray(), await b.toArray());
    }
    assert.deepEqual(await x.permute([1, 0]).toArray(), [[0, 3], [1, 4], [2, 5]]);
  },
);

Deno.test("shape arguments: meta tensors, and a mix of arrays and numbers is a TypeError", () => {
  const meta = tensor(range(6), [2, 3], { device: "meta" as Device });
  assert.deepEqual(meta.reshape([6, 1]).shape, [6, 1]);
  assert.deepEqual(meta.permute([1, 0]).shape, [3, 2]);
  const x = tensor(range(6), [2, 3]);
  assert.throws(
    () => x.reshape([2, 3] as never, 1 as never),
    /reshape takes numbers or one array of numbers, got an array among other arguments: write reshape\(2, 3\) or reshape\(\[2, 3\]\)/,
  );
  assert.throws(
    () => x.view("2" as never, 3),
    (e) => e instanceof TypeError && /view takes numbers.*got string "2"/.test(e.message),
  );
  assert.throws(() => x.permute([0, 0]), /permute: \[0, 0\] is not a permutation of 2 axes/);
});

Deno.test("shapes in error messages print as [2, 3]", async () => {
  const x = tensor(range(6), [2, 3]);
  assert.throws(() => x.reshape([4, 2]), /reshape: shape \[4, 2\] has 8 elements, the tensor 6/);
  assert.throws(() => x.view(5, -1), /view: cannot infer -1 in \[5, -1\] for 6 elements/);
  assert.throws(() => x.expand([3, 3]), /expand: cannot broadcast \[2, 3\] to \[3, 3\]/);
  assert.throws(
    () => x.matmul(tensor(range(6), [2, 3])),
    (e) => e instanceof Error && e.message.includes("[2, 3]") && !e.message.includes("[2,3]"),
  );
  await assert.rejects(
    () => x.item(),
    /item\(\) needs a tensor with one element, got shape \[2, 3\]/,
  );
});
