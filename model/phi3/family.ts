// Phi-3's entry in the family registry: build from config.json, load save_pretrained
// checkpoints (untied head by default), seeded random init as HF's _init_weights does.

import { Rng } from "../../engine/mod.ts";
import type { Family } from "../family.ts";
import { initNormal, loadCheckpoint } from "../weights.ts";
import { Phi3ForCausalLM } from "./model.ts";

const tiedOf = (m: Phi3ForCausalLM) =>
  m.config.tie_word_embeddings
    ? { head: "lm_head.weight", embed: "model.embed_tokens.weight" }
    : null;

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
export const PHI3_FAMILY: Family = {
  name: "Phi-3",
  modelTypes: ["phi3"],
  architectures: ["Phi3ForCausalLM"],
  create: (config, opts) => new Phi3ForCausalLM(config, opts),
  loadWeights: (model, source) => {
    const m = model as Phi3ForCausalLM, c = m.config;
    return loadCheckpoint(m, source, {
      describe:
        `Phi-3 (${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size})`,
      tied: tiedOf(m),
      buffers: /\.rotary_emb\.inv_freq$/,
      device: m.device,
    });
  },
  initRandom: (model, seed) => {
    const m = model as Phi3ForCausalLM;
    initNormal(m, new Rng(seed), { std: 0.02, device: m.device, tied: tiedOf(m) });
    return m;
  },
};
