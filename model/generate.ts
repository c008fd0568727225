// The decoding loop: left-padded batch, prompt pass, then one token per row per step with a KV
// cache; greedy or sampled; one small readback per step. Leaves no state on the model.

import {
  allocatedSince,
  allocationMark,
  cat,
  type Device,
  release,
  Rng,
  type Tensor,
  tensor,
  tidy,
} from "../engine/mod.ts";
import { normalizeRows, prepareBatch } from "./batch.ts";
import type { CausalLM, CausalLMForwardOptions, KVCacheLike } from "./causal_lm.ts";
import { guardFinite } from "./finite.ts";
import { lockOf, withLock } from "./lock.ts";
import {
  checkGenerateOptions,
  checkPromptLength,
  checkTokenId,
  DEFAULT_MAX_NEW_TOKENS,
} from "./validate.ts";

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
  /** End-of-sequence id; default the model's first eos id (from its config). */
  eosTokenId?: number;
  /** Padding id (left padding and after eos); default the config's pad id, else the eos id, else 0. */
  padTokenId?: number;
  /**
   * HF's logits_to_keep for every step's forward (0 keeps all). Default: the last position
   * only while no trace hooks the root module or the head (`lm_head`), else every position, so
   * what a trace observes is unchanged. NaN/Inf checks see only the kept rows.
   */
  logitsToKeep?: number;
}

/**
 * Turns last-position logits into one token per row in two halves: `prepare` runs on the device
 * (argmax, or the top-k values and indices side by side), `choose` on the host data of its
 * result, which generate() reads with one readback per step.
 */
interface Picker {
  /** (B, V) logits -> a small tensor to read back. */
  prepare(last: Tensor): Tensor;
  /** The read-back data of `prepare`'s result -> one id per row. */
  choose(data: ArrayLike<number>, B: number): Int32Array;
}

/**
 * Generates tokens after each row of `input` (token ids; rows may differ in length and are
 * left-padded). Calls `model.generator.streamer` with each step's ids (B, 1) and
 * `model.generator` once with all ids; resolves to the generator's output, all ids
 * (B, prompt + new) int32. Exceptions from hooks propagate unchanged.
 *
 * Device memory: each step runs in a `tidy`, so its intermediates are freed as it ends; the KV
 * cache, the batch and the fed-back ids are freed when generation ends (also after an error),
 * except tensors someone `keep`s (a trace keeps the values it hands out). The result is the
 * caller's. One readback per step (the picked ids), plus one more per step only when a
 * streamer hook replaced the ids.
 *
 * Runs holding the model's lock (model/lock.ts): it waits for a trace or another generate() on
 * the same model to end. Refuses bad ids (TokenIdError), options (TypeError/RangeError), too
 * long prompts (PromptLengthError) and logits with NaN or ±Inf (NonFiniteLogitsError).
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
export function generate(
  model: CausalLM,
  input: readonly number[] | readonly (readonly number[])[],
  opts: GenerateOptions = {},
): Promise<Tensor> {
  return withLock(model, () => generateHeld(model, input, opts));
}

/**
 * {@link generate} for a caller that already holds the model's lock (a traced generate).
 *
 * @example
 * ```ts
 * import { GPT2LMHeadModel } from "./gpt2/model.ts";
 * import { generateHeld } from "./generate.ts";
 * import { withLock } from "./lock.ts";
 * const model = new GPT2LMHeadModel({ n_layer: 1, n_embd: 8, n_head: 2 });
 * const ids = await withLock(model, () => generateHeld(model, [464], { maxNewTokens: 1 }));
 * ```
 */
