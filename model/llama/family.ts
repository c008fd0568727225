// The Llama-style families' entry in the registry (llama, mistral, qwen2, qwen3): build from
// config.json, load save_pretrained checkpoints (tied or untied heads), seeded random init.

import type { Family } from "../family.ts";
import { decoderFamily } from "../_decoder_family.ts";
import { LLAMA_LIKE_TYPES } from "./config.ts";
import { LlamaForCausalLM } from "./model.ts";

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
export const LLAMA_FAMILY: Family = decoderFamily({
  name: "Llama",
  modelTypes: LLAMA_LIKE_TYPES,
  architectures: [
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
  ],
  create: (config, opts) => new LlamaForCausalLM(config, opts),
  label: (m) => NAMES[m.config.model_type],
  buffers: /\.rotary_emb\.inv_freq$/,
});
