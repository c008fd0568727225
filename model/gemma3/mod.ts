/**
 * Gemma 3 text with transformers 4.57's module tree, its config parser and registry entry.
 *
 * @example
 * ```ts
 * import { Gemma3ForCausalLM } from "./mod.ts";
 * const m = new Gemma3ForCausalLM({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * m.model.layers.at(-1).self_attn.q_norm!.path; // "model.layers.1.self_attn.q_norm"
 * ```
 *
 * @module
 */
export { type Gemma3Config, type Gemma3LayerType, parseGemma3Config } from "./config.ts";
export {
  GEMMA3_PATHS,
  Gemma3DecoderLayer,
  Gemma3ForCausalLM,
  type Gemma3ModelOptions,
  Gemma3TextModel,
} from "./model.ts";
export { GEMMA3_FAMILY } from "./family.ts";
