// LanguageModel: a decoder of any family plus its tokenizer, traceable. Turns inputs (text, ids,
// tensors) into a left-padded batch, runs one forward pass (trace, scan) or the decoding loop.

import { type Device, fastTierInfo, resolveDevice, startThreads, Tensor } from "../engine/mod.ts";
import type { CausalLM, DecoderPaths, DecoderShape } from "../model/causal_lm.ts";
import { familyOf } from "../model/families.ts";
import type { GenerateOptions } from "../model/generate.ts";
import { loadModel, type LoadModelOptions, randomModel } from "../model/load.ts";
import {
  checkLogitsToKeep,
  checkOptions,
  LOAD_OPTIONS,
  RANDOM_OPTIONS,
} from "../model/validate.ts";
import type { Module } from "../model/module.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import type { GPT2Envoys } from "./envoys/gpt2.ts";
import type { Gemma2Envoys } from "./envoys/gemma2.ts";
import type { Gemma3Envoys } from "./envoys/gemma3.ts";
import type { GPTNeoXEnvoys } from "./envoys/gpt_neox.ts";
import type { LlamaEnvoys } from "./envoys/llama.ts";
import type { Olmo2Envoys } from "./envoys/olmo2.ts";
import type { Phi3Envoys } from "./envoys/phi3.ts";
import {
  checkGenerateOptions,
  checkModeKind,
  checkTraceOptions,
  type TraceOptions,
} from "./_request.ts";
import type { GraphLimits } from "./_validate.ts";
import { isPlain } from "./graph.ts";
import { withInterventions } from "./_nonfinite.ts";
import { NNsight, type RunMode, type TraceFn } from "./nnsight.ts";
import { copyEdits } from "./edits.ts";
import { observesLastLogitsOnly } from "./_keep_last.ts";
import { checkRequestInputs, tokenRows } from "./_lm_inputs.ts";
import { lmPlan } from "./_lm_plan.ts";
import type { RunPlan } from "./run_plan.ts";
import type { Resolved, Tracer } from "./tracer.ts";

/**
 * Tokens a traced generate (one with a callback) adds when `maxNewTokens` is not given: 1, as
 * nnsight 0.4's `LanguageModel._generate`. A plain `generate(input)` keeps HF's 20.
 */
export const TRACED_MAX_NEW_TOKENS = 1;

/** What a LanguageModel accepts: text, several texts, token ids (one row or many), a Tensor. */
export type ModelInput =
  | string
  | readonly string[]
  | readonly number[]
  | readonly (readonly number[])[]
  | Tensor;

/** A LanguageModel over GPT-2, its envoys typed (`model.transformer.h[i]`). */
export type GPT2LanguageModel = LanguageModel & GPT2Envoys;
/** A LanguageModel over a Llama-style family, its envoys typed (`model.model.layers[i]`). */
export type LlamaLanguageModel = LanguageModel & LlamaEnvoys;
/** A LanguageModel over Gemma 2, its envoys typed (`model.model.layers[i]`). */
export type Gemma2LanguageModel = LanguageModel & Gemma2Envoys;
/** A LanguageModel over Gemma 3 text, its envoys typed (`model.model.layers[i]`). */
export type Gemma3LanguageModel = LanguageModel & Gemma3Envoys;
/** A LanguageModel over GPT-NeoX / Pythia, its envoys typed (`model.gpt_neox.layers[i]`). */
export type GPTNeoXLanguageModel = LanguageModel & GPTNeoXEnvoys;
/** A LanguageModel over OLMo 2, its envoys typed (`model.model.layers[i]`). */
export type Olmo2LanguageModel = LanguageModel & Olmo2Envoys;
/** A LanguageModel over Phi-3, its envoys typed (`model.model.layers[i]`). */
export type Phi3LanguageModel = LanguageModel & Phi3Envoys;

/** Options of {@link LanguageModel.load}. */
export interface LanguageModelLoadOptions extends Omit<LoadModelOptions, "device"> {
  /** "auto" (default): webgpu on a hardware adapter, else cpu. */
  device?: "auto" | Device;
}

