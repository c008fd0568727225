// Where the layers, attention, final norm, unembedding and embedding sit in a model's tree (the
// family's DecoderPaths), and the envoy at a dotted path. Names no family.

import type { DecoderPaths } from "../model/causal_lm.ts";
import type { Envoy, InterventionProxy, LanguageModel } from "../mod.ts";

/** The model's family paths (`transformer.h`, `model.layers`, `gpt_neox.layers`, ...). */
export function decoderPaths(model: LanguageModel): DecoderPaths {
  return model.paths;
}

/**
 * The attention probabilities (B, nh, T, S) of one attention module's envoy: element 1 of its
 * output in every family, as transformers 4.57 returns `(attn_output, attn_weights)`.
 */
export function attentionProbs(attn: Envoy): InterventionProxy {
  return attn.output[1];
}

/** The envoy at a dotted path from the model's root (`"transformer.h.0.attn"`). */
export function envoyAt(model: LanguageModel, path: string): Envoy {
  return path === ""
    ? model.envoy
    : path.split(".").reduce((e, name) => e.child(name), model.envoy);
}
