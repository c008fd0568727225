// viz/ stands alone (it must run in a browser with no model code): its files import only each
// other, with no engine/, model/, trace/, npm:, jsr: or node: specifier, and use no Deno API.

import assert from "node:assert/strict";

const VIZ = new URL("../../viz/", import.meta.url);

Deno.test("viz imports only viz files and uses no Deno API", async () => {
  const files = (await Array.fromAsync(Deno.readDir(VIZ))).filter((e) => e.name.endsWith(".ts"));
  assert.ok(files.length >= 4);
  for (const { name } of files) {
    const src = await Deno.readTextFile(new URL(name, VIZ));
    const code = src.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
    for (const m of code.matchAll(/\bfrom\s*["']([^"']+)["']|\bimport\s*\(?\s*["']([^"']+)["']/g)) {
      const spec = m[1] ?? m[2];
      assert.match(
        spec,
        /^\.\/[a-z_]+\.ts$/,
        `viz/${name} imports "${spec}": viz may import only viz files`,
      );
    }
    assert.doesNotMatch(
      code,
      /\bDeno\./,
      `viz/${name} uses the Deno API: viz must run in browsers`,
    );
  }
});
