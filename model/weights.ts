// Copies checkpoint tensors onto any family's parameters by name (save_pretrained names), with
// tied heads; checks every name and shape before assigning anything; seeded random init helpers.

import {
  type Device,
  getBackend,
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
  replacing(model, () => {
    for (const [path, shape] of plan) {
      model.setParameter(path, toParameter(source.float32(path), shape, spec.device));
    }
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
