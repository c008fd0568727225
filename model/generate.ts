// The decoding loop: left-padded batch, prompt pass, then one token per row per step with a KV
// cache; greedy or sampled; one small readback per step. Leaves no state on the model.

import { cat, type Tensor, tensor } from "../engine/mod.ts";
import { Rng } from "../engine/random.ts";
import { normalizeRows, prepareBatch } from "./batch.ts";
import { KVCache } from "./gpt2/kv_cache.ts";
import type { ForwardOptions, GPT2LMHeadModel } from "./gpt2/model.ts";

/** Options of {@link generate}; names follow HF generate() in camelCase. */
export interface GenerateOptions {
  /** Tokens to generate per row; default 20. */
  maxNewTokens?: number;
  /** Sample from the distribution instead of taking the argmax; default false. */
  doSample?: boolean;
  /** Divides logits before sampling; default 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Sample only among the most likely tokens whose probabilities sum to topP (nucleus). */
  topP?: number;
  /** Seed of the sampler, for reproducible samples; default a time-based seed. */
  seed?: number;
  /** Stop a row at the end-of-sequence token (it then emits padding); default false. */
  stopAtEos?: boolean;
  /** End-of-sequence id; default config.eos_token_id, else 50256. */
  eosTokenId?: number;
  /** Padding id (left padding and after eos); default the eos id. */
  padTokenId?: number;
}

type Picker = (last: Tensor) => Promise<Int32Array>;

/**
 * Generates tokens after each row of `input` (token ids; rows may differ in length and are
 * left-padded). Calls `model.generator.streamer` with each step's ids (B, 1) and
 * `model.generator` once with all ids; resolves to the generator's output, all ids
 * (B, prompt + new) int32. Exceptions from hooks propagate unchanged.
 *
 * @example
 * ```ts
 * import { GPT2LMHeadModel } from "./gpt2/model.ts";
 * import { initRandom } from "./gpt2/weights.ts";
 * import { generate } from "./generate.ts";
 * const model = initRandom(new GPT2LMHeadModel({ n_layer: 1, n_embd: 8, n_head: 2 }), 0);
 * const ids = await generate(model, [[464, 412], [50256]], { maxNewTokens: 3 });
 * ids.shape; // [2, 5]
 * ```
 */
export async function generate(
  model: GPT2LMHeadModel,
  input: readonly number[] | readonly (readonly number[])[],
  opts: GenerateOptions = {},
): Promise<Tensor> {
  const config = model.config;
  const rows = normalizeRows(input, config.vocab_size);
  const maxNew = opts.maxNewTokens ?? 20;
  const eos = opts.eosTokenId ?? config.eos_token_id ?? 50256;
  const pad = opts.padTokenId ?? eos;
  if (!Number.isInteger(maxNew) || maxNew < 0) {
    throw new RangeError(`maxNewTokens is ${maxNew}: it must be an integer >= 0`);
  }
  const pick = makePicker(opts);
  const device = model.device;
  const batch = prepareBatch(rows, pad, { device });
  const B = rows.length, T = batch.width;
  if (T + maxNew > config.n_positions) {
    throw new RangeError(
      `Prompt of ${T} tokens plus maxNewTokens ${maxNew} exceeds the model's ${config.n_positions} positions: shorten the prompt or generate fewer tokens`,
    );
  }
  const padded = batch.lengths.some((n) => n !== T);
  const cache = new KVCache(
    { nLayer: config.n_layer, nHead: config.n_head, headSize: config.n_embd / config.n_head },
    { batch: B, capacity: Math.max(1, T + maxNew), device },
  );
  const hostIds = batch.hostIds;
  const columns: Int32Array[] = [];
  const finished = new Uint8Array(B);
  let ids = batch.inputIds;
  let fwd: ForwardOptions = padded
    ? { attentionMask: batch.attentionMask, positionIds: batch.positionIds, cache }
    : { cache };
  for (let step = 0; step < maxNew; step++) {
    const logits = model.call(ids, fwd) as Tensor; // (B, t, V)
    let next = await pick(logits.get(":, -1")); // (B,)
    if (opts.stopAtEos) next = next.map((id, b) => (finished[b] ? pad : id));
    const fresh = tensor(next, [B, 1], { device }); // (B, 1)
    const version = fresh.storage.version;
    const streamed = model.generator.streamer.call(fresh) as Tensor;
    if (streamed !== fresh || streamed.storage.version !== version) {
      if (streamed?.dtype !== "int32" || streamed.shape.join() !== `${B},1`) {
        throw new TypeError(
          `generator.streamer output must be int32 [${B}, 1] token ids, got ${String(streamed)}`,
        );
      }
      next = new Int32Array(await streamed.data());
    }
    columns.push(next);
    if (opts.stopAtEos) {
      next.forEach((id, b) => (finished[b] ||= id === eos ? 1 : 0));
      if (finished.every((f) => f === 1)) break;
    }
    ids = streamed;
    if (padded) {
      const S = T + step + 1;
      const mask = new Int32Array(B * S).fill(1);
      const pos = new Int32Array(B);
      batch.lengths.forEach((n, b) => {
        mask.fill(0, b * S, b * S + T - n);
        pos[b] = n + step;
      });
      fwd = {
        attentionMask: tensor(mask, [B, S], { device }),
        positionIds: tensor(pos, [B, 1], { device }),
        cache,
      };
    }
  }
  const width = T + columns.length;
  const all = new Int32Array(B * width);
  for (let b = 0; b < B; b++) {
    all.set(hostIds.subarray(b * T, (b + 1) * T), b * width);
    columns.forEach((col, j) => (all[b * width + T + j] = col[b]));
  }
  return model.generator.call(tensor(all, [B, width], { device })) as Tensor;
}

