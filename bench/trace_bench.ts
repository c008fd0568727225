// The cost of tracing, as ratios printed in one run: greedy generate on a GPT-2-small-shaped
// random model, plain vs saving every block output on every step; and recording a 1,000-node graph.
// Run: deno run -A bench/trace_bench.ts [--tokens 20] [--reps 5] [--tiny]   (nothing downloaded)

import { cpuTier } from "../engine/mod.ts";
import { list } from "../trace/containers.ts";
import { type GPT2LanguageModel, LanguageModel } from "../trace/language_model.ts";
import { record, Tracer } from "../trace/tracer.ts";

const SMALL = { n_layer: 12, n_head: 12, n_embd: 768, n_positions: 1024, vocab_size: 50257 };
const TINY = { n_layer: 3, n_head: 4, n_embd: 32, n_positions: 64, vocab_size: 50257 };
const PROMPT = "The Eiffel Tower is in the city of";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Records a graph of at least `n` nodes (getters, indexing and tensor methods on 12 layers). */
function recordGraph(model: GPT2LanguageModel, n: number): { ms: number; nodes: number } {
  const layers = model.transformer.h;
  const tracer = new Tracer();
  tracer.inputs.push(PROMPT);
  const t0 = performance.now();
  record(tracer, () => {
    for (let i = 0; tracer.graph.nodes.length < n; i++) {
      layers[i % layers.length].output[0].get(":, -1").mul(2).add(1).sum(-1).save();
    }
  });
  return { ms: performance.now() - t0, nodes: tracer.graph.nodes.length };
}

/** Plain vs traced generate, interleaved so machine noise hits both alike. */
async function overhead(model: GPT2LanguageModel, tokens: number, reps: number) {
  const ids = model.tokenizer.encode(PROMPT);
  const layers = model.transformer.h;
  const plain = () => model.generate(ids, { maxNewTokens: tokens });
  let saved = 0;
  const traced = async () => {
    const hs = list();
    await model.generate(ids, { maxNewTokens: tokens }, () => {
      layers.all(() => {
        for (let i = 0; i < layers.length; i++) hs.append(layers[i].output[0]);
      });
    });
    saved = hs.value.length;
  };
  await plain();
  await traced();
  const a: number[] = [], b: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (
      const [fn, out] of r % 2
        ? [[traced, b], [plain, a]] as const
        : [[plain, a], [traced, b]] as const
    ) {
      const t0 = performance.now();
      await fn();
      out.push(performance.now() - t0);
    }
  }
  return {
    plain: median(a),
    traced: median(b),
    plainMin: Math.min(...a),
    tracedMin: Math.min(...b),
    saved,
  };
}

async function main(): Promise<void> {
  const args = Deno.args;
  const opt = (name: string, dflt: number) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  const tiny = args.includes("--tiny");
  const tokens = opt("--tokens", 20);
  const reps = opt("--reps", 5);
  const config = tiny ? TINY : SMALL;
  const t0 = performance.now();
  const model = await LanguageModel.random(config, { seed: 0, device: "cpu" });
  const shape = tiny ? "tiny" : "GPT-2 small";
  console.log(
    `model: ${shape} shape (${config.n_layer} layers, n_embd ${config.n_embd}), random weights built in ${
      (performance.now() - t0).toFixed(0)
    } ms, cpu tier ${cpuTier()}`,
  );
  const o = await overhead(model, tokens, reps);
  const ratio = o.traced / o.plain, best = o.tracedMin / o.plainMin;
  console.log(
    `generate ${tokens} tokens x ${reps} (interleaved): plain median ${
      o.plain.toFixed(1)
    } ms / best ${
      o.plainMin.toFixed(1)
    } ms; saving every block output on every step (${o.saved} tensors) median ${
      o.traced.toFixed(1)
    } ms / best ${o.tracedMin.toFixed(1)} ms`,
  );
  console.log(
    `trace overhead ratio: ${best.toFixed(3)}x best-of-${reps}, ${
      ratio.toFixed(3)
    }x median (target <= 1.05x)`,
  );
  recordGraph(model, 1000);
  const runs = Array.from({ length: 9 }, () => recordGraph(model, 1000));
  console.log(
    `record a ${runs[0].nodes}-node graph: median ${
      median(runs.map((r) => r.ms)).toFixed(2)
    } ms (target < 10 ms)`,
  );
}

if (import.meta.main) {
  await main();
} else {
  // Under `deno bench`: the same measurements on the tiny shape, as bench cases.
  const model = await LanguageModel.random(TINY, { seed: 0, device: "cpu" });
  const ids = model.tokenizer.encode(PROMPT);
  const layers = model.transformer.h;
  Deno.bench("trace: record a 1,000-node graph", () => void recordGraph(model, 1000));
  Deno.bench("generate 5 tokens (tiny)", { group: "trace overhead", baseline: true }, async () => {
    await model.generate(ids, { maxNewTokens: 5 });
  });
  Deno.bench(
    "generate 5 tokens saving every block output (tiny)",
    { group: "trace overhead" },
    async () => {
      const hs = list();
      await model.generate(ids, { maxNewTokens: 5 }, () => {
        layers.all(() => {
          for (let i = 0; i < layers.length; i++) hs.append(layers[i].output[0]);
        });
      });
    },
  );
}
