// Throughput where research happens, tsight vs PyTorch in one run, for one model shape (gpt2,
// smollm2, qwen2; random f32; optional 2nd argument: prompt count): prefill, a dataset of prompts
// traced in batches vs nnsight 0.4 (tsight as it runs by default, then forced to every logits
// position), HF generate's decode, traced decode (12 block outputs saved per step) vs nnsight.
// Peer: bench/_torch_throughput.py.

import { fastTierInfo, startThreads, type Tensor, tensor } from "../engine/mod.ts";
import {
  decodeMs,
  median,
  peerFigures,
  printTable,
  SMOLLM2_CONFIG,
  THREADS,
  torchPython,
} from "./_peer.ts";
import { LanguageModel } from "../trace/language_model.ts";
import { list } from "../trace/containers.ts";
import type { Envoy } from "../trace/envoy.ts";

/** The shapes (HF config keys), where their layers sit, and how much of the dataset to run. */
const SHAPES: Record<string, { config: Record<string, unknown>; layers: string; prompts: number }> =
  {
    gpt2: {
      config: { model_type: "gpt2", n_layer: 12, n_embd: 768, n_head: 12, vocab_size: 50257 },
      layers: "transformer.h",
      prompts: 64,
    },
    smollm2: {
      config: SMOLLM2_CONFIG,
      layers: "model.layers",
      prompts: 64,
    },
    qwen2: {
      config: {
        model_type: "qwen2",
        num_hidden_layers: 24,
        hidden_size: 896,
        num_attention_heads: 14,
        num_key_value_heads: 2,
        intermediate_size: 4864,
        vocab_size: 151936,
        max_position_embeddings: 32768,
        rope_theta: 1000000,
        tie_word_embeddings: true,
      },
      layers: "model.layers",
      prompts: 16, // a quarter of the dataset: 0.5B parameters on 2 shared cores
    },
  };

const name = Deno.args[0] ?? "gpt2";
const shape = SHAPES[name];
if (!shape) throw new RangeError(`Unknown shape "${name}": use one of ${Object.keys(SHAPES)}`);
const BATCH = 16, BLOCK = 6, TRACED_TOKENS = 20, PREFILL = [128, 512];

/** 64 prompts of 32 to 128 tokens (seeded), in batches of 16. */
function prompts(n: number): number[][][] {
  let s = 12345;
  const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31);
  const rows = Array.from({ length: n }, () => {
    const T = 32 + (next() % 97);
    return Array.from({ length: T }, () => 1 + (next() % 49000));
  });
  return Array.from({ length: n / BATCH }, (_, b) => rows.slice(b * BATCH, (b + 1) * BATCH));
}

type Figures = Record<string, number>;

/** The envoy at a dotted path: `transformer.h`. */
function at(model: LanguageModel, path: string): Envoy {
  return path.split(".").reduce((e: Envoy, part) => e.child(part), model.envoy);
}

async function tsightFigures(batches: number[][][]): Promise<Figures> {
  await startThreads(THREADS);
  const model = await LanguageModel.random(shape.config, { seed: 0 });
  const layers = at(model, shape.layers);
  const net = model.module;
  const out: Figures = {};
  for (const T of PREFILL) {
    const ids = [Array.from({ length: T }, (_, i) => (i * 7919) % 49000)];
    const x = tensor(ids.flat(), [1, T], { dtype: "int32" });
    out[`prefill${T}`] = median(() => void (net.call(x) as Tensor), T <= 128 ? 3 : 1);
  }
  const prompt = Array.from({ length: 10 }, (_, i) => (i * 7919) % 49000);
  out.decodeMs = await decodeMs(net, [prompt]);
  const dataset = async (bs: number[][][], logitsToKeep?: number) => {
    for (const batch of bs) {
      const fn = () => ({
        h: layers.at(BLOCK).output.save(),
        last: model.output.get(":, -1").save(),
      });
      await (logitsToKeep === undefined
        ? model.trace(batch, fn)
        : model.trace(batch, { logitsToKeep }, fn));
    }
  };
  await dataset(batches.slice(0, 1)); // warm-up
  let t = performance.now();
  await dataset(batches); // reads only [:, -1]: tsight runs the head on that position alone
  out.dataset = performance.now() - t;
  t = performance.now();
  await dataset(batches, 0); // every position, as nnsight
  out.datasetAll = performance.now() - t;
  t = performance.now();
  await dataset(batches, 1);
  out.datasetKeep1 = performance.now() - t;
  for (const key of ["tracedWarm", "tracedMs"]) {
    const hs = list().save();
    t = performance.now();
    await model.generate(prompt, { maxNewTokens: TRACED_TOKENS }, () => {
      layers.all(() => {
        for (let i = 0; i < 12; i++) hs.append(layers.at(i).output);
      });
    });
    out[key] = (performance.now() - t) / TRACED_TOKENS;
    if (hs.value.length !== 12 * TRACED_TOKENS) throw new Error(`saved ${hs.value.length}`);
  }
  return out;
}

