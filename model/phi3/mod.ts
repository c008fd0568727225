/**
 * Phi-3 with transformers 4.57's module tree (fused qkv_proj and gate_up_proj), its config
 * parser and registry entry.
 *
 * @example
 * ```ts
 * import { Phi3ForCausalLM } from "./mod.ts";
 * const m = new Phi3ForCausalLM({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 2, vocab_size: 10 });
 * m.model.layers.at(-1).self_attn.qkv_proj.path; // "model.layers.1.self_attn.qkv_proj"
 * ```
 *
 * @module
 */
export { parsePhi3Config, type Phi3Config } from "./config.ts";
export { Phi3Attention, Phi3MLP } from "./layers.ts";
export {
  PHI3_PATHS,
  Phi3DecoderLayer,
  Phi3ForCausalLM,
  Phi3Model,
  type Phi3ModelOptions,
} from "./model.ts";
export { PHI3_FAMILY } from "./family.ts";
