// Validation of a whole serialised request (`model.run`): format, mode and its options, inputs,
// the graph (through _validate.ts), and the output's refs. The model says which modes and
// inputs it accepts. Builds the graph; runs nothing.

import type { GenerateOptions } from "../model/generate.ts";
import { decodeChecked, type GraphLimits, quote } from "./_decode.ts";
import { isPlain, Ref } from "./_values.ts";
import { forEachLeaf } from "./_tree.ts";
import { GraphValidationError } from "./errors.ts";
import { Graph } from "./graph.ts";

/** A request checked and decoded: its mode, inputs, graph and output (with Refs). */
export interface CheckedRequest {
  /** The run mode, as the model accepted it. */
  mode: { kind: string; options?: Record<string, unknown> };
  /** One decoded input per invoke. */
  inputs: unknown[];
  /** The validated graph. */
  graph: Graph;
  /** The return structure, Refs to saved nodes. */
  output: unknown;
}

/** What the model checks of a request. */
export interface RequestChecks {
  /** The limits in force. */
  limits: Required<GraphLimits>;
  /** True when `path` names a module of the model. */
  hasModule(path: string): boolean;
  /** True when `path` names a point of a module's forward (`<module>.source.<name>`). */
  hasPoint?(path: string): boolean;
  /** Checks the mode (throws a GraphValidationError through {@link invalid}). */
  mode(mode: Record<string, unknown>): void;
  /** Checks the decoded inputs for this mode. */
  inputs(inputs: unknown[], mode: Record<string, unknown>): void;
}

/** Throws the GraphValidationError for a field of the request itself. */
export function invalid(field: string, found: unknown, allowed: string, cause?: unknown): never {
  throw new GraphValidationError(
    { field, found: quote(found), allowed },
    cause === undefined ? undefined : { cause },
  );
}

const REQUEST_KEYS = ["format", "mode", "inputs", "graph", "output"];

/** Checks every part of `request` before anything runs; the first fault throws. */
export function checkRequest(request: unknown, format: string, c: RequestChecks): CheckedRequest {
  if (!isPlain(request)) {
    invalid("", request, `an object {format: "${format}", mode, inputs, graph, output}`);
  }
  for (const k of Object.keys(request)) {
    if (!REQUEST_KEYS.includes(k)) invalid(k, k, REQUEST_KEYS.join(", "));
  }
  if (request.format !== format) invalid("format", request.format, `"${format}"`);
  const fail = (field: string, found: unknown, allowed: string): never =>
    invalid(field, found, allowed);
  const decode = (v: unknown, at: string) => decodeChecked(v, at, { limits: c.limits, fail });
  const mode = decode(request.mode, "mode");
  if (!isPlain(mode)) {
    return invalid("mode", mode, '{kind: "trace"} or {kind: "generate", options}');
  }
  c.mode(mode);
  if (!Array.isArray(request.inputs) || request.inputs.length === 0) {
    invalid("inputs", request.inputs, "a list of one or more inputs (one per invoke)");
  }
  const inputs = (request.inputs as unknown[]).map((x, i) => decode(x, `inputs[${i}]`));
  c.inputs(inputs, mode);
  const graph = Graph.fromJSON(request.graph as never, {
    ...c.limits,
    invokes: inputs.length,
    hasModule: (p) => c.hasModule(p),
    hasPoint: (p) => c.hasPoint?.(p) ?? false,
  });
  const output = decode(request.output, "output");
  checkOutputRefs(output, graph, "output");
  return { mode: mode as CheckedRequest["mode"], inputs, graph, output };
}

function checkOutputRefs(v: unknown, g: Graph, at: string): void {
  forEachLeaf(v, (x, path) => {
    if (!(x instanceof Ref)) return;
    const field = at + path.map((k) => (typeof k === "number" ? `[${k}]` : `.${k}`)).join("");
    const n = g.nodes[x.id];
    if (!n) invalid(field, x, `a reference to a node of the graph (%0 to %${g.nodes.length - 1})`);
    if (!n.saved) invalid(field, x, "a reference to a saved node (saved: true)");
  });
}

/**
 * Checks `mode` has only `allowed` keys and one of `kinds`; a trace mode may have options only
 * when `traceOptions` (a LanguageModel's `{logitsToKeep}`).
 */
export function checkModeKind(
  mode: Record<string, unknown>,
  kinds: readonly string[],
  traceOptions = false,
): void {
  if (!kinds.includes(mode.kind as string)) {
    invalid("mode.kind", mode.kind, kinds.map((k) => `"${k}"`).join(" or "));
  }
  const keys = mode.kind === "trace" && !traceOptions ? ["kind"] : ["kind", "options"];
  for (const k of Object.keys(mode)) {
    if (!keys.includes(k)) invalid(`mode.${k}`, k, keys.join(", "));
  }
}

type OptionCheck = (v: unknown, vocab: number) => string | null;
const int = (min: number, max = Number.MAX_SAFE_INTEGER): OptionCheck => (v) =>
  Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max
    ? null
    : `an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? "2^53" : max}]`;
const bool: OptionCheck = (v) => typeof v === "boolean" ? null : "true or false";
const tokenId: OptionCheck = (v, vocab) => int(0, vocab - 1)(v, vocab);

/** Each option of generate() and what it takes; a new option is a compile error until listed. */
const GENERATE_OPTIONS = {
  maxNewTokens: int(0, 1 << 20),
  doSample: bool,
  temperature: (v) => typeof v === "number" && v > 0 && Number.isFinite(v) ? null : "a number > 0",
  topK: int(1),
  topP: (v) => typeof v === "number" && v > 0 && v <= 1 ? null : "a number in (0, 1]",
  seed: int(Number.MIN_SAFE_INTEGER),
  stopAtEos: bool,
  eosTokenId: tokenId,
  padTokenId: tokenId,
  logitsToKeep: int(0),
} satisfies Record<keyof GenerateOptions, OptionCheck>;

/** Checks a trace mode's options (a LanguageModel's): only `logitsToKeep`, an integer >= 0. */
export function checkTraceOptions(options: unknown): TraceOptions {
  if (options === undefined) return {};
  if (!isPlain(options)) return invalid("mode.options", options, "an object of trace options");
  for (const [k, v] of Object.entries(options)) {
    if (k !== "logitsToKeep") invalid(`mode.options.${k}`, k, "an option of trace(): logitsToKeep");
    const bad = int(0)(v, 0);
    if (bad) invalid(`mode.options.${k}`, v, bad);
  }
  return options as TraceOptions;
}

/** Options of a LanguageModel's trace(): HF's logits_to_keep (0 keeps every position). */
export interface TraceOptions {
  /** The head runs on the last n positions only; the logits are (B, n, V). */
  logitsToKeep?: number;
}

/** Checks a generate mode's options: known keys, each of its type and range. */
export function checkGenerateOptions(options: unknown, vocab: number): GenerateOptions {
  if (!isPlain(options)) return invalid("mode.options", options, "an object of generate() options");
  for (const [k, v] of Object.entries(options)) {
    if (!Object.hasOwn(GENERATE_OPTIONS, k)) {
      invalid(
        `mode.options.${k}`,
        k,
        `an option of generate(): ${Object.keys(GENERATE_OPTIONS).join(", ")}`,
      );
    }
    const bad = GENERATE_OPTIONS[k as keyof GenerateOptions](v, vocab);
    if (bad) invalid(`mode.options.${k}`, v, bad);
  }
  return options as GenerateOptions;
}
