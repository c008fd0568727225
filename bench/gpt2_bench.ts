// GPT-2 small on the cpu: load time of a 124M-parameter safetensors file, prefill latency,
// greedy KV-cache decode speed against this machine's memory bandwidth, and peak RSS.
// Run: deno task bench:gpt2 [--tokens 50] [--threads 2] [--keep]   (random weights, no download)

import { cpuTier, type Tensor, tensor } from "../engine/mod.ts";
import { generate } from "../model/generate.ts";
import { GPT2LMHeadModel } from "../model/gpt2/model.ts";
import { initRandom } from "../model/gpt2/weights.ts";
import { loadGPT2 } from "../model/load.ts";
import { type TensorToWrite, writeSafetensors } from "../model/safetensors.ts";
import { fastTierInfo, startThreads, stopThreads } from "../engine/cpu/fast/mod.ts";
import { FuncBuilder, I32, ModuleBuilder, V128 } from "../engine/cpu/fast/wasm_emitter.ts";

const args = Deno.args;
const NEW_TOKENS = Number(args[args.indexOf("--tokens") + 1]) || 50;
const THREADS = Number(args[args.indexOf("--threads") + 1]) || navigator.hardwareConcurrency;
const CONFIG = { n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 };
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const MB = 1e6;

let peakRss = 0;
const sampleRss = () => (peakRss = Math.max(peakRss, Deno.memoryUsage().rss));
const rows: [string, string, string][] = [];
const report = (what: string, value: string, note = "") => {
  rows.push([what, value, note]);
  console.error(`  ${what}: ${value} ${note}`);
};

/** Median wall time (ms) of `n` runs of `fn`, after one warm-up run whose time is returned too. */
function timeIt(fn: () => void, n: number): { first: number; median: number } {
  let t = performance.now();
  fn();
  const first = performance.now() - t;
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    t = performance.now();
    fn();
    times.push(performance.now() - t);
    sampleRss();
  }
  times.sort((a, b) => a - b);
  return { first, median: times[Math.floor(n / 2)] };
}

/** Writes a random GPT-2 small in the hub layout (no "transformer." prefix, attn.bias buffers). */
function writeCheckpoint(dir: string): number {
  const model = initRandom(new GPT2LMHeadModel(CONFIG), 0);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [path, t] of model.namedParameters()) {
    tensors[path.replace(/^transformer\./, "")] = {
      dtype: "F32",
      shape: t.shape,
      data: t.dataSync() as Float32Array,
    };
  }
  const mask = new Float32Array(1024 * 1024);
  for (let i = 0; i < 1024; i++) mask.fill(1, i * 1024, i * 1024 + i + 1);
  for (let i = 0; i < CONFIG.n_layer; i++) {
    tensors[`h.${i}.attn.bias`] = { dtype: "F32", shape: [1, 1, 1024, 1024], data: mask };
  }
  const bytes = writeSafetensors(tensors, { format: "pt" });
  Deno.writeFileSync(`${dir}/model.safetensors`, bytes);
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify({ model_type: "gpt2", ...CONFIG }));
  return bytes.byteLength;
}

const randomIds = (T: number, seed: number) =>
  tensor(Array.from({ length: T }, (_, i) => (seed * 7919 + i * 104729) % 50257), [1, T], {
    dtype: "int32",
  });