// A second argument runs fewer prompts (a multiple of 16), e.g. on a busy machine.
if (Deno.args[1]) shape.prompts = Math.max(BATCH, Math.floor(Number(Deno.args[1]) / BATCH) * BATCH);
const batches = prompts(shape.prompts);
const py = await torchPython();
if (!py) console.error("PyTorch peer skipped: no python with torch and transformers");
let peer: Figures | null = null;
if (py) {
  const spec = await Deno.makeTempFile({ suffix: ".json" });
  const tokenizerFile = new URL("../tests/fixtures/gpt2-tokenizer/tokenizer.json", import.meta.url);
  await Deno.writeTextFile(
    spec,
    JSON.stringify({
      config: shape.config,
      layers: shape.layers,
      block: BLOCK,
      batches,
      prefill: PREFILL,
      tracedTokens: TRACED_TOKENS,
      tokenizerFile: tokenizerFile.pathname,
    }),
  );
  peer = await peerFigures<Figures>(py, new URL("./_torch_throughput.py", import.meta.url), [spec]);
  await Deno.remove(spec);
  if (!peer) console.error("PyTorch/nnsight peer failed (run bench/_torch_throughput.py by hand)");
}
const ours = await tsightFigures(batches);
const info = fastTierInfo();
const tokens = batches.flat().reduce((n, r) => n + r.length, 0);
console.log(
  `${name}-shaped model (random f32), ${THREADS} threads; tsight cpu fast tier (simd ${info.simd}, relaxed ${info.relaxed}); PyTorch eager (HF default attention) and nnsight 0.4.11, one run each (a shared, noisy machine)`,
);
const rows: [string, number, number | undefined, "lower" | "higher"][] = [
  ...PREFILL.map((T): [string, number, number | undefined, "lower"] => [
    `prefill T=${T} (ms, full logits)`,
    ours[`prefill${T}`],
    peer?.[`prefill${T}`],
    "lower",
  ]),
  [
    `dataset: ${shape.prompts} prompts (${tokens} tokens), batches of ${BATCH}, traced (ms; vs nnsight)`,
    ours.dataset,
    peer?.dataset,
    "lower",
  ],
  [
    "same, tsight forced to every position (logitsToKeep 0; ms; vs nnsight)",
    ours.datasetAll,
    peer?.dataset,
    "lower",
  ],
  [
    "same, both with logitsToKeep / logits_to_keep 1 (ms; vs nnsight)",
    ours.datasetKeep1,
    peer?.datasetKeep1,
    "lower",
  ],
  [
    "decode (tok/s, greedy, KV cache; vs HF generate)",
    1000 / ours.decodeMs,
    peer ? 1000 / peer.decodeMs : undefined,
    "higher",
  ],
  [
    `traced decode, 12 block outputs saved per step (tok/s, ${TRACED_TOKENS} tokens; vs nnsight)`,
    1000 / ours.tracedMs,
    peer ? 1000 / peer.tracedMs : undefined,
    "higher",
  ],
];
printTable(rows);