/** Turns last-position logits (B, V) into one token per row with a single readback. */
function makePicker(opts: GenerateOptions): Picker {
  if (!opts.doSample) return async (last) => new Int32Array(await last.argmax(-1).data());
  const temperature = opts.temperature ?? 1;
  const topP = opts.topP ?? 1;
  const topK = opts.topK;
  if (!(temperature > 0)) {
    throw new RangeError(
      `temperature is ${temperature}: it must be > 0 (use doSample false for greedy)`,
    );
  }
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP is ${topP}: it must be in (0, 1]`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1)) {
    throw new RangeError(`topK is ${topK}: it must be a positive integer`);
  }
  const rng = new Rng(opts.seed ?? Date.now());
  return async (last) => {
    const [B, V] = last.shape;
    const x = temperature === 1 ? last : last.div(temperature); // (B, V)
    const k = Math.min(topK ?? V, V);
    let values: ArrayLike<number>, indices: ArrayLike<number> | null = null, width = V;
    if (k < V) {
      const top = x.topk(k); // (B, k) values, sorted descending
      const both = await cat([top.values, top.indices.astype("float32")], -1).data(); // (B, 2k)
      values = both, indices = both, width = 2 * k;
    } else values = await x.data();
    const out = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      const base = b * width;
      const logit = (i: number) => values[base + i];
      const id = (i: number) => (indices ? indices[base + k + i] : i);
      out[b] = id(sampleIndex(k, logit, topP, rng));
    }
    return out;
  };
}

/** Samples an index in [0, n) from softmax(logit), restricted to the top-p nucleus. */
function sampleIndex(n: number, logit: (i: number) => number, topP: number, rng: Rng): number {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logit(i));
  const p = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += p[i] = Math.exp(logit(i) - max);
  let order: number[] | Int32Array = [];
  let total = sum;
  if (topP < 1) {
    // Keep the most likely tokens until their mass reaches topP (at least one), as HF does.
    const sorted = Int32Array.from({ length: n }, (_, i) => i).sort((a, c) => p[c] - p[a] || a - c);
    let mass = 0, keep = 0;
    while (keep < n && (keep === 0 || mass < topP * sum)) mass += p[sorted[keep++]];
    order = sorted.subarray(0, keep);
    total = mass;
  }
  let u = rng.uniform() * total;
  const m = topP < 1 ? order.length : n;
  for (let j = 0; j < m; j++) {
    const i = topP < 1 ? order[j] : j;
    u -= p[i];
    if (u < 0) return i;
  }
  return topP < 1 ? order[m - 1] : n - 1;
}
