// Gemma 3 text's entry in the family registry: build from config.json, load save_pretrained
// checkpoints (tied head by default), seeded random init as HF's _init_weights does.

import type { Family } from "../family.ts";
import { decoderFamily } from "../_decoder_family.ts";
import { Gemma3ForCausalLM } from "./model.ts";

/**
 * Gemma 3 text (model_type "gemma3_text", Gemma3ForCausalLM); the multimodal "gemma3" config is
 * refused with a named error.
 *
 * @example
 * ```ts
 * import { GEMMA3_FAMILY } from "./family.ts";
 * const m = GEMMA3_FAMILY.create({ model_type: "gemma3_text", hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 }, { device: "cpu" });
 * m.paths.layers; // "model.layers"
 * ```
 */
export const GEMMA3_FAMILY: Family = decoderFamily({
  name: "Gemma 3",
  modelTypes: ["gemma3_text"],
  architectures: ["Gemma3ForCausalLM"],
  refusedModelTypes: {
    gemma3:
      `model_type "gemma3" is the multimodal Gemma3ForConditionalGeneration: tsight loads the text-only Gemma 3 (model_type "gemma3_text", Gemma3ForCausalLM, e.g. google/gemma-3-1b-it or gemma-3-270m)`,
  },
  create: (config, opts) => new Gemma3ForCausalLM(config, opts),
  buffers: /\.rotary_emb(_local)?\.\w*inv_freq$|\.embed_tokens\.embed_scale$/,
  // Gemma's norms scale by (1 + w): HF initialises w to 0.
  normValue: 0,
});
