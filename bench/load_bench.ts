// Load and first call, tsight vs transformers in one run: writes a random checkpoint of GPT-2
// small (default) or SmolLM2-135M's shape (`smollm2`) as F32 safetensors with GPT-2's tokenizer
// files to a temp folder, then in fresh processes times loading model and tokenizer, the first
// and a warm 20-token generate, and peak RSS; prints tsight's load phases and this machine's
// page-fault floor. Peer: bench/_torch_load.py.

import { randomModel, writeSafetensors } from "../model/mod.ts";
import { peerFigures, run, SMOLLM2_CONFIG, THREADS, torchPython } from "./_peer.ts";

const SHAPES: Record<string, Record<string, unknown>> = {
  gpt2: {
    model_type: "gpt2",
    architectures: ["GPT2LMHeadModel"],
    n_layer: 12,
    n_embd: 768,
    n_head: 12,
  },
  smollm2: { ...SMOLLM2_CONFIG, architectures: ["LlamaForCausalLM"] },
};
const shapeName = Deno.args[0] ?? "gpt2";
const shape = SHAPES[shapeName];
if (!shape) throw new RangeError(`Unknown shape "${shapeName}": use one of ${Object.keys(SHAPES)}`);

type Figures = {
  load: number;
  first: number;
  warm: number;
  rss0: number;
  rssPeak: number;
  firstFaults?: number;
  warmFaults?: number;
};

/** Writes the shape's random weights (tied head left out, as save_pretrained does) and config. */
async function writeCheckpoint(dir: string): Promise<number> {
  const { model } = await randomModel(shape, { seed: 0 });
  const tensors: Parameters<typeof writeSafetensors>[0] = {};
  for (const [name, t] of model.namedParameters()) {
    if (name !== "lm_head.weight") {
      tensors[name] = { dtype: "F32", shape: t.shape, data: new Float32Array(t.dataSync()) };
    }
  }
  const bytes = writeSafetensors(tensors, { format: "pt" });
  await Deno.writeFile(`${dir}/model.safetensors`, bytes);
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    await Deno.copyFile(new URL(`../assets/gpt2-tokenizer/${f}`, import.meta.url), `${dir}/${f}`);
  }
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(shape));
  return bytes.byteLength;
}

const child = new URL("./_load_child.ts", import.meta.url).pathname;
async function tsight<F>(dir: string, what: string): Promise<F> {
  const out = await run(Deno.execPath(), ["run", "-A", child, dir, what]);
  if (out === null) throw new Error(`bench/_load_child.ts ${what} failed`);
  return JSON.parse(out.trim().split("\n").pop()!);
}

const dir = await Deno.makeTempDir({ prefix: "tsight-load-" });
try {
  const size = await writeCheckpoint(dir);
  const py = await torchPython();
  if (!py) console.error("PyTorch peer skipped: no python with torch and transformers");
  const script = new URL("./_torch_load.py", import.meta.url);
  const peer = py ? await peerFigures<Figures & { torch: string }>(py, script, [dir]) : null;
  const ours = await tsight<Figures>(dir, "api");
  const phases = await tsight<Record<string, number>>(dir, "phases");
  const warmed = await tsight<Figures>(dir, "warmed");
  const floor = await tsight<{ touch: number; again: number }>(dir, `floor:${size}`);
  console.log(
    `${shapeName === "gpt2" ? "GPT-2 small" : "SmolLM2-135M-shaped"} checkpoint, ${
      (size / 1e6).toFixed(0)
    } MB F32 safetensors, ${THREADS} threads, fresh process each` +
      (peer ? `; transformers from_pretrained, torch ${peer.torch}` : ""),
  );
  console.log("| measure | tsight | transformers | tsight / transformers |");
  console.log("| --- | ---: | ---: | ---: |");
  const row = (name: string, t: number, p: number | undefined, digits = 0) =>
    console.log(
      `| ${name} | ${t.toFixed(digits)} | ${p?.toFixed(digits) ?? "-"} | ${
        p === undefined ? "-" : `${(t / p).toFixed(2)}x`
      } |`,
    );
  row("load, model + tokenizer (ms)", ours.load, peer?.load);
  row("first generate, 20 tokens (ms)", ours.first, peer?.first);
  row("warm generate, 20 tokens (ms)", ours.warm, peer?.warm);
  row("first / warm", ours.first / ours.warm, peer ? peer.first / peer.warm : undefined, 2);
  row("peak RSS, load + 2 generates (MiB)", ours.rssPeak, peer?.rssPeak);
  row("RSS before loading (MiB: runtime, torch import)", ours.rss0, peer?.rss0);
  console.log(
    `\ntsight load phases (ms, a second fresh process): ${
      Object.entries(phases).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(", ")
    }`,
  );
  const perPage = floor.touch / Math.ceil(size / 4096); // ms per first-touched 4 KiB page
  console.log(
    `tsight page faults: first generate ${ours.firstFaults}, warm ${ours.warmFaults}: about ${
      ((ours.firstFaults! - ours.warmFaults!) * perPage).toFixed(0)
    } ms of the first generate's extra ${(ours.first - ours.warm).toFixed(0)} ms at ${
      (perPage * 1000).toFixed(1)
    } µs a page; the rest is JIT warm-up` +
      (peer ? ` (transformers: first ${peer.firstFaults}, warm ${peer.warmFaults})` : ""),
  );
  console.log(
    `after an 8-token warm-up generate (another fresh process): first ${
      warmed.first.toFixed(0)
    } ms, warm ${warmed.warm.toFixed(0)} ms, first / warm ${
      (warmed.first / warmed.warm).toFixed(2)
    }, page faults ${warmed.firstFaults} and ${warmed.warmFaults}`,
  );
  console.log(
    `page-fault floor (a fourth fresh process): writing one byte per 4 KiB page of ${
      (size / 1e6).toFixed(0)
    } MB of fresh wasm memory takes ${floor.touch.toFixed(0)} ms, the same pages again ${
      floor.again.toFixed(0)
    } ms; the weights must be written into wasm memory once, so no load here is faster`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
