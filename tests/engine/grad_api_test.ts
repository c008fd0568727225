// The gradient API: accumulation, noGrad, hooks, retainGrad, the functional grad/valueAndGrad,
// errors (named, and the tensors stay usable), indexAdd's exact values and webgpu memory.

import assert from "node:assert/strict";
import {
  grad,
  liveBuffers,
  noGrad,
  type Tensor,
  tensor,
  tidy,
  valueAndGrad,
  zeroGrad,
} from "../../engine/mod.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

Deno.test("gradients accumulate across backward calls and zeroGrad clears them", async () => {
  const x = tensor([1, 2, 3]).requiresGrad();
  x.mul(x).sum().backward();
  x.mul(3).sum().backward();
  await assertClose(x.grad!, [5, 7, 9]);
  zeroGrad([x]);
  assert.equal(x.grad, null);
  x.sum().backward();
  await assertClose(x.grad!, [1, 1, 1]);
});

Deno.test("inference records nothing: no input needs a gradient, or inside noGrad", () => {
  const w = tensor([[1, 2], [3, 4]]);
  assert.equal(w.matmul(w).exp().needsGrad, false);
  const p = tensor([1, 2]).requiresGrad();
  const y = noGrad(() => p.mul(2).add(w.get("0")));
  assert.equal(y.needsGrad, false);
  assert.equal(y.gradFn, null);
  assert.equal(p.mul(2).gradFn, "mul");
  assert.equal(p.gradFn, "leaf");
  assert.ok(p.isLeaf && !p.mul(2).isLeaf);
  assert.equal(p.mul(2).detach().needsGrad, false);
  assert.equal(p.argmax().needsGrad, false, "an int32 result never carries a gradient");
});

Deno.test("backward refuses what it cannot do, with named errors", async () => {
  const x = tensor([1, 2]).requiresGrad();
  assert.throws(
    () => x.mul(2).backward(),
    /backward: a seed is needed for a tensor of shape \[2\]/,
  );
  assert.throws(
    () => x.mul(2).backward(tensor([1, 2, 3])),
    /backward: the seed has shape \[3\], expected \[2\]/,
  );
  assert.throws(() => tensor([1]).backward(), /backward: .* does not require a gradient/);
  assert.throws(() => tensor([1], undefined, { dtype: "int32" }).requiresGrad(), /float32/);
  assert.throws(() => x.mul(2).requiresGrad(), /requiresGrad: .* was computed by "mul"/);
  const y = x.mul(x).sum();
  y.backward();
  assert.throws(() => y.backward(), /already released .* retainGraph: true/);
  const z = x.mul(x).sum();
  z.backward(undefined, { retainGraph: true });
  z.backward();
  await assertClose(x.grad!, [2 + 4, 4 + 8]);
  // A tensor a rule needs, edited in place after use, is caught at backward time.
  const h = x.mul(1);
  const s = h.mul(h).sum(); // mul reads h
  h.set("0", 5);
  assert.throws(() => s.backward(), /needs for its gradient was modified in place/);
  assert.throws(
    () => x.set("0", 9),
    /cannot write in place into a tensor that requires a gradient/,
  );
  // Through a view of the leaf too (torch refuses it as well); the leaf is left unchanged.
  assert.throws(() => x.get("0:1").set(":", 7), /in place through a view \(index\) of a tensor/);
  assert.throws(() => x.reshape(2, 1).set("1", 7), /through a view \(reshape\)/);
  assert.throws(() => x.get("1").set("...", tensor(7)), /through a view \(index\)/);
  await assertClose(x, [1, 2]);
  noGrad(() => x.get("0").set("...", 1)); // allowed where nothing records, as in torch
  // Moving a tensor that needs a gradient to another device would cut its path: refused.
  assert.throws(
    () => x.mul(2).to("webgpu"),
    /to\("webgpu"\): .* needs a gradient, which cannot flow back/,
  );
  assert.equal(x.to("cpu"), x, "same device: the tensor itself, path kept");
  assert.equal(x.to("meta").needsGrad, false);
  // Everything stays usable after an error.
  x.grad = null;
  x.mul(2).sum().backward();
  await assertClose(x.grad!, [2, 2]);
});

