// Checks of untrusted inputs before anything runs: token ids, prompt lengths and option objects
// (unknown keys, wrong types, null, ranges). Throws named, explained errors; computes nothing.

import type { GenerateOptions } from "./generate.ts";
import type { LoadModelOptions } from "./load.ts";

/** Tokens generate() adds per row when maxNewTokens is not given (HF's default is 20 as well). */
export const DEFAULT_MAX_NEW_TOKENS = 20;

/** Largest id a token-id tensor can hold (int32): the bound when the vocabulary is not known. */
export const MAX_TOKEN_ID = 2 ** 31 - 1;

/**
 * A token id is not an integer in [0, vocabSize): the message quotes the id, where it was
 * (`Invoke 1, row 0, position 3`, `padTokenId`) and the allowed range.
 *
 * @example
 * ```ts
 * import { checkTokenId, TokenIdError } from "./validate.ts";
 * try {
 *   checkTokenId(2 ** 32 + 464, 50257, "Row 0, position 0");
 * } catch (e) {
 *   console.log(e instanceof TokenIdError && e instanceof RangeError); // true
 * }
 * ```
 */
export class TokenIdError extends RangeError {
  /** The value found. */
  readonly value: unknown;
  /** Ids must lie in [0, vocabSize). */
  readonly vocabSize: number;
  /**
   * Makes the error.
   *
   * @param where where the id was, as the message's subject (`Row 0, position 3`)
   * @param value the value found
   * @param vocabSize the exclusive upper bound of ids
   */
  constructor(where: string, value: unknown, vocabSize: number) {
    super(
      `${where} has token id ${quote(value)}: token ids must be integers in ${
        rangeText(vocabSize)
      }; check that the ids come from this model's tokenizer`,
    );
    this.name = "TokenIdError";
    this.value = value;
    this.vocabSize = vocabSize;
  }
}

/**
 * A prompt (plus the tokens to generate) is longer than the positions the model can embed. The
 * same message comes from `trace`, `generate` and the model-layer `generate()`.
 *
 * @example
 * ```ts
 * import { checkPromptLength, PromptLengthError } from "./validate.ts";
 * try {
 *   checkPromptLength(65, 0, 64);
 * } catch (e) {
 *   console.log(e instanceof PromptLengthError); // true
 * }
 * ```
 */
export class PromptLengthError extends RangeError {
  /** Tokens in the longest prompt row. */
  readonly tokens: number;
  /** Tokens that were to be generated after it (0 for a forward pass). */
  readonly maxNewTokens: number;
  /** Positions the model can embed. */
  readonly positions: number;
  /**
   * Makes the error.
   *
   * @param tokens tokens in the longest row
   * @param maxNewTokens tokens to generate (0 for a forward pass)
   * @param positions the model's positions
   */
  constructor(tokens: number, maxNewTokens: number, positions: number) {
    super(
      tokens > positions
        ? `Prompt of ${tokens} tokens exceeds the model's ${positions} positions: shorten the prompt`
        : `Prompt of ${tokens} tokens plus maxNewTokens ${maxNewTokens} exceeds the model's ${positions} positions: shorten the prompt or generate fewer tokens`,
    );
    this.name = "PromptLengthError";
    this.tokens = tokens;
    this.maxNewTokens = maxNewTokens;
    this.positions = positions;
  }
}

/**
 * Checks one token id: an integer in [0, vocabSize) (int32 when the vocabulary is unknown).
 *
 * @example
 * ```ts
 * import { checkTokenId } from "./validate.ts";
 * checkTokenId(464, 50257, "padTokenId"); // 464
 * ```
 */
export function checkTokenId(id: unknown, vocabSize: number, where: string): number {
  const bound = Math.min(vocabSize, MAX_TOKEN_ID + 1);
  if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= bound) {
    throw new TokenIdError(where, id, vocabSize);
  }
  return id;
}

/**
 * Checks rows of token ids (each id in [0, vocabSize)); `label` names the rows' origin in
 * messages (`Invoke 1`). Returns the rows unchanged.
 *
 * @example
 * ```ts
 * import { checkTokenRows } from "./validate.ts";
 * checkTokenRows([[464, 412]], 50257); // [[464, 412]]
 * ```
 */