/**
 * A decoder of any registered family (GPT-2, Llama, Mistral, Qwen2, Qwen3, ...) with nnsight's
 * programming model: `model.transformer.h[5].output` (GPT-2), `model.model.layers[5].output`
 * (Llama), `trace`, `generate`, `scan`, `tracer.invoke`. See docs/tracing.md. The envoy types
 * are the type parameter of `load`/`random` (GPT2Envoys by default; LlamaEnvoys, ...).
 *
 * @example
 * ```ts ignore
 * import { LanguageModel } from "@tsight/tsight";
 * const model = await LanguageModel.load("openai-community/gpt2");
 * const out = await model.generate("The Eiffel Tower is in the city of", { maxNewTokens: 3 }, () => {
 *   return model.generator.output;
 * });
 * console.log(model.tokenizer.decode([...(await out.get("0, -3:").data())]));
 * ```
 */
export class LanguageModel extends NNsight<CausalLM> {
  /** The model's parsed config (HuggingFace key names). */
  // deno-lint-ignore no-explicit-any
  readonly config: Readonly<Record<string, any>>;
  readonly #tokenizer: Tokenizer | null;

  /** Wraps a model of any family and its tokenizer (or null: token-id input only). */
  constructor(model: CausalLM, tokenizer: Tokenizer | null) {
    const config = model.config as Record<string, unknown>;
    super(model, { meta: () => familyOf(config).create(config, { device: "meta" }) });
    this.#tokenizer = tokenizer;
    this.config = config;
  }

  /** Whether the model has a tokenizer (text input works). */
  get hasTokenizer(): boolean {
    return this.#tokenizer !== null;
  }

