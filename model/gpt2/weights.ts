// Maps checkpoint tensors onto GPT2LMHeadModel parameters (hub and save_pretrained layouts) and
// fills a model with seeded random weights. Checks everything before assigning anything.

import { Rng } from "../../engine/mod.ts";
import {
  type LoadReport,
  matmulWeights,
  readWeight,
  replacing,
  toParameter,
  type WeightSource,
} from "../weights.ts";
import type { GPT2LMHeadModel } from "./model.ts";

const BUFFER = /(^|\.)attn\.(bias|masked_bias)$/;
const LM_HEAD = "lm_head.weight";
const WTE = "transformer.wte.weight";

const fmt = (shape: readonly number[]) => `[${shape.join(", ")}]`;

/** The checkpoint key holding parameter `path`: as is, or without "transformer." (hub gpt2). */
function keyFor(path: string, names: ReadonlySet<string>): string | undefined {
  if (names.has(path)) return path;
  const bare = path.startsWith("transformer.") ? path.slice("transformer.".length) : path;
  return names.has(bare) ? bare : undefined;
}

/**
 * Copies a checkpoint into the model, key by key. Accepts the hub gpt2 layout (no
 * "transformer." prefix, `h.N.attn.bias` buffers, no lm_head.weight) and the save_pretrained
 * layout ("transformer." prefix, explicit lm_head.weight, untied when it differs from wte).
 * Every parameter is checked for presence and shape first; one error names every problem.
 * F32 data is adopted without a copy; weight storages are marked constant. The weights it
 * replaces are freed (device memory on webgpu) unless another parameter still uses them.
 *
 * @example
 * ```ts ignore
 * import { loadSafetensors } from "../safetensors.ts";
 * import { GPT2LMHeadModel } from "./model.ts";
 * import { loadWeights } from "./weights.ts";
 * const model = new GPT2LMHeadModel({ n_layer: 3, n_head: 4, n_embd: 32, n_positions: 64 });
 * loadWeights(model, await loadSafetensors("tests/fixtures/tiny-gpt2/model.safetensors"));
 * ```
 */
export function loadWeights(model: GPT2LMHeadModel, source: WeightSource): LoadReport {
  const names = new Set(source.names);
  const params = model.namedParameters().filter(([p]) => p !== LM_HEAD);
  const problems: string[] = [];
  const plan: [string, string, readonly number[]][] = [];
  for (const [path, t] of params) {
    const key = keyFor(path, names);
    if (key === undefined) {
      problems.push(`missing "${path}" (or "${path.replace(/^transformer\./, "")}")`);
      continue;
    }
    const got = source.info(key).shape;
    if (got.join() !== t.shape.join()) {
      problems.push(`"${key}" has shape ${fmt(got)}, expected ${fmt(t.shape)}`);
    } else plan.push([path, key, t.shape]);
  }
  const vc = [model.config.vocab_size, model.config.n_embd];
  const headKey = names.has(LM_HEAD) ? LM_HEAD : undefined;
  if (headKey && source.info(headKey).shape.join() !== vc.join()) {
    problems.push(`"${headKey}" has shape ${fmt(source.info(headKey).shape)}, expected ${fmt(vc)}`);
  }
  if (!headKey && !model.lm_head.tied) {
    problems.push(`missing "${LM_HEAD}" (the config has tie_word_embeddings false)`);
  }
  if (problems.length > 0) {
    throw new RangeError(
      `Checkpoint does not fit GPT-2 (${model.config.n_layer} layers, n_embd ${model.config.n_embd}, vocab ${model.config.vocab_size}): ${
        problems.join("; ")
      }. Check the config matches the weights`,
    );
  }
  const used = new Set<string>();
  // Read everything first: a bad read (NaN, a truncated file) then leaves the model as it was.
  const layouts = matmulWeights(model);
  const loaded = plan.map(([path, key, shape]) =>
    [path, readWeight(source, key, shape, model.device, layouts.get(path))] as const
  );
  const head = headKey === undefined ? undefined : source.float32(headKey);
  const untied = head !== undefined &&
    (!model.lm_head.tied || !sameValues(head, source.float32(keyFor(WTE, names)!)));
  replacing(model, () => {
    for (const [path, t] of loaded) model.setParameter(path, t);
    for (const [, key] of plan) used.add(key);
    if (headKey) used.add(headKey);
    if (untied) model.lm_head.untie(toParameter(head!, vc, model.device));
  });
  const unused = source.names.filter((n) => !used.has(n) && !BUFFER.test(n));
  return { unused, untied };
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a === b || (a.buffer === b.buffer && a.byteOffset === b.byteOffset)) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Fills every parameter with seeded random values as HuggingFace initialises GPT-2: weights
 * N(0, 0.02), c_proj weights N(0, 0.02 / sqrt(2 n_layer)), biases 0, LayerNorm gains 1.
 * The same seed gives the same model. Replaced weights are freed as in `loadWeights`.
 *
 * @example
 * ```ts
 * import { GPT2LMHeadModel } from "./model.ts";
 * import { initRandom } from "./weights.ts";
 * const model = initRandom(new GPT2LMHeadModel({ n_layer: 1, n_embd: 8, n_head: 2 }), 0);
 * ```
 */
export function initRandom(model: GPT2LMHeadModel, seed: number, std = 0.02): GPT2LMHeadModel {
  const rng = new Rng(seed);
  const projStd = std / Math.sqrt(2 * model.config.n_layer);
  replacing(model, () => {
    for (const [path, t] of model.namedParameters()) {
      const data = new Float32Array(t.size);
      if (/\.ln_(\d|f)\.weight$/.test(path)) data.fill(1);
      else if (!path.endsWith(".bias")) {
        const s = /\.c_proj\.weight$/.test(path) ? projStd : std;
        rng.fillNormal(data, 0, s);
      }
      model.setParameter(path, toParameter(data, t.shape, model.device));
    }
  });
  return model;
}