export async function generateHeld(
  model: CausalLM,
  input: readonly number[] | readonly (readonly number[])[],
  opts: GenerateOptions = {},
): Promise<Tensor> {
  const shape = model.shape;
  checkGenerateOptions(opts, shape.vocabSize);
  const rows = normalizeRows(input, shape.vocabSize);
  const maxNew = opts.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const eos: number | null = opts.eosTokenId ?? shape.eosTokenIds[0] ?? null;
  const pad = opts.padTokenId ?? shape.padTokenId ?? eos ?? 0;
  const pick = guardFinite(makePicker(opts));
  const device = model.device;
  const T = Math.max(...rows.map((r) => r.length));
  checkPromptLength(T, maxNew, shape.maxPositions);
  if (opts.stopAtEos) checkTokenId(pad, shape.vocabSize, "The pad id");
  const lock = lockOf(model);
  // A step's model calls: in a tidy, and marked as the lock holder's (trace hooks act on them).
  const held = <R>(fn: () => R): R => lock.enter(() => tidy(fn));
  const B = rows.length;
  const batch = prepareBatch(rows, pad, { device, vocabSize: shape.vocabSize });
  const padded = batch.lengths.some((n) => n !== T);
  const head = model.getModule(model.paths.lmHead);
  // The head on the last position only, unless a trace observes the logits or the head.
  const keep = () => opts.logitsToKeep ?? (model.hook || head?.hook ? undefined : 1);
  const cache = model.newCache({ batch: B, capacity: Math.max(1, T + maxNew) });
  const hostIds = batch.hostIds;
  const columns: Int32Array[] = [];
  const finished = new Uint8Array(B);
  let ids = batch.inputIds; // (B, t): the prompt, then each step's fed-back ids
  let ownIds = false; // whether `ids` was made by this call (and so is freed by it)
  try {
    for (let step = 0; step < maxNew; step++) {
      const [picked] = held(() => {
        const fwd: CausalLMForwardOptions = !padded
          ? { cache }
          : step === 0
          ? { attentionMask: batch.attentionMask, positionIds: batch.positionIds, cache }
          : stepMask(batch.lengths, T, step, device, cache);
        const logits = model.call(ids, { ...fwd, logitsToKeep: keep() }); // (B, t or kept, V)
        return [pick.prepare(logits.get(":, -1")), ...(cache.tensors ?? [])]; // the cache may have grown
      });
      if (ownIds) release(ids);
      let next: Int32Array;
      try {
        next = pick.choose(await picked.data(), B); // (B,)
      } finally {
        release(picked);
      }
      if (opts.stopAtEos) next = next.map((id, b) => (finished[b] ? pad : id));
      const mark = allocationMark();
      const { streamed, replaced } = held(() => {
        const fresh = tensor(next, [B, 1], { device }); // (B, 1)
        const version = fresh.storage.version;
        const streamed = model.generator.streamer.call(fresh);
        const replaced = streamed !== fresh || streamed.storage.version !== version;
        if (replaced && (streamed?.dtype !== "int32" || streamed.shape.join() !== `${B},1`)) {
          throw new TypeError(
            `generator.streamer output must be int32 [${B}, 1] token ids, got ${String(streamed)}`,
          );
        }
        return { streamed, replaced };
      });
      ids = streamed;
      ownIds = allocatedSince(streamed.storage, mark); // else a tensor a hook handed in
      if (replaced) next = new Int32Array(await streamed.data());
      columns.push(next);
      if (opts.stopAtEos) {
        next.forEach((id, b) => (finished[b] ||= eos !== null && id === eos ? 1 : 0));
        if (finished.every((f) => f === 1)) break;
      }
    }
    const width = T + columns.length;
    const all = new Int32Array(B * width);
    for (let b = 0; b < B; b++) {
      all.set(hostIds.subarray(b * T, (b + 1) * T), b * width);
      columns.forEach((col, j) => (all[b * width + T + j] = col[b]));
    }
    return held(() => model.generator.call(tensor(all, [B, width], { device })));
  } finally {
    if (ownIds) release(ids);
    cache.dispose();
    for (const t of [batch.inputIds, batch.attentionMask, batch.positionIds]) release(t);
  }
}

/** Forward options of decoding step `step` > 0 of a left-padded batch: mask (B, S), positions (B, 1). */
function stepMask(
  lengths: readonly number[],
  T: number,
  step: number,
  device: Device,
  cache: KVCacheLike,
): CausalLMForwardOptions {
  const B = lengths.length, S = T + step;
  const mask = new Int32Array(B * S).fill(1);
  const pos = new Int32Array(B);
  lengths.forEach((n, b) => {
    mask.fill(0, b * S, b * S + T - n);
    pos[b] = n + step - 1;
  });
  return {
    attentionMask: tensor(mask, [B, S], { device }),
    positionIds: tensor(pos, [B, 1], { device }),
    cache,
  };
}

/** The greedy or sampling picker of `opts`. */
function makePicker(opts: GenerateOptions): Picker {
  if (!opts.doSample) {
    return {
      prepare: (last) => last.argmax(-1), // (B,) int32
      choose: (data) => Int32Array.from(data),
    };
  }
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
  let k = 0, V = 0;
  return {
    prepare: (last) => {
      V = last.shape[1];
      k = Math.min(topK ?? V, V);
      const x = temperature === 1 ? last : last.div(temperature); // (B, V)
      if (k === V) return x;
      const top = x.topk(k); // (B, k) values, sorted descending
      return cat([top.values, top.indices.astype("float32")], -1); // (B, 2k)
    },
    choose: (data, B) => {
      const width = k < V ? 2 * k : V;
      const out = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        const base = b * width;
        const logit = (i: number) => data[base + i];
        const id = (i: number) => (k < V ? data[base + k + i] : i);
        out[b] = id(sampleIndex(k, logit, topP, rng));
      }
      return out;
    },
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
