// `tsight trace`: runs one forward pass, saves the values named by --save (module path, then
// output/input/inputs, then tuple indices) and writes them as safetensors or JSON.

import { type Envoy, type InterventionProxy, type LanguageModel, Tensor } from "../mod.ts";
import { writeSafetensors } from "../model/safetensors_write.ts";
import { type Command, MODEL_OPTIONS, required, UsageError, type Values } from "./_command.ts";
import { loadModel } from "./_model.ts";
import { envoyAt } from "./_paths.ts";

const KINDS = ["output", "input", "inputs"] as const;
type Kind = typeof KINDS[number];

/** One --save entry: the module, which of its values, and indices into a tuple. */
export interface SavePath {
  /** The dotted path as given. */
  path: string;
  /** The module's path. */
  module: string;
  /** output, input or inputs. */
  kind: Kind;
  /** Tuple indices after the kind (`output.0` -> [0]). */
  indices: number[];
}

/** Parses `transformer.h.0.output.0`; a path without output/input/inputs is a UsageError. */
export function parseSavePath(path: string): SavePath {
  const parts = path.split(".");
  const at = parts.findIndex((p) => (KINDS as readonly string[]).includes(p));
  const rest = parts.slice(at + 1);
  if (at < 0 || rest.some((p) => !/^-?\d+$/.test(p))) {
    throw new UsageError(
      `--save path "${path}" does not name a value: write MODULE.output, MODULE.input or ` +
        `MODULE.inputs, then tuple indices, e.g. "transformer.h.0.output.0" or "transformer.h.0.mlp.output"`,
    );
  }
  return {
    path,
    module: parts.slice(0, at).join("."),
    kind: parts[at] as Kind,
    indices: rest.map(Number),
  };
}

/** The output file's format from its extension. */
function formatOf(file: string): "safetensors" | "json" {
  if (file.endsWith(".safetensors")) return "safetensors";
  if (file.endsWith(".json")) return "json";
  throw new UsageError(`--out "${file}" has no known extension: end it in .safetensors or .json`);
}

/** The saved tensors of `paths` after one forward pass on `prompt`, by path. */
export async function traceValues(
  model: LanguageModel,
  prompt: string,
  paths: readonly SavePath[],
): Promise<Map<string, Tensor>> {
  let envoys: Envoy[];
  try {
    envoys = paths.map((p) => envoyAt(model, p.module));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const values: unknown[] = await model.trace(
    prompt,
    () =>
      paths.map((p, i) => p.indices.reduce((v: InterventionProxy, k) => v[k], envoys[i][p.kind])),
  );
  const out = new Map<string, Tensor>();
  paths.forEach((p, i) => {
    const v = values[i];
    if (!(v instanceof Tensor)) {
      const what = Array.isArray(v)
        ? `a tuple of ${v.length} value${v.length === 1 ? "" : "s"}`
        : `a ${typeof v}`;
      throw new UsageError(
        `--save path "${p.path}" is ${what}, not a tensor: add an index, e.g. "${p.path}.0"`,
      );
    }
    out.set(p.path, v);
  });
  return out;
}

/** The `trace` command. */
export const traceCommand: Command = {
  name: "trace",
  summary: "save activations of one forward pass to safetensors or JSON",
  positionals: ["model", "prompt"],
  options: { ...MODEL_OPTIONS, save: { type: "string", multiple: true }, out: { type: "string" } },
  usage: `Usage: tsight trace MODEL "PROMPT" --save PATH[,PATH...] --out FILE [options]

Runs one forward pass and writes the saved values, keyed by PATH, to FILE.

Arguments:
  MODEL          a Hub id (openai-community/gpt2) or a model directory
  PROMPT         the input text

Options:
  --save PATHS   comma-separated values to save (repeatable): a module path, then output,
                 input or inputs, then tuple indices, e.g. transformer.h.0.output.0,
                 transformer.h.0.mlp.output, lm_head.output
  --out FILE     FILE.safetensors (float32/int32 tensors) or FILE.json ({dtype, shape, data})
  --device D     auto (default), cpu or webgpu
  -h, --help     show this help`,
  async run([id, prompt], values: Values, io) {
    const list = ((values.save ?? []) as string[]).flatMap((s) => s.split(",")).filter((s) => s);
    if (list.length === 0) throw new UsageError("Missing --save: name at least one PATH");
    const paths = list.map(parseSavePath);
    const file = required(values, "out");
    const format = formatOf(file);
    const model = await loadModel(id, values);
    const saved = await traceValues(model, prompt, paths);
    const entries = await Promise.all(
      [...saved].map(async ([k, t]) => [k, t, await t.data()] as const),
    );
    if (format === "safetensors") {
      const tensors = Object.fromEntries(entries.map(([k, t, data]) => [k, {
        dtype: t.dtype === "int32" ? "I32" as const : "F32" as const,
        shape: t.shape,
        data: data as Float32Array | Int32Array,
      }]));
      await Deno.writeFile(file, writeSafetensors(tensors, { format: "pt", prompt }));
    } else {
      const json = Object.fromEntries(
        entries.map(([k, t, data]) => [k, { dtype: t.dtype, shape: t.shape, data: [...data] }]),
      );
      await Deno.writeTextFile(file, JSON.stringify(json) + "\n");
    }
    for (const [k, t] of entries) io.out(`${k} ${t.dtype} [${t.shape.join(", ")}]`);
    io.out(`Wrote ${saved.size} value${saved.size === 1 ? "" : "s"} to ${file}`);
  },
};
