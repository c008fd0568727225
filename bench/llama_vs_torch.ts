// A SmolLM2-135M-shaped Llama (random weights, f32, cpu) in tsight and in PyTorch in one run:
// prefill latency at T=128 and T=512 and greedy KV-cache decode speed, side by side with ratios. The
// peer is bench/_torch_llama.py; without torch the peer is skipped with a message.

import { fastTierInfo, startThreads } from "../engine/mod.ts";
import { prepareBatch, randomModel } from "../model/mod.ts";
import {
  bestOf,
  decodeMs,
  median,
  peerFigures,
  printTable,
  SMOLLM2_CONFIG,
  THREADS,
  torchPython,
} from "./_peer.ts";

const SHAPE = SMOLLM2_CONFIG;

type Figures = { prefill128: number; prefill512: number; decodeMs: number };

const torchFigures = (py: string) =>
  peerFigures<Figures & { torch: string }>(py, new URL("./_torch_llama.py", import.meta.url), [
    JSON.stringify(SHAPE),
  ]);

async function tsightFigures(): Promise<Figures> {
  await startThreads(THREADS);
  const { model } = await randomModel(SHAPE, { seed: 0 });
  const ids = (T: number) => [Array.from({ length: T }, (_, i) => (i * 7919) % 49000)];
  const prefill = (T: number, n: number) => {
    const b = prepareBatch(ids(T), 0);
    const opts = { attentionMask: b.attentionMask, positionIds: b.positionIds };
    return median(() => void model.call(b.inputIds, opts), n);
  };
  const out = { prefill128: prefill(128, 3), prefill512: prefill(512, 2), decodeMs: Infinity };
  out.decodeMs = await decodeMs(model, ids(10));
  return out;
}

const py = await torchPython();
if (!py) console.error("PyTorch peer skipped: no python with torch and transformers");
const before = py ? await torchFigures(py) : null;
const ours = await tsightFigures();
const after = py ? await torchFigures(py) : null;
const peer = bestOf(before, after);
const info = fastTierInfo();
console.log(
  `SmolLM2-135M-shaped Llama (30 layers, width 576, 9 heads / 3 kv, tied, f32, random), ${THREADS} threads; tsight cpu fast tier (simd ${info.simd}, relaxed ${info.relaxed})` +
    (peer ? `; PyTorch ${peer.torch} eager (best of a run before and after tsight)` : ""),
);
printTable([
  ["prefill T=128 (ms, full logits)", ours.prefill128, peer?.prefill128, "lower"],
  ["prefill T=512 (ms, full logits)", ours.prefill512, peer?.prefill512, "lower"],
  [
    "decode (tok/s, greedy, KV cache)",
    1000 / ours.decodeMs,
    peer ? 1000 / peer.decodeMs : undefined,
    "higher",
  ],
]);
