// A LanguageModel's inputs: text, texts, token ids or an int32 tensor turned into token-id rows,
// and the checks a serialised request's inputs get (ids in range, positions, logits size).

import { Tensor } from "../engine/mod.ts";
import type { DecoderShape } from "../model/causal_lm.ts";
import type { Tokenizer } from "../model/tokenizer.ts";
import { DEFAULT_MAX_NEW_TOKENS } from "../model/validate.ts";
import { invalid } from "./_request.ts";
import type { GraphLimits } from "./_validate.ts";
import { GraphLimitError } from "./errors.ts";

/**
 * Token-id rows of one input: a string (one row), strings, `number[]` (one row), `number[][]` or
 * an int32 cpu tensor [T] or [B, T]. `tokenizerFor` gives the tokenizer for a text (or throws).
 *
 * @example
 * ```ts
 * import { tokenRows } from "./_lm_inputs.ts";
 * const none = () => { throw new TypeError("no tokenizer"); };
 * tokenRows([[1, 2], [3]], none); // [[1, 2], [3]]
 * ```
 */
export function tokenRows(input: unknown, tokenizerFor: (text: string) => Tokenizer): number[][] {
  if (typeof input === "string") return [tokenizerFor(input).encode(input)];
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
      return input.map((s) => tokenizerFor(s).encode(s));
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

/**
 * Checks a request's inputs (untrusted): each is an input `rowsOf` reads, its ids in
 * [0, vocab), prompt plus new tokens within the model's positions, and the logits within
 * `limits.maxBytes`. Throws GraphValidationError or GraphLimitError.
 *
 * @example
 * ```ts
 * import type { DecoderShape } from "../model/causal_lm.ts";
 * import { resolveLimits } from "./_decode.ts";
 * import { checkRequestInputs } from "./_lm_inputs.ts";
 * const shape = { vocabSize: 10, maxPositions: 8 } as DecoderShape;
 * const rowsOf = (x: unknown) => x as number[][];
 * checkRequestInputs([[[1, 2]]], { kind: "trace" }, shape, resolveLimits({}), rowsOf); // fine
 * ```
 */
export function checkRequestInputs(
  inputs: unknown[],
  mode: Record<string, unknown>,
  shape: DecoderShape,
  limits: Required<GraphLimits>,
  rowsOf: (input: unknown) => number[][],
): void {
  const vocab = shape.vocabSize;
  let rows = 0, width = 0;
  inputs.forEach((x, i) => {
    let ids: number[][];
    try {
      ids = rowsOf(x);
    } catch (e) {
      return invalid(
        `inputs[${i}]`,
        x,
        "text, texts, token ids (number[] or number[][]) or an int32 tensor",
        e,
      );
    }
    for (const row of ids) {
      if (row.length === 0) invalid(`inputs[${i}]`, x, "an input of at least one token");
      const bad = row.find((id) => !Number.isInteger(id) || id < 0 || id >= vocab);
      if (bad !== undefined) invalid(`inputs[${i}]`, bad, `token ids: integers in [0, ${vocab})`);
      width = Math.max(width, row.length);
    }
    rows += ids.length;
  });
  const steps = mode.kind === "generate"
    ? (mode.options as { maxNewTokens?: number } | undefined)?.maxNewTokens ??
      DEFAULT_MAX_NEW_TOKENS
    : 0;
  const positions = shape.maxPositions;
  if (width + steps > positions) {
    invalid(
      "inputs",
      `${width} tokens${steps ? ` plus maxNewTokens ${steps}` : ""}`,
      `at most the model's ${positions} positions`,
    );
  }
  const bytes = rows * (width + steps) * vocab * 4;
  if (bytes > limits.maxBytes) {
    throw new GraphLimitError(
      `The request's ${rows} rows of up to ${width} tokens make ${bytes} bytes of logits, more than maxBytes ${limits.maxBytes}: send fewer or shorter inputs or raise the maxBytes limit of model.run`,
      { limit: "maxBytes", max: limits.maxBytes, found: bytes },
    );
  }
}
