// tsight's tokenizer: HF tokenizer.json files run by @huggingface/tokenizers, with the special
// tokens and chat template of tokenizer_config.json. No type of the npm package leaks out.

import { Tokenizer as HFTokenizer } from "npm:@huggingface/tokenizers@0.2.0";
import {
  type ChatMessage,
  type ChatTemplateContext,
  type ChatTemplateSource,
  renderChatTemplate,
  selectChatTemplate,
} from "./chat_template.ts";

let gpt2Cache: Promise<Tokenizer> | undefined;

/** Options of {@linkcode Tokenizer.encode}. */
export interface EncodeOptions {
  /** Adds BOS/EOS as the tokenizer's config says (default true), as transformers' `encode`. */
  addSpecialTokens?: boolean;
}

/** Options of {@linkcode Tokenizer.decode}. */
export interface DecodeOptions {
  /** Leaves special tokens (`<s>`, `<|endoftext|>`) out of the text (default false). */
  skipSpecialTokens?: boolean;
}

/** Options of {@linkcode Tokenizer.applyChatTemplate}. */
export interface ApplyChatTemplateOptions extends ChatTemplateContext {
  /** A template name from tokenizer_config.json, or a Jinja template string to use instead. */
  chatTemplate?: string;
  /** Returns token ids (encoded without adding special tokens) instead of the text. */
  tokenize?: boolean;
}

/** Tokenizer classes whose transformers implementation rebuilds BOS/EOS from the config flags. */
const BOS_EOS_FROM_FLAGS = /^(Llama|CodeLlama|Gemma)Tokenizer(Fast)?$/;
const SPECIAL_NAMES = [
  "bos_token",
  "eos_token",
  "unk_token",
  "sep_token",
  "pad_token",
  "cls_token",
  "mask_token",
] as const;

/**
 * Text to token ids and back, from a HuggingFace `tokenizer.json` and `tokenizer_config.json`:
 * special tokens (`add_bos_token`, `add_eos_token`, bos/eos/pad/unk) as transformers applies
 * them, and the config's chat template.
 *
 * @example
 * ```ts
 * import { Tokenizer } from "./tokenizer.ts";
 * const tok = await Tokenizer.gpt2();
 * console.log(tok.encode("Hello, my dog is cute")); // [15496, 11, 616, 3290, 318, 13779]
 * console.log(tok.decode([6342, 11, 290])); // " Paris, and"
 * ```
 */
export class Tokenizer {
  /** Number of ids, added tokens included (50257 for GPT-2). */
  readonly vocabSize: number;
  /** Id of `eos_token` from tokenizer_config.json, when it names one. */
  readonly eosTokenId?: number;
  /** Id of `bos_token` from tokenizer_config.json, when it names one. */
  readonly bosTokenId?: number;
  /** Id of `pad_token` from tokenizer_config.json, when it names one. */
  readonly padTokenId?: number;
  /** Id of `unk_token` from tokenizer_config.json, when it names one. */
  readonly unkTokenId?: number;
  /** The special tokens tokenizer_config.json names (`bos_token`, `eos_token`, ...), as text. */
  readonly specialTokens: Readonly<Record<string, string | readonly string[]>>;
  /** The config's `chat_template` (one string or named templates), when it has one. */
  readonly chatTemplate?: ChatTemplateSource;
  #inner: HFTokenizer;
  /** BOS/EOS ids encode() adds around the text, or null to use tokenizer.json's post-processor. */
  #wrap: { before: number[]; after: number[] } | null;

