// GPT-2 small (random weights, f32, cpu) in tsight and in PyTorch in one run: prefill latency at
// T=10 and T=128 and greedy KV-cache decode speed, printed side by side with ratios.
// The PyTorch peer is bench/_torch_gpt2.py; without torch the peer is skipped with a message.

import { fastTierInfo, startThreads, type Tensor } from "../engine/mod.ts";
import { generate, prepareBatch, randomGPT2 } from "../model/mod.ts";

const THREADS = 2;
const VENV = `${Deno.env.get("HOME") ?? "/tmp"}/.cache/tsight-bench-venv`;

/** Runs a command, returning stdout or null when it fails. */
async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** A python with torch and transformers: $TSIGHT_TORCH_PYTHON, the bench venv, or a new venv. */
async function torchPython(): Promise<string | null> {
  const probe = async (py: string) =>
    (await run(py, ["-c", "import torch, transformers"])) !== null ? py : null;
  const given = Deno.env.get("TSIGHT_TORCH_PYTHON");
  if (given) return await probe(given);
  if (await probe(`${VENV}/bin/python`)) return `${VENV}/bin/python`;
  console.error(`Creating ${VENV} with torch and transformers (pip, once)...`);
  if ((await run("python3", ["-m", "venv", VENV])) === null) return null;
  // First fail fast on unreachable indexes so pip moves on to the configured local ones; if
  // that finds nothing, try once more with pip's own retry and timeout settings.
  const attempts: Record<string, string>[] = [{ PIP_RETRIES: "0", PIP_TIMEOUT: "5" }, {}];
  for (const env of attempts) {
    await run(`${VENV}/bin/pip`, ["install", "-q", "torch", "transformers"], env);
    if (await probe(`${VENV}/bin/python`)) return `${VENV}/bin/python`;
  }
  return null;
}

interface Figures {
  prefill10: number;
  prefill128: number;
  decodeMs: number;
}

async function torchFigures(py: string): Promise<Figures & { torch: string } | null> {
  const script = new URL("./_torch_gpt2.py", import.meta.url).pathname;
  const out = await run(py, [script, String(THREADS)]);
  return out ? JSON.parse(out.trim().split("\n").pop()!) : null;
}

function median(fn: () => void, n: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)];
}

async function tsightFigures(): Promise<Figures> {
  await startThreads(THREADS);
  const { model } = await randomGPT2({ n_layer: 12, n_embd: 768, n_head: 12 }, { seed: 0 });
  const ids = (T: number) => [Array.from({ length: T }, (_, i) => (i * 7919) % 50000)];
  const prefill = (T: number, n: number) => {
    const b = prepareBatch(ids(T), 50256);
    const opts = { attentionMask: b.attentionMask, positionIds: b.positionIds };
    return median(() => void (model.call(b.inputIds, opts) as Tensor), n);
  };
  const out = { prefill10: prefill(10, 5), prefill128: prefill(128, 3), decodeMs: Infinity };
  // Decode: the mean gap between streamed tokens of a 50-token greedy generation.
  await generate(model, ids(10), { maxNewTokens: 5 });
  for (let r = 0; r < 3; r++) {
    const stamps: number[] = [];
    model.generator.streamer.hook = { output: () => void stamps.push(performance.now()) };
    try {
      await generate(model, ids(10), { maxNewTokens: 50 });
    } finally {
      model.generator.streamer.hook = null;
    }
    const gap = (stamps[stamps.length - 1] - stamps[0]) / (stamps.length - 1);
    out.decodeMs = Math.min(out.decodeMs, gap);
  }
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
const peer = before && after
  ? {
    torch: before.torch,
    prefill10: Math.min(before.prefill10, after.prefill10),
    prefill128: Math.min(before.prefill128, after.prefill128),
    decodeMs: Math.min(before.decodeMs, after.decodeMs),
  }
  : before ?? after;

const info = fastTierInfo();
console.log(
  `GPT-2 small (124M, f32, random weights), ${THREADS} threads; tsight cpu fast tier (simd ${info.simd}, relaxed ${info.relaxed})` +
    (peer ? `; PyTorch ${peer.torch} eager (best of a run before and after tsight)` : ""),
);
const rows: [string, number, number | undefined, "lower" | "higher"][] = [
  ["prefill T=10 (ms, full logits)", ours.prefill10, peer?.prefill10, "lower"],
  ["prefill T=128 (ms, full logits)", ours.prefill128, peer?.prefill128, "lower"],
  [
    "decode (tok/s, greedy, KV cache)",
    1000 / ours.decodeMs,
    peer ? 1000 / peer.decodeMs : undefined,
    "higher",
  ],
];
console.log("| measure | tsight | PyTorch | tsight speed vs PyTorch |");
console.log("| --- | ---: | ---: | ---: |");
for (const [name, t, p, better] of rows) {
  const ratio = p === undefined ? "-" : `${(better === "lower" ? p / t : t / p).toFixed(2)}x`;
  console.log(`| ${name} | ${t.toFixed(1)} | ${p?.toFixed(1) ?? "-"} | ${ratio} |`);
}
