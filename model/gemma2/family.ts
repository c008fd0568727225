// Gemma 2's entry in the family registry: build from config.json, load save_pretrained
// checkpoints (tied head by default), seeded random init as HF's _init_weights does.

import { Rng } from "../../engine/mod.ts";
import type { Family } from "../family.ts";
import { initNormal, loadCheckpoint } from "../weights.ts";
import { Gemma2ForCausalLM } from "./model.ts";

const tiedOf = (m: Gemma2ForCausalLM) =>
  m.config.tie_word_embeddings
    ? { head: "lm_head.weight", embed: "model.embed_tokens.weight" }
    : null;

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
export const GEMMA2_FAMILY: Family = {
  name: "Gemma 2",
  modelTypes: ["gemma2"],
  architectures: ["Gemma2ForCausalLM"],
  create: (config, opts) => new Gemma2ForCausalLM(config, opts),
  loadWeights: (model, source) => {
    const m = model as Gemma2ForCausalLM, c = m.config;
    return loadCheckpoint(m, source, {
      describe:
        `Gemma 2 (${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size})`,
      tied: tiedOf(m),
      buffers: /\.rotary_emb\.inv_freq$/,
      device: m.device,
    });
  },
  initRandom: (model, seed) => {
    const m = model as Gemma2ForCausalLM;
    // Gemma's norms scale by (1 + w): HF initialises w to 0.
    initNormal(m, new Rng(seed), { std: 0.02, device: m.device, tied: tiedOf(m), normValue: 0 });
    return m;
  },
};
