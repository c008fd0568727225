/**
 * GPT-NeoX / Pythia with transformers 4.57's module tree, its config parser and registry entry.
 *
 * @example
 * ```ts
 * import { GPTNeoXForCausalLM } from "./mod.ts";
 * const m = new GPTNeoXForCausalLM({ hidden_size: 8, num_attention_heads: 2, rotary_pct: 0.5, intermediate_size: 32, num_hidden_layers: 2, vocab_size: 10 });
 * m.gpt_neox.layers.at(-1).attention.path; // "gpt_neox.layers.1.attention"
 * ```
 *
 * @module
 */
export { type GPTNeoXConfig, parseGPTNeoXConfig } from "./config.ts";
export {
  GPT_NEOX_PATHS,
  GPTNeoXAttention,
  GPTNeoXForCausalLM,
  GPTNeoXLayer,
  GPTNeoXMLP,
  GPTNeoXModel,
  type GPTNeoXModelOptions,
} from "./model.ts";
export { GPT_NEOX_FAMILY } from "./family.ts";
