// The CLI as a user runs it: `deno run` with the permissions the README states (read, write,
// env, net) in a separate process (the `deno` on PATH, as --allow-run=deno grants it); checks
// stdout, stderr and the exit status.

import assert from "node:assert/strict";
import { MODEL, PROMPT } from "./_run.ts";

const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;
const PERMISSIONS = ["--allow-read", "--allow-write", "--allow-env", "--allow-net"];

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: ["run", "--quiet", ...PERMISSIONS, MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code, out: dec.decode(stdout), err: dec.decode(stderr) };
}

Deno.test("cli process: generate prints the continuation and exits 0", async () => {
  const r = await run("generate", MODEL, PROMPT, "--max-new-tokens", "5", "--device", "cpu");
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, `${PROMPT} BALL implicitOrgOrg physicist\n`); // the fixture's greedy tokens
});

Deno.test("cli process: an unknown flag prints the usage on stderr and exits 2", async () => {
  const r = await run("attention", MODEL, PROMPT, "--layr", "1");
  assert.equal(r.code, 2);
  assert.equal(r.out, "");
  assert.match(
    r.err,
    /^Error: Unknown option '--layr'\n\nUsage: tsight attention MODEL "PROMPT" --layer L/,
  );
});

Deno.test("cli process: lens writes an SVG and says where", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await run("lens", MODEL, PROMPT, "--out", `${dir}/lens.svg`, "--device", "cpu");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `Wrote the logit lens (3 layers x 10 positions) to ${dir}/lens.svg\n`);
    assert.match(
      await Deno.readTextFile(`${dir}/lens.svg`),
      /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