  private constructor(
    tokenizerJson: object,
    config: Record<string, unknown>,
    chatTemplate: ChatTemplateSource | undefined,
  ) {
    this.#inner = new HFTokenizer(tokenizerJson, config);
    this.vocabSize = this.#inner.get_vocab(true).size;
    const special: Record<string, string | readonly string[]> = {};
    for (const name of SPECIAL_NAMES) {
      const text = tokenText(config[name]);
      if (text !== undefined) special[name] = text;
    }
    const extra = config.additional_special_tokens;
    if (Array.isArray(extra)) {
      special.additional_special_tokens = extra.map(tokenText).filter((t) => t !== undefined);
    }
    this.specialTokens = special;
    this.eosTokenId = this.#idOf(special.eos_token);
    this.bosTokenId = this.#idOf(special.bos_token);
    this.padTokenId = this.#idOf(special.pad_token);
    this.unkTokenId = this.#idOf(special.unk_token);
    this.chatTemplate = chatTemplate ?? chatTemplateOf(config.chat_template);
    this.#wrap = this.#specialWrap(config);
  }

  /**
   * Builds a tokenizer from parsed `tokenizer.json` and optional `tokenizer_config.json`.
   *
   * @example
   * ```ts
   * import { Tokenizer } from "./tokenizer.ts";
   * const gpt2 = await Tokenizer.gpt2();
   * const json = { model: { type: "WordLevel", vocab: { "<s>": 0, hi: 1, there: 2 }, unk_token: "<s>" },
   *   pre_tokenizer: { type: "Whitespace" }, added_tokens: [], normalizer: null,
   *   post_processor: null, decoder: null };
   * const tok = Tokenizer.fromJSON(json, { bos_token: "<s>", add_bos_token: true });
   * console.log(tok.encode("hi there"), gpt2.vocabSize); // [0, 1, 2] 50257
   * ```
   */
  static fromJSON(
    tokenizerJson: object,
    config: object = {},
    opts: { chatTemplate?: string } = {},
  ): Tokenizer {
    const t = tokenizerJson as { model?: unknown };
    if (tokenizerJson === null || typeof tokenizerJson !== "object" || !t.model) {
      throw new TypeError(
        `Tokenizer JSON has no "model" entry: pass the parsed contents of a HuggingFace tokenizer.json`,
      );
    }
    if (config === null || typeof config !== "object" || Array.isArray(config)) {
      throw new TypeError(
        `Tokenizer config must be the parsed tokenizer_config.json object, got "${
          config === null ? "null" : typeof config
        }"`,
      );
    }
    return new Tokenizer(tokenizerJson, config as Record<string, unknown>, opts.chatTemplate);
  }

  /**
   * Reads `tokenizer.json` and, when present, `tokenizer_config.json` and `chat_template.jinja`
   * (which wins over the config's `chat_template`, as in transformers) from a directory or URL.
   *
   * @example
   * ```ts
   * import { Tokenizer } from "./tokenizer.ts";
   * const tok = await Tokenizer.fromDir(new URL("../tests/fixtures/tiny-llama", import.meta.url));
   * console.log(tok.encode("Hello"), tok.bosTokenId, tok.eosTokenId); // [1, 22557] 1 2
   * ```
   */
  static async fromDir(dir: string | URL): Promise<Tokenizer> {
    const base = typeof dir === "string"
      ? `${dir.replace(/\/+$/, "")}/`
      : new URL(dir.href.endsWith("/") ? dir.href : `${dir.href}/`);
    const at = (file: string) => typeof base === "string" ? base + file : new URL(file, base);
    const [json, config, jinja] = await Promise.all([
      readText(at("tokenizer.json")),
      readText(at("tokenizer_config.json")),
      readText(at("chat_template.jinja")),
    ]);
    if (json === undefined) {
      throw new Deno.errors.NotFound(
        `No "tokenizer.json" in "${base}": tsight reads HuggingFace tokenizer.json files; save one with tokenizer.save_pretrained()`,
      );
    }
    return Tokenizer.fromJSON(
      parseJson(json, at("tokenizer.json")),
      config === undefined ? {} : parseJson(config, at("tokenizer_config.json")),
      { chatTemplate: jinja },
    );
  }

