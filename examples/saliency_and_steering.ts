// Gradients in traces on any family: the saliency of each input token for the top next-token logit
// (gradient x input at the token embeddings, read with `.grad`), then a steering vector added to a
// middle layer's output and trained with Adam so the model predicts a chosen token; the loss falls.
// Run: deno run -A examples/saliency_and_steering.ts

import {
  Adam,
  type Envoy,
  type InterventionProxy,
  type LanguageModel,
  type Tensor,
  zeros,
} from "../mod.ts";
import { exampleModel } from "./_model.ts";

/** The envoy at a dotted path (`model.paths.embed`), so this runs on every family. */
function envoyAt(model: LanguageModel, path: string): Envoy {
  return path.split(".").reduce(
    (e: Envoy, part) => (/^\d+$/.test(part) ? e.at(Number(part)) : e.child(part)),
    model.envoy,
  );
}

/**
 * Per input token, sum over channels of embedding x d(top logit)/d(embedding): the first-order
 * change of the top next-token logit when that token's embedding is scaled towards zero.
 * Returns the signed scores (T,) and the top id.
 */
export async function saliency(
  model: LanguageModel,
  prompt: string | number[],
): Promise<{ scores: number[]; top: number }> {
  let emb!: InterventionProxy, grad!: InterventionProxy, top!: InterventionProxy;
  await model.trace(prompt, () => {
    const e = envoyAt(model, model.paths.embed).output; // (1, T, C)
    emb = e.save();
    grad = e.grad.save();
    const last = envoyAt(model, model.paths.lmHead).output.get("0, -1"); // (V,)
    top = last.argmax().save();
    last.max().backward(); // the top logit
  });
  const [e, g] = [emb.value as Tensor, grad.value as Tensor];
  const scores = Array.from(await e.mul(g).sum(-1).get("0").data()); // (T,)
  return { scores, top: await (top.value as Tensor).item() };
}

/** Options of {@link trainSteering}. */
export interface SteeringOptions {
  /** The token the steered model should predict next. */
  target: number;
  /** Decoder layer whose output gets the vector; default the middle one. */
  layer?: number;
  /** Adam steps; default 20. */
  steps?: number;
  /** Adam learning rate; default 0.1. */
  lr?: number;
}

/**
 * Trains a vector (C,) added to every position of a layer's output so that `target` becomes the
 * next token after `prompt`: each step is one trace whose loss, -log p(target), runs backward;
 * Adam updates the vector. Returns the loss before each step and the trained vector.
 */
export async function trainSteering(
  model: LanguageModel,
  prompt: string | number[],
  opts: SteeringOptions,
): Promise<{ losses: number[]; vector: Tensor }> {
  const { layers, lmHead, layerReturnsTuple } = model.paths;
  const n = model.module.getModule(layers)!.children().length;
  const at = envoyAt(model, `${layers}.${opts.layer ?? Math.floor(n / 2)}`);
  const C = Number(model.config.n_embd ?? model.config.hidden_size);
  const vector = zeros([C], { device: model.device }).requiresGrad();
  const opt = new Adam([vector], { lr: opts.lr ?? 0.1 });
  const losses: number[] = [];
  for (let step = 0; step < (opts.steps ?? 20); step++) {
    opt.zeroGrad();
    let loss!: InterventionProxy;
    await model.trace(prompt, () => {
      const h = layerReturnsTuple ? at.output[0] : at.output; // (1, T, C)
      h.set(":", h.add(vector));
      const logp = envoyAt(model, lmHead).output.get("0, -1").logSoftmax(); // (V,)
      loss = logp.get(opts.target).neg().save();
      loss.backward(); // vector.grad: d loss / d vector
    });
    losses.push(await (loss.value as Tensor).item());
    opt.step();
  }
  return { losses, vector };
}

if (import.meta.main) {
  const model = await exampleModel();
  const tok = model.tokenizer;
  const prompt = "The Eiffel Tower is in the city of";
  const s = await saliency(model, prompt);
  console.log(`Saliency for the next token ${JSON.stringify(tok.decode([s.top]))}:`);
  tok.encode(prompt).forEach((id, t) =>
    console.log(`  ${JSON.stringify(tok.decode([id])).padEnd(12)} ${s.scores[t].toFixed(4)}`)
  );
  const target = tok.encode(" Rome")[0];
  console.log(`\nA steering vector that makes the next token " Rome", Adam:`);
  const { losses } = await trainSteering(model, prompt, { target });
  losses.forEach((l, i) => i % 5 === 0 && console.log(`  step ${i}: loss ${l.toFixed(4)}`));
  console.log(`  step ${losses.length - 1}: loss ${losses.at(-1)!.toFixed(4)}`);
}
