// The registry entry of a family whose model extends DecoderForCausalLM with a common config:
// create, loadWeights (save_pretrained names, tied head) and HF's normal init, from a few facts.

import { Rng } from "../engine/mod.ts";
import type { Device } from "../engine/mod.ts";
import type { CausalLM } from "./causal_lm.ts";
import type { DecoderConfigFields } from "./_config_common.ts";
import type { Family } from "./family.ts";
import { initNormal, loadCheckpoint } from "./weights.ts";

/** A built model the helper reads: its parsed common config and its device. */
export interface FamilyModel extends CausalLM {
  /** The parsed config. */
  readonly config: DecoderConfigFields;
}

/** What differs between families' registry entries. */
export interface DecoderFamilySpec<M extends FamilyModel> {
  /** Shown in messages, e.g. "Gemma 2". */
  name: string;
  /** config.json `model_type` values it reads. */
  modelTypes: readonly string[];
  /** config.json `architectures` entries it reads. */
  architectures: readonly string[];
  /** model_type values it recognises but does not load, each with its error. */
  refusedModelTypes?: Readonly<Record<string, string>>;
  /** Parses the config and builds the tree. */
  create(config: Record<string, unknown>, opts: { device: Device; empty?: boolean }): M;
  /** What the load messages call a model; default `name` (Llama: per model_type). */
  label?(model: M): string;
  /** Checkpoint names of the head and embedding shared when tie_word_embeddings; default lm_head / model.embed_tokens. */
  tiedNames?: { head: string; embed: string };
  /** Checkpoint buffers to skip (rotary inv_freq, ...). */
  buffers: RegExp;
  /** Value of every norm weight at init: Gemma's (1 + w) norms start at 0; default 1. */
  normValue?: number;
}

const MODEL_TIED = { head: "lm_head.weight", embed: "model.embed_tokens.weight" };

/**
 * A Family from `spec`: loads describe the model as "<label> (L layers, hidden C, vocab V)",
 * share the head with the embedding when the config ties them, and init draws N(0, 0.02).
 *
 * @example
 * ```ts
 * import { decoderFamily } from "./_decoder_family.ts";
 * import { Olmo2ForCausalLM } from "./olmo2/model.ts";
 * const f = decoderFamily({ name: "OLMo 2", modelTypes: ["olmo2"], architectures: ["Olmo2ForCausalLM"], create: (c, o) => new Olmo2ForCausalLM(c, o), buffers: /\.rotary_emb\.inv_freq$/ });
 * f.create({ hidden_size: 8, num_attention_heads: 2, intermediate_size: 16, num_hidden_layers: 1, vocab_size: 10 }, { device: "cpu" }).shape.vocabSize; // 10
 * ```
 */
export function decoderFamily<M extends FamilyModel>(spec: DecoderFamilySpec<M>): Family {
  const tiedOf = (m: M) => m.config.tie_word_embeddings ? (spec.tiedNames ?? MODEL_TIED) : null;
  const family: Family = {
    name: spec.name,
    modelTypes: spec.modelTypes,
    architectures: spec.architectures,
    create: (config, opts) => spec.create(config, opts),
    loadWeights: (model, source) => {
      const m = model as M, c = m.config;
      const label = spec.label?.(m) ?? spec.name;
      return loadCheckpoint(m, source, {
        describe:
          `${label} (${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocab ${c.vocab_size})`,
        tied: tiedOf(m),
        buffers: spec.buffers,
        device: m.device,
      });
    },
    initRandom: (model, seed) => {
      const m = model as M;
      const normValue = spec.normValue;
      initNormal(m, new Rng(seed), {
        std: 0.02,
        device: m.device,
        tied: tiedOf(m),
        ...(normValue === undefined ? {} : { normValue }),
      });
      return m;
    },
  };
  return spec.refusedModelTypes ? { ...family, refusedModelTypes: spec.refusedModelTypes } : family;
}
