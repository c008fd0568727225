// The fused attention primitive against its composite (plain ops) on every device: causal,
// KV-cache offset, grouped kv heads, sliding window, softcap, padding bias, strided inputs,
// shapes large enough for the fast tier's SIMD path, and the named errors.

import assert from "node:assert/strict";
import {
  attention,
  attentionComposite,
  type AttentionOptions,
  type Device,
  Rng,
  startThreads,
  stopThreads,
  type Tensor,
  tensor,
} from "../../engine/mod.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

function rand(rng: Rng, shape: number[], device: Device): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, () => rng.normal()), shape, { device });
}

/** q [B, H, T, D], k/v [B, KV, S, D]; `qt` makes q a transposed view of [B, T, H, D]. */
interface Case {
  label: string;
  B: number;
  H: number;
  KV: number;
  T: number;
  S: number;
  D: number;
  opts: AttentionOptions;
  pad?: boolean;
  qt?: boolean;
}

const CASES: Case[] = [
  { label: "causal", B: 1, H: 2, KV: 2, T: 5, S: 5, D: 8, opts: { causal: true } },
  { label: "not causal", B: 2, H: 2, KV: 2, T: 3, S: 4, D: 4, opts: {} },
  { label: "KV-cache offset", B: 1, H: 2, KV: 2, T: 3, S: 7, D: 8, opts: { causal: true } },
  { label: "decode step", B: 2, H: 3, KV: 1, T: 1, S: 6, D: 8, opts: { causal: true } },
  { label: "GQA", B: 2, H: 6, KV: 2, T: 4, S: 4, D: 8, opts: { causal: true } },
  {
    label: "sliding window",
    B: 1,
    H: 2,
    KV: 1,
    T: 4,
    S: 9,
    D: 4,
    opts: { causal: true, window: 3 },
  },
  {
    label: "softcap and scale",
    B: 1,
    H: 2,
    KV: 2,
    T: 4,
    S: 4,
    D: 8,
    opts: { causal: true, softcap: 1.5, scale: 0.9 },
  },
  { label: "padding bias", B: 2, H: 2, KV: 1, T: 4, S: 6, D: 4, opts: { causal: true }, pad: true },
  {
    label: "strided q",
    B: 2,
    H: 4,
    KV: 2,
    T: 3,
    S: 3,
    D: 4,
    opts: { causal: true },
    qt: true,
  },
  { label: "SIMD-sized", B: 1, H: 4, KV: 2, T: 32, S: 40, D: 32, opts: { causal: true } },
  {
    label: "SIMD-sized strided, GQA, window, pad",
    B: 2,
    H: 6,
    KV: 2,
    T: 24,
    S: 48,
    D: 32,
    opts: { causal: true, window: 20, softcap: 30 },
    qt: true,
    pad: true,
  },
  {
    label: "SIMD-sized, rows padded past S and split in row blocks, pad",
    B: 2,
    H: 2,
    KV: 1,
    T: 101,
    S: 101,
    D: 16,
    opts: { causal: true },
    pad: true,
  },
  { label: "SIMD-sized decode", B: 1, H: 9, KV: 3, T: 1, S: 300, D: 64, opts: { causal: true } },
];

function build(c: Case, device: Device): [Tensor, Tensor, Tensor, AttentionOptions] {
  const rng = new Rng(c.B * 1000 + c.T * 10 + c.S);
  const q = c.qt
    ? rand(rng, [c.B, c.T, c.H, c.D], device).transpose(1, 2)
    : rand(rng, [c.B, c.H, c.T, c.D], device);
  const k = rand(rng, [c.B, c.KV, c.S, c.D], device), v = rand(rng, [c.B, c.KV, c.S, c.D], device);
  let bias: Tensor | null = null;
  if (c.pad) {
    // Row 0 unpadded; row 1 left-padded by 3: its first queries see only padding keys.
    const m = new Float32Array(c.B * c.S);
    for (let b = 1; b < c.B; b++) m.fill(-1e9, b * c.S, b * c.S + 3);
    bias = tensor(m, [c.B, 1, 1, c.S], { device });
  }
  return [q, k, v, { ...c.opts, bias }];
}

for (const c of CASES) {
  deviceTest(`attention matches the composite: ${c.label}`, async (device) => {
    const [q, k, v, opts] = build(c, device);
    const [want, wantP] = attentionComposite(q, k, v, opts);
    const [y, none] = attention(q, k, v, opts);
    assert.equal(none, null);
    await assertClose(y, want, { atol: 2e-5, rtol: 1e-4, msg: "context" });
    const [y2, p] = attention(q, k, v, { ...opts, needProbs: true });
    await assertClose(y2, want, { atol: 2e-5, rtol: 1e-4, msg: "context with probs" });
    await assertClose(p!, wantP, { atol: 1e-6, rtol: 1e-4, msg: "probabilities" });
  });
}

deviceTest("attention hides masked keys exactly and keeps rows summing to 1", async (device) => {
  const rng = new Rng(3);
  const q = rand(rng, [1, 1, 3, 4], device), k = rand(rng, [1, 1, 5, 4], device);
  const [, p] = attention(q, k, k, { causal: true, window: 2, needProbs: true });
  const data = await p!.data();
  for (let t = 0; t < 3; t++) {
    const row = Array.from(data.slice(t * 5, t * 5 + 5));
    row.forEach((w, j) => {
      const at = 2 + t;
      if (j > at || j <= at - 2) assert.equal(w, 0, `query ${t} key ${j} is hidden`);
    });
    assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  }
});

Deno.test("attention errors name the shapes and the fix", () => {
  const z = (...s: number[]) => tensor(new Float32Array(s.reduce((a, b) => a * b, 1)), s);
  assert.throws(() => attention(z(1, 3, 2, 4), z(1, 2, 2, 4), z(1, 2, 2, 4)), /3 query heads/);
  assert.throws(
    () => attention(z(1, 2, 4, 4), z(1, 2, 3, 4), z(1, 2, 3, 4), { causal: true }),
    /causal needs S >= T/,
  );
  assert.throws(
    () => attention(z(1, 2, 2, 4), z(1, 2, 2, 4), z(1, 2, 2, 4), { bias: z(3, 1, 1, 2) }),
    /does not broadcast/,
  );
  assert.throws(
    () => attention(z(1, 2, 2, 4), z(1, 2, 2, 4), z(1, 2, 2, 4), { window: 2 }),
    /window must be a positive integer with causal/,
  );
  assert.throws(() => attention(z(1, 2, 2, 4), z(1, 2, 2, 3), z(1, 2, 2, 3)), /must both be/);
});

Deno.test("fast attention: 2 threads give the same bits as 1 (causal rows of many widths)", async () => {
  const rng = new Rng(11);
  const q = rand(rng, [2, 4, 200, 32], "cpu"), k = rand(rng, [2, 2, 200, 32], "cpu");
  const v = rand(rng, [2, 2, 200, 32], "cpu");
  const one = await attention(q, k, v, { causal: true })[0].data();
  await startThreads(2);
  try {
    const two = await attention(q, k, v, { causal: true })[0].data();
    assert.deepEqual(two, one);
  } finally {
    stopThreads();
  }
});
