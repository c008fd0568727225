// Logit lens: decode every layer's hidden state with the final LayerNorm and the LM head, run
// inside the trace with `envoy.call()`; print each layer's best guess for the next token and
// draw every layer's guess at every position as an SVG heatmap (logit_lens.svg).
// Run: deno run -A examples/logit_lens.ts [--model DIR_OR_ID] [--out logit_lens.svg]

import { logitLensSvg } from "../mod.ts";
import { exampleModel } from "./_model.ts";

const model = await exampleModel();
const layers = model.transformer.h;
const prompt = "The Eiffel Tower is in the city of";
const outIndex = Deno.args.indexOf("--out");
const out = outIndex >= 0 ? Deno.args[outIndex + 1] : "logit_lens.svg";

const guesses = await model.trace(prompt, () =>
  Array.from({ length: layers.length }, (_, i) => {
    const h = layers[i].output[0]; // (1, T, C)
    const probs = model.lm_head.call(model.transformer.ln_f.call(h)).softmax(-1); // (1, T, V)
    return probs.get("0").topk(1); // values, indices: (T, 1)
  }));
const ids = model.tokenizer.encode(prompt);
const cells = [];
for (let i = 0; i < guesses.length; i++) {
  const [p, top] = [await guesses[i].values.data(), await guesses[i].indices.data()];
  const row = [...top].map((id, t) => ({ token: model.tokenizer.decode([id]), prob: p[t] }));
  cells.push(row);
  const last = row[row.length - 1];
  console.log(
    `layer ${String(i).padStart(2)}: ${JSON.stringify(last.token).padEnd(14)} p = ${
      last.prob.toFixed(3)
    }`,
  );
}
const tokens = ids.map((id) => model.tokenizer.decode([id]));
await Deno.writeTextFile(out, logitLensSvg({ tokens, cells, title: "Logit lens" }));
console.log(`\nWrote the heatmap (layers x positions, top-1 token and probability) to ${out}`);
