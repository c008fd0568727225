// Optimizers against hand-computed updates (SGD with momentum and Nesterov, Adam, AdamW over
// two steps), their errors, and a small linear regression whose loss falls, on every device.

import assert from "node:assert/strict";
import { Adam, AdamW, Rng, SGD, type Tensor, tensor } from "../../engine/mod.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest } from "../_devices.ts";

/** Runs two steps with the gradients g1 then g2 (set directly) and returns p after each. */
async function twoSteps(
  make: (p: Tensor) => { step(): void },
  p0: number[],
  g1: number[],
  g2: number[],
): Promise<number[][]> {
  const p = tensor(p0).requiresGrad();
  const opt = make(p);
  const out: number[][] = [];
  for (const g of [g1, g2]) {
    p.grad = tensor(g);
    opt.step();
    out.push([...(await p.data())]);
  }
  return out;
}

Deno.test("SGD with momentum, dampening, weight decay and Nesterov matches torch's rule", async () => {
  const [p0, g1, g2] = [[1, -2], [0.5, 3], [-1, 0.25]];
  const lr = 0.1, mu = 0.9, wd = 0.01;
  // Step 1: d = g + wd p, buf = d, p -= lr buf. Step 2: buf = mu buf + d, p -= lr buf.
  const d1 = p0.map((p, i) => g1[i] + wd * p);
  const p1 = p0.map((p, i) => p - lr * d1[i]);
  const d2 = p1.map((p, i) => g2[i] + wd * p);
  const b2 = d1.map((b, i) => mu * b + d2[i]);
  const p2 = p1.map((p, i) => p - lr * b2[i]);
  const got = await twoSteps(
    (p) => new SGD([p], { lr, momentum: mu, weightDecay: wd }),
    p0,
    g1,
    g2,
  );
  await assertClose(got, [p1, p2], { atol: 1e-6 });
  // Nesterov: p -= lr (d + mu buf).
  const n1 = p0.map((p, i) => p - lr * (g1[i] + mu * g1[i]));
  const nb = g1.map((b, i) => mu * b + g2[i]);
  const n2 = n1.map((p, i) => p - lr * (g2[i] + mu * nb[i]));
  const nest = await twoSteps(
    (p) => new SGD([p], { lr, momentum: mu, nesterov: true }),
    p0,
    g1,
    g2,
  );
  await assertClose(nest, [n1, n2], { atol: 1e-6 });
  // Dampening scales the new gradient from step 2 on.
  const dm1 = p0.map((p, i) => p - lr * g1[i]);
  const dm2 = dm1.map((p, i) => p - lr * (mu * g1[i] + 0.5 * g2[i]));
  const damp = await twoSteps(
    (p) => new SGD([p], { lr, momentum: mu, dampening: 0.5 }),
    p0,
    g1,
    g2,
  );
  await assertClose(damp, [dm1, dm2], { atol: 1e-6 });
});

/** Adam's two steps by hand, in float64. */
function adamByHand(
  p0: number[],
  gs: number[][],
  o: { lr: number; b1: number; b2: number; eps: number; wd: number; decoupled: boolean },
): number[][] {
  let p = [...p0], m = p0.map(() => 0), v = p0.map(() => 0);
  const out: number[][] = [];
  gs.forEach((g0, k) => {
    const t = k + 1;
    if (o.decoupled) p = p.map((x) => x * (1 - o.lr * o.wd));
    const g = o.decoupled ? g0 : g0.map((gi, i) => gi + o.wd * p[i]);
    m = m.map((mi, i) => o.b1 * mi + (1 - o.b1) * g[i]);
    v = v.map((vi, i) => o.b2 * vi + (1 - o.b2) * g[i] * g[i]);
    p = p.map((x, i) => {
      const mh = m[i] / (1 - o.b1 ** t), vh = v[i] / (1 - o.b2 ** t);
      return x - o.lr * mh / (Math.sqrt(vh) + o.eps);
    });
    out.push(p);
  });
  return out;
}

Deno.test("Adam and AdamW match hand-computed steps", async () => {
  const [p0, g1, g2] = [[1, -2, 0.5], [0.5, 3, -0.1], [-1, 0.25, 0.2]];
  const base = { lr: 0.05, b1: 0.8, b2: 0.95, eps: 1e-3 };
  const adamOpts = { lr: base.lr, betas: [base.b1, base.b2] as [number, number], eps: base.eps };
  await assertClose(
    await twoSteps((p) => new Adam([p], { ...adamOpts, weightDecay: 0.1 }), p0, g1, g2),
    adamByHand(p0, [g1, g2], { ...base, wd: 0.1, decoupled: false }),
    { atol: 1e-6 },
  );
  await assertClose(
    await twoSteps((p) => new AdamW([p], { ...adamOpts, weightDecay: 0.1 }), p0, g1, g2),
    adamByHand(p0, [g1, g2], { ...base, wd: 0.1, decoupled: true }),
    { atol: 1e-6 },
  );
  // The first Adam step moves each weight by about lr against its gradient's sign.
  const first = await twoSteps((p) => new Adam([p], { lr: 0.1 }), [1, -2], [0.5, -3], [0, 0]);
  await assertClose(first[0], [0.9, -1.9], { atol: 1e-6 });
});

Deno.test("optimizers refuse bad parameters and options with named errors", () => {
  assert.throws(() => new SGD([tensor([1])], { lr: 0.1 }), /SGD: every parameter must be a leaf/);
  const p = tensor([1]).requiresGrad();
  assert.throws(() => new Adam([p.mul(2)]), /Adam: every parameter must be a leaf/);
  assert.throws(() => new SGD([p], { lr: -1 }), /SGD: lr must be a finite number >= 0, got -1/);
  assert.throws(() => new AdamW([p], { betas: [0.9, 1] }), /AdamW: betas must be in \[0, 1\)/);
  assert.throws(() => new SGD([p], { lr: 1, nesterov: true }), /nesterov needs a momentum/);
  const opt = new SGD([p, p], { lr: 1 });
  assert.equal(opt.params.length, 1, "a tensor listed twice is one parameter");
  opt.step(); // no gradient yet: skipped
  assert.deepEqual([...p.dataSync()], [1]);
});

deviceTest("Adam fits a linear regression: the loss falls", async (device) => {
  const rng = new Rng(3);
  const X = new Float32Array(32 * 3).map(() => rng.normal());
  const wTrue = [0.5, -1.5, 2], bTrue = 0.25;
  const Y = new Float32Array(32).map((_, i) =>
    wTrue.reduce((s, w, j) => s + w * X[i * 3 + j], bTrue)
  );
  const x = tensor(X, [32, 3], { device }), y = tensor(Y, [32, 1], { device });
  const w = tensor([[0], [0], [0]], undefined, { device }).requiresGrad();
  const b = tensor([0], undefined, { device }).requiresGrad();
  const opt = new Adam([w, b], { lr: 0.1 });
  const losses: number[] = [];
  for (let i = 0; i < 150; i++) {
    opt.zeroGrad();
    const err = x.matmul(w).add(b).sub(y); // (32, 1)
    const loss = err.mul(err).mean();
    loss.backward();
    opt.step();
    if (i % 50 === 0 || i === 149) losses.push(await loss.item());
  }
  for (let i = 1; i < losses.length; i++) assert.ok(losses[i] < losses[i - 1], `${losses}`);
  assert.ok(losses[losses.length - 1] < 1e-3, `final loss ${losses.at(-1)}`);
  await assertClose(w, [[0.5], [-1.5], [2]], { atol: 0.03 });
  await assertClose(b, [0.25], { atol: 0.03 });
});
