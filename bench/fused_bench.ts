// Fused row primitives and backward kernels against the paths they replace, on the cpu fast tier
// at GPT-2 small and SmolLM2-135M prefill shapes (T = 128): medians and ratios from one run.
// Run: deno task bench:fused

import { cat, grad, randn, slice, type Tensor, tensor, tidy } from "../engine/mod.ts";
import { compiledKernels } from "../engine/cpu/compiled.ts";
import type { View } from "../engine/backend.ts";

const T = 128, RUNS = 41;
let seed = 1;
const rnd = (...shape: number[]) => randn(shape, { seed: seed++ });

/** The old scalar fast-tier kernel on a fresh output: what softmax, gelu, layerNorm ran before. */
function scalar(x: Tensor, run: (out: View, x: View) => void): Tensor {
  const out = tensor(new Float32Array(x.size), x.shape);
  run(out.asView(), x.asView());
  return out;
}
const rmsComposite = (x: Tensor, w: Tensor) =>
  x.mul(x.mul(x).mean(-1, true).add(1e-5).rsqrt()).mul(w);
function rotaryComposite(x: Tensor, c: Tensor, s: Tensor): Tensor {
  const h = c.shape[c.ndim - 1] / 2,
    part = (t: Tensor, a: number, b: number) => t.get(["...", slice(a, b)]);
  return x.mul(c).add(cat([part(x, h, 2 * h).neg(), part(x, 0, h)], -1).mul(s));
}
const lnComposite = (x: Tensor, w: Tensor, b: Tensor) => {
  const xc = x.sub(x.mean(-1, true));
  return xc.mul(xc.mul(xc).mean(-1, true).add(1e-5).rsqrt()).mul(w).add(b);
};
const loss = (y: Tensor) => y.sum();
/** The tanh-form gelu's derivative as the old rule composed it. */
function geluGradComposite(x: Tensor): Tensor {
  const x2 = x.mul(x), c = Math.sqrt(2 / Math.PI);
  const t = x.add(x2.mul(x).mul(0.044715)).mul(c).tanh();
  const du = x2.mul(3 * 0.044715).add(1).mul(c);
  return t.add(1).mul(0.5).add(x.mul(0.5).mul(t.mul(t).neg().add(1)).mul(du));
}
/** A backward kernel on fresh output: (dx, g, y) -> dx. */
function kernel(g: Tensor, y: Tensor, op: "softmaxGrad" | "geluGrad"): Tensor {
  const dx = tensor(new Float32Array(y.size), y.shape);
  g.backend.kernels[op](dx.asView(), g.asView(), y.asView());
  return dx;
}

interface Case {
  op: string;
  shape: string;
  old: () => unknown;
  fused: () => unknown;
}

function cases(name: string, C: number, H: number, D: number): Case[] {
  const x = rnd(1, T, C), w = rnd(C), b = rnd(C), att = rnd(1, H, T, T);
  const q = rnd(1, T, H, D).permute(0, 2, 1, 3), c = rnd(1, 1, T, D), s = rnd(1, 1, T, D);
  const mlp = rnd(1, T, 4 * C), gAtt = rnd(1, H, T, T), gMlp = rnd(1, T, 4 * C);
  const probs = att.softmax();
  const k = compiledKernels;
  return [
    {
      op: `${name} rmsNorm`,
      shape: `[1,${T},${C}]`,
      old: () => rmsComposite(x, w),
      fused: () => x.rmsNorm(w, { eps: 1e-5 }),
    },
    {
      op: `${name} layerNorm`,
      shape: `[1,${T},${C}]`,
      old: () => scalar(x, (o, v) => k.layerNorm(o, v, w.asView(), b.asView(), 1e-5)),
      fused: () => x.layerNorm(w, b),
    },
    {
      op: `${name} softmax`,
      shape: `[1,${H},${T},${T}]`,
      old: () => scalar(att, k.softmax),
      fused: () => att.softmax(),
    },
    {
      op: `${name} gelu`,
      shape: `[1,${T},${4 * C}]`,
      old: () => scalar(mlp, k.gelu),
      fused: () => mlp.gelu(),
    },
    {
      op: `${name} rotary`,
      shape: `[1,${H},${T},${D}]`,
      old: () => rotaryComposite(q, c, s),
      fused: () => q.rotary(c, s),
    },
    {
      op: `${name} softmax backward`,
      shape: `[1,${H},${T},${T}]`,
      old: () => probs.mul(gAtt.sub(gAtt.mul(probs).sum(-1, true))),
      fused: () => kernel(gAtt, probs, "softmaxGrad"),
    },
    {
      op: `${name} gelu backward`,
      shape: `[1,${T},${4 * C}]`,
      old: () => gMlp.mul(geluGradComposite(mlp)),
      fused: () => kernel(gMlp, mlp, "geluGrad"),
    },
    {
      op: `${name} rmsNorm backward`,
      shape: `[1,${T},${C}]`,
      old: () => grad((x: Tensor) => loss(rmsComposite(x, w).mul(x)))(x),
      fused: () => grad((x: Tensor) => loss(x.rmsNorm(w, { eps: 1e-5 }).mul(x)))(x),
    },
    {
      op: `${name} layerNorm backward`,
      shape: `[1,${T},${C}]`,
      old: () => grad((x: Tensor) => loss(lnComposite(x, w, b).mul(x)))(x),
      fused: () => grad((x: Tensor) => loss(x.layerNorm(w, b).mul(x)))(x),
    },
  ];
}

const median = (ts: number[]) => [...ts].sort((a, b) => a - b)[ts.length >> 1];
function time(fn: () => unknown): number {
  return tidy(() => {
    const t = performance.now();
    fn();
    return performance.now() - t;
  });
}

const all = [...cases("GPT-2", 768, 12, 64), ...cases("SmolLM2", 576, 9, 64)];
console.log(`| op | shape | old ms | fused ms | old / fused | old / fused, fastest runs |`);
console.log(`| --- | --- | ---: | ---: | ---: | ---: |`);
for (const c of all) {
  const old: number[] = [], fused: number[] = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const [a, b] = [time(c.old), time(c.fused)];
    if (i < 3) continue; // warm-up: JIT tiers and the SIMD module
    old.push(a);
    fused.push(b);
  }
  const [o, f] = [median(old), median(fused)];
  const best = Math.min(...old) / Math.min(...fused); // less exposed to other processes' load
  const ratios = `${(o / f).toFixed(2)}x | ${best.toFixed(2)}x`;
  console.log(`| ${c.op} | ${c.shape} | ${o.toFixed(3)} | ${f.toFixed(3)} | ${ratios} |`);
}
