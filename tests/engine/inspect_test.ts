// console.log / Deno.inspect of tensors: a description, plus values for small cpu tensors.

import assert from "node:assert/strict";
import { arange, tensor, zeros } from "../../engine/mod.ts";

Deno.test("inspect shows dtype, shape, device and small cpu values", () => {
  assert.equal(
    Deno.inspect(tensor([[1, 2], [3, 4]])),
    "Tensor(float32, [2, 2], cpu) [ [ 1, 2 ], [ 3, 4 ] ]",
  );
  assert.equal(Deno.inspect(arange(3).get("1")), "Tensor(int32, [], cpu) 1");
  assert.equal(
    Deno.inspect(tensor([[1, 2], [3, 4]]).transpose()),
    "Tensor(float32, [2, 2], cpu) [ [ 1, 3 ], [ 2, 4 ] ]",
  );
});

Deno.test("inspect shows only the description for large or meta tensors", () => {
  assert.equal(Deno.inspect(zeros([2000])), "Tensor(float32, [2000], cpu)");
  assert.equal(Deno.inspect(zeros([2, 3]).to("meta")), "Tensor(float32, [2, 3], meta)");
});
