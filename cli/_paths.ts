// Where the layers, attention, final norm, unembedding and embedding sit in a model's tree: the
// family's `paths` (model/causal_lm.ts DecoderPaths) when it declares them, else GPT-2's.

import type { DecoderPaths } from "../model/causal_lm.ts";
import type { Envoy, InterventionProxy, LanguageModel } from "../mod.ts";

/** GPT-2's paths, for models that do not declare `paths` yet. */
export const GPT2_PATHS: DecoderPaths = {
  layers: "transformer.h",
  attention: "attn",
  mlp: "mlp",
  finalNorm: "transformer.ln_f",
  lmHead: "lm_head",
  embed: "transformer.wte",
};

/** The model's paths: `model.paths` or its module's, when present; otherwise GPT-2's. */
export function decoderPaths(model: LanguageModel): DecoderPaths {
  // `in`, not a property read: LanguageModel resolves unknown properties to child modules.
  if ("paths" in model) return (model as { paths: DecoderPaths }).paths;
  if ("paths" in model.module) return (model.module as { paths: DecoderPaths }).paths;
  return GPT2_PATHS;
}

/**
 * The attention probabilities (B, nh, T, S) of one attention module's envoy. GPT-2 exposes
 * them as its `attn_dropout` child's output; once every family returns them as the attention
 * output's second element this becomes `attn.output[1]`.
 */
export function attentionProbs(attn: Envoy): InterventionProxy {
  return attn.child("attn_dropout").output;
}

/** The envoy at a dotted path from the model's root (`"transformer.h.0.attn"`). */
export function envoyAt(model: LanguageModel, path: string): Envoy {
  return path === ""
    ? model.envoy
    : path.split(".").reduce((e, name) => e.child(name), model.envoy);
}
