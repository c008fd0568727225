// OLMo 2's entry in the family registry: build from config.json, load save_pretrained
// checkpoints (untied head by default), seeded random init as HF's _init_weights does.

import type { Family } from "../family.ts";
import { decoderFamily } from "../_decoder_family.ts";
import { Olmo2ForCausalLM } from "./model.ts";

/**
 * OLMo 2 (model_type "olmo2", Olmo2ForCausalLM).
 *
 * @example
 * ```ts
 * import { OLMO2_FAMILY } from "./family.ts";
 * const m = OLMO2_FAMILY.create({ model_type: "olmo2", hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 }, { device: "cpu" });
 * m.paths.layers; // "model.layers"
 * ```
 */
export const OLMO2_FAMILY: Family = decoderFamily({
  name: "OLMo 2",
  modelTypes: ["olmo2"],
  architectures: ["Olmo2ForCausalLM"],
  create: (config, opts) => new Olmo2ForCausalLM(config, opts),
  buffers: /\.rotary_emb\.inv_freq$/,
});
