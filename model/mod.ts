/**
 * tsight's model layer: Module and hooks, GPT-2 with HuggingFace names, loading (config,
 * safetensors, Hub cache, tokenizer), batching with left padding and generation.
 *
 * @example
 * ```ts ignore
 * import { generate, loadGPT2 } from "./mod.ts";
 * const { model, tokenizer } = await loadGPT2("openai-community/gpt2");
 * const ids = await generate(model, [tokenizer.encode("The Eiffel Tower is in")], { maxNewTokens: 5 });
 * console.log(tokenizer.decode([...(await ids.data())]));
 * ```
 *
 * @module
 */
export { Module, type ModuleHook, ModuleList } from "./module.ts";
export * from "./gpt2/mod.ts";
export { type LoadedGPT2, loadGPT2, type LoadGPT2Options, randomGPT2 } from "./load.ts";
export { generate, type GenerateOptions } from "./generate.ts";
export { type Batch, normalizeRows, prepareBatch } from "./batch.ts";
export {
  type Activation as ActivationName,
  ACTIVATIONS,
  GPT2_DEFAULTS,
  type GPT2Config,
  loadGPT2Config,
  parseGPT2Config,
} from "./config.ts";
export {
  ByteLengthError,
  HeaderFormatError,
  HeaderLengthError,
  loadSafetensors,
  loadSafetensorsDir,
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
export {
  type DownloadProgress,
  HubAuthError,
  hubCacheDir,
  HubError,
  HubNotFoundError,
  HubOfflineError,
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
