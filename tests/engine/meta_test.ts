// The meta device: every op gives the same shape and dtype as on the cpu and throws the same
// errors, computes nothing, and reading its data throws a clear error instead of returning zeros.

import assert from "node:assert/strict";
import { arange, cat, full, ones, randn, stack, tensor, where, zeros } from "../../engine/mod.ts";
import type { Device, Tensor } from "../../engine/mod.ts";

/** Programs that build their inputs on a device and return one or more results. */
const PROGRAMS: [string, (d: Device) => Tensor | Tensor[]][] = [
  ["tensor/zeros/ones/full/arange/randn", (device) => [
    tensor([[1, 2], [3, 4]], undefined, { device }),
    tensor([1, 2], undefined, { dtype: "int32", device }),
    zeros([2, 0], { device }),
    ones([3], { device }),
    full([1, 2], 3, { dtype: "int32", device }),
    arange(5, undefined, 1, { device }),
    arange(0, 1, 0.25, { device }),
    randn([4, 2], { seed: 1, device }),
  ]],
  ["unary", (device) => {
    const x = randn([2, 3], { seed: 1, device });
    return [x.neg(), x.exp(), x.abs().log(), x.gelu(), x.tanh(), x.sigmoid(), x.relu()];
  }],
  ["binary and int32 paths", (device) => {
    const a = randn([3, 1], { seed: 1, device }), b = randn([1, 4], { seed: 2, device });
    const i = arange(4, undefined, 1, { device });
    return [
      a.add(b),
      a.sub(2),
      a.mul(b),
      a.div(b),
      a.pow(2),
      a.eq(b),
      a.gt(b),
      a.lt(b),
      i.add(i),
      i.add(0.5),
      i.div(i),
      i.gt(1),
      a.maximum(b),
      a.minimum(1),
    ];
  }],
  ["reductions", (device) => {
    const x = randn([2, 3, 4], { seed: 1, device });
    return [
      x.sum(),
      x.sum(1),
      x.mean(-1, true),
      x.max(0),
      x.min(2, true),
      x.argmax(),
      x.argmax(1),
      x.argmin(-1, true),
      zeros([0, 3], { device }).sum(0),
    ];
  }],
  ["softmax, layerNorm, matmul", (device) => {
    const x = randn([2, 3, 4], { seed: 1, device });
    const w = ones([4], { device }), b = zeros([4], { device });
    return [
      x.softmax(),
      x.logSoftmax(0),
      x.layerNorm(w, b),
      x.matmul(x.transpose()),
      x.matmul(randn([4], { seed: 2, device })),
      randn([3], { seed: 3, device }).matmul(x),
      randn([5, 1, 2, 3], { seed: 4, device }).matmul(x),
    ];
  }],
  ["views and indexing", (device) => {
    const x = randn([2, 3, 4], { seed: 1, device });
    return [
      x.reshape(6, -1),
      x.view(-1),
      x.transpose(0, 2),
      x.permute(1, 2, 0),
      x.unsqueeze(1),
      x.get("0").unsqueeze(0).squeeze(),
      x.get(":, -1"),
      x.get("..., ::-2, null"),
      x.get("1:, 5:"),
      x.expand(3, 2, 3, 4),
      x.transpose().reshape(-1),
      x.flatten(),
    ];
  }],
  ["gather, topk, where, cat, stack, copies", (device) => {
    const x = randn([3, 4], { seed: 1, device });
    const ids = tensor([2, 0], undefined, { dtype: "int32", device });
    const t = x.topk(2);
    return [
      x.indexSelect(0, ids),
      x.indexSelect(1, ids),
      t.values,
      t.indices,
      x.topk(0, 0).values,
      where(x.gt(0), x, 0),
      x.where(x.lt(0), ones([4], { device })),
      cat([x, x], 1),
      stack([x, x], -1),
      x.clone(),
      x.transpose().contiguous(),
      x.astype("int32"),
      x.set("0", 1),
      x.fill(2),
    ];
  }],
];

