// examples/logit_lens.ts and examples/attention_pattern.ts on the tiny fixture, as processes:
// each writes its SVG where --out says, says so, and the SVG has the fixture's cell count.

import assert from "node:assert/strict";
import { MODEL } from "../cli/_run.ts";
import { parseXml, select } from "./_xml.ts";

async function example(name: string, out: string): Promise<string> {
  const script = new URL(`../../examples/${name}`, import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command("deno", {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      script,
      "--model",
      MODEL,
      "--out",
      out,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("examples: logit_lens.ts writes the heatmap and says where", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await example("logit_lens.ts", `${dir}/lens.svg`);
    assert.match(out, /layer {2}2: " BALL" +p = 0\.075/);
    assert.ok(out.endsWith(`to ${dir}/lens.svg\n`), out);
    assert.equal(
      select(parseXml(await Deno.readTextFile(`${dir}/lens.svg`)), "g", "cell").length,
      30,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples: attention_pattern.ts writes the grid and says where", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = await example("attention_pattern.ts", `${dir}/attn.svg`);
    assert.match(out, /layer 2 attention \[1,4,10,10\]/);
    assert.ok(out.endsWith(`to ${dir}/attn.svg\n`), out);
    assert.equal(
      select(parseXml(await Deno.readTextFile(`${dir}/attn.svg`)), "rect", "cell").length,
      400,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
