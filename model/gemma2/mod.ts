/**
 * Gemma 2 with transformers 4.57's module tree, its config parser and registry entry.
 *
 * @example
 * ```ts
 * import { Gemma2ForCausalLM } from "./mod.ts";
 * const m = new Gemma2ForCausalLM({ hidden_size: 8, num_attention_heads: 2, num_key_value_heads: 1, head_dim: 4, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * m.model.layers.at(-1).self_attn.path; // "model.layers.1.self_attn"
 * ```
 *
 * @module
 */
export { type Gemma2Config, type Gemma2LayerType, parseGemma2Config } from "./config.ts";
export {
  GEMMA2_PATHS,
  Gemma2DecoderLayer,
  Gemma2ForCausalLM,
  Gemma2Model,
  type Gemma2ModelOptions,
  type GemmaLayerConfig,
} from "./model.ts";
export { GEMMA2_FAMILY } from "./family.ts";
