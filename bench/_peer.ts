// Shared by the *_vs_torch benches: a python with torch and transformers (made once in a venv
// from pip's configured indexes), running a peer script, medians, and the side-by-side table.

import { type CausalLM, generate } from "../model/mod.ts";

/** Threads both sides use. */
export const THREADS = 2;

/** SmolLM2-135M's shape (HF config keys): a Llama of 30 layers, width 576, 9 heads / 3 kv. */
export const SMOLLM2_CONFIG = {
  model_type: "llama",
  num_hidden_layers: 30,
  hidden_size: 576,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  intermediate_size: 1536,
  vocab_size: 49152,
  max_position_embeddings: 2048,
  rope_theta: 100000,
  tie_word_embeddings: true,
};
export const VENV = `${Deno.env.get("HOME") ?? "/tmp"}/.cache/tsight-bench-venv`;

/** Runs a command, returning stdout or null when it fails. */
export async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout) : null;
  } catch {
    return null;
  }
}

/** A python with torch and transformers: $TSIGHT_TORCH_PYTHON, the bench venv, or a new venv. */
export async function torchPython(): Promise<string | null> {
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

/** The median time (ms) of `n` runs of `fn` after one warm-up run. */
export function median(fn: () => void, n: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  return times.sort((a, b) => a - b)[Math.floor(n / 2)];
}

/** Runs a peer script with THREADS and extra args; its last stdout line parsed as JSON, or null. */
export async function peerFigures<F>(
  py: string,
  script: URL,
  args: string[] = [],
): Promise<F | null> {
  const out = await run(py, [script.pathname, String(THREADS), ...args]);
  return out ? JSON.parse(out.trim().split("\n").pop()!) : null;
}

/** The best (lowest) of two peer runs, field by field. */
export function bestOf<F extends object>(a: F | null, b: F | null): F | null {
  if (!a || !b) return a ?? b;
  const out = { ...a } as Record<string, unknown>;
  for (const [k, v] of Object.entries(b)) {
    if (typeof v === "number") out[k] = Math.min(v, (a as Record<string, number>)[k]);
  }
  return out as F;
}

/** Prints the markdown table: measure, tsight, PyTorch, and tsight's speed relative to PyTorch. */
export function printTable(rows: [string, number, number | undefined, "lower" | "higher"][]): void {
  console.log("| measure | tsight | PyTorch | tsight speed vs PyTorch |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [name, t, p, better] of rows) {
    const ratio = p === undefined ? "-" : `${(better === "lower" ? p / t : t / p).toFixed(2)}x`;
    console.log(`| ${name} | ${t.toFixed(1)} | ${p?.toFixed(1) ?? "-"} | ${ratio} |`);
  }
}

/** The mean gap (ms) between streamed tokens of a 50-token greedy generation, best of 3. */
export async function decodeMs(model: CausalLM, ids: number[][]): Promise<number> {
  await generate(model, ids, { maxNewTokens: 5 });
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const stamps: number[] = [];
    model.generator.streamer.hook = { output: () => void stamps.push(performance.now()) };
    try {
      await generate(model, ids, { maxNewTokens: 50 });
    } finally {
      model.generator.streamer.hook = null;
    }
    best = Math.min(best, (stamps[stamps.length - 1] - stamps[0]) / (stamps.length - 1));
  }
  return best;
}
