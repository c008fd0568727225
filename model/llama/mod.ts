/**
 * The Llama-style families (Llama, Mistral, Qwen2, Qwen3) with transformers 4.57's module tree,
 * their config parser and registry entry.
 *
 * @example
 * ```ts
 * import { LlamaForCausalLM } from "./mod.ts";
 * const m = new LlamaForCausalLM({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * m.model.layers.at(-1).self_attn.path; // "model.layers.1.self_attn"
 * ```
 *
 * @module
 */
export {
  LLAMA_LIKE_TYPES,
  type LlamaConfig,
  type LlamaLikeType,
  parseLlamaConfig,
} from "./config.ts";
export {
  LLAMA_PATHS,
  LlamaDecoderLayer,
  LlamaForCausalLM,
  LlamaModel,
  type LlamaModelOptions,
} from "./model.ts";
export { LLAMA_FAMILY } from "./family.ts";
