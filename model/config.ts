// GPT-2 config.json: HuggingFace key names kept 1:1, GPT2Config defaults filled in, values checked.
// Pure data: builds no model and reads nothing but the file it is given.

import { type ActivationName as Activation, ACTIVATIONS } from "./layers/activation.ts";

export { ACTIVATIONS };
/** One of {@link ACTIVATIONS}. */
export type { Activation };

/**
 * GPT-2 hyperparameters under their HuggingFace `config.json` names.
 *
 * @example
 * ```ts
 * import { parseGPT2Config, type GPT2Config } from "./config.ts";
 * const config: GPT2Config = parseGPT2Config({ n_layer: 2 });
 * console.log(config.n_embd / config.n_head); // 64
 * ```
 */
export interface GPT2Config {
  /** Always "gpt2". */
  model_type: "gpt2";
  /** Number of transformer blocks `h.0 ... h.{n_layer-1}`. */
  n_layer: number;
  /** Attention heads per block (nh); head size hs = n_embd / n_head. */
  n_head: number;
  /** Width C of the residual stream; a multiple of n_head. */
  n_embd: number;
  /** Longest sequence: rows of `wpe`. */
  n_positions: number;
  /** Rows of `wte` (V). */
  vocab_size: number;
  /** Epsilon added to the variance in every LayerNorm. */
  layer_norm_epsilon: number;
  /** The MLP's activation; GPT-2 uses gelu_new (tanh form). */
  activation_function: Activation;
  /** MLP hidden width; `null` means 4 * n_embd. */
  n_inner: number | null;
  /** Beginning-of-sequence id (50256 for GPT-2), or null. */
  bos_token_id: number | null;
  /** End-of-sequence id (50256 for GPT-2), or null; generation may stop on it. */
  eos_token_id: number | null;
  /** Divide attention scores by sqrt(head size). */
  scale_attn_weights: boolean;
  /** Also divide attention scores of block i by i + 1. */
  scale_attn_by_inverse_layer_idx: boolean;
  /** `lm_head.weight` is `wte.weight`. */
  tie_word_embeddings: boolean;
}

/**
 * The defaults of HuggingFace `GPT2Config()`: GPT-2 small.
 *
 * @example
 * ```ts
 * import { GPT2_DEFAULTS } from "./config.ts";
 * console.log(GPT2_DEFAULTS.n_layer, GPT2_DEFAULTS.n_embd); // 12 768
 * ```
 */
export const GPT2_DEFAULTS: Readonly<GPT2Config> = Object.freeze({
  model_type: "gpt2",
  n_layer: 12,
  n_head: 12,
  n_embd: 768,
  n_positions: 1024,
  vocab_size: 50257,
  layer_norm_epsilon: 1e-5,
  activation_function: "gelu_new",
  n_inner: null,
  bos_token_id: 50256,
  eos_token_id: 50256,
  scale_attn_weights: true,
  scale_attn_by_inverse_layer_idx: false,
  tie_word_embeddings: true,
});

const POSITIVE_INTS = ["n_layer", "n_head", "n_embd", "n_positions", "vocab_size"] as const;

/**
 * Validates a parsed config.json (or a partial object) and fills in GPT2Config defaults.
 * Unknown keys are ignored. Throws TypeError for wrong types and RangeError for bad values.
 *
 * @example
 * ```ts
 * import { parseGPT2Config } from "./config.ts";
 * const c = parseGPT2Config({ n_layer: 3, n_head: 4, n_embd: 32, n_positions: 64 });
 * console.log(c.activation_function, c.vocab_size); // "gelu_new" 50257
 * ```
 */
