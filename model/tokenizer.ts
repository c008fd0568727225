// tsight's tokenizer: HF tokenizer.json files run by @huggingface/tokenizers behind our own API.
// No type of the npm package leaks out of this file.

import { Tokenizer as HFTokenizer } from "@huggingface/tokenizers";

/** Where GPT-2's tokenizer files ship inside this package. */
const GPT2_ASSETS = new URL("../assets/gpt2-tokenizer/", import.meta.url);

let gpt2Cache: Promise<Tokenizer> | undefined;

/**
 * Text to token ids and back, from a HuggingFace `tokenizer.json` (+ `tokenizer_config.json`).
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
  #inner: HFTokenizer;

  private constructor(tokenizerJson: object, config: Record<string, unknown>) {
    this.#inner = new HFTokenizer(tokenizerJson, config);
    this.vocabSize = this.#inner.get_vocab(true).size;
    this.eosTokenId = this.#specialId(config.eos_token);
    this.bosTokenId = this.#specialId(config.bos_token);
    this.padTokenId = this.#specialId(config.pad_token);
  }

  /**
   * Builds a tokenizer from parsed `tokenizer.json` and optional `tokenizer_config.json`.
   *
   * @example
   * ```ts ignore
   * import { Tokenizer } from "./tokenizer.ts";
   * const json = JSON.parse(await Deno.readTextFile("assets/gpt2-tokenizer/tokenizer.json"));
   * const tok = Tokenizer.fromJSON(json, { eos_token: "<|endoftext|>" });
   * console.log(tok.eosTokenId); // 50256
   * ```
   */
  static fromJSON(tokenizerJson: object, config: object = {}): Tokenizer {
    const t = tokenizerJson as { model?: unknown };
    if (tokenizerJson === null || typeof tokenizerJson !== "object" || !t.model) {
      throw new TypeError(
        `Tokenizer JSON has no "model" entry: pass the parsed contents of a HuggingFace tokenizer.json`,
      );
    }
    return new Tokenizer(tokenizerJson, config as Record<string, unknown>);
  }

  /**
   * Reads `tokenizer.json` and, when present, `tokenizer_config.json` from a directory.
   *
   * @example
   * ```ts ignore
   * import { Tokenizer } from "./tokenizer.ts";
   * const tok = await Tokenizer.fromDir("assets/gpt2-tokenizer");
   * console.log(tok.vocabSize); // 50257
   * ```
   */
  static async fromDir(dir: string | URL): Promise<Tokenizer> {
    const base = typeof dir === "string"
      ? `${dir.replace(/\/+$/, "")}/`
      : new URL(dir.href.endsWith("/") ? dir.href : `${dir.href}/`);
    const at = (file: string) => typeof base === "string" ? base + file : new URL(file, base);
    const json = await readJson(at("tokenizer.json"));
    if (json === undefined) {
      throw new Deno.errors.NotFound(
        `No "tokenizer.json" in "${base}": tsight reads HuggingFace tokenizer.json files; save one with tokenizer.save_pretrained()`,
      );
    }
    return Tokenizer.fromJSON(json, (await readJson(at("tokenizer_config.json"))) ?? {});
  }

  /**
   * GPT-2's byte-level BPE tokenizer, shipped with tsight: no download needed.
   *
   * @example
   * ```ts
   * import { Tokenizer } from "./tokenizer.ts";
   * const tok = await Tokenizer.gpt2();
   * console.log(tok.encode("<|endoftext|>")); // [50256]
   * ```
   */
  static gpt2(): Promise<Tokenizer> {
    gpt2Cache ??= Tokenizer.fromDir(GPT2_ASSETS);
    gpt2Cache.catch(() => gpt2Cache = undefined);
    return gpt2Cache;
  }

  /** Token ids of `text`; special tokens written in the text (`<|endoftext|>`) are matched. */
  encode(text: string): number[] {
    if (typeof text !== "string") {
      throw new TypeError(`Tokenizer.encode takes a string, got "${typeof text}"`);
    }
    return this.#inner.encode(text).ids;
  }

  /** The text of token ids, special tokens included, exactly inverting encode(). */
  decode(ids: readonly number[] | Int32Array): string {
    const list = Array.from(ids);
    const bad = list.find((id) => !Number.isInteger(id) || id < 0 || id >= this.vocabSize);
    if (bad !== undefined) {
      throw new RangeError(
        `Token id "${bad}" is outside the vocabulary: ids run 0 to ${this.vocabSize - 1}`,
      );
    }
    return this.#inner.decode(list);
  }

  /** The vocabulary string of one id (GPT-2 marks a leading space as "Ġ"), or undefined. */
  idToToken(id: number): string | undefined {
    return this.#inner.id_to_token(id);
  }

  /** The id of one vocabulary string, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.#inner.token_to_id(token);
  }

  #specialId(token: unknown): number | undefined {
    const content = typeof token === "object" && token !== null
      ? (token as { content?: unknown }).content
      : token;
    return typeof content === "string" ? this.#inner.token_to_id(content) : undefined;
  }
}

/** Parsed JSON of a file or URL; undefined when it does not exist. */
async function readJson(at: string | URL): Promise<object | undefined> {
  let text: string;
  if (typeof at === "string" || at.protocol === "file:") {
    try {
      text = await Deno.readTextFile(at);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  } else {
    const res = await fetch(at);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`Fetching "${at}" failed with HTTP ${res.status}: check the URL and network`);
    }
    text = await res.text();
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(
      `File "${at}" is not JSON (${(e as Error).message}): fix or re-download it`,
    );
  }
}
