// Module.parameters(), requiresGrad and zeroGrad: distinct tensors, tied weights summing their
// gradients into one .grad, per-parameter switches.

import assert from "node:assert/strict";
import { type Tensor, tensor } from "../../engine/mod.ts";
import { Module } from "../../model/module.ts";
import { assertClose } from "../_assert.ts";

class Scale extends Module {
  constructor(readonly w: Tensor) {
    super();
    this.addParameter("w", w);
  }
  forward(x: Tensor): Tensor {
    return x.mul(this.parameter("w"));
  }
}

class Pair extends Module {
  readonly a: Scale;
  readonly b: Scale;
  constructor(shared: boolean) {
    super();
    const w = tensor([2, 3]);
    this.a = this.addModule("a", new Scale(w));
    this.b = this.addModule("b", new Scale(shared ? w : tensor([5, 7])));
  }
  forward(x: Tensor): Tensor {
    return this.b.call(this.a.call(x) as Tensor) as Tensor;
  }
}

Deno.test("parameters() lists each tensor once; a tied weight's gradient sums both uses", async () => {
  const tied = new Pair(true).requiresGrad();
  assert.equal(tied.namedParameters().length, 2);
  assert.equal(tied.parameters().length, 1);
  const x = tensor([1, 1]);
  (tied.call(x) as Tensor).sum().backward(); // d/dw (w * w * x) = 2 w x
  await assertClose(tied.a.w.grad!, [4, 6]);
  tied.zeroGrad();
  assert.equal(tied.a.w.grad, null);

  const untied = new Pair(false);
  assert.equal(untied.parameters().length, 2);
  untied.b.parameter("w").requiresGrad(); // one parameter only
  (untied.call(x) as Tensor).sum().backward();
  assert.equal(untied.a.w.grad, null);
  await assertClose(untied.b.w.grad!, [2, 3]);
  untied.requiresGrad(false);
  assert.ok(untied.parameters().every((p) => !p.needsGrad));
});
