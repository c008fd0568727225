// Runs the CLI in-process (main with a collecting io) and gives the exit code and the lines; the
// fixture and prompt the CLI tests share.

import { main } from "../../cli/main.ts";
import { FIXTURE } from "../model/_tiny_gpt2.ts";

/** The tiny GPT-2 fixture directory, as a path. */
export const MODEL = FIXTURE.pathname.replace(/\/$/, "");
/** The prompt of the fixture's "eiffel" case. */
export const PROMPT = "The Eiffel Tower is in the city of";

/** What one CLI run printed and returned. */
export interface Run {
  /** Exit code. */
  code: number;
  /** stdout, lines joined with "\n". */
  out: string;
  /** stderr, lines joined with "\n". */
  err: string;
}

/** Runs `tsight ...args` in-process. */
export async function cli(...args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}
