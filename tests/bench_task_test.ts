// `deno task bench` runs only files that register Deno.bench cases: every bench/*_bench.ts that
// deno.json's bench config leaves in calls Deno.bench, and every one it excludes is a script.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

Deno.test("deno bench selects exactly the bench/ files that call Deno.bench", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const excluded = new Set<string>(config.bench?.exclude ?? []);
  const wrong: string[] = [];
  let included = 0;
  for await (const e of Deno.readDir(new URL("bench/", ROOT))) {
    if (!/(^|[_.])bench\.ts$/.test(e.name)) continue; // what deno bench picks up by name
    const path = `bench/${e.name}`;
    const registers = /\bDeno\.bench\(/.test(await Deno.readTextFile(new URL(path, ROOT)));
    if (excluded.has(path) === registers) {
      wrong.push(`${path} ${registers ? "calls Deno.bench but is excluded" : "is a script"}`);
    }
    if (!excluded.has(path)) included++;
  }
  assert.deepEqual(wrong, [], `fix deno.json "bench.exclude":\n${wrong.join("\n")}`);
  assert.ok(included >= 1, "no Deno.bench file left for deno task bench");
});
