// Child process of bench/load_bench.ts: in a fresh process, loads the checkpoint folder and
// times the first and a warm generate, with peak RSS (VmHWM); with "phases", times each step
// of loading (the same steps loadModel takes) instead; with "warmed", after a short 8-token
// generate; with "floor:<bytes>", the first touch of that much fresh memory. Prints one JSON line.

import { startThreads } from "../engine/mod.ts";
import {
  familyOf,
  generate,
  loadModel,
  prepackWeights,
  readConfigJson,
  SafetensorsReader,
  Tokenizer,
} from "../model/mod.ts";

const [dir, what, tokens] = Deno.args;
const maxNewTokens = Number(tokens ?? 20);
await startThreads(2);

/** Peak resident memory so far (MiB), from /proc/self/status. */
function peakMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN) / 1024;
}

/** Minor page faults of this process so far (/proc/self/stat field 10). */
function minorFaults(): number {
  return Number(Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ")[7]);
}

const ms = async <R>(fn: () => R | Promise<R>): Promise<[R, number]> => {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
};
const ids = [Array.from({ length: 10 }, (_, i) => (i * 7919) % 50000)];

if (what.startsWith("floor:")) {
  // The page-fault floor: first touch of as many fresh wasm-memory bytes as the checkpoint has.
  const bytes = Number(what.slice("floor:".length));
  const memory = new WebAssembly.Memory({ initial: 0, maximum: 65536, shared: true });
  memory.grow(Math.ceil(bytes / 65536));
  const u8 = new Uint8Array(memory.buffer);
  const touch = () =>
    ms(() => {
      for (let i = 0; i < u8.length; i += 4096) u8[i] = 1;
    });
  const [, first] = await touch();
  const [, again] = await touch();
  console.log(JSON.stringify({ touch: first, again }));
} else if (what === "phases") {
  const [config, tConfig] = await ms(() => readConfigJson(dir));
  const family = familyOf(config);
  const [model, tCreate] = await ms(() => family.create(config, { device: "cpu", empty: true }));
  const [weights, tOpen] = await ms(() => SafetensorsReader.openDir(dir));
  // Reads, checks and packs every weight (matmul weights straight into panels).
  const [, tStream] = await ms(() => family.loadWeights(model, weights));
  weights.close();
  const [, tPack] = await ms(() => prepackWeights(model)); // what streaming left unpacked
  const [, tTokenizer] = await ms(() => Tokenizer.fromDir(dir));
  const [, first] = await ms(() => generate(model, ids, { maxNewTokens }));
  const [, warm] = await ms(() => generate(model, ids, { maxNewTokens }));
  console.log(
    JSON.stringify({ tConfig, tCreate, tOpen, tStream, tPack, tTokenizer, first, warm }),
  );
} else {
  const rss0 = peakMiB();
  const [{ model }, load] = await ms(() => loadModel(dir));
  const rssLoad = peakMiB();
  if (what === "warmed") {
    // "First" after a short generate of other ids: how much of the first call is warm-up.
    await generate(model, [[0, 1]], { maxNewTokens: 8 });
  }
  let faults = minorFaults();
  const [, first] = await ms(() => generate(model, ids, { maxNewTokens }));
  const firstFaults = minorFaults() - faults;
  faults = minorFaults();
  const [, warm] = await ms(() => generate(model, ids, { maxNewTokens }));
  const warmFaults = minorFaults() - faults;
  console.log(
    JSON.stringify({
      load,
      first,
      warm,
      rss0,
      rssLoad,
      rssPeak: peakMiB(),
      firstFaults,
      warmFaults,
    }),
  );
}
