/**
 * OLMo 2 with transformers 4.57's module tree, its config parser and registry entry.
 *
 * @example
 * ```ts
 * import { Olmo2ForCausalLM } from "./mod.ts";
 * const m = new Olmo2ForCausalLM({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * m.model.layers.at(-1).self_attn.q_norm.path; // "model.layers.1.self_attn.q_norm"
 * ```
 *
 * @module
 */
export { type Olmo2Config, parseOlmo2Config } from "./config.ts";
export {
  OLMO2_PATHS,
  Olmo2Attention,
  Olmo2DecoderLayer,
  Olmo2ForCausalLM,
  Olmo2Model,
  type Olmo2ModelOptions,
} from "./model.ts";
export { OLMO2_FAMILY } from "./family.ts";
