// Copies checkpoint tensors onto any family's parameters by name (save_pretrained names), with
// tied heads; checks every name and shape before assigning anything; seeded random init helpers.

import {
  type Device,
  getBackend,
  packedMatmulWeight,
  prepackMatmulOperand,
  type Rng,
  type Storage,
  Tensor,
} from "../engine/mod.ts";
import type { Module } from "./module.ts";

/** What a loader reads: a SafetensorsFile, or anything with the same three methods. */
export interface WeightSource {
  /** Every tensor name. */
  readonly names: readonly string[];
  /** Shape of a tensor. */
  info(name: string): { shape: number[] };
  /** A tensor's values as float32 (F16/BF16 widened; F32 adopted without a copy). */
  float32(name: string): Float32Array;
  /**
   * Rows [r0, r1) of a tensor seen as (shape[0], rest), as float32 into `dst`. Optional: with
   * it, matmul weights on the cpu are streamed into packed panels with no whole host copy.
   */
  float32Rows?(name: string, dst: Float32Array, r0: number, r1: number): void;
}

/** What a loader did besides assigning parameters. */
export interface LoadReport {
  /** Checkpoint keys that are not parameters and not known buffers. */
  unused: string[];
  /** True when the head has its own weight although the config ties it (GPT-2's check). */
  untied: boolean;
}

/** How a family's parameter names meet checkpoint names. */
export interface CheckpointSpec {
  /** Names the family gives in errors ("Llama (3 layers, hidden 32, vocab 32000)"). */
  describe: string;
  /** Tied head: its parameter path and the embedding path it reads; null when untied. */
  tied: { head: string; embed: string } | null;
  /** Checkpoint keys that are buffers, not parameters (rotary inv_freq): never "extra". */
  buffers?: RegExp;
  /** Device the weights go to. */
  device: Device;
}

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/**
 * Copies every parameter of `model` from `source` under the same dotted name (the names
 * save_pretrained writes). A tied head reads the embedding table (a checkpoint's copy of it is
 * accepted and ignored). One error names every missing, extra and misshapen tensor; nothing is
 * assigned unless all fit. Replaced weights' device memory is freed.
 *
 * @example
 * ```ts
 * import { Linear } from "./layers/linear.ts";
 * import { loadCheckpoint } from "./weights.ts";
 * const m = new Linear(2, 1, { bias: false });
 * const w = new Float32Array([1, 2]);
 * loadCheckpoint(m, { names: ["weight"], info: () => ({ shape: [1, 2] }), float32: () => w }, {
 *   describe: "a Linear",
 *   tied: null,
 *   device: "cpu",
 * });
 * ```
 */
export function loadCheckpoint(
  model: Module,
  source: WeightSource,
  spec: CheckpointSpec,
): LoadReport {
  const names = new Set(source.names);
  const params = model.namedParameters().filter(([p]) => p !== spec.tied?.head);
  const problems: string[] = [];
  const plan: [string, readonly number[]][] = [];
  for (const [path, t] of params) {
    if (!names.has(path)) {
      problems.push(`missing "${path}" ${fmt(t.shape)}`);
      continue;
    }
    const got = source.info(path).shape;
    if (got.join() !== t.shape.join()) {
      problems.push(`"${path}" has shape ${fmt(got)}, expected ${fmt(t.shape)}`);
    } else plan.push([path, t.shape]);
  }
  const known = new Set(params.map(([p]) => p));
  if (spec.tied) known.add(spec.tied.head);
  const extra = source.names.filter((n) => !known.has(n) && !spec.buffers?.test(n));
  for (const n of extra) problems.push(`extra "${n}" ${fmt(source.info(n).shape)}`);
  if (problems.length > 0) {
    throw new RangeError(
      `Checkpoint does not fit ${spec.describe}: ${
        problems.join("; ")
      }. Check that config.json belongs to these weights`,
    );
  }
  // Read everything first: a bad read (NaN, a truncated file) then leaves the model as it was.
  const layouts = matmulWeights(model, spec.tied);
  const loaded = plan.map(([path, shape]) =>
    [path, readWeight(source, path, shape, spec.device, layouts.get(path))] as const
  );
  replacing(model, () => {
    for (const [path, t] of loaded) model.setParameter(path, t);
    if (spec.tied) {
      const embed = model.namedParameters().find(([p]) => p === spec.tied!.embed)![1];
      model.setParameter(spec.tied.head, embed);
    }
  });
  return { unused: [], untied: false };
}

/**
 * Runs `assign` (which replaces parameters), then frees the device memory of every weight it
 * replaced that no parameter uses any more (the constructor's zeros on webgpu).
 *
 * @example
 * ```ts
 * import { Linear } from "./layers/linear.ts";
 * import { replacing } from "./weights.ts";
 * const m = new Linear(2, 2);
 * replacing(m, () => {}); // frees nothing: every weight is still in use
 * ```
 */
export function replacing(model: Module, assign: () => void): void {
  const storages = () => new Set<Storage>(model.namedParameters().map(([, t]) => t.storage));
  const before = storages();
  assign();
  const after = storages();
  for (const s of before) if (!after.has(s)) getBackend(s.device).dispose(s);
}

