// `tsight info`: what a model is (config, module tree with parameter shapes, parameter count,
// dtypes) and where its files are (local directory or the Hub cache snapshot). Runs no forward.

import { type Module, ModuleList, resolveModelDir, type Tensor } from "../mod.ts";
import { type Command, MODEL_OPTIONS } from "./_command.ts";
import { loadModel } from "./_model.ts";

/** The module tree, one line per module with its own weights' shapes; list items that repeat
 * item 0's structure are folded into one line. */
export function moduleTree(root: Module): string[] {
  const own = new Map<string, string[]>();
  for (const [path, t] of root.namedParameters()) {
    const cut = path.lastIndexOf(".");
    const key = cut < 0 ? "" : path.slice(0, cut);
    own.set(key, [...(own.get(key) ?? []), `${path.slice(cut + 1)} [${t.shape.join(", ")}]`]);
  }
  const lines: string[] = [];
  const walk = (m: Module, name: string, depth: number) => {
    const params = own.get(m.path) ?? [];
    lines.push(
      `${"  ".repeat(depth)}${name}: ${m.constructor.name}${
        params.length ? `  ${params.join(", ")}` : ""
      }`,
    );
    const kids = m.children();
    kids.forEach(([n, c], i) => {
      if (m instanceof ModuleList && i > 0 && kids.length > 2 && shape(c) === shape(kids[0][1])) {
        if (i === 1) lines.push(`${"  ".repeat(depth + 1)}${n} to ${kids.length - 1}: as 0`);
        return;
      }
      walk(c, n, depth + 1);
    });
  };
  walk(root, "(root)", 0);
  return lines;
}

/** A module's structure without names' indices: classes and weight shapes of its subtree. */
function shape(m: Module): string {
  return m.namedModules().map(([p, x]) => `${p.slice(m.path.length)}:${x.constructor.name}`)
    .join() +
    m.namedParameters().map(([p, t]) => `${p.slice(m.path.length)}[${t.shape}]`).join();
}

/** Parameter count (shared tensors once) and tensors per dtype. */
export function parameterSummary(root: Module): { count: number; dtypes: Record<string, number> } {
  const seen = new Set<Tensor>();
  const dtypes: Record<string, number> = {};
  let count = 0;
  for (const [, t] of root.namedParameters()) {
    if (seen.has(t)) continue;
    seen.add(t);
    count += t.size;
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  }
  return { count, dtypes };
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The `info` command. */
export const infoCommand: Command = {
  name: "info",
  summary: "config, module tree, parameter count, dtypes and where the files are",
  positionals: ["model"],
  options: { ...MODEL_OPTIONS },
  usage: `Usage: tsight info MODEL [options]

Prints where the model's files are, its parameter count and dtypes, its config and its
module tree (HuggingFace names, with each module's weight shapes).

Arguments:
  MODEL          a Hub id (openai-community/gpt2) or a model directory

Options:
  --device D     auto (default), cpu or webgpu
  -h, --help     show this help`,
  async run([id], values, io) {
    const local = await isDir(id);
    const dir = local ? id : await resolveModelDir(id);
    const model = await loadModel(dir, values);
    const { count, dtypes } = parameterSummary(model.module);
    io.out(`Model: ${id}`);
    io.out(local ? `Files: ${dir} (a local directory)` : `Files: ${dir} (Hub cache)`);
    io.out(`Device: ${model.device}`);
    io.out(`Parameters: ${count.toLocaleString("en-US")}`);
    io.out(`Dtypes: ${Object.entries(dtypes).map(([d, n]) => `${d} (${n} tensors)`).join(", ")}`);
    io.out("Config:");
    io.out(JSON.stringify(model.config, null, 2));
    io.out("Modules:");
    for (const line of moduleTree(model.module)) io.out(line);
  },
};
