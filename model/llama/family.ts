// The Llama-style families' entry in the registry (llama, mistral, qwen2, qwen3): build from
// config.json, load save_pretrained checkpoints (tied or untied heads), seeded random init.

import { Rng } from "../../engine/mod.ts";
import type { Family } from "../family.ts";
import { initNormal, loadCheckpoint } from "../weights.ts";
import { LLAMA_LIKE_TYPES } from "./config.ts";
import { LlamaForCausalLM } from "./model.ts";

const tiedOf = (m: LlamaForCausalLM) =>
  m.config.tie_word_embeddings
    ? { head: "lm_head.weight", embed: "model.embed_tokens.weight" }
    : null;

const NAMES: Record<string, string> = {
  llama: "Llama",
  mistral: "Mistral",
  qwen2: "Qwen2",
  qwen3: "Qwen3",
};

/**
 * Llama, Mistral, Qwen2 and Qwen3 (one implementation, options from the config).
 *
 * @example
 * ```ts
 * import { LLAMA_FAMILY } from "./family.ts";
 * const m = LLAMA_FAMILY.create({ model_type: "qwen3", hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 8, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 }, { device: "cpu" });
 * m.paths.layers; // "model.layers"
 * ```
 */
export const LLAMA_FAMILY: Family = {
  name: "Llama",
  modelTypes: LLAMA_LIKE_TYPES,
  architectures: [
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
  ],
  create: (config, opts) => new LlamaForCausalLM(config, opts),
  loadWeights: (model, source) => {
    const m = model as LlamaForCausalLM, c = m.config;
    return loadCheckpoint(m, source, {
      describe: `${
        NAMES[c.model_type]
      } (${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size})`,
      tied: tiedOf(m),
      buffers: /\.rotary_emb\.inv_freq$/,
      device: m.device,
    });
  },
  initRandom: (model, seed) => {
    const m = model as LlamaForCausalLM;
    initNormal(m, new Rng(seed), { std: 0.02, device: m.device, tied: tiedOf(m) });
    return m;
  },
};
