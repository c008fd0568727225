// LanguageModel: GPT-2 plus its tokenizer, traceable. Turns inputs (text, ids, tensors) into a
// left-padded batch, runs one forward pass (trace, scan) or the decoding loop (generate).

import { type Device, Tensor } from "../engine/mod.ts";
import { resolveDevice } from "../engine/webgpu/mod.ts";
import { fastTierInfo, startThreads } from "../engine/cpu/fast/mod.ts";
import { tidy } from "../engine/webgpu/scope.ts";
import { prepareBatch } from "../model/batch.ts";
import type { GPT2Config } from "../model/config.ts";
import { generateHeld, type GenerateOptions } from "../model/generate.ts";
import {
  checkGenerateOptions,
  checkOptions,
  checkPromptLength,
  checkTokenRows,
  DEFAULT_MAX_NEW_TOKENS,
  LOAD_OPTIONS,
  RANDOM_OPTIONS,
} from "../model/validate.ts";
import { GPT2LMHeadModel } from "../model/gpt2/model.ts";
import { loadGPT2, type LoadGPT2Options, randomGPT2 } from "../model/load.ts";
import type { Module } from "../model/module.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import type { Envoy } from "./envoy.ts";
import { isPlain } from "./graph.ts";
import { withInterventions } from "./_nonfinite.ts";
import { NNsight, type RunMode, type TraceFn } from "./nnsight.ts";
import type { InvokeRows, RunPlan } from "./run_plan.ts";
import type { Resolved, Tracer } from "./tracer.ts";

/** What a LanguageModel accepts: text, several texts, token ids (one row or many), a Tensor. */
export type ModelInput =
  | string
  | readonly string[]
  | readonly number[]
  | readonly (readonly number[])[]
  | Tensor;

/** A ModuleList's envoy: items by index, negative from the end. */
export interface EnvoyList<T extends Envoy = Envoy> extends Envoy {
  /** Item `i` (`h[0]`, `h[-1]`). */
  readonly [i: number]: T;
  /** Item `i`; negative counts from the end. */
  at(i: number): T;
}
/** `transformer.h[i].attn`: output[0] is the attention output (B, T, C). */
export interface AttentionEnvoy extends Envoy {
  /** Projection to q | k | v: output (B, T, 3C). */
  readonly c_attn: Envoy;
  /** Output projection: input holds the heads side by side (B, T, nh * hs). */
  readonly c_proj: Envoy;
  /** Its output is the attention pattern (B, nh, T, S). */
  readonly attn_dropout: Envoy;
  /** Dropout after c_proj (an identity at inference). */
  readonly resid_dropout: Envoy;
}
/** `transformer.h[i].mlp`: output (B, T, C) before the residual add. */
export interface MLPEnvoy extends Envoy {
  /** Up projection: output (B, T, 4C). */
  readonly c_fc: Envoy;
  /** GELU: output (B, T, 4C). */
  readonly act: Envoy;
  /** Down projection: output (B, T, C). */
  readonly c_proj: Envoy;
  /** Dropout (an identity at inference). */
  readonly dropout: Envoy;
}
/** `transformer.h[i]`: output[0] is the hidden state (B, T, C). */
export interface BlockEnvoy extends Envoy {
  /** LayerNorm before attention. */
  readonly ln_1: Envoy;
  /** Self-attention. */
  readonly attn: AttentionEnvoy;
  /** LayerNorm before the MLP. */
  readonly ln_2: Envoy;
  /** Feed-forward block. */
  readonly mlp: MLPEnvoy;
}
/** `transformer`: output[0] is ln_f's output (B, T, C). */
export interface TransformerEnvoy extends Envoy {
  /** Token embeddings: output (B, T, C). */
  readonly wte: Envoy;
  /** Position embeddings: output (B|1, T, C). */
  readonly wpe: Envoy;
  /** Dropout on the summed embeddings: output is the residual stream's start. */
  readonly drop: Envoy;
  /** The blocks. */
  readonly h: EnvoyList<BlockEnvoy>;
  /** Final LayerNorm. */
  readonly ln_f: Envoy;
}
/** `generator`: output = all ids once; `streamer.output` = each step's new ids. */
export interface GeneratorEnvoy extends Envoy {
  /** Called with each step's new ids (B, 1). */
  readonly streamer: Envoy;
}

