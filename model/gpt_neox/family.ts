// GPT-NeoX / Pythia's entry in the family registry: build from config.json, load
// save_pretrained checkpoints (untied embed_out; old causal-mask and rotary buffers ignored),
// seeded random init as HF's _init_weights does.

import type { Family } from "../family.ts";
import { decoderFamily } from "../_decoder_family.ts";
import { GPTNeoXForCausalLM } from "./model.ts";

/**
 * GPT-NeoX and Pythia (model_type "gpt_neox", GPTNeoXForCausalLM).
 *
 * @example
 * ```ts
 * import { GPT_NEOX_FAMILY } from "./family.ts";
 * const m = GPT_NEOX_FAMILY.create({ model_type: "gpt_neox", hidden_size: 8, num_attention_heads: 2, rotary_pct: 0.5, intermediate_size: 32, num_hidden_layers: 1, vocab_size: 10 }, { device: "cpu" });
 * m.paths.lmHead; // "embed_out"
 * ```
 */
export const GPT_NEOX_FAMILY: Family = decoderFamily({
  name: "GPT-NeoX",
  modelTypes: ["gpt_neox"],
  architectures: ["GPTNeoXForCausalLM"],
  create: (config, opts) => new GPTNeoXForCausalLM(config, opts),
  tiedNames: { head: "embed_out.weight", embed: "gpt_neox.embed_in.weight" },
  // Checkpoints written by older transformers keep these non-persistent buffers.
  buffers: /\.attention\.(bias|masked_bias)$|\.rotary_emb\.inv_freq$/,
});