/** Programs that must fail the same way on every device. */
const FAILURES: [string, (d: Device) => unknown][] = [
  ["broadcast", (device) => zeros([2, 3], { device }).add(zeros([4], { device }))],
  ["matmul", (device) => zeros([2, 3], { device }).matmul(zeros([2, 3], { device }))],
  ["axis", (device) => zeros([2, 3], { device }).sum(2)],
  ["view", (device) => zeros([2, 3], { device }).transpose().view(6)],
  ["reshape", (device) => zeros([2, 3], { device }).reshape(4)],
  ["index", (device) => zeros([2, 3], { device }).get("0, 3")],
  ["set", (device) => zeros([2, 3], { device }).set(":", zeros([2], { device }))],
  ["layerNorm", (device) => zeros([2, 3], { device }).layerNorm(ones([2], { device }), zeros([3]))],
  ["topk", (device) => zeros([2, 3], { device }).topk(4)],
  ["cat", (device) => cat([zeros([2, 3], { device }), zeros([2, 2], { device })])],
  ["stack", (device) => stack([zeros([2, 3], { device }), zeros([2, 2], { device })])],
  ["indexSelect", (device) => zeros([2, 3], { device }).indexSelect(0, zeros([1], { device }))],
  ["ragged", (device) => tensor([[1], [2, 3]], undefined, { device })],
];

const describe = (r: Tensor | Tensor[]) => [r].flat().map((t) => `${t.dtype} [${t.shape}]`);

Deno.test("meta gives every op the cpu's shapes and dtypes", () => {
  for (const [label, run] of PROGRAMS) {
    const cpu = run("cpu"), meta = run("meta");
    assert.deepEqual(describe(meta), describe(cpu), label);
    for (const t of [meta].flat()) assert.equal(t.device, "meta", label);
  }
});

Deno.test("meta throws the cpu's errors, class and message", () => {
  for (const [label, run] of FAILURES) {
    let want: Error | undefined;
    try {
      run("cpu");
    } catch (e) {
      want = e as Error;
    }
    assert.ok(want, `${label} should fail on the cpu`);
    assert.throws(() => run("meta"), { name: want.name, message: want.message }, label);
  }
});

Deno.test("reading a meta tensor throws a clear error", async () => {
  const m = zeros([2, 3], { device: "meta" });
  const noData = /meta device has no data/;
  await assert.rejects(() => m.data(), { name: "TypeError", message: noData });
  await assert.rejects(() => m.toArray(), { name: "TypeError", message: noData });
  await assert.rejects(() => m.sum().item(), { name: "TypeError", message: noData });
  await assert.rejects(() => m.toDevice("cpu"), { name: "TypeError", message: noData });
  assert.throws(() => m.dataSync(), {
    name: "TypeError",
    message:
      'dataSync(): a tensor on the meta device has no data, only its shape [2, 3]: run on "cpu" or "webgpu" to get values',
  });
  assert.throws(() => m.to("cpu"), {
    name: "TypeError",
    message: /^to\("cpu"\): a tensor on the meta device has no data, only its shape \[2, 3\]/,
  });
});

Deno.test('to("meta") keeps shape and dtype and drops the data', async () => {
  const c = tensor([[1, 2, 3]], undefined, { dtype: "int32" });
  const m = c.to("meta");
  assert.deepEqual([m.device, m.dtype, m.shape], ["meta", "int32", [1, 3]]);
  assert.equal(m.storage.buf, null);
  assert.equal(m.to("meta"), m);
  assert.equal((await c.toDevice("meta")).device, "meta");
  assert.deepEqual(c.transpose().to("meta").shape, [3, 1]);
});

Deno.test("mixing meta and cpu tensors names both devices", () => {
  const c = zeros([2]), m = zeros([2], { device: "meta" });
  assert.throws(() => c.add(m), {
    name: "TypeError",
    message: 'add: tensors are on different devices ("cpu" and "meta"): move one with .to()',
  });
  assert.throws(() => m.matmul(c), {
    name: "TypeError",
    message: /^matmul: tensors are on different devices \("meta" and "cpu"\)/,
  });
  assert.throws(() => cat([c, m]), {
    name: "TypeError",
    message: 'cat: tensors are on different devices ("cpu" and "meta"): move one with .to()',
  });
  assert.throws(() => where(m.gt(0), c, 1), {
    name: "TypeError",
    message: 'where: tensors are on different devices ("meta" and "cpu"): move one with .to()',
  });
});