  /**
   * Text to ids and back. A model loaded from a folder without tokenizer files has none: reading
   * this is then an error that says to pass token ids.
   */
  get tokenizer(): Tokenizer {
    if (this.#tokenizer) return this.#tokenizer;
    throw new TypeError(
      `This model has no tokenizer (its folder has no tokenizer.json): pass token ids (number[] or number[][]) or an int32 Tensor, or load a folder with tokenizer.json`,
    );
  }

  /**
   * Loads a model from a directory or the Hub (`"openai-community/gpt2"`,
   * `"HuggingFaceTB/SmolLM2-135M"`); config.json picks the family. Type the envoys with the
   * family's tree: `LanguageModel.load<LlamaEnvoys>(...)`.
   *
   * @example
   * ```ts ignore
   * const model = await LanguageModel.load<LlamaEnvoys>("tests/fixtures/tiny-llama", { device: "cpu" });
   * ```
   */
  static async load<E extends object = GPT2Envoys>(
    idOrDir: string,
    opts: LanguageModelLoadOptions = {},
  ): Promise<LanguageModel & E> {
    checkOptions(opts, LOAD_OPTIONS, "load options");
    const device = await resolveDevice(opts.device ?? "auto");
    await startCpuThreads(device);
    const { model, tokenizer } = await loadModel(idOrDir, { ...opts, device });
    return new LanguageModel(model, tokenizer) as LanguageModel & E;
  }

  /**
   * A model with seeded random weights from an HF config object whose `model_type` picks the
   * family (default "gpt2", completed with GPT-2 small's defaults); no files are read.
   *
   * @example
   * ```ts ignore
   * const gpt2 = await LanguageModel.random({ n_layer: 2, n_embd: 64, n_head: 4 }, { seed: 0 });
   * const llama = await LanguageModel.random<LlamaEnvoys>({ model_type: "llama", hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 128, vocab_size: 100 });
   * ```
   */
  static async random<E extends object = GPT2Envoys>(
    config: Record<string, unknown> = {},
    opts: { seed?: number; device?: "auto" | Device } = {},
  ): Promise<LanguageModel & E> {
    checkOptions(opts, RANDOM_OPTIONS, "random options");
    const device = await resolveDevice(opts.device ?? "cpu");
    await startCpuThreads(device);
    const { model, tokenizer } = await randomModel(config, { seed: opts.seed, device });
    return new LanguageModel(model, tokenizer) as LanguageModel & E;
  }

  /** The family-agnostic sizes (layers, heads, vocab, bos/eos/pad ids). */
  get shape(): DecoderShape {
    return this.module.shape;
  }

  /** Dotted paths of the layers, attention, MLP, final norm, head and embedding. */
  get paths(): DecoderPaths {
    return this.module.paths;
  }

  /** The device the weights live on. */
  get device(): Device {
    return this.module.device;
  }

  /** One forward pass over the inputs of `fn`'s `tracer.invoke` calls. */
  override trace<R>(fn: TraceFn<R>): Promise<Resolved<R>>;
  /** The logits [B, T, V] of one forward pass. */
  override trace(input: ModelInput): Promise<Tensor>;
  /** One forward pass on `input` (undefined: the invokes' inputs) with what `fn` records. */
  override trace<R>(input: ModelInput | undefined, fn: TraceFn<R>): Promise<Resolved<R>>;
  /**
   * One forward pass with options: `{logitsToKeep: n}` (HF's logits_to_keep) runs the head on
   * the last n positions only, so `model.output` and `lm_head.output` are (B, n, V).
   */
  override trace<R>(
    input: ModelInput | undefined,
    opts: TraceOptions,
    fn: TraceFn<R>,
  ): Promise<Resolved<R>>;
  override trace(a: unknown, b?: unknown, c?: unknown): Promise<unknown> {
    if (isPlain(b) && typeof c === "function") {
      let options: Record<string, unknown>;
      try {
        options = checkTraceOpts(b) as Record<string, unknown>;
      } catch (e) {
        return Promise.reject(e);
      }
      return this.execute(
        { kind: "trace", options },
        a === undefined ? [] : [a],
        c as TraceFn<unknown>,
      );
    }
    return super.trace(a, b as TraceFn<unknown>);
  }

  /** Runs `fn`'s graph on a meta twin of the model: shapes and errors, no compute. */
  override scan<R>(input: ModelInput, fn: TraceFn<R>): Promise<Resolved<R>> {
    return super.scan(input, fn);
  }

  /**
   * Generates tokens; no callback resolves to all ids [B, prompt + new] (20 new tokens unless
   * `maxNewTokens` says otherwise; with a callback, 1, as in nnsight).
   */
  generate(input: ModelInput, opts?: GenerateOptions): Promise<Tensor>;
  /** Generates from `input` with the interventions `fn` records. */
  generate<R>(input: ModelInput, opts: GenerateOptions, fn: TraceFn<R>): Promise<Resolved<R>>;
  /** Generates from the inputs of `fn`'s `tracer.invoke` calls. */
  generate<R>(opts: GenerateOptions, fn: TraceFn<R>): Promise<Resolved<R>>;
  generate(a: unknown, b?: unknown, c?: unknown): Promise<unknown> {
    const bare = isPlain(a) && (typeof b === "function" || b === undefined);
    const [inputs, given, fn] = bare ? [[], a, b] : [[a], b === undefined ? {} : b, c];
    // nnsight 0.4: a traced generate with no max_new_tokens makes one token.
    const opts = fn !== undefined && isPlain(given) && given.maxNewTokens === undefined
      ? { ...given, maxNewTokens: TRACED_MAX_NEW_TOKENS }
      : given;
    const mode: RunMode = { kind: "generate", options: opts as Record<string, unknown> };
    return this.execute(mode, inputs, fn as TraceFn<unknown> | undefined);
  }

  /** A shallow copy over the same model and tokenizer, with a copy of the edits. */
  protected override clone(): this {
    const copy = new LanguageModel(this.module, this.#tokenizer) as this;
    copyEdits(this, copy);
    return copy;
  }

  /** Reads token-id tensors on webgpu to the cpu first (their rows are needed on the host). */
  protected override async runTracer(
    tracer: Tracer,
    mode: RunMode,
    out: unknown,
    meta: boolean,
    raw: boolean,
  ): Promise<unknown> {
    for (let i = 0; i < tracer.inputs.length; i++) {
      const x = tracer.inputs[i];
      if (x instanceof Tensor && x.device === "webgpu") tracer.inputs[i] = await x.toDevice("cpu");
    }
    // A trace that reads the logits only at the last position runs the head there alone.
    if (
      mode.kind === "trace" && !raw && !meta && mode.options?.logitsToKeep === undefined &&
      observesLastLogitsOnly(tracer.graph, this.module.paths.lmHead)
    ) {
      mode = { kind: "trace", options: { ...mode.options, logitsToKeep: 1 } };
    }
    try {
      return await super.runTracer(tracer, mode, out, meta, raw);
    } catch (e) {
      throw withInterventions(e, tracer.graph);
    }
  }

  /** `invoker.inputs` of a LanguageModel: the invoke's token-id rows (`number[][]`). */
  protected override prepareInput(input: unknown): unknown {
    if (input instanceof Tensor && input.device !== "cpu") {
      throw new TypeError(
        `invoker.inputs reads the invoke's token ids synchronously, but they are a ${input.device} tensor, which only \`await ids.data()\` can read: pass the ids as number[][] or a cpu tensor (\`await ids.toDevice("cpu")\`), or keep your own reference to the tensor`,
      );
    }
    return this.rowsOf(input);
  }

  /** Checks a request's mode: trace, or generate with valid options. */
  protected override checkMode(mode: Record<string, unknown>): void {
    checkModeKind(mode, ["trace", "generate"], true);
    if (mode.kind === "generate") checkGenerateOptions(mode.options, this.shape.vocabSize);
    else checkTraceOptions(mode.options);
  }

  /** Checks a request's inputs: token ids in [0, vocab), and the logits within maxBytes. */
  protected override checkInputs(
    inputs: unknown[],
    mode: Record<string, unknown>,
    limits: Required<GraphLimits>,
  ): void {
    checkRequestInputs(inputs, mode, this.shape, limits, (x) => this.rowsOf(x));
  }

  /** Token-id rows of one input (text needs the tokenizer). */
  rowsOf(input: unknown): number[][] {
    return tokenRows(input, (text) => this.#tokenizerFor(text));
  }

  /** The tokenizer, or an error saying that text needs one. */
  #tokenizerFor(text: string): Tokenizer {
    if (this.#tokenizer) return this.#tokenizer;
    throw new TypeError(
      `Text input ${
        JSON.stringify(text.slice(0, 40))
      } needs a tokenizer, and this model has none (its folder has no tokenizer.json): pass token ids (number[] or number[][]) or an int32 Tensor, or load a folder with tokenizer.json`,
    );
  }

  /** Left-pads every invoke's rows into one batch and runs a forward pass or generate(). */
  protected override plan(inputs: unknown[], mode: RunMode, root: Module, meta: boolean): RunPlan {
    const model = root as CausalLM;
    const shape = this.module.shape;
    const pad = this.#tokenizer?.padTokenId ?? shape.padTokenId ?? shape.eosTokenIds[0] ?? 0;
    const device: Device = meta ? "meta" : model.device;
    return lmPlan(inputs.map((x) => this.rowsOf(x)), mode, model, pad, device);
  }
}

/** Checks trace() options as the model layer does: TypeError, or LogitsToKeepError for a range. */
function checkTraceOpts(opts: TraceOptions): TraceOptions {
  checkOptions(opts, { logitsToKeep: { kind: "number", check: () => null } }, "trace options");
  checkLogitsToKeep(opts.logitsToKeep);
  return opts;
}

/** Starts the cpu's matmul worker pool once (one worker per extra core) for a cpu model. */
async function startCpuThreads(device: Device): Promise<void> {
  if (device === "cpu" && fastTierInfo().threads === 1) await startThreads();
}
