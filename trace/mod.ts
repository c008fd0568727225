/**
 * tsight's intervention runtime: record what to read and change inside a model with proxies
 * and envoys, then run it interleaved with the model's forward passes (nnsight's model).
 *
 * @example
 * ```ts ignore
 * import { LanguageModel, list } from "./mod.ts";
 * const model = await LanguageModel.load("openai-community/gpt2");
 * const hs = list().save();
 * await model.generate("Hello", { maxNewTokens: 5 }, () => {
 *   model.transformer.h.all(() => hs.append(model.transformer.h[-1].output[0]));
 * });
 * console.log(hs.value.length); // 5
 * ```
 *
 * @module
 */
export {
  type Gemma2LanguageModel,
  type Gemma3LanguageModel,
  type GPT2LanguageModel,
  type GPTNeoXLanguageModel,
  LanguageModel,
  type LanguageModelLoadOptions,
  type LlamaLanguageModel,
  type ModelInput,
  type Olmo2LanguageModel,
  type Phi3LanguageModel,
} from "./language_model.ts";
export type { AttentionSource, EnvoyList, GeneratorEnvoy, MLPSource } from "./envoys/common.ts";
export { PointEnvoy, type SourceEnvoy } from "./source.ts";
export type {
  AttentionEnvoy,
  BlockEnvoy,
  GPT2Envoys,
  MLPEnvoy,
  TransformerEnvoy,
} from "./envoys/gpt2.ts";
export type {
  LlamaAttentionEnvoy,
  LlamaEnvoys,
  LlamaLayerEnvoy,
  LlamaMLPEnvoy,
  LlamaModelEnvoy,
} from "./envoys/llama.ts";
export type { Gemma2Envoys, Gemma2LayerEnvoy, Gemma2ModelEnvoy } from "./envoys/gemma2.ts";
export type { Gemma3Envoys, Gemma3LayerEnvoy, Gemma3ModelEnvoy } from "./envoys/gemma3.ts";
export type {
  GPTNeoXAttentionEnvoy,
  GPTNeoXEnvoys,
  GPTNeoXLayerEnvoy,
  GPTNeoXMLPEnvoy,
  GPTNeoXModelEnvoy,
} from "./envoys/gpt_neox.ts";
export type {
  Olmo2AttentionEnvoy,
  Olmo2Envoys,
  Olmo2LayerEnvoy,
  Olmo2ModelEnvoy,
} from "./envoys/olmo2.ts";
export type {
  Phi3AttentionEnvoy,
  Phi3Envoys,
  Phi3LayerEnvoy,
  Phi3MLPEnvoy,
  Phi3ModelEnvoy,
} from "./envoys/phi3.ts";
export {
  NNsight,
  type NNsightOptions,
  type RunMode,
  type RunResult,
  type TraceFn,
  type TraceRequest,
} from "./nnsight.ts";
export { type Resolved, Tracer, type TracerOptions } from "./tracer.ts";
export { Condition } from "./condition.ts";
export { Invoker } from "./invoker.ts";
export { Envoy } from "./envoy.ts";
export { Session, type SessionResolved, type SessionTrace } from "./session.ts";
export { type EditOptions, EDITS_FORMAT, type EditsJSON } from "./edits.ts";
export { attachModule } from "./attach.ts";
export { Cache, type CacheEntry, type CacheOptions } from "./cache.ts";
export { dict, DictProxy, list, ListProxy } from "./containers.ts";
export type { InterventionProxy, Value } from "./proxy.ts";
export { Graph, type GraphJSON, type Node, type NodeOp } from "./graph.ts";
export { parseSteps, type Steps, type StepSpec } from "./steps.ts";
export {
  GraphLimitError,
  type GraphLimitName,
  GraphValidationError,
  InterventionError,
  MissingValueError,
  OutOfOrderError,
} from "./errors.ts";
export {
  type MethodNames,
  TRACED_PROPERTIES,
  type TracedMethod,
  type TracedProperty,
  type UntracedMethod,
} from "./_methods.ts";
export { DEFAULT_LIMITS, type GraphCheckOptions, type GraphLimits } from "./_validate.ts";
export type { AddOptions, EventKind } from "./graph.ts";
export {
  AS_NODE,
  type GradMember,
  type NodeLike,
  type Proxied,
  type Recorder,
  type TensorMembers,
} from "./proxy.ts";
export type { InvokeRows, RunPlan } from "./run_plan.ts";
// Model types the tracing API names (the model layer exports them too).
export type { GenerateOptions } from "../model/generate.ts";
export { LogitsToKeepError } from "../model/mod.ts";
export type { TraceOptions } from "./_request.ts";
export type { GPT2Config } from "../model/config.ts";
export type { Module, ModuleHook } from "../model/module.ts";
export type { GPT2LMHeadModel } from "../model/gpt2/model.ts";
export type { Tokenizer } from "../model/tokenizer.ts";
export type { LoadGPT2Options, LoadModelOptions } from "../model/load.ts";
export type { CausalLM, DecoderPaths, DecoderShape } from "../model/causal_lm.ts";