  /**
   * GPT-2's byte-level BPE tokenizer, shipped with tsight as JSON modules: no download and no
   * permission needed, however tsight was imported (path, file URL, http URL, JSR).
   *
   * @example
   * ```ts
   * import { Tokenizer } from "./tokenizer.ts";
   * const tok = await Tokenizer.gpt2();
   * console.log(tok.encode("<|endoftext|>")); // [50256]
   * ```
   */
  static gpt2(): Promise<Tokenizer> {
    gpt2Cache ??= (async () => {
      const [json, config] = await Promise.all([
        import("../assets/gpt2-tokenizer/tokenizer.json", { with: { type: "json" } }),
        import("../assets/gpt2-tokenizer/tokenizer_config.json", { with: { type: "json" } }),
      ]);
      return Tokenizer.fromJSON(json.default, config.default);
    })();
    gpt2Cache.catch(() => gpt2Cache = undefined);
    return gpt2Cache;
  }

  /**
   * Token ids of `text`; special tokens written in the text (`<|endoftext|>`) are matched. BOS
   * and EOS are added as tokenizer_config.json says (`add_bos_token`, `add_eos_token`).
   */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== "string") {
      throw new TypeError(`Tokenizer.encode takes a string, got "${typeof text}"`);
    }
    const add = opts.addSpecialTokens ?? true;
    if (this.#wrap === null) return this.#inner.encode(text, { add_special_tokens: add }).ids;
    const ids = this.#inner.encode(text, { add_special_tokens: false }).ids;
    return add ? [...this.#wrap.before, ...ids, ...this.#wrap.after] : ids;
  }

  /** The text of token ids, special tokens included unless skipped, exactly inverting encode(). */
  decode(ids: readonly number[] | Int32Array, opts: DecodeOptions = {}): string {
    const list = Array.from(ids);
    const bad = list.find((id) => !Number.isInteger(id) || id < 0 || id >= this.vocabSize);
    if (bad !== undefined) {
      throw new RangeError(
        `Token id "${bad}" is outside the vocabulary: ids run 0 to ${this.vocabSize - 1}`,
      );
    }
    if (list.length === 0) return "";
    return this.#inner.decode(list, { skip_special_tokens: opts.skipSpecialTokens ?? false });
  }

  /**
   * Formats a conversation with the tokenizer's chat template, as transformers'
   * `apply_chat_template`: the text by default, or its ids with `{ tokenize: true }` (encoded
   * without adding BOS again, since templates write it). Pass those ids, not the text, to
   * `generate`: encoding the text would add a second BOS.
   *
   * @example
   * ```ts
   * import { Tokenizer } from "./tokenizer.ts";
   * const tok = await Tokenizer.fromDir(new URL("../tests/fixtures/tiny-llama", import.meta.url));
   * const chatTemplate = "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n" +
   *   "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}";
   * const messages = [{ role: "user", content: "Hi" }];
   * const text = tok.applyChatTemplate(messages, { chatTemplate, addGenerationPrompt: true });
   * console.log(JSON.stringify(text)); // "<s>[user] Hi\n[assistant]"
   * const ids = tok.applyChatTemplate(messages, { chatTemplate, tokenize: true });
   * console.log(ids[0] === tok.bosTokenId && ids[1] !== tok.bosTokenId); // true
   * ```
   */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    opts: ApplyChatTemplateOptions & { tokenize: true },
  ): number[];
  /** The conversation as text, formatted by the chat template (see the overload above). */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    opts?: ApplyChatTemplateOptions & { tokenize?: false },
  ): string;
  applyChatTemplate(
    messages: readonly ChatMessage[],
    opts: ApplyChatTemplateOptions = {},
  ): string | number[] {
    const template = selectChatTemplate(this.chatTemplate, {
      name: opts.chatTemplate,
      tools: opts.tools,
    });
    const text = renderChatTemplate(template, messages, this.specialTokens, opts);
    return opts.tokenize ? this.encode(text, { addSpecialTokens: false }) : text;
  }

  /** The vocabulary string of one id (GPT-2 marks a leading space as "Ġ"), or undefined. */
  idToToken(id: number): string | undefined {
    return this.#inner.id_to_token(id);
  }

  /** The id of one vocabulary string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#inner.token_to_id(token);
  }

  #idOf(token: string | readonly string[] | undefined): number | undefined {
    return typeof token === "string" ? this.#inner.token_to_id(token) : undefined;
  }

  /**
   * transformers' LlamaTokenizerFast/GemmaTokenizerFast replace tokenizer.json's post-processor
   * with `[bos] $A [eos]` from `add_bos_token` (default true) and `add_eos_token` (default
   * false); other classes do so only when the config sets a flag. Null: keep tokenizer.json's.
   */
  #specialWrap(config: Record<string, unknown>): { before: number[]; after: number[] } | null {
    const flagged = BOS_EOS_FROM_FLAGS.test(String(config.tokenizer_class ?? ""));
    const flag = (key: string, dflt: boolean) => {
      const v = config[key];
      if (v === undefined || v === null) return flagged ? dflt : undefined;
      if (typeof v !== "boolean") {
        throw new TypeError(`tokenizer_config.json "${key}" must be true or false, got "${v}"`);
      }
      return v;
    };
    let bos = flag("add_bos_token", true), eos = flag("add_eos_token", false);
    if (bos === undefined && eos === undefined) return null;
    // A flag the config leaves out keeps what tokenizer.json's post-processor does on that side.
    const probe = this.#inner.encode("", { add_special_tokens: true }).ids;
    bos ??= probe.length > 0 && probe[0] === this.bosTokenId;
    eos ??= probe.length > 0 && probe[probe.length - 1] === this.eosTokenId;
    const id = (on: boolean | undefined, key: "bos_token" | "eos_token", tokId?: number) => {
      if (!on) return [];
      if (tokId === undefined) {
        throw new TypeError(
          `tokenizer_config.json sets "add_${key}" true but its "${key}" ("${
            this.specialTokens[key] ?? "none"
          }") is not in the vocabulary: set "${key}" or "add_${key}": false`,
        );
      }
      return [tokId];
    };
    return {
      before: id(bos, "bos_token", this.bosTokenId),
      after: id(eos, "eos_token", this.eosTokenId),
    };
  }
}