/** Runs every measurement and prints the table (skipped when imported, e.g. by `deno bench`). */
async function main(): Promise<void> {
  await startThreads(THREADS);
  const info = fastTierInfo();
  const tier =
    `cpu tier "${cpuTier()}" (simd ${info.simd}, relaxed ${info.relaxed}, ${info.threads} threads)`;
  console.error(`gpt2 bench: ${tier}, GPT-2 small shape, random weights`);
  const dir = await Deno.makeTempDir({ prefix: "tsight_gpt2_bench_" });
  try {
    let t = performance.now();
    const fileBytes = writeCheckpoint(dir);
    report(
      "write checkpoint",
      `${((performance.now() - t) / 1000).toFixed(1)} s`,
      `${(fileBytes / MB).toFixed(0)} MB`,
    );
    gc();
    const rssBase = Deno.memoryUsage().rss;

    t = performance.now();
    const { model } = await loadGPT2(dir);
    const loadMs = performance.now() - t;
    sampleRss();
    report("load (loadGPT2: read file, config, tokenizer, map weights)", `${loadMs.toFixed(0)} ms`);

    for (const T of [10, 128]) {
      const ids = randomIds(T, T);
      const { first, median } = timeIt(() => void (model.call(ids) as Tensor), T === 10 ? 5 : 3);
      report(
        `prefill T=${T} (logits [1, ${T}, 50257])`,
        `${median.toFixed(1)} ms`,
        `first call ${first.toFixed(0)} ms`,
      );
    }

    const prompt = Array.from(randomIds(10, 3).dataSync());
    const stamps: number[] = [];
    model.generator.streamer.hook = {
      output: () => {
        stamps.push(performance.now());
        sampleRss();
      },
    };
    await generate(model, [prompt], { maxNewTokens: 3 }); // warm-up
    stamps.length = 0;
    t = performance.now();
    await generate(model, [prompt], { maxNewTokens: NEW_TOKENS });
    model.generator.streamer.hook = null;
    const total = performance.now() - t;
    const decodeMs = (stamps[stamps.length - 1] - stamps[0]) / (stamps.length - 1);
    const tokPerS = 1000 / decodeMs;
    report(
      `generate ${NEW_TOKENS} tokens from 10 (greedy, KV cache)`,
      `${total.toFixed(0)} ms`,
      `first token ${(stamps[0] - t).toFixed(0)} ms`,
    );
    report("decode speed", `${tokPerS.toFixed(1)} tok/s`, `${decodeMs.toFixed(1)} ms/token`);

    const bw = await measureBandwidth();
    const weightBytes = model.namedParameters()
      .filter(([p]) => p !== "transformer.wpe.weight")
      .reduce((s, [, w]) => s + 4 * w.size, 0);
    const bound = bw.bytesPerSecond / weightBytes;
    report("memory read bandwidth", `${(bw.bytesPerSecond / 1e9).toFixed(1)} GB/s`, bw.how);
    report(
      `bandwidth bound (${(weightBytes / MB).toFixed(0)} MB weights/token)`,
      `${bound.toFixed(1)} tok/s`,
      `decode reaches ${(100 * tokPerS / bound).toFixed(0)}%`,
    );
    report(
      "peak RSS",
      `${(peakRss / MB).toFixed(0)} MB`,
      `${(rssBase / MB).toFixed(0)} MB before load`,
    );

    const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
    console.log(`\nGPT-2 small (124M, f32) on ${tier}`);
    for (const r of rows) console.log(`| ${r.map((c, i) => c.padEnd(w[i])).join(" | ")} |`);
    console.log(
      "targets: decode >= 35 tok/s, prefill T=128 < 250 ms (PyTorch+MKL, 2 threads: 42.5 tok/s)",
    );
  } finally {
    stopThreads();
    if (!args.includes("--keep")) await Deno.remove(dir, { recursive: true });
    else console.log(`checkpoint kept in ${dir}`);
  }
}

if (import.meta.main) await main();

/**
 * Read bandwidth: a WebAssembly SIMD loop (4 f32x4 accumulators, 64 bytes per iteration) sums
 * 512 MB of memory, on this thread alone and on this thread plus one worker (half each, shared
 * memory, started together). Best of 5 runs of each; the larger figure is returned.
 */
async function measureBandwidth(): Promise<{ bytesPerSecond: number; how: string }> {
  const BYTES = 512 * 2 ** 20, PAGES = BYTES / 65536 + 1;
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES, shared: true });
  const OFF = 128; // two 64-byte result slots, then the data
  new Float32Array(memory.buffer, OFF).fill(1); // touch every page
  const f = new FuncBuilder([I32, I32, I32]); // (ptr, end, out)
  const acc = [0, 1, 2, 3].map(() => f.local(V128));
  f.block().loop().get(0).get(1).geU().brIf(1);
  acc.forEach((a, i) => f.get(a).get(0).v128Load(16 * i).f32x4Add().set(a));
  f.get(0).i32(64).add().set(0).br(0).end().end();
  acc.forEach((a, i) => f.get(2).i32(16 * i).add().get(a).v128Store());
  const mod = new ModuleBuilder({ initial: PAGES, maximum: PAGES, shared: true });
  mod.add(f, "sum");
  const bytes = mod.bytes();
  const instance = new WebAssembly.Instance(
    new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>),
    { env: { memory } },
  );
  const sum = instance.exports.sum as (p: number, e: number, o: number) => void;
  const now = () => performance.timeOrigin + performance.now();
  let one = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = now();
    sum(OFF, BYTES, 0);
    one = Math.min(one, now() - t);
  }
  const worker = new Worker(
    URL.createObjectURL(
      new Blob([
        `let sum; self.onmessage = (e) => {
          if (e.data.bytes) {
            sum = new WebAssembly.Instance(new WebAssembly.Module(e.data.bytes), { env: { memory: e.data.memory } }).exports.sum;
            return self.postMessage(0);
          }
          sum(e.data.p, e.data.e, 64);
          self.postMessage(performance.timeOrigin + performance.now());
        };`,
      ], { type: "application/javascript" }),
    ),
    { type: "module" },
  );
  const reply = () => new Promise<number>((res) => (worker.onmessage = (e) => res(e.data)));
  worker.postMessage({ bytes, memory });
  await reply();
  let two = Infinity;
  const mid = OFF + (BYTES - OFF) / 2;
  for (let r = 0; r < 5; r++) {
    const done = reply();
    const t = now();
    worker.postMessage({ p: mid, e: BYTES });
    sum(OFF, mid, 0);
    const mine = now();
    two = Math.min(two, Math.max(mine, await done) - t);
  }
  worker.terminate();
  const [bw1, bw2] = [(BYTES - OFF) / one * 1000, (BYTES - OFF) / two * 1000];
  const how = `wasm SIMD sum of 512 MB: 1 thread ${(bw1 / 1e9).toFixed(1)}, 2 threads ${
    (bw2 / 1e9).toFixed(1)
  } GB/s`;
  return { bytesPerSecond: Math.max(bw1, bw2), how };
}