export function checkTokenRows(
  rows: readonly (readonly unknown[])[],
  vocabSize: number,
  label = "",
): number[][] {
  rows.forEach((row, r) =>
    row.forEach((id, i) =>
      checkTokenId(id, vocabSize, `${label ? `${label}, row` : "Row"} ${r}, position ${i}`)
    )
  );
  return rows as number[][];
}

/**
 * Checks that `tokens` prompt tokens plus `maxNewTokens` fit in `positions`.
 *
 * @example
 * ```ts
 * import { checkPromptLength } from "./validate.ts";
 * checkPromptLength(10, 54, 64); // fits exactly
 * ```
 */
export function checkPromptLength(tokens: number, maxNewTokens: number, positions: number): void {
  if (tokens + maxNewTokens > positions) {
    throw new PromptLengthError(tokens, maxNewTokens, positions);
  }
}

/** The kind of value an option takes; a function adds checks of its own (ranges). */
export type OptionKind =
  | "boolean"
  | "string"
  | "function"
  | "number"
  | "integer"
  | readonly string[]
  | { kind: "number" | "integer"; check: (value: number) => string | null };

/**
 * Checks an options object against `spec` (key -> kind): it must be a plain object, every key
 * known, no value null, each of its kind (`undefined` means "use the default"). `what` names the
 * options in messages (`generate options`). Returns the object unchanged.
 *
 * @example
 * ```ts
 * import { checkOptions } from "./validate.ts";
 * checkOptions({ seed: 1 }, { seed: "integer" }, "random options");
 * ```
 */
export function checkOptions<T extends object | undefined>(
  opts: T,
  spec: Readonly<Record<string, OptionKind>>,
  what: string,
): T {
  if (opts === undefined) return opts;
  if (opts === null || typeof opts !== "object" || Array.isArray(opts)) {
    throw new TypeError(
      `The ${what} are ${describe(opts)}: pass an object such as {} or leave them out`,
    );
  }
  const known = Object.keys(spec);
  for (const [key, value] of Object.entries(opts)) {
    if (!Object.hasOwn(spec, key)) {
      throw new TypeError(
        `Unknown option "${key}" in the ${what}: the known options are ${known.join(", ")}`,
      );
    }
    if (value === undefined) continue;
    const problem = checkValue(value, spec[key]);
    if (problem) throw new (problem.range ? RangeError : TypeError)(`${key} is ${problem.text}`);
  }
  return opts;
}

/** What is wrong with `value` for `kind`, or null. */
function checkValue(
  value: unknown,
  kind: OptionKind,
): { text: string; range: boolean } | null {
  const found = describe(value);
  const type = (want: string) => ({ text: `${found}: it must be ${want}`, range: false });
  if (value === null) {
    return { text: `null: pass ${expected(kind)} or leave it out for the default`, range: false };
  }
  if (isEnum(kind)) {
    return kind.includes(value as string) ? null : {
      text: `${found}: it must be one of ${kind.map((k) => `"${k}"`).join(", ")}`,
      range: typeof value === "string",
    };
  }
  const base = baseOf(kind);
  if (base === "integer" || base === "number") {
    if (typeof value !== "number") return type(expected(kind));
    if (base === "integer" && !Number.isSafeInteger(value)) {
      return { text: `${found}: it must be a safe integer`, range: true };
    }
    if (!Number.isFinite(value)) {
      return { text: `${found}: it must be a finite number`, range: true };
    }
    const text = typeof kind === "object" && !isEnum(kind) ? kind.check(value) : null;
    return text ? { text: `${found}: ${text}`, range: true } : null;
  }
  const actual: string = typeof value; // "boolean", "string" or "function" is wanted here
  return actual === base ? null : type(expected(kind));
}

/** "an integer", "a boolean", ... for messages. */
function expected(kind: OptionKind): string {
  if (isEnum(kind)) return `one of ${kind.map((k) => `"${k}"`).join(", ")}`;
  const base = baseOf(kind);
  return base === "integer" ? "an integer" : `a ${base}`;
}

function isEnum(kind: OptionKind): kind is readonly string[] {
  return Array.isArray(kind);
}

/** The type name of a non-enum kind. */
function baseOf(kind: OptionKind): string {
  return typeof kind === "string" ? kind : isEnum(kind) ? "string" : kind.kind;
}

