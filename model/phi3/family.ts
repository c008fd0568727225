// Phi-3's entry in the family registry: build from config.json, load save_pretrained
// checkpoints (untied head by default), seeded random init as HF's _init_weights does.

import type { Family } from "../family.ts";
import { decoderFamily } from "../_decoder_family.ts";
import { Phi3ForCausalLM } from "./model.ts";

/**
 * Phi-3 (model_type "phi3", Phi3ForCausalLM): Phi-3, Phi-3.5, Phi-4 and Phi-4-mini (longrope
 * within the original context).
 *
 * @example
 * ```ts
 * import { PHI3_FAMILY } from "./family.ts";
 * const m = PHI3_FAMILY.create({ model_type: "phi3", hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 }, { device: "cpu" });
 * m.paths.layers; // "model.layers"
 * ```
 */
export const PHI3_FAMILY: Family = decoderFamily({
  name: "Phi-3",
  modelTypes: ["phi3"],
  architectures: ["Phi3ForCausalLM"],
  create: (config, opts) => new Phi3ForCausalLM(config, opts),
  buffers: /\.rotary_emb\.inv_freq$/,
});
