// Test helpers for the tiny-gpt2 fixture: the reference JSON, the loaded model, activation
// capture through ModuleHook, and checks of logit summaries with the README's tolerances.

import { type Tensor, tensor } from "../../engine/mod.ts";
import { parseGPT2Config } from "../../model/config.ts";
import { GPT2LMHeadModel } from "../../model/gpt2/model.ts";
import { loadWeights } from "../../model/gpt2/weights.ts";
import type { Module } from "../../model/module.ts";
import { loadSafetensors } from "../../model/safetensors.ts";
import { assertClose, assertExact, type Tolerance } from "../_assert.ts";

/** The fixture directory. */
export const FIXTURE = new URL("../fixtures/tiny-gpt2/", import.meta.url);
/** Activations: |d| <= 1e-4 + 1e-4 |exp| (fixture README). */
export const ACT: Tolerance = { atol: 1e-4, rtol: 1e-4 };
/** Logits, probe values, logsumexp: |d| <= 2e-4 + 1e-4 |exp|. */
export const LOGIT: Tolerance = { atol: 2e-4, rtol: 1e-4 };

// deno-lint-ignore no-explicit-any
export type Json = any;

let ref: Json;
/** reference.json, parsed once. */
export async function reference(): Promise<Json> {
  return ref ??= JSON.parse(await Deno.readTextFile(new URL("reference.json", FIXTURE)));
}

/** The fixture model with its config, optionally overriding activation_function. */
export async function tinyModel(activation?: string): Promise<GPT2LMHeadModel> {
  const json = JSON.parse(await Deno.readTextFile(new URL("config.json", FIXTURE)));
  if (activation) json.activation_function = activation;
  const model = new GPT2LMHeadModel(parseGPT2Config(json));
  loadWeights(model, await loadSafetensors(new URL("model.safetensors", FIXTURE)));
  return model;
}

/** An int32 (B, T) tensor of token ids. */
export function ids(rows: number[][]): Tensor {
  return tensor(rows, undefined, { dtype: "int32" });
}

/** Runs `fn` with output hooks on `paths`, returning each module's outputs in call order. */
export function capture<R>(
  model: Module,
  paths: string[],
  fn: () => R,
): { result: R; outputs: Map<string, unknown[]> } {
  const outputs = new Map<string, unknown[]>(paths.map((p) => [p, []]));
  const mods = paths.map((p) => {
    const m = model.getModule(p);
    if (!m) throw new Error(`no module ${p}`);
    return m;
  });
  try {
    for (const m of mods) m.hook = { output: (mod, out) => void outputs.get(mod.path)!.push(out) };
    return { result: fn(), outputs };
  } finally {
    for (const m of mods) m.hook = null;
  }
}

/** The hidden state of a module output: element 0 of a tuple, else the tensor itself. */
export function hidden(out: unknown): Tensor {
  return (Array.isArray(out) ? out[0] : out) as Tensor;
}

/**
 * Checks logits (T, V) of one row against the reference summaries at positions where the
 * reference is not null: top-5 ids exact (as sets, the README notes near-ties in their order),
 * top-5 values, probe values and logsumexp within LOGIT.
 */
export async function checkSummaries(
  logits: Tensor,
  exp: Json,
  probeIds: number[],
  msg: string,
): Promise<void> {
  const [T, V] = logits.shape;
  const data = await logits.data();
  for (let t = 0; t < T; t++) {
    if (exp.top5_ids[t] === null) continue;
    const row = data.subarray(t * V, (t + 1) * V);
    const order = [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, 5);
    await assertExact(order.slice(0, 1), exp.top5_ids[t].slice(0, 1), `${msg} top1 id at ${t}`);
    await assertExact(
      [...order].sort((a, b) => a - b),
      [...exp.top5_ids[t]].sort((a: number, b: number) => a - b),
      `${msg} top5 ids at ${t}`,
    );
    const at = (list: number[]) => list.map((i) => row[i]);
    await assertClose(at(exp.top5_ids[t]), exp.top5_values[t], {
      ...LOGIT,
      msg: `${msg} top5 values at ${t}`,
    });
    await assertClose(at(probeIds), exp.probe_values[t], {
      ...LOGIT,
      msg: `${msg} probes at ${t}`,
    });
    let max = -Infinity, sum = 0;
    for (const v of row) max = Math.max(max, v);
    for (const v of row) sum += Math.exp(v - max);
    await assertClose([max + Math.log(sum)], [exp.logsumexp[t]], {
      ...LOGIT,
      msg: `${msg} logsumexp at ${t}`,
    });
  }
}
