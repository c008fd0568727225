/**
 * tsight's command line: `generate`, `trace`, `lens`, `attention` and `info` on a Hub id or a
 * model directory. Run it with `deno task cli <command> ...` in a clone, or import `main` to
 * run it in-process.
 *
 * @example
 * ```ts ignore
 * import { main } from "./main.ts";
 * const code = await main(["info", "tests/fixtures/tiny-gpt2"]); // prints the model's info
 * ```
 *
 * @module
 */
import { attentionCommand } from "./attention.ts";
import { type CliIO, type Command, parseCommand, UsageError } from "./_command.ts";
import { generateCommand } from "./generate.ts";
import { infoCommand } from "./info.ts";
import { lensCommand } from "./lens.ts";
import { traceCommand } from "./trace.ts";

export type { CliIO } from "./_command.ts";

const COMMANDS: readonly Command[] = [
  generateCommand,
  traceCommand,
  lensCommand,
  attentionCommand,
  infoCommand,
];

const USAGE = `Usage: tsight <command> [arguments] [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(11)}${c.summary}`).join("\n")}

MODEL is a Hub id (openai-community/gpt2, read from or downloaded into the Hugging Face cache)
or a directory with config.json, model.safetensors and tokenizer.json.
Run "tsight <command> --help" for a command's arguments and options.`;

/** Writes to the process's stdout and stderr. */
const CONSOLE_IO: CliIO = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

/**
 * Runs the command line `args` (without the program name) and resolves to the exit status:
 * 0 done, 1 the command failed, 2 bad usage (unknown command or flag, missing argument, bad
 * value; the usage is printed to `io.err`).
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const lines: string[] = [];
 * const code = await main(["--help"], { out: (l) => lines.push(l), err: (l) => lines.push(l) });
 * console.log(code, lines[0]); // 0 "Usage: tsight <command> [arguments] [options]"
 * ```
 */
export async function main(args: readonly string[], io: CliIO = CONSOLE_IO): Promise<number> {
  const [name, ...rest] = args;
  if (name === "--help" || name === "-h" || name === "help") {
    io.out(USAGE);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    io.err(
      name === undefined
        ? "Missing a command"
        : `Unknown command "${name}": use one of ${COMMANDS.map((c) => c.name).join(", ")}`,
    );
    io.err("");
    io.err(USAGE);
    return 2;
  }
  try {
    const parsed = parseCommand(cmd, rest);
    if (parsed === null) {
      io.out(cmd.usage);
      return 0;
    }
    await cmd.run(parsed.positionals, parsed.values, io);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`Error: ${e.message}`);
      io.err("");
      io.err(cmd.usage);
      return 2;
    }
    io.err(`Error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
