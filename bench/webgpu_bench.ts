// webgpu against the cpu in one run: matmul kernels at GPT-2 shapes and greedy GPT-2 small
// decode (random weights), printing times and webgpu/cpu ratios. Measures; asserts nothing.
// Run: deno run --allow-read --allow-env bench/webgpu_bench.ts [--tokens 8] [--no-gpt2]

import { cpuTier, randn, type Tensor, tensor } from "../engine/mod.ts";
import { initWebGPU, tidy, webgpuBackend } from "../engine/webgpu/mod.ts";
import { generate } from "../model/generate.ts";
import { GPT2LMHeadModel } from "../model/gpt2/model.ts";
import { initRandom } from "../model/gpt2/weights.ts";

const args = Deno.args;
const NEW_TOKENS = Number(args[args.indexOf("--tokens") + 1]) || 8;
const CONFIG = { n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 };
const rows: string[][] = [];

/** Median of `n` timed runs (ms) after one warm-up. `run` must finish its work (await a read). */
async function median(run: () => Promise<void>, n: number): Promise<number> {
  await run();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)];
}

/** ms per matmul on a device: `reps` products recorded back to back, then one 1-element read. */
async function timeMatmul(a: Tensor, b: Tensor, reps: number, syncMs: number): Promise<number> {
  const total = await median(async () => {
    await tidy(async () => {
      let out: Tensor | null = null;
      for (let i = 0; i < reps; i++) out = a.matmul(b);
      await out!.get("..., 0, 0").data();
    });
  }, 3);
  return (total - syncMs) / reps;
}

function row(what: string, cpuMs: number, gpuMs: number, flops?: number) {
  const gf = (ms: number) => (flops ? ` (${(flops / ms / 1e6).toFixed(1)} GFLOP/s)` : "");
  const r = [what, `${cpuMs.toFixed(2)} ms${gf(cpuMs)}`, `${gpuMs.toFixed(2)} ms${gf(gpuMs)}`];
  r.push(`${(gpuMs / cpuMs).toFixed(2)}x`);
  rows.push(r);
  console.error(`  ${r.join(" | ")}`);
}

async function kernels(syncMs: number): Promise<void> {
  const wte = randn([50257, 768], { seed: 1 }); // (V, C), read as wte^T like lm_head
  const shapes: [string, number, number, number, Tensor | null][] = [
    ["matmul 768x768x768", 768, 768, 768, null],
    ["matmul 1x768x3072", 1, 768, 3072, null],
    ["matmul 1x768x50257, b = wte^T view", 1, 768, 50257, wte],
    ["matmul 128x768x3072", 128, 768, 3072, null],
  ];
  for (const [name, M, K, N, table] of shapes) {
    const a = randn([M, K], { seed: 2 });
    const b = table ? table.transpose() : randn([K, N], { seed: 3 });
    b.storage.constant = true; // a weight, as in the model: the cpu tier may keep packed panels
    const reps = M * N * K > 1e8 ? 2 : 10;
    const cpuMs = await timeMatmul(a, b, reps, 0);
    const ga = a.to("webgpu"), gt = (table ?? b).to("webgpu");
    const gb = table ? gt.transpose() : gt;
    const gpuMs = await timeMatmul(ga, gb, reps, syncMs);
    row(name, cpuMs, gpuMs, 2 * M * N * K);
    ga.dispose();
    gt.dispose();
  }
}

/** GPT-2 small with random weights on `device`; webgpu gets the cpu model's values. */
function webgpuCopy(cpuModel: GPT2LMHeadModel): GPT2LMHeadModel {
  const model = new GPT2LMHeadModel(CONFIG, { device: "webgpu" });
  const source = new Map(cpuModel.namedParameters());
  for (const [path, zero] of model.namedParameters()) {
    zero.dispose(); // the constructor's zero weights
    const t = source.get(path)!.to("webgpu");
    t.storage.constant = true;
    model.setParameter(path, t);
  }
  return model;
}

/** ms per decoded token (after the first) and the new ids. */
async function decode(model: GPT2LMHeadModel, prompt: number[]): Promise<[number, number[]]> {
  const stamps: number[] = [];
  model.generator.streamer.hook = { output: () => void stamps.push(performance.now()) };
  try {
    await tidy(() => generate(model, [prompt], { maxNewTokens: 2 })); // warm-up: pipelines
    stamps.length = 0;
    const ids = await tidy(async () => {
      const out = await generate(model, [prompt], { maxNewTokens: NEW_TOKENS });
      return Array.from(await out.get(`0, ${prompt.length}:`).data());
    });
    return [(stamps[stamps.length - 1] - stamps[0]) / (stamps.length - 1), ids];
  } finally {
    model.generator.streamer.hook = null;
  }
}

async function gpt2(): Promise<void> {
  const cpuModel = initRandom(new GPT2LMHeadModel(CONFIG), 0);
  const prompt = Array.from({ length: 10 }, (_, i) => (i * 104729 + 7) % 50257);
  const [cpuMs, cpuIds] = await decode(cpuModel, prompt);
  const model = webgpuCopy(cpuModel);
  const be = webgpuBackend()!;
  const s0 = be.stats();
  const [gpuMs, gpuIds] = await decode(model, prompt);
  const s1 = be.stats();
  const steps = NEW_TOKENS + 2;
  row(`GPT-2 small decode, ms/token (${NEW_TOKENS} tokens)`, cpuMs, gpuMs);
  console.log(
    `webgpu decode: ${((s1.submissions - s0.submissions) / steps).toFixed(1)} submissions and ${
      ((s1.dispatches - s0.dispatches) / steps).toFixed(0)
    } dispatches per token, ${s1.pipelines} pipelines; same greedy tokens as cpu: ${
      cpuIds.join() === gpuIds.join() ? "yes" : `no (${cpuIds} vs ${gpuIds})`
    }`,
  );
  for (const [, t] of model.namedParameters()) t.dispose();
}

async function main(): Promise<void> {
  if (!(await initWebGPU())) {
    console.log("webgpu bench: no WebGPU adapter here (run with --unstable-webgpu); nothing to do");
    return;
  }
  const adapter = await navigator.gpu.requestAdapter();
  const info = (adapter as unknown as { info?: GPUAdapterInfo }).info;
  console.error(`webgpu bench: adapter "${info?.description ?? "?"}", cpu tier "${cpuTier()}"`);
  const one = tensor([1], undefined, { device: "webgpu" });
  const syncMs = await median(async () => void (await one.data()), 9);
  one.dispose();
  await kernels(syncMs);
  if (!args.includes("--no-gpt2")) await gpt2();
  const head = ["", "cpu", "webgpu", "webgpu/cpu time"];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(
    `\nwebgpu vs cpu; one GPU-to-CPU sync costs ${syncMs.toFixed(1)} ms (excluded above)`,
  );
  for (const r of [head, ...rows]) {
    console.log(`| ${r.map((c, i) => c.padEnd(w[i])).join(" | ")} |`);
  }
  console.log(
    "on a software adapter (llvmpipe) webgpu is expected to be slower than the cpu's SIMD tier",
  );
}

if (import.meta.main) await main();
