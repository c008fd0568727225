// OLMo 2's entry in the family registry: build from config.json, load save_pretrained
// checkpoints (untied head by default), seeded random init as HF's _init_weights does.

import { Rng } from "../../engine/mod.ts";
import type { Family } from "../family.ts";
import { initNormal, loadCheckpoint } from "../weights.ts";
import { Olmo2ForCausalLM } from "./model.ts";

const tiedOf = (m: Olmo2ForCausalLM) =>
  m.config.tie_word_embeddings
    ? { head: "lm_head.weight", embed: "model.embed_tokens.weight" }
    : null;

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
export const OLMO2_FAMILY: Family = {
  name: "OLMo 2",
  modelTypes: ["olmo2"],
  architectures: ["Olmo2ForCausalLM"],
  create: (config, opts) => new Olmo2ForCausalLM(config, opts),
  loadWeights: (model, source) => {
    const m = model as Olmo2ForCausalLM, c = m.config;
    return loadCheckpoint(m, source, {
      describe:
        `OLMo 2 (${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size})`,
      tied: tiedOf(m),
      buffers: /\.rotary_emb\.inv_freq$/,
      device: m.device,
    });
  },
  initRandom: (model, seed) => {
    const m = model as Olmo2ForCausalLM;
    initNormal(m, new Rng(seed), { std: 0.02, device: m.device, tied: tiedOf(m) });
    return m;
  },
};
