// Limits of a request from elsewhere and the checked decoding of its values: depth, tags,
// forbidden keys, literal tensors. Every fault throws a named error; builds no graph.

import { tensor } from "../engine/mod.ts";
import { FORBIDDEN_KEYS } from "./_ops.ts";
import { MAX_TREE_DEPTH } from "./_tree.ts";
import { isPlain, Ref } from "./_values.ts";
import { GraphLimitError } from "./errors.ts";

/** Limits of `model.run` and `Graph.fromJSON` on a request from elsewhere. */
export interface GraphLimits {
  /**
   * Deepest nesting of arrays and objects in args, inputs, options and output; default 32, at
   * most MAX_TREE_DEPTH (64), so a validated value never meets the run's own depth check.
   */
  maxDepth?: number;
  /** Most nodes in a graph; default 100000. */
  maxNodes?: number;
  /**
   * Largest tensor a node may make or read, in bytes (4 per element), checked before it
   * allocates; also caps literal tensors and the model's own batch. Default 1 GiB.
   */
  maxBytes?: number;
}

/** The defaults of {@link GraphLimits}. */
export const DEFAULT_LIMITS: Readonly<Required<GraphLimits>> = Object.freeze({
  maxDepth: 32,
  maxNodes: 100_000,
  maxBytes: 2 ** 30,
});

/** Limits filled with defaults, each checked to be a positive number. */
export function resolveLimits(l: GraphLimits = {}): Required<GraphLimits> {
  const out = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(l ?? {})) {
    if (!Object.hasOwn(DEFAULT_LIMITS, k)) {
      throw new TypeError(
        `Unknown limit "${k}": the limits are ${Object.keys(DEFAULT_LIMITS).join(", ")}`,
      );
    }
    if (v === undefined) continue;
    if (typeof v !== "number" || !(v > 0)) {
      throw new RangeError(`Limit ${k} is ${JSON.stringify(v)}: it must be a number > 0`);
    }
    if (k === "maxDepth" && v > MAX_TREE_DEPTH) {
      throw new RangeError(
        `Limit maxDepth is ${v}: it must be at most ${MAX_TREE_DEPTH} (MAX_TREE_DEPTH, the deepest value a trace walks)`,
      );
    }
    out[k as keyof GraphLimits] = v;
  }
  return out;
}

