// Reads and checks single config.json values (integers, ids, flags, positive numbers) with
// named errors, and a config with its class's defaults; shared by the Llama, Gemma 2, Gemma 3,
// GPT-NeoX, OLMo 2 and Phi-3 parsers. Pure functions.

import { type ActivationName, ACTIVATIONS } from "./layers/activation.ts";

/** `src[key]` as an integer >= `min`, or a RangeError that quotes the value. */
export function intValue(src: Record<string, unknown>, key: string, min = 1): number {
  const v = src[key];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) {
    throw new RangeError(`Config "${key}" is "${v}": it must be an integer >= ${min}`);
  }
  return v;
}

/** `src[key]` as a positive number, or a RangeError that quotes the value. */
export function positiveValue(src: Record<string, unknown>, key: string): number {
  const v = src[key];
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`Config "${key}" is "${v}": it must be a positive number`);
  }
  return v;
}

/** `src[key]` as a positive number, or null when absent or null. */
export function optPositiveValue(src: Record<string, unknown>, key: string): number | null {
  return src[key] === null || src[key] === undefined ? null : positiveValue(src, key);
}

/** `src[key]` as a token id >= 0, or null when absent or null. */
export function optIdValue(src: Record<string, unknown>, key: string): number | null {
  const v = src[key];
  if (v === null || v === undefined) return null;
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new RangeError(
      `Config "${key}" is "${JSON.stringify(v)}": it must be an id >= 0 or null`,
    );
  }
  return v as number;
}

/** `src[key]` (one id or a list) as a list of ids; empty when absent or null. */
export function idListValue(src: Record<string, unknown>, key: string): number[] {
  const v = src[key];
  const list = v === null || v === undefined ? [] : Array.isArray(v) ? v : [v];
  return list.map((id, i) => optIdValue({ [`${key}[${i}]`]: id }, `${key}[${i}]`)!);
}

/** `src[key]` as a boolean (`fallback` when absent), or a TypeError that quotes the value. */
export function boolValue(src: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = src[key] ?? fallback;
  if (typeof v !== "boolean") {
    throw new TypeError(`Config "${key}" is "${v}": it must be true or false`);
  }
  return v;
}

/** The config object itself, or a TypeError when it is not a plain object. */
export function configObject(json: unknown): Record<string, unknown> {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new TypeError(`Config is "${JSON.stringify(json)}": pass the object in config.json`);
  }
  return json as Record<string, unknown>;
}

/** The stored dtype (`dtype`, or the older `torch_dtype`), or null. */
export function dtypeValue(src: Record<string, unknown>): string | null {
  const d = src.dtype ?? src.torch_dtype;
  return typeof d === "string" ? d : null;
}

/**
 * The config object of one model_type with its config class's `defaults` under every key the
 * object leaves out; a RangeError when `model_type` names another family.
 */
export function withDefaults(
  json: unknown,
  modelType: string,
  family: string,
  defaults: Record<string, unknown>,
): Record<string, unknown> {
  const raw = configObject(json);
  if ((raw.model_type ?? modelType) !== modelType) {
    throw new RangeError(`model_type "${raw.model_type}" is not ${family}: use "${modelType}"`);
  }
  const src: Record<string, unknown> = { ...defaults };
  for (const [k, v] of Object.entries(raw)) if (v !== undefined) src[k] = v;
  return src;
}

/** `src[key]` as an activation name of ACT2FN that tsight implements, or a RangeError. */
export function activationValue(src: Record<string, unknown>, key: string): ActivationName {
  const act = src[key];
  if (!ACTIVATIONS.includes(act as ActivationName)) {
    throw new RangeError(
      `Unsupported ${key} "${act}": use one of ${ACTIVATIONS.map((a) => `"${a}"`).join(", ")}`,
    );
  }
  return act as ActivationName;
}