export function parseGPT2Config(json: unknown): GPT2Config {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(
      `GPT-2 config is "${JSON.stringify(json)}": pass the object in config.json`,
    );
  }
  const src = json as Record<string, unknown>;
  const c: GPT2Config = { ...GPT2_DEFAULTS };
  if (src.model_type !== undefined && src.model_type !== "gpt2") {
    throw new RangeError(
      `Unsupported model_type "${src.model_type}": tsight loads GPT-2 checkpoints (model_type "gpt2")`,
    );
  }
  for (const key of POSITIVE_INTS) {
    const v = src[key] ?? c[key];
    if (typeof v !== "number") {
      throw new TypeError(`Config "${key}" is "${v}": it must be a number`);
    }
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`Config "${key}" is "${v}": it must be a positive integer`);
    }
    c[key] = v;
  }
  const eps = src.layer_norm_epsilon ?? c.layer_norm_epsilon;
  if (typeof eps !== "number" || !(eps > 0)) {
    throw new RangeError(`Config "layer_norm_epsilon" is "${eps}": it must be a positive number`);
  }
  c.layer_norm_epsilon = eps;
  const act = src.activation_function ?? c.activation_function;
  if (!ACTIVATIONS.includes(act as Activation)) {
    throw new RangeError(
      `Unsupported activation_function "${act}": use one of ${
        ACTIVATIONS.map((a) => `"${a}"`).join(", ")
      }`,
    );
  }
  c.activation_function = act as Activation;
  if (c.n_embd % c.n_head !== 0) {
    throw new RangeError(
      `Config "n_embd" (${c.n_embd}) is not divisible by "n_head" (${c.n_head}): each head needs n_embd / n_head channels`,
    );
  }
  c.n_inner = optionalId(src, "n_inner", c.n_inner, 1);
  c.bos_token_id = optionalId(src, "bos_token_id", c.bos_token_id, 0);
  c.eos_token_id = optionalId(src, "eos_token_id", c.eos_token_id, 0);
  for (
    const key of [
      "scale_attn_weights",
      "scale_attn_by_inverse_layer_idx",
      "tie_word_embeddings",
    ] as const
  ) {
    const v = src[key] ?? c[key];
    if (typeof v !== "boolean") {
      throw new TypeError(`Config "${key}" is "${v}": it must be true or false`);
    }
    c[key] = v;
  }
  return c;
}

/** An integer >= min, or null; missing keys keep the default. */
function optionalId(
  src: Record<string, unknown>,
  key: string,
  fallback: number | null,
  min: number,
): number | null {
  const v = key in src ? src[key] : fallback;
  if (v === null) return null;
  if (!Number.isSafeInteger(v) || (v as number) < min) {
    throw new RangeError(`Config "${key}" is "${v}": it must be an integer >= ${min} or null`);
  }
  return v as number;
}

/**
 * Reads `config.json` from a model directory (or the file itself) as JSON, any family; a file
 * that is not JSON is a SyntaxError naming it.
 *
 * @example
 * ```ts ignore
 * import { readConfigFile } from "./config.ts";
 * const json = await readConfigFile("tests/fixtures/tiny-llama"); // { model_type: "llama", ... }
 * ```
 */
export async function readConfigFile(dirOrFile: string | URL): Promise<unknown> {
  let path = dirOrFile;
  if ((await Deno.stat(path)).isDirectory) {
    path = typeof path === "string"
      ? `${path.replace(/\/+$/, "")}/config.json`
      : new URL("config.json", path.href.endsWith("/") ? path : `${path.href}/`);
  }
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`Config "${path}" is not JSON (${(e as Error).message}): fix the file`);
  }
}

/**
 * Reads `config.json` from a model directory (or the file itself) and parses it as GPT-2's.
 *
 * @example
 * ```ts ignore
 * import { loadGPT2Config } from "./config.ts";
 * const config = await loadGPT2Config("tests/fixtures/tiny-gpt2");
 * console.log(config.n_layer); // 3
 * ```
 */
export async function loadGPT2Config(dirOrFile: string | URL): Promise<GPT2Config> {
  return parseGPT2Config(await readConfigFile(dirOrFile));
}