/** Options of {@link LanguageModel.load}. */
export interface LanguageModelLoadOptions extends Omit<LoadGPT2Options, "device"> {
  /** "auto" (default): webgpu on a hardware adapter, else cpu. */
  device?: "auto" | Device;
}

/**
 * GPT-2 with nnsight's programming model: `model.transformer.h[5].output`, `trace`,
 * `generate`, `scan`, `tracer.invoke`. See docs/tracing.md.
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
export class LanguageModel extends NNsight<GPT2LMHeadModel> {
  /** Text to ids and back. */
  readonly tokenizer: Tokenizer;
  /** The model's config. */
  readonly config: GPT2Config;
  /** The transformer: embeddings, blocks `h`, final LayerNorm. */
  declare readonly transformer: TransformerEnvoy;
  /** The LM head: output is the logits (B, T, V). */
  declare readonly lm_head: Envoy;
  /** The generator: output is all ids after generate(); `.streamer` each step's ids. */
  declare readonly generator: GeneratorEnvoy;

  /** Wraps a GPT-2 and its tokenizer. */
  constructor(model: GPT2LMHeadModel, tokenizer: Tokenizer) {
    super(model, { meta: () => new GPT2LMHeadModel(model.config, { device: "meta" }) });
    this.tokenizer = tokenizer;
    this.config = model.config;
  }

  /**
   * Loads GPT-2 from a directory or the Hub (`"openai-community/gpt2"`).
   *
   * @example
   * ```ts ignore
   * const model = await LanguageModel.load("tests/fixtures/tiny-gpt2", { device: "cpu" });
   * ```
   */
  static async load(idOrDir: string, opts: LanguageModelLoadOptions = {}): Promise<LanguageModel> {
    checkOptions(opts, LOAD_OPTIONS, "load options");
    const device = await resolveDevice(opts.device ?? "auto");
    await startCpuThreads(device);
    const { model, tokenizer } = await loadGPT2(idOrDir, { ...opts, device });
    return new LanguageModel(model, tokenizer);
  }

  /**
   * A GPT-2 with seeded random weights and GPT-2's tokenizer (no files).
   *
   * @example
   * ```ts ignore
   * const model = await LanguageModel.random({ n_layer: 2, n_embd: 64, n_head: 4 }, { seed: 0 });
   * ```
   */
  static async random(
    config: Partial<GPT2Config> = {},
    opts: { seed?: number; device?: "auto" | Device } = {},
  ): Promise<LanguageModel> {
    checkOptions(opts, RANDOM_OPTIONS, "random options");
    const device = await resolveDevice(opts.device ?? "cpu");
    await startCpuThreads(device);
    const { model, tokenizer } = await randomGPT2(config, { seed: opts.seed, device });
    return new LanguageModel(model, tokenizer);
  }

  /** The device the weights live on. */
  get device(): Device {
    return this.module.device;
  }

  /** One forward pass over the inputs of `fn`'s `tracer.invoke` calls. */
  override trace<R>(fn: TraceFn<R>): Promise<Resolved<R>>;
  /** The logits [B, T, V] of one forward pass. */
  override trace(input: ModelInput): Promise<Tensor>;
  /** One forward pass on `input` with the interventions `fn` records. */
  override trace<R>(input: ModelInput, fn: TraceFn<R>): Promise<Resolved<R>>;
  override trace(a: unknown, b?: TraceFn<unknown>): Promise<unknown> {
    return super.trace(a, b as TraceFn<unknown>);
  }

  /** Runs `fn`'s graph on a meta twin of the model: shapes and errors, no compute. */
  override scan<R>(input: ModelInput, fn: TraceFn<R>): Promise<Resolved<R>> {
    return super.scan(input, fn);
  }

  /** Generates tokens; no callback resolves to all ids [B, prompt + new]. */
  generate(input: ModelInput, opts?: GenerateOptions): Promise<Tensor>;
  /** Generates from `input` with the interventions `fn` records. */
  generate<R>(input: ModelInput, opts: GenerateOptions, fn: TraceFn<R>): Promise<Resolved<R>>;
  /** Generates from the inputs of `fn`'s `tracer.invoke` calls. */
  generate<R>(opts: GenerateOptions, fn: TraceFn<R>): Promise<Resolved<R>>;
  generate(a: unknown, b?: unknown, c?: unknown): Promise<unknown> {
    const bare = isPlain(a) && (typeof b === "function" || b === undefined);
    const [inputs, opts, fn] = bare ? [[], a, b] : [[a], b === undefined ? {} : b, c];
    const mode: RunMode = { kind: "generate", options: opts as Record<string, unknown> };
    return this.execute(mode, inputs, fn as TraceFn<unknown> | undefined);
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
    try {
      return await super.runTracer(tracer, mode, out, meta, raw);
    } catch (e) {
      throw withInterventions(e, tracer.graph);
    }
  }

  /** Token-id rows of one input. */
  rowsOf(input: unknown): number[][] {
    if (typeof input === "string") return [this.tokenizer.encode(input)];
    if (input instanceof Tensor) {
      if (input.dtype !== "int32" || input.ndim < 1 || input.ndim > 2) {
        throw new TypeError(`A Tensor input must be int32 token ids [T] or [B, T], got ${input}`);
      }
      const flat = [...input.dataSync()];
      const T = input.shape[input.ndim - 1];
      return Array.from({ length: flat.length / T }, (_, b) => flat.slice(b * T, (b + 1) * T));
    }
    if (Array.isArray(input) && input.length > 0) {
      if (input.every((x) => typeof x === "string")) {
        return input.map((s) => this.tokenizer.encode(s));
      }
      if (input.every((x) => typeof x === "number")) return [[...input]];
      if (input.every((x) => Array.isArray(x))) return input.map((r) => [...r]);
    }
    throw new TypeError(
      `Unsupported input ${
        JSON.stringify(input)?.slice(0, 60)
      }: use a string, strings, token ids (number[] or number[][]) or an int32 Tensor`,
    );
  }

  /** Left-pads every invoke's rows into one batch and runs a forward pass or generate(). */
  protected override plan(inputs: unknown[], mode: RunMode, root: Module, meta: boolean): RunPlan {
    const vocab = this.config.vocab_size;
    const per = inputs.map((x, i) =>
      checkTokenRows(this.rowsOf(x), vocab, inputs.length > 1 ? `Invoke ${i}` : "")
    );
    const invokes: InvokeRows[] = [];
    const rows: number[][] = [];
    for (const r of per) {
      invokes.push({ start: rows.length, size: r.length });
      rows.push(...r);
    }
    const model = root as GPT2LMHeadModel;
    const pad = this.tokenizer.padTokenId ?? this.config.eos_token_id ?? 50256;
    const device: Device = meta ? "meta" : model.device;
    const width = Math.max(...rows.map((r) => r.length));
    if (mode.kind === "generate") {
      const options = checkGenerateOptions(mode.options as GenerateOptions | undefined, vocab);
      const maxNew = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
      checkPromptLength(width, maxNew, this.config.n_positions);
      let steps = 0;
      return {
        invokes,
        batchSize: rows.length,
        device,
        body: async () => {
          const ids = await generateHeld(model, rows, { padTokenId: pad, ...options });
          steps = ids.shape[1] - width;
          return ids;
        },
        summary: () => `generation ran ${steps} step${steps === 1 ? "" : "s"}`,
      };
    }
    checkPromptLength(width, 0, this.config.n_positions);
    return {
      invokes,
      batchSize: rows.length,
      device,
      // In a tidy: the batch and the forward's intermediates are freed (webgpu); the logits
      // and the values the trace keeps are not.
      body: () =>
        Promise.resolve(tidy(() => {
          const b = prepareBatch(rows, pad, { device, vocabSize: vocab });
          const padded = b.lengths.some((n) => n !== b.width);
          const opts = padded ? { attentionMask: b.attentionMask, positionIds: b.positionIds } : {};
          return model.call(b.inputIds, opts);
        })),
      summary: () => "the forward pass ran once (use generate() for more steps)",
    };
  }
}

/** Starts the cpu's matmul worker pool once (one worker per extra core) for a cpu model. */
async function startCpuThreads(device: Device): Promise<void> {
  if (device === "cpu" && fastTierInfo().threads === 1) await startThreads();
}