/**
 * The parameters that are, whole, the right operand of their module's matmul, each with
 * whether matmul reads it transposed (nn.Linear's (out, in) weight, a tied head's embedding:
 * true) or as stored (GPT-2's Conv1D: false). `tied` adds the embedding a tied head reads.
 *
 * @example
 * ```ts
 * import { Linear } from "./layers/linear.ts";
 * import { matmulWeights } from "./weights.ts";
 * matmulWeights(new Linear(4, 2)); // Map { "weight" => true }
 * ```
 */
export function matmulWeights(
  model: Module,
  tied: { head: string; embed: string } | null = null,
): Map<string, boolean> {
  const pathOf = new Map(model.namedParameters().map(([p, t]) => [t.storage, p]));
  const out = new Map<string, boolean>();
  for (const [, m] of model.namedModules()) {
    for (const b of m.matmulOperands()) {
      const path = pathOf.get(b.storage);
      const [k, n] = b.shape;
      const whole = path !== undefined && b.ndim === 2 && b.offset === 0 &&
        k * n === b.storage.size;
      if (!whole) continue;
      if (b.strides[0] === n && b.strides[1] === 1) out.set(path, false);
      else if (b.strides[0] === 1 && b.strides[1] === k) out.set(path, true);
    }
  }
  if (tied) out.set(tied.embed, true);
  return out;
}

/**
 * Tensor `key` of `source` as a weight of `shape` on `device`. A matmul weight (`transposed`
 * known, see matmulWeights) on the cpu is streamed straight into the fast tier's packed panels
 * when the source reads rows (no host copy until its values are read); anything else is a
 * plain constant tensor.
 *
 * @example
 * ```ts
 * import { readWeight } from "./weights.ts";
 * const w = new Float32Array(4);
 * const source = { names: ["w"], info: () => ({ shape: [2, 2] }), float32: () => w };
 * readWeight(source, "w", [2, 2], "cpu", true).shape; // [2, 2]
 * ```
 */
export function readWeight(
  source: WeightSource,
  key: string,
  shape: readonly number[],
  device: Device,
  transposed?: boolean,
): Tensor {
  const rows = source.float32Rows?.bind(source);
  if (transposed !== undefined && device === "cpu" && shape.length === 2 && rows) {
    const fill = (dst: Float32Array, r0: number, r1: number) => rows(key, dst, r0, r1);
    const storage = packedMatmulWeight(shape[0], shape[1], transposed, fill);
    if (storage) return new Tensor(storage, shape);
  }
  return toParameter(source.float32(key), shape, device);
}

/**
 * A weight on `device` from float32 data (adopted, not copied), marked constant.
 *
 * @example
 * ```ts
 * import { toParameter } from "./weights.ts";
 * toParameter(new Float32Array(4), [2, 2], "cpu").shape; // [2, 2]
 * ```
 */
export function toParameter(data: Float32Array, shape: readonly number[], device: Device): Tensor {
  const storage = getBackend(device).fromData(data, { adopt: true });
  storage.constant = true;
  return new Tensor(storage, shape);
}

/**
 * Fills every parameter with seeded random values as HF's `_init_weights` does for Llama-style
 * models: matrices N(0, std), biases 0, norm weights 1 (0 with `unitOffsetNorms`, Gemma).
 * A tied head keeps reading the embedding. The same seed gives the same model.
 *
 * @example
 * ```ts
 * import { Rng } from "../engine/mod.ts";
 * import { Linear } from "./layers/linear.ts";
 * import { initNormal } from "./weights.ts";
 * initNormal(new Linear(2, 2), new Rng(0), { std: 0.02, device: "cpu" });
 * ```
 */
export function initNormal(
  model: Module,
  rng: Rng,
  opts: {
    std: number;
    device: Device;
    tied?: { head: string; embed: string } | null;
    isNorm?: (path: string) => boolean;
    normValue?: number;
  },
): void {
  const isNorm = opts.isNorm ?? ((p: string) => /norm[^.]*\.weight$/.test(p));
  replacing(model, () => {
    for (const [path, t] of model.namedParameters()) {
      if (path === opts.tied?.head) continue;
      const data = new Float32Array(t.size);
      if (isNorm(path)) data.fill(opts.normValue ?? 1);
      else if (!path.endsWith(".bias")) rng.fillNormal(data, 0, opts.std);
      model.setParameter(path, toParameter(data, t.shape, opts.device));
    }
    if (opts.tied) {
      const embed = model.namedParameters().find(([p]) => p === opts.tied!.embed)![1];
      model.setParameter(opts.tied.head, embed);
    }
  });
}

/**
 * Packs every matmul weight of `model` for the cpu fast tier now (model.matmulOperands), so the
 * first forward after load runs as fast as later ones. Returns how many were packed (0 on
 * webgpu, meta or the reference tier). The packed panels are what the first forward would
 * make anyway: no extra memory for a model that runs.
 *
 * @example
 * ```ts
 * import { Linear } from "./layers/linear.ts";
 * import { prepackWeights } from "./weights.ts";
 * prepackWeights(new Linear(2, 2)); // 0: too small to pack
 * ```
 */
export function prepackWeights(model: Module): number {
  let packed = 0;
  for (const [, m] of model.namedModules()) {
    for (const b of m.matmulOperands()) if (prepackMatmulOperand(b)) packed++;
  }
  return packed;
}
