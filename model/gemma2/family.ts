// Gemma 2's entry in the family registry: build from config.json, load save_pretrained
// checkpoints (tied head by default), seeded random init as HF's _init_weights does.

import type { Family } from "../family.ts";
import { decoderFamily } from "../_decoder_family.ts";
import { Gemma2ForCausalLM } from "./model.ts";

/**
 * Gemma 2 (model_type "gemma2", Gemma2ForCausalLM).
 *
 * @example
 * ```ts
 * import { GEMMA2_FAMILY } from "./family.ts";
 * const m = GEMMA2_FAMILY.create({ model_type: "gemma2", hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 }, { device: "cpu" });
 * m.paths.layers; // "model.layers"
 * ```
 */
export const GEMMA2_FAMILY: Family = decoderFamily({
  name: "Gemma 2",
  modelTypes: ["gemma2"],
  architectures: ["Gemma2ForCausalLM"],
  create: (config, opts) => new Gemma2ForCausalLM(config, opts),
  buffers: /\.rotary_emb\.inv_freq$/,
  // Gemma's norms scale by (1 + w): HF initialises w to 0.
  normValue: 0,
});
