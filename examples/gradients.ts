// Gradients on GPT-2 through module hooks (no trace): the saliency of each input token for the
// top next-token logit (gradient x input at the embeddings), then a linear probe on a middle
// layer's last hidden state trained with Adam, printing the loss as it falls.
// Run: deno run -A examples/gradients.ts

import { Adam, noGrad, type Tensor, tensor } from "../mod.ts";
import { exampleModel } from "./_model.ts";

const lm = await exampleModel();
const model = lm.module;
const ids = (text: string) => tensor([lm.tokenizer.encode(text)], undefined, { dtype: "int32" });

// 1. saliency: the embeddings (wte + wpe, the output of `drop`) become a leaf, the top logit
// is back-propagated, and |sum over channels of embedding * gradient| scores each token.
const prompt = "The Eiffel Tower is in the city of";
const drop = model.getModule("transformer.drop")!;
let emb!: Tensor; // (1, T, C)
drop.hook = { output: (_m, out) => (emb = (out as Tensor).detach().requiresGrad()) };
let logits: Tensor; // (1, T, V)
try {
  logits = model.call(ids(prompt)) as Tensor;
} finally {
  drop.hook = null;
}
const top = await logits.get("0, -1").argmax().item();
logits.get(`0, -1, ${top}`).backward();
const saliency = await emb.mul(emb.grad!).sum(-1).abs().get("0").data(); // (T,)
console.log(`Saliency for the next token ${JSON.stringify(lm.tokenizer.decode([top]))}:`);
lm.tokenizer.encode(prompt).forEach((id, t) =>
  console.log(`  ${JSON.stringify(lm.tokenizer.decode([id])).padEnd(12)} ${saliency[t].toFixed(4)}`)
);

// 2. a linear probe: does the middle layer's last hidden state tell animals from tools?
const layer = model.getModule(`transformer.h.${Math.floor(lm.config.n_layer / 2)}`)!;
const texts: [string, number][] = [
  ["I saw a dog", 1],
  ["She fed the cat", 1],
  ["A horse ran", 1],
  ["The bird sang", 1],
  ["He used a hammer", -1],
  ["Pass me the wrench", -1],
  ["A saw cuts wood", -1],
  ["She held the drill", -1],
];
const features = noGrad(() =>
  texts.map(([text]) => {
    let h!: Tensor;
    layer.hook = { output: (_m, out) => void (h = (out as [Tensor])[0]) };
    try {
      model.call(ids(text));
    } finally {
      layer.hook = null;
    }
    return h.get("0, -1"); // (C,)
  })
);
const C = lm.config.n_embd;
const x = tensor(new Float32Array(texts.length * C), [texts.length, C]);
features.forEach((f, i) => x.set(`${i}`, f));
const sign = tensor(texts.map(([, s]) => [s])); // (N, 1), +1 animal, -1 tool
const mu = x.mean(0, true), sd = x.sub(mu).mul(x.sub(mu)).mean(0, true).add(1e-5).sqrt();
const xs = x.sub(mu).div(sd); // standardised features (N, C)
const w = tensor(new Float32Array(C), [C, 1]).requiresGrad();
const b = tensor([0]).requiresGrad();
const opt = new Adam([w, b], { lr: 0.01 });
console.log(`\nA linear probe on ${layer.path}, ${texts.length} examples, Adam:`);
for (let step = 0; step <= 30; step++) {
  opt.zeroGrad();
  const z = xs.matmul(w).add(b).mul(sign); // (N, 1): margin
  const loss = z.neg().exp().add(1).log().mean(); // logistic loss, log(1 + e^-margin)
  loss.backward();
  opt.step();
  if (step % 10 === 0) console.log(`  step ${step}: loss ${(await loss.item()).toFixed(4)}`);
}