/** The text of a special-token entry: a string or an AddedToken object `{ content }`. */
function tokenText(token: unknown): string | undefined {
  const content = typeof token === "object" && token !== null
    ? (token as { content?: unknown }).content
    : token;
  return typeof content === "string" ? content : undefined;
}

function chatTemplateOf(value: unknown): ChatTemplateSource | undefined {
  if (typeof value === "string") return value;
  if (
    Array.isArray(value) &&
    value.every((t) => typeof t?.name === "string" && typeof t?.template === "string")
  ) {
    return value as { name: string; template: string }[];
  }
  return undefined;
}

/** Text of a file or URL; undefined when it does not exist. Missing permissions name the flag. */
async function readText(at: string | URL): Promise<string | undefined> {
  if (typeof at === "string" || at.protocol === "file:") {
    try {
      return await Deno.readTextFile(at);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      if (e instanceof Deno.errors.NotCapable) {
        throw new Deno.errors.NotCapable(
          `Reading the tokenizer file "${at}" needs read access: run again with --allow-read (or --allow-read=<model folder>)`,
        );
      }
      throw e;
    }
  }
  let res: Response;
  try {
    res = await fetch(at);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) {
      throw new Deno.errors.NotCapable(
        `Fetching the tokenizer file "${at}" needs network access: run again with --allow-net=${at.host}`,
      );
    }
    throw e;
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`Fetching "${at}" failed with HTTP ${res.status}: check the URL and network`);
  }
  return await res.text();
}

function parseJson(text: string, at: string | URL): object {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(
      `File "${at}" is not JSON (${(e as Error).message}): fix or re-download it`,
    );
  }
}