Deno.test("registerHook reads, edits in place and replaces a gradient; remove() uninstalls", async () => {
  const x = tensor([1, 2, 3]).requiresGrad();
  const h = x.mul(2);
  const seen: number[][] = [];
  const r1 = h.registerHook((g) => void seen.push([...g.dataSync()]));
  const r2 = h.registerHook((g) => void g.set("0", 0)); // in place: reaches x
  h.mul(tensor([1, 10, 100])).sum().backward();
  assert.deepEqual(seen, [[1, 10, 100]]);
  await assertClose(x.grad!, [0, 20, 200]);
  r1.remove();
  r2.remove();
  x.grad = null;
  const h2 = x.mul(2);
  h2.registerHook((g) => g.mul(-1)); // a replacement
  h2.sum().backward();
  await assertClose(x.grad!, [-2, -2, -2]);
  x.grad = null;
  x.registerHook((g) => g.add(1)); // a leaf hook changes what lands in .grad
  x.sum().backward();
  await assertClose(x.grad!, [2, 2, 2]);
  const bad = tensor([1, 2]).requiresGrad();
  bad.registerHook(() => tensor([1]));
  assert.throws(() => bad.sum().backward(), /a gradient hook returned shape \[1\], expected \[2\]/);
  assert.throws(() => tensor([1]).registerHook(() => {}), /registerHook: .* does not require/);
});

Deno.test("retainGrad keeps an intermediate's gradient; a branch used twice sums", async () => {
  const x = tensor([1, 2]).requiresGrad();
  const h = x.mul(3).retainGrad();
  h.mul(h).sum().backward(); // d/dh h^2 = 2h
  await assertClose(h.grad!, [6, 12]);
  await assertClose(x.grad!, [18, 36]);
});

Deno.test("grad and valueAndGrad differentiate a function and touch no .grad", async () => {
  const w = tensor([1, 1]).requiresGrad(); // closed over: not an argument
  const f = (x: Tensor, y: Tensor) => x.mul(y).mul(w).sum();
  const { value, grad: gs } = valueAndGrad(f, { argnums: [0, 1] })(
    tensor([1, 2]),
    tensor([3, 4]),
  );
  assert.equal(await value.item(), 11);
  await assertClose(gs[0], [3, 4]);
  await assertClose(gs[1], [1, 2]);
  assert.equal(w.grad, null);
  await assertClose(grad((x: Tensor) => x.exp().sum())(tensor([0, 1])), [1, Math.E]);
  await assertClose(grad((_x: Tensor, y: Tensor) => y.sum())(tensor([5]), tensor([1])), [0]);
  assert.throws(() => grad((x: Tensor) => x.mul(2))(tensor([1, 2])), /one-element tensor/);
  assert.throws(
    () => grad((x: Tensor) => x.sum(), { argnums: 2 })(tensor([1])),
    /argnums names argument 2, but the function got 1 arguments/,
  );
  // noGrad outside does not stop grad() from recording.
  await assertClose(noGrad(() => grad((x: Tensor) => x.mul(x).sum())(tensor([3]))), [6]);
});

deviceTest("indexAdd adds rows at ids, repeated ids summing (scatterAddRows)", async (device) => {
  const t = tensor([[1, 1], [2, 2], [3, 3]], undefined, { device });
  const ids = tensor([2, 0, 2], undefined, { dtype: "int32", device });
  const src = tensor([[1, 2], [10, 20], [100, 200]], undefined, { device });
  await assertClose(t.indexAdd(0, ids, src), [[11, 21], [2, 2], [104, 205]]);
  await assertClose(t, [[1, 1], [2, 2], [3, 3]], { msg: "indexAdd wrote its input" });
  const cols = tensor([1, 1], undefined, { dtype: "int32", device });
  await assertClose(
    t.indexAdd(1, cols, tensor([[1, 2], [3, 4], [5, 6]], undefined, { device })),
    [[1, 4], [2, 9], [3, 14]],
  );
  assert.throws(() => t.indexAdd(0, ids, src.get("0:2")), /indexAdd: src has shape \[2, 2\]/);
});

deviceTest("backward frees its temporaries; grad() frees everything but its results", async (
  device,
) => {
  if (device !== "webgpu") return;
  const x = tensor([[1, 2], [3, 4]], undefined, { device });
  const f = (a: Tensor) => a.matmul(a).softmax().layerNorm(a.get("0"), a.get("1")).sum();
  const warm = grad(f)(x); // programs compiled, pools warmed
  warm.dispose();
  const before = liveBuffers();
  const g = grad(f)(x);
  assert.equal(liveBuffers() - before, 1, "only the gradient is left");
  g.dispose();
  const p = tensor([[1, 2], [3, 4]], undefined, { device }).requiresGrad();
  const mark = liveBuffers();
  tidy(() => p.matmul(p).exp().sum().backward());
  assert.equal(liveBuffers() - mark, 1, "only p.grad is left");
  await assertClose(p.grad!, await grad((a: Tensor) => a.matmul(a).exp().sum())(p.detach()));
  p.grad!.dispose();
});
