// The fused row primitives (rmsNorm, rotary, and the fused backward kernels of the norms,
// softmaxes and gelu) against the composite Tensor-op paths they replace, on every device:
// values within 2e-5 abs + 1e-5 rel, gradients within 1e-4 abs + 1e-4 rel.

import assert from "node:assert/strict";
import { cat, type Device, grad, randn, slice, type Tensor, tensor } from "../../engine/mod.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

const TOL = { atol: 2e-5, rtol: 1e-5 };
let seed = 7;
const rnd = (device: Device, ...shape: number[]) => randn(shape, { seed: seed++ }).to(device);

/** The composite RMSNorm the model layer used before the fused primitive. */
function rmsComposite(x: Tensor, w: Tensor, eps: number, offset: number): Tensor {
  const inv = x.mul(x).mean(-1, true).add(eps).rsqrt(); // (..., 1)
  return x.mul(inv).mul(w.add(offset));
}

/** The composite rotate_half rotary on the first R channels (HF's apply_rotary_pos_emb). */
function rotaryComposite(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  const D = x.shape[x.ndim - 1], R = cos.shape[cos.ndim - 1], h = R / 2;
  const part = (t: Tensor, a: number, b: number) => t.get(["...", slice(a, b)]);
  const rot = part(x, 0, R);
  const out = rot.mul(cos).add(cat([part(rot, h, R).neg(), part(rot, 0, h)], -1).mul(sin));
  return R === D ? out : cat([out, part(x, R, D)], -1);
}

deviceTest("rmsNorm matches the composite on contiguous, odd and strided rows", async (d) => {
  const cases: [string, Tensor, Tensor, number, number][] = [
    ["[3,7]", rnd(d, 3, 7), rnd(d, 7), 1e-6, 0],
    ["[2,5,576], Gemma offset 1", rnd(d, 2, 5, 576), rnd(d, 576), 1e-6, 1],
    ["[4,768] eps 1e-5", rnd(d, 4, 768), rnd(d, 768), 1e-5, 0],
    ["transposed rows", rnd(d, 65, 3).transpose(), rnd(d, 65), 1e-6, 0],
    ["strided weight", rnd(d, 2, 9), rnd(d, 18).get([slice(null, null, 2)]), 1e-6, 0.5],
  ];
  for (const [label, x, w, eps, offset] of cases) {
    await assertClose(x.rmsNorm(w, { eps, offset }), rmsComposite(x, w, eps, offset), {
      ...TOL,
      msg: `rmsNorm ${label}`,
    });
  }
});

deviceTest("rotary matches rotate_half: full, partial (NeoX) and permuted inputs", async (d) => {
  // General tables (halves differ) check the kernel's indexing; HF's tables repeat each half.
  const hf = (t: Tensor) => cat([t, t], -1);
  const cases: [string, Tensor, Tensor, Tensor][] = [
    ["full R = D = 8", rnd(d, 2, 3, 4, 8), rnd(d, 2, 1, 4, 8), rnd(d, 2, 1, 4, 8)],
    ["HF tables, D = 64", rnd(d, 1, 9, 5, 64), hf(rnd(d, 1, 1, 5, 32)), hf(rnd(d, 1, 1, 5, 32))],
    ["partial R = 4 of D = 10", rnd(d, 2, 2, 3, 10), rnd(d, 2, 1, 3, 4), rnd(d, 2, 1, 3, 4)],
    [
      "permuted (B, T, H, D) input",
      rnd(d, 2, 5, 3, 8).permute(0, 2, 1, 3),
      rnd(d, 2, 1, 5, 8),
      rnd(d, 2, 1, 5, 8),
    ],
    ["2-D, tables broadcast", rnd(d, 6, 6), rnd(d, 6), rnd(d, 6)],
  ];
  for (const [label, x, c, s] of cases) {
    const y = x.rotary(c, s);
    assert.deepEqual(y.shape, x.shape, label);
    await assertClose(y, rotaryComposite(x, c, s), { ...TOL, msg: `rotary ${label}` });
  }
});

deviceTest("fused backward kernels match the composites' gradients", async (d) => {
  const x = rnd(d, 3, 5, 96), w = rnd(d, 96), b = rnd(d, 96), g = rnd(d, 3, 5, 96);
  const loss = (y: Tensor) => y.mul(g).sum();
  const pairs: [string, (x: Tensor, w: Tensor) => Tensor, (x: Tensor, w: Tensor) => Tensor][] = [
    ["rmsNorm", (x, w) => x.rmsNorm(w, { eps: 1e-5 }), (x, w) => rmsComposite(x, w, 1e-5, 0)],
    [
      "rmsNorm offset 1",
      (x, w) => x.rmsNorm(w, { eps: 1e-6, offset: 1 }),
      (x, w) => rmsComposite(x, w, 1e-6, 1),
    ],
    ["layerNorm", (x, w) => x.layerNorm(w, b), (x, w) => {
      const xc = x.sub(x.mean(-1, true));
      return xc.mul(xc.mul(xc).mean(-1, true).add(1e-5).rsqrt()).mul(w).add(b);
    }],
    ["softmax", (x, w) => x.softmax().mul(w), (x, w) => {
      const e = x.sub(x.max(-1, true)).exp();
      return e.div(e.sum(-1, true)).mul(w);
    }],
    ["logSoftmax", (x, w) => x.logSoftmax().mul(w), (x, w) => {
      const m = x.max(-1, true);
      return x.sub(x.sub(m).exp().sum(-1, true).log().add(m)).mul(w);
    }],
    ["gelu", (x, w) => x.mul(3).gelu().mul(w), (x, w) => {
      const v = x.mul(3);
      const u = v.add(v.mul(v).mul(v).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
      return v.mul(0.5).mul(u.tanh().add(1)).mul(w);
    }],
    [
      "rotary",
      (x, w) => x.rotary(w.get([slice(0, 32)]), w.get([slice(32, 64)])),
      (x, w) => rotaryComposite(x, w.get([slice(0, 32)]), w.get([slice(32, 64)])),
    ],
  ];
  for (const [label, fused, composite] of pairs) {
    const [gx, gw] = grad((x: Tensor, w: Tensor) => loss(fused(x, w)), { argnums: [0, 1] })(x, w);
    const [cx, cw] = grad((x: Tensor, w: Tensor) => loss(composite(x, w)), { argnums: [0, 1] })(
      x,
      w,
    );
    await assertClose(gx, cx, { atol: 1e-4, rtol: 1e-4, msg: `${label}: d/dx` });
    await assertClose(gw, cw, { atol: 1e-4, rtol: 1e-4, msg: `${label}: d/dweight` });
  }
});

Deno.test("fused ops refuse wrong shapes with the expected shape named", () => {
  const x = tensor(new Float32Array(12), [3, 4]);
  assert.throws(
    () => x.rmsNorm(tensor([1, 1, 1])),
    /rmsNorm: weight has shape \[3\], expected \[4\]/,
  );
  assert.throws(() => x.rotary(tensor([1, 1, 1]), tensor([1, 1, 1])), /last axis is even/);
  assert.throws(() => x.rotary(tensor([[1, 1]]), tensor([1, 1])), /must share a shape/);
  assert.throws(
    () => x.rotary(tensor(new Float32Array(6), [1, 6]), tensor(new Float32Array(6), [1, 6])),
    /at most 4/,
  );
});
