// The cpu fast tier's row kernels (WebAssembly SIMD rmsNorm, layerNorm, softmax, gelu, sigmoid; the
// compiled rotary and geluGrad loops) against the reference tier on shapes past the SIMD threshold, odd widths
// (padded rows), strided views and masked scores. Tolerance 2e-6 abs + 2e-6 rel unless stated.

import assert from "node:assert/strict";
import {
  fastTierInfo,
  grad,
  randn,
  startThreads,
  stopThreads,
  type Tensor,
  tensor,
} from "../../engine/mod.ts";
import { MIN_ELEMS } from "../../engine/cpu/fast/rows.ts";
import { assertClose } from "../_assert.ts";
import { withTier } from "../_devices.ts";

async function compare(label: string, f: () => Tensor, tol = { atol: 2e-6, rtol: 2e-6 }) {
  const ref = withTier("reference", f), fast = withTier("fast", f);
  await assertClose(fast, ref, { ...tol, msg: `${label}: fast vs reference` });
}

let seed = 300;
const rnd = (...shape: number[]) => randn(shape, { seed: seed++ });
// Widths: SmolLM2 576, GPT-2 768, odd 7 / 577 (padded rows), attention rows of T = 1..130.
const SHAPES = [[64, 7], [3, 576], [5, 768], [4, 577], [2, 3, 130], [1, 4, 1, 257]];

Deno.test("the fast tier runs SIMD row kernels here", () => {
  assert.equal(fastTierInfo().simd, true, "this machine's Deno has wasm SIMD");
  assert.ok(SHAPES.every((s) => s.reduce((a, b) => a * b) >= MIN_ELEMS), "shapes reach SIMD");
});

Deno.test("tiers agree: rmsNorm and layerNorm, contiguous and strided", async () => {
  for (const shape of SHAPES) {
    const C = shape[shape.length - 1], x = rnd(...shape).mul(3).add(1), w = rnd(C), b = rnd(C);
    await compare(`rmsNorm ${shape}`, () => x.rmsNorm(w, { eps: 1e-6 }));
    await compare(`rmsNorm offset 1 ${shape}`, () => x.rmsNorm(w, { eps: 1e-5, offset: 1 }));
    await compare(`layerNorm ${shape}`, () => x.layerNorm(w, b), { atol: 1e-5, rtol: 1e-5 });
  }
  const t = rnd(577, 4).transpose(), w = rnd(577), b = rnd(577); // rows with inner stride 4
  await compare("rmsNorm of a transposed view", () => t.rmsNorm(w));
  await compare("layerNorm of a transposed view", () => t.layerNorm(w, b), {
    atol: 1e-5,
    rtol: 1e-5,
  });
});

Deno.test("tiers agree: softmax with large, masked and -inf scores", async () => {
  for (const shape of SHAPES) {
    const x = rnd(...shape).mul(8);
    await compare(`softmax ${shape}`, () => x.softmax(), { atol: 1e-7, rtol: 2e-6 });
  }
  // A causal mask: -inf and finfo.min-like scores must give exactly 0.
  const T = 40, scores = await rnd(2, T, T).mul(5).data();
  const masked = (i: number) => i % T > Math.floor(i / T) % T;
  for (const fill of [-Infinity, -3.4e38, -1e4, -90]) {
    const x = tensor(scores.map((v, i) => (masked(i) ? fill : v)), [2, T, T]);
    await compare(`softmax masked with ${fill}`, () => x.softmax(), { atol: 1e-7, rtol: 2e-6 });
    const got = await withTier("fast", () => x.softmax()).data();
    for (let i = 0; i < got.length; i++) {
      if (masked(i) && fill <= -1e4) assert.equal(got[i], 0, `${fill}: masked [${i}]`);
    }
  }
});

Deno.test("tiers agree: gelu over a wide range, rotary on permuted views", async () => {
  const x = rnd(64, 129).mul(4);
  await compare("gelu", () => x.gelu(), { atol: 1e-7, rtol: 2e-6 });
  await compare("gelu tails", () => x.mul(30).gelu(), { atol: 1e-7, rtol: 2e-6 });
  await compare("sigmoid", () => x.sigmoid(), { atol: 1e-7, rtol: 2e-6 });
  await compare("sigmoid tails", () => x.mul(30).sigmoid(), { atol: 1e-7, rtol: 2e-6 });
  await compare("silu", () => x.mul(x.sigmoid()), { atol: 1e-7, rtol: 2e-6 });
  const edges = tensor([NaN, Infinity, -Infinity, 0, -0, 100, -100, 88.8, ...Array(248).fill(1)]);
  const e = await withTier("fast", () => edges.sigmoid()).data();
  assert.deepEqual([...e.slice(0, 6)], [NaN, 1, 0, 0.5, 0.5, 1], "sigmoid edges");
  assert.ok(e[6] >= 0 && e[6] < 1e-34 && e[7] === 1, "sigmoid far tails");
  const gx = rnd(64, 129), dgelu = grad((v: Tensor) => v.gelu().mul(gx).sum());
  await compare("gelu backward", () => dgelu(x), { atol: 1e-6, rtol: 1e-5 });
  await compare("gelu backward tails", () => dgelu(x.mul(30)), { atol: 1e-6, rtol: 1e-5 });
  const q = rnd(2, 7, 3, 64).permute(0, 2, 1, 3), c = rnd(2, 1, 7, 64), s = rnd(2, 1, 7, 64);
  await compare("rotary", () => q.rotary(c, s), { atol: 0, rtol: 0 });
  const k = rnd(1, 9, 4, 10).permute(0, 2, 1, 3), c4 = rnd(1, 1, 9, 4), s4 = rnd(1, 1, 9, 4);
  await compare("rotary partial", () => k.rotary(c4, s4), { atol: 1e-7, rtol: 1e-7 });
});

Deno.test("SIMD row kernels: 2 threads give the same bits as 1", async () => {
  // Past THREAD_ELEMS, so the rows are cut into task records for the pool.
  const x = rnd(4, 64, 577).mul(3), w = rnd(577), b = rnd(577), a = rnd(2, 12, 128, 128).mul(6);
  const ops: [string, () => Tensor][] = [
    ["rmsNorm", () => x.rmsNorm(w, { eps: 1e-6, offset: 1 })],
    ["layerNorm", () => x.layerNorm(w, b)],
    ["softmax", () => a.softmax()],
    ["gelu", () => x.gelu()],
    ["sigmoid", () => x.sigmoid()],
  ];
  const one = await Promise.all(ops.map(([, f]) => withTier("fast", f).data()));
  await startThreads(2);
  try {
    assert.equal(fastTierInfo().threads, 2);
    for (const [i, [label, f]] of ops.entries()) {
      const two = await withTier("fast", f).data();
      assert.deepEqual(two, one[i], `${label}: 2 threads vs 1`);
    }
  } finally {
    stopThreads();
  }
});
