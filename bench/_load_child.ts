// Child process of bench/load_bench.ts: in a fresh process, loads the checkpoint folder and
// times the first and a warm generate, with peak RSS (VmHWM); with "phases", times each step
// of loading (the same steps loadModel takes) instead. Prints one JSON line.

import { startThreads } from "../engine/mod.ts";
import {
  checkFiniteWeights,
  familyOf,
  generate,
  loadModel,
  loadSafetensorsDir,
  prepackWeights,
  readConfigJson,
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

const ms = async <R>(fn: () => R | Promise<R>): Promise<[R, number]> => {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
};
const ids = [Array.from({ length: 10 }, (_, i) => (i * 7919) % 50000)];

if (what === "phases") {
  const [config, tConfig] = await ms(() => readConfigJson(dir));
  const family = familyOf(config);
  const [model, tCreate] = await ms(() => family.create(config, { device: "cpu", empty: true }));
  const [weights, tRead] = await ms(() => loadSafetensorsDir(dir));
  const [, tFinite] = await ms(() => checkFiniteWeights(weights));
  const [, tAssign] = await ms(() => family.loadWeights(model, weights));
  const [, tPack] = await ms(() => prepackWeights(model));
  const [, tTokenizer] = await ms(() => family.defaultTokenizer?.() ?? Tokenizer.fromDir(dir));
  const [, first] = await ms(() => generate(model, ids, { maxNewTokens }));
  const [, warm] = await ms(() => generate(model, ids, { maxNewTokens }));
  console.log(
    JSON.stringify({ tConfig, tCreate, tRead, tFinite, tAssign, tPack, tTokenizer, first, warm }),
  );
} else {
  const rss0 = peakMiB();
  const [{ model }, load] = await ms(() => loadModel(dir));
  const rssLoad = peakMiB();
  const [, first] = await ms(() => generate(model, ids, { maxNewTokens }));
  const [, warm] = await ms(() => generate(model, ids, { maxNewTokens }));
  console.log(JSON.stringify({ load, first, warm, rss0, rssLoad, rssPeak: peakMiB() }));
}
