/**
 * GPT-2 with HuggingFace's module tree and names: the model, its own leaf layers and the
 * checkpoint mapping.
 *
 * @example
 * ```ts
 * import { GPT2LMHeadModel, initRandom } from "./mod.ts";
 * const model = initRandom(new GPT2LMHeadModel({ n_layer: 2, n_embd: 16, n_head: 2 }), 0);
 * model.transformer.h.at(-1).mlp.act.path; // "transformer.h.1.mlp.act"
 * ```
 *
 * @module
 */
export {
  type BlockContext,
  type ForwardOptions,
  GPT2_PATHS,
  GPT2Attention,
  GPT2Block,
  GPT2LMHeadModel,
  GPT2MLP,
  GPT2Model,
  type GPT2ModelOptions,
} from "./model.ts";
export { Conv1D, LMHead } from "./layers.ts";
export { initRandom, loadWeights } from "./weights.ts";
export { GPT2_FAMILY } from "./family.ts";
