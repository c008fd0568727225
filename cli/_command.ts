// What every command shares: its spec (usage text, options for node:util parseArgs), the output
// sink, and parsing that turns any bad argument into a UsageError (exit 2). Runs no model.

import { parseArgs, type ParseArgsConfig } from "node:util";

/** Where a command writes its text: stdout and stderr lines (a test collects them). */
export interface CliIO {
  /** One line of output (stdout). */
  out(line: string): void;
  /** One line of diagnostics (stderr). */
  err(line: string): void;
}

/** Bad arguments: main() prints the message and the command's usage and exits 2. */
export class UsageError extends Error {
  /** A usage error with the message shown above the usage. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The options of one command, as parseArgs takes them. */
export type Options = NonNullable<ParseArgsConfig["options"]>;
/** Parsed option values by long name. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** One subcommand of the CLI. */
export interface Command {
  /** The word after `tsight`. */
  readonly name: string;
  /** One line for the overview. */
  readonly summary: string;
  /** The full `--help` text: synopsis, arguments, options. */
  readonly usage: string;
  /** Names of the required positional arguments, in order. */
  readonly positionals: readonly string[];
  /** Its options (`--help` is added to every command). */
  readonly options: Options;
  /** Runs with parsed arguments; throws UsageError on a bad value. */
  run(positionals: string[], values: Values, io: CliIO): Promise<void>;
}

/** Options of every command that loads a model. */
export const MODEL_OPTIONS: Options = {
  device: { type: "string" },
};

/**
 * `args` parsed strictly against `cmd`: unknown flags, a missing or extra positional, a string
 * option without a value are UsageErrors. Returns null when `--help` was asked for.
 */
export function parseCommand(
  cmd: Command,
  args: readonly string[],
): { positionals: string[]; values: Values } | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: { ...cmd.options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/\. To specify a positional.*$/s, ""));
  }
  const values = parsed.values as Values;
  if (values.help) return null;
  const pos = parsed.positionals;
  if (pos.length < cmd.positionals.length) {
    const missing = cmd.positionals.slice(pos.length).map((p) => p.toUpperCase()).join(" ");
    throw new UsageError(`Missing ${missing}: "${cmd.name}" takes ${synopsisArgs(cmd)}`);
  }
  if (pos.length > cmd.positionals.length) {
    throw new UsageError(
      `Unexpected argument "${pos[cmd.positionals.length]}": "${cmd.name}" takes ${
        synopsisArgs(cmd)
      } (quote a prompt with spaces)`,
    );
  }
  return { positionals: pos, values };
}

function synopsisArgs(cmd: Command): string {
  return cmd.positionals.map((p) => p.toUpperCase()).join(" ");
}

/** A string option that must be present. */
export function required(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== "string" || v === "") throw new UsageError(`Missing --${name}: it is required`);
  return v;
}

/** An integer option within [min, max], or `fallback` when absent. */
export function intOption(
  values: Values,
  name: string,
  range: { min?: number; max?: number },
  fallback?: number,
): number | undefined {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  const { min = -Infinity, max = Infinity } = range;
  if (typeof v !== "string" || !/^-?\d+$/.test(v.trim()) || n < min || n > max) {
    throw new UsageError(
      `--${name} is "${v}": pass an integer${Number.isFinite(min) ? ` >= ${min}` : ""}${
        Number.isFinite(max) ? ` and <= ${max}` : ""
      }`,
    );
  }
  return n;
}

/** A number option within [min, max] (`open` excludes min), or undefined when absent. */
export function numberOption(
  values: Values,
  name: string,
  range: { min: number; max?: number; open?: boolean },
): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  const n = Number(v);
  const max = range.max ?? Infinity;
  const low = range.open ? n > range.min : n >= range.min;
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || !low || n > max) {
    throw new UsageError(
      `--${name} is "${v}": pass a number ${range.open ? ">" : ">="} ${range.min}${
        Number.isFinite(max) ? ` and <= ${max}` : ""
      }`,
    );
  }
  return n;
}

/** The `--device` value: "auto" (default), "cpu" or "webgpu". */
export function deviceOption(values: Values): "auto" | "cpu" | "webgpu" {
  const v = values.device ?? "auto";
  if (v !== "auto" && v !== "cpu" && v !== "webgpu") {
    throw new UsageError(`--device is "${v}": pass auto, cpu or webgpu`);
  }
  return v;
}
