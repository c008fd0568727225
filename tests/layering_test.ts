// Dependencies run one way, trace -> model -> engine: reads the import specifiers of every .ts
// under engine/, model/ and trace/ and fails on one that points the wrong way, or that reaches
// into engine/ past its public face, engine/mod.ts.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const LAYERS = ["engine", "model", "trace"] as const;
type Layer = typeof LAYERS[number];
/** What each layer may import from inside the repository. */
const ALLOWED: Record<Layer, readonly string[]> = {
  engine: ["engine"],
  model: ["engine", "model", "assets"],
  trace: ["engine", "model", "trace"],
};

/** Every static, re-export, side-effect and literal dynamic import specifier in a source. */
function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*["']([^"']+)["']/g,
    /\bimport\s*["']([^"']+)["']/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*[,)]/g,
  ];
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]);
  return out;
}

/** The top-level folder a specifier resolves to, or null for one outside the repository. */
function targetOf(file: URL, spec: string): string | null {
  if (!spec.startsWith(".") && !spec.startsWith("/") && !spec.startsWith("file:")) return null;
  const url = new URL(spec, file);
  if (!url.href.startsWith(ROOT.href)) return "(outside the repository)";
  const rest = url.href.slice(ROOT.href.length);
  return rest.includes("/") ? rest.slice(0, rest.indexOf("/")) : rest; // "mod.ts" is the root
}

/** The one engine file that model/ and trace/ may import. */
const ENGINE_FACE = new URL("engine/mod.ts", ROOT).href;

/** Wrong-way imports of one file, as messages. */
function violations(layer: Layer, file: URL, source: string): string[] {
  const bad: string[] = [];
  for (const spec of importSpecifiers(source)) {
    const target = targetOf(file, spec);
    if (target === "engine" && layer !== "engine" && new URL(spec, file).href !== ENGINE_FACE) {
      bad.push(
        `${
          file.href.slice(ROOT.href.length)
        } imports "${spec}", inside engine/: ${layer}/ may import the engine only via engine/mod.ts`,
      );
      continue;
    }
    if (target !== null && !ALLOWED[layer].includes(target)) {
      bad.push(
        `${
          file.href.slice(ROOT.href.length)
        } imports "${spec}" (${target}/), but ${layer}/ may only import ${
          ALLOWED[layer].join(", ")
        }`,
      );
    }
  }
  return bad;
}

async function* tsFiles(dir: URL): AsyncGenerator<URL> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  for (const e of entries) {
    const url = new URL(e.name + (e.isDirectory ? "/" : ""), dir);
    if (e.isDirectory) yield* tsFiles(url);
    else if (e.name.endsWith(".ts")) yield url;
  }
}

Deno.test("the checker finds every import form and resolves it", () => {
  const src = `// import "../trace/x.ts";
import { a } from "./a.ts";
import type { B } from '../model/b.ts';
export { c } from "../trace/c.ts";
export * from "../engine/d.ts";
import "../trace/side.ts";
const m = await import("../trace/lazy.ts");
const j = await import("../assets/x.json", { with: { type: "json" } });
import {
  e,
  f,
} from "../mod.ts";
/* import { g } from "../trace/g.ts"; */
import x from "npm:some-package@1";`;
  assert.deepEqual(importSpecifiers(src), [
    "./a.ts",
    "../model/b.ts",
    "../trace/c.ts",
    "../engine/d.ts",
    "../mod.ts",
    "npm:some-package@1",
    "../trace/side.ts",
    "../trace/lazy.ts",
    "../assets/x.json",
  ]);
  const file = new URL("engine/cpu/k.ts", ROOT);
  const bad = violations(
    "engine",
    file,
    'import { T } from "../../model/module.ts";\nimport "./ok.ts";',
  );
  assert.equal(bad.length, 1);
  assert.match(bad[0], /engine\/cpu\/k\.ts imports "..\/..\/model\/module.ts" \(model\/\)/);
  assert.equal(
    violations("model", new URL("model/x.ts", ROOT), 'import "../trace/t.ts";').length,
    1,
  );
  assert.equal(violations("model", new URL("model/x.ts", ROOT), 'import "../mod.ts";').length, 1);
  assert.equal(
    violations("trace", new URL("trace/x.ts", ROOT), 'import "../model/m.ts";').length,
    0,
  );
  const deep = violations(
    "model",
    new URL("model/gpt2/x.ts", ROOT),
    'import { tidy } from "../../engine/scope.ts";\nimport { T } from "../../engine/mod.ts";',
  );
  assert.equal(deep.length, 1);
  assert.match(deep[0], /"..\/..\/engine\/scope.ts", inside engine\/: model\/ may import/);
  assert.equal(
    violations("trace", new URL("trace/x.ts", ROOT), 'import "../engine/webgpu/mod.ts";').length,
    1,
  );
  assert.equal(
    violations("engine", new URL("engine/x.ts", ROOT), 'import "./webgpu/scope.ts";').length,
    0,
  );
});

Deno.test("engine/ imports neither model/ nor trace/, model/ never imports trace/, and both reach the engine only via engine/mod.ts", async () => {
  const bad: string[] = [];
  let files = 0;
  for (const layer of LAYERS) {
    for await (const file of tsFiles(new URL(`${layer}/`, ROOT))) {
      files++;
      bad.push(...violations(layer, file, await Deno.readTextFile(file)));
    }
  }
  assert.ok(files > 10, `only ${files} files found under engine/, model/, trace/`);
  assert.deepEqual(bad, [], `wrong-way imports:\n${bad.join("\n")}`);
});

/** Specifier schemes that resolve without an import map (what a user's folder may lack). */
const SELF_CONTAINED = /^(\.{1,2}\/|\/|file:|npm:[^@/]*(@[^/]+\/)?[^@/]+@\d|jsr:|node:|https?:)/;

Deno.test("library code has no bare specifier and pins every npm version", async () => {
  assert.ok(SELF_CONTAINED.test("npm:@huggingface/jinja@0.5.13"));
  assert.ok(!SELF_CONTAINED.test("npm:@huggingface/jinja"), "an npm specifier without a version");
  assert.ok(!SELF_CONTAINED.test("@huggingface/tokenizers"));
  const bad: string[] = [];
  const roots = [...LAYERS.map((l) => new URL(`${l}/`, ROOT)), new URL("mod.ts", ROOT)];
  for (const root of roots) {
    const files = root.href.endsWith(".ts") ? [root] : await Array.fromAsync(tsFiles(root));
    for (const file of files) {
      for (const spec of importSpecifiers(await Deno.readTextFile(file))) {
        if (!SELF_CONTAINED.test(spec)) bad.push(`${file.href.slice(ROOT.href.length)}: "${spec}"`);
      }
    }
  }
  assert.deepEqual(bad, [], `specifiers that need the repository's import map:\n${bad.join("\n")}`);
});