/** A value as messages quote it, with its type where JSON would hide it (`the string "5"`). */
function describe(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 40))}`;
  if (typeof value === "bigint") return `the bigint ${value}n`;
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return `the symbol ${String(value)}`;
  if (Array.isArray(value)) return `an array`;
  if (value !== null && typeof value === "object") return `an object`;
  return String(value);
}

function quote(value: unknown): string {
  return typeof value === "number" ? String(value) : describe(value);
}

function rangeText(vocabSize: number): string {
  return vocabSize > MAX_TOKEN_ID ? `[0, ${MAX_TOKEN_ID}] (int32)` : `[0, ${vocabSize})`;
}

/**
 * The option is not a non-negative safe integer: the message quotes the value and names the fix.
 *
 * @example
 * ```ts
 * import { checkLogitsToKeep, LogitsToKeepError } from "./validate.ts";
 * try {
 *   checkLogitsToKeep(-1);
 * } catch (e) {
 *   console.log(e instanceof LogitsToKeepError && e instanceof RangeError); // true
 * }
 * ```
 */
export class LogitsToKeepError extends RangeError {
  /** The value found. */
  readonly value: unknown;
  /**
   * Makes the error.
   *
   * @param value the value found
   */
  constructor(value: unknown) {
    super(
      `logitsToKeep is ${
        typeof value === "string"
          ? `the string ${JSON.stringify(value.slice(0, 40))}`
          : String(value)
      }: it must be an integer >= 0 (0 keeps every position, n the last n); leave it out to keep all`,
    );
    this.name = "LogitsToKeepError";
    this.value = value;
  }
}

/**
 * Checks a `logitsToKeep` value: undefined (keep all) or a safe integer >= 0.
 *
 * @example
 * ```ts
 * import { checkLogitsToKeep } from "./validate.ts";
 * checkLogitsToKeep(1); // 1
 * ```
 */
export function checkLogitsToKeep(n: unknown): number | undefined {
  if (n === undefined) return undefined;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) throw new LogitsToKeepError(n);
  return n;
}

/** What each generate() option takes (HF generate()'s names in camelCase). */
export const GENERATE_OPTIONS = {
  maxNewTokens: { kind: "integer", check: (n) => (n >= 0 ? null : "it must be >= 0") },
  doSample: "boolean",
  temperature: {
    kind: "number",
    check: (t) => (t > 0 ? null : "it must be > 0 (use doSample false for greedy)"),
  },
  topK: { kind: "integer", check: (k) => (k >= 1 ? null : "it must be a positive integer") },
  topP: { kind: "number", check: (p) => (p > 0 && p <= 1 ? null : "it must be in (0, 1]") },
  seed: "integer",
  stopAtEos: "boolean",
  eosTokenId: "integer",
  padTokenId: "integer",
  logitsToKeep: { kind: "number", check: () => null }, // its range: checkLogitsToKeep's error
} as const satisfies Record<keyof GenerateOptions, OptionKind>;

/** What each option of loading a model takes (Hub and device options). */
export const LOAD_OPTIONS = {
  revision: "string",
  endpoint: "string",
  cacheDir: "string",
  token: "string",
  offline: "boolean",
  onProgress: "function",
  onReport: "function",
  allowNonFinite: "boolean",
  maxJsonBytes: "integer",
  device: ["auto", "cpu", "webgpu", "meta"],
  dtype: ["float32", "bfloat16", "float16"],
} as const satisfies Record<keyof LoadModelOptions, OptionKind>;

/** What each option of a random model takes. */
export const RANDOM_OPTIONS = {
  seed: "integer",
  device: ["auto", "cpu", "webgpu", "meta"],
} as const satisfies Record<string, OptionKind>;

/**
 * Checks generate() options: known keys, types, ranges, and eos/pad ids in [0, vocabSize).
 * Returns them unchanged (`{}` for undefined).
 *
 * @example
 * ```ts
 * import { checkGenerateOptions } from "./validate.ts";
 * checkGenerateOptions({ maxNewTokens: 3, padTokenId: 50256 }, 50257);
 * ```
 */
export function checkGenerateOptions(
  opts: GenerateOptions | undefined,
  vocabSize: number,
): GenerateOptions {
  checkOptions(opts, GENERATE_OPTIONS, "generate options");
  for (const key of ["eosTokenId", "padTokenId"] as const) {
    if (opts?.[key] !== undefined) checkTokenId(opts[key], vocabSize, key);
  }
  checkLogitsToKeep(opts?.logitsToKeep);
  return opts ?? {};
}
