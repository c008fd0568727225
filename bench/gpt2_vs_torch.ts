// GPT-2 small (random weights, f32, cpu) in tsight and in PyTorch in one run: prefill latency at
// T=10, T=128 and T=512 and greedy KV-cache decode speed, printed side by side with ratios.
// The PyTorch peer is bench/_torch_gpt2.py; without torch the peer is skipped with a message.

import { fastTierInfo, startThreads, type Tensor } from "../engine/mod.ts";
import { prepareBatch, randomGPT2 } from "../model/mod.ts";
import {
  bestOf,
  decodeMs,
  median,
  peerFigures,
  printTable,
  THREADS,
  torchPython,
} from "./_peer.ts";

type Figures = {
  prefill10: number;
  prefill128: number;
  prefill512: number;
  decodeMs: number;
};

const torchFigures = (py: string) =>
  peerFigures<Figures & { torch: string }>(py, new URL("./_torch_gpt2.py", import.meta.url));

async function tsightFigures(): Promise<Figures> {
  await startThreads(THREADS);
  const { model } = await randomGPT2({ n_layer: 12, n_embd: 768, n_head: 12 }, { seed: 0 });
  const ids = (T: number) => [Array.from({ length: T }, (_, i) => (i * 7919) % 50000)];
  const prefill = (T: number, n: number) => {
    const b = prepareBatch(ids(T), 50256);
    const opts = { attentionMask: b.attentionMask, positionIds: b.positionIds };
    return median(() => void (model.call(b.inputIds, opts) as Tensor), n);
  };
  const out = {
    prefill10: prefill(10, 5),
    prefill128: prefill(128, 3),
    prefill512: prefill(512, 2),
    decodeMs: Infinity,
  };
  out.decodeMs = await decodeMs(model, ids(10));
  return out;
}

const py = await torchPython();
if (!py) {
  console.error(
    "PyTorch peer skipped: no python with torch and transformers could be found or installed",
  );
}
const before = py ? await torchFigures(py) : null;
const ours = await tsightFigures();
const after = py ? await torchFigures(py) : null;
const peer = bestOf(before, after);

const info = fastTierInfo();
console.log(
  `GPT-2 small (124M, f32, random weights), ${THREADS} threads; tsight cpu fast tier (simd ${info.simd}, relaxed ${info.relaxed})` +
    (peer ? `; PyTorch ${peer.torch} eager (best of a run before and after tsight)` : ""),
);
const rows: [string, number, number | undefined, "lower" | "higher"][] = [
  ["prefill T=10 (ms, full logits)", ours.prefill10, peer?.prefill10, "lower"],
  ["prefill T=128 (ms, full logits)", ours.prefill128, peer?.prefill128, "lower"],
  ["prefill T=512 (ms, full logits)", ours.prefill512, peer?.prefill512, "lower"],
  [
    "decode (tok/s, greedy, KV cache)",
    1000 / ours.decodeMs,
    peer ? 1000 / peer.decodeMs : undefined,
    "higher",
  ],
];
printTable(rows);
