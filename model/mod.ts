/**
 * tsight's model layer: Module and hooks, the decoder families (GPT-2, Llama, Mistral, Qwen2,
 * Qwen3, Gemma 2, Gemma 3, GPT-NeoX, OLMo 2, Phi-3) under HuggingFace's names on shared building blocks, loading (config, safetensors,
 * Hub cache, tokenizer), batching with left padding and generation.
 *
 * @example
 * ```ts ignore
 * import { generate, loadModel } from "./mod.ts";
 * const { model, tokenizer } = await loadModel("openai-community/gpt2");
 * const ids = await generate(model, [tokenizer!.encode("The Eiffel Tower is in")], { maxNewTokens: 5 });
 * console.log(tokenizer!.decode([...(await ids.data())]));
 * ```
 *
 * @module
 */
export { Module, type ModuleHook, ModuleList } from "./module.ts";
export type {
  CausalLM,
  CausalLMForwardOptions,
  DecoderPaths,
  DecoderShape,
  KVCacheLike,
} from "./causal_lm.ts";
export {
  type CausalLMOptions,
  DecoderForCausalLM,
  type DecoderParts,
  type DecoderStack,
  type LogitHead,
  ModelTreeForCausalLM,
  type ModelTreeOptions,
} from "./_causal_lm.ts";
export type { DecoderConfigFields } from "./_config_common.ts";
export {
  type RopeDecoderLayer,
  type RopeDecoderMask,
  RopeDecoderModel,
  type RopeDecoderParts,
} from "./_rope_decoder.ts";
export type { Family } from "./family.ts";
export { FAMILIES, familyOf } from "./families.ts";
export * from "./gpt2/mod.ts";
export * from "./llama/mod.ts";
export * from "./gemma2/mod.ts";
export * from "./gemma3/mod.ts";
export * from "./gpt_neox/mod.ts";
export * from "./olmo2/mod.ts";
export * from "./phi3/mod.ts";
export * from "./layers/mod.ts";
export { Generator, Streamer } from "./generator.ts";
export { cacheFor, KVCache, type KVCacheOptions, type KVCacheShape } from "./kv_cache.ts";
export { BaseModelOutput } from "./outputs.ts";
export {
  type CheckpointSpec,
  initNormal,
  loadCheckpoint,
  type LoadReport,
  matmulWeights,
  prepackWeights,
  readWeight,
  replacing,
  toParameter,
  type WeightSource,
} from "./weights.ts";
export {
  type LoadedGPT2,
  type LoadedModel,
  loadGPT2,
  type LoadGPT2Options,
  loadModel,
  type LoadModelOptions,
  randomGPT2,
  randomModel,
  readConfigJson,
} from "./load.ts";
export { generate, generateHeld, type GenerateOptions } from "./generate.ts";
export { NonFiniteLogitsError } from "./finite.ts";
export { lockOf, ModelLock, withLock } from "./lock.ts";
export {
  checkGenerateOptions,
  checkLogitsToKeep,
  checkOptions,
  checkPromptLength,
  checkTokenId,
  checkTokenRows,
  LogitsToKeepError,
  MAX_TOKEN_ID,
  type OptionKind,
  PromptLengthError,
  TokenIdError,
} from "./validate.ts";
export { type Batch, normalizeRows, prepareBatch } from "./batch.ts";
export { keepLastPositions } from "./logits_to_keep.ts";
export {
  type Activation as ActivationName,
  ACTIVATIONS,
  GPT2_DEFAULTS,
  type GPT2Config,
  loadGPT2Config,
  parseGPT2Config,
  readConfigFile,
} from "./config.ts";
export {
  ByteLengthError,
  checkFiniteWeights,
  type FiniteCheckOptions,
  HeaderFormatError,
  HeaderLengthError,
  loadSafetensors,
  loadSafetensorsDir,
  NonFiniteWeightError,
  OffsetRangeError,
  readSafetensors,
  type SafetensorsDtype,
  type SafetensorsEntry,
  SafetensorsError,
  SafetensorsFile,
  type TensorInfo,
  TensorLayoutError,
  type TensorToWrite,
  UnknownDtypeError,
  writeSafetensors,
} from "./safetensors.ts";
export { type ReaderOptions, SafetensorsReader } from "./safetensors_reader.ts";
export {
  cacheAliases,
  type DownloadProgress,
  HubAuthError,
  hubCacheDir,
  HubError,
  HubIntegrityError,
  HubNotFoundError,
  HubOfflineError,
  HubResponseError,
  hubToken,
  MAX_JSON_BYTES,
  MAX_TOKENIZER_JSON_BYTES,
  repoCacheDir,
  resolveModelDir,
  type ResolveModelOptions,
} from "./hub.ts";
export {
  type ApplyChatTemplateOptions,
  type DecodeOptions,
  type EncodeOptions,
  Tokenizer,
} from "./tokenizer.ts";
export {
  type ChatMessage,
  type ChatTemplateContext,
  ChatTemplateError,
  type ChatTemplateSource,
  renderChatTemplate,
} from "./chat_template.ts";
