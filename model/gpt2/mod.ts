/**
 * GPT-2 with HuggingFace's module tree and names: the model, its leaf layers, the KV cache and
 * the checkpoint mapping.
 *
 * @example
 * ```ts
 * import { GPT2LMHeadModel, initRandom } from "./mod.ts";
 * const model = initRandom(new GPT2LMHeadModel({ n_layer: 2, n_embd: 16, n_head: 2 }), 0);
 * model.transformer.h.at(-1).mlp.act.path; // "transformer.h.1.mlp.act"
 * ```
 *
 * @module
 */
export {
  type BlockContext,
  type ForwardOptions,
  GPT2Attention,
  GPT2Block,
  GPT2LMHeadModel,
  GPT2MLP,
  GPT2Model,
  type GPT2ModelOptions,
  type Present,
} from "./model.ts";
export {
  Activation,
  Conv1D,
  Dropout,
  Embedding,
  geluExact,
  LayerNorm,
  LMHead,
  newParameter,
} from "./layers.ts";
export { Generator, Streamer } from "./generator.ts";
export { KVCache, type KVCacheOptions, type KVCacheShape } from "./kv_cache.ts";
export { initRandom, type LoadReport, loadWeights, type WeightSource } from "./weights.ts";