/** A value for messages: JSON, cut at 60 characters. */
export function quote(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "function") return "a function";
  if (v instanceof Ref) return `a reference to %${v.id}`;
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = Object.prototype.toString.call(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Decodes one encoded value (see `encodeValue`) with its checks: depth, tags, forbidden keys,
 * literal tensors. `fail(field, found, allowed)` throws; `field` is the path below `at`.
 */
export function decodeChecked(
  v: unknown,
  at: string,
  opts: {
    limits: Required<GraphLimits>;
    fail: (field: string, found: unknown, allowed: string) => never;
    node?: number;
  },
  depth = 0,
): unknown {
  if (depth > opts.limits.maxDepth) {
    throw new GraphLimitError(
      `${
        opts.node !== undefined ? `Node %${opts.node} ` : "Request "
      }${at} is nested deeper than maxDepth ${opts.limits.maxDepth}: flatten it or raise the maxDepth limit of model.run`,
      { limit: "maxDepth", max: opts.limits.maxDepth, found: depth, node: opts.node },
    );
  }
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) {
      opts.fail(at, v, 'a finite number (NaN and Infinity are tagged {"$number": "NaN"})');
    }
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => decodeChecked(x, `${at}[${i}]`, opts, depth + 1));
  if (!isPlain(v)) {
    opts.fail(at, v, "JSON: null, a boolean, a number, a string, an array or an object");
  }
  const keys = Object.keys(v);
  for (const k of keys) {
    if (FORBIDDEN_KEYS.has(k)) {
      opts.fail(`${at}.${k}`, k, "a key other than __proto__, constructor, prototype");
    }
  }
  const tag = keys.find((k) => k.startsWith("$"));
  if (tag === undefined) return decodeObject(v, at, opts, depth);
  const only = (allowed: string) => {
    if (keys.length !== 1) opts.fail(at, v, `${allowed} alone, with no other keys`);
  };
  switch (tag) {
    case "$ref":
      only('{"$ref": id}');
      if (!Number.isSafeInteger(v.$ref) || (v.$ref as number) < 0) {
        opts.fail(`${at}.$ref`, v.$ref, "a node id (an integer >= 0)");
      }
      return new Ref(v.$ref as number);
    case "$undefined":
      only('{"$undefined": true}');
      if (v.$undefined !== true) opts.fail(`${at}.$undefined`, v.$undefined, "true");
      return undefined;
    case "$number":
      only('{"$number": "NaN"}');
      if (!["NaN", "Infinity", "-Infinity"].includes(v.$number as string)) {
        opts.fail(`${at}.$number`, v.$number, '"NaN", "Infinity" or "-Infinity"');
      }
      return Number(v.$number);
    case "$tensor":
      only('{"$tensor": {dtype, shape, data}}');
      return decodeTensor(v.$tensor, `${at}.$tensor`, opts);
    case "$object":
      only('{"$object": {...}}');
      if (!isPlain(v.$object)) opts.fail(`${at}.$object`, v.$object, "an object");
      for (const k of Object.keys(v.$object)) {
        if (FORBIDDEN_KEYS.has(k)) {
          opts.fail(`${at}.$object.${k}`, k, "a key other than __proto__, constructor, prototype");
        }
      }
      return decodeObject(v.$object, `${at}.$object`, opts, depth + 1);
    default:
      return opts.fail(
        `${at}.${tag}`,
        tag,
        'one of the tags $ref, $undefined, $number, $tensor, $object (wrap other "$" keys in {"$object": ...})',
      );
  }
}

function decodeObject(
  v: Record<string, unknown>,
  at: string,
  opts: Parameters<typeof decodeChecked>[2],
  depth: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = decodeChecked(x, `${at}.${k}`, opts, depth + 1);
  return out;
}

function decodeTensor(
  raw: unknown,
  at: string,
  opts: Parameters<typeof decodeChecked>[2],
): unknown {
  const fail: (field: string, found: unknown, allowed: string) => never = opts.fail;
  if (!isPlain(raw) || Object.keys(raw).some((k) => !["dtype", "shape", "data"].includes(k))) {
    return fail(at, raw, "{dtype, shape, data}");
  }
  const t = raw;
  if (t.dtype !== "float32" && t.dtype !== "int32") {
    fail(`${at}.dtype`, t.dtype, '"float32" or "int32"');
  }
  const shape = t.shape as number[], data = t.data as number[];
  if (
    !Array.isArray(shape) || shape.length > 16 ||
    !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  ) fail(`${at}.shape`, shape, "a list of at most 16 sizes (integers >= 0)");
  if (!Array.isArray(data) || !data.every((x) => typeof x === "number")) {
    fail(`${at}.data`, data, "a flat list of numbers");
  }
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  if (size !== data.length) {
    fail(
      `${at}.data`,
      `${data.length} numbers`,
      `${size} numbers for shape [${(shape as number[]).join(", ")}]`,
    );
  }
  if (size * 4 > opts.limits.maxBytes) {
    throw new GraphLimitError(
      `${at} holds ${
        size * 4
      } bytes, more than maxBytes ${opts.limits.maxBytes}: send a smaller tensor or raise the maxBytes limit of model.run`,
      { limit: "maxBytes", max: opts.limits.maxBytes, found: size * 4, node: opts.node },
    );
  }
  if (
    t.dtype === "int32" && !data.every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31)
  ) {
    fail(`${at}.data`, data, "int32 values (integers in [-2^31, 2^31))");
  }
  return tensor(data as number[], shape as number[], { dtype: t.dtype as "float32" | "int32" });
}
