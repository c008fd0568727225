// How a LanguageModel runs a trace's batch: every invoke's token-id rows left-padded into one
// batch, then one forward pass (trace) or the decoding loop (generate), as a RunPlan.

import { type Device, tensor, tidy } from "../engine/mod.ts";
import { prepareBatch } from "../model/batch.ts";
import type { CausalLM } from "../model/causal_lm.ts";
import { generateHeld, type GenerateOptions } from "../model/generate.ts";
import {
  checkGenerateOptions,
  checkPromptLength,
  checkTokenRows,
  DEFAULT_MAX_NEW_TOKENS,
} from "../model/validate.ts";
import { checkTraceOptions } from "./_request.ts";
import type { RunMode } from "./nnsight.ts";
import type { InvokeRows, RunPlan } from "./run_plan.ts";

/**
 * The plan for `perInvoke` (each invoke's token-id rows, unchecked) on `model`: the rows are
 * checked against the vocabulary and positions, left-padded with `pad` into one batch on
 * `device`, and run once (trace, with its logitsToKeep) or through generate's loop, with the
 * prompt streamed first.
 *
 * @example
 * ```ts
 * import { randomModel } from "../model/load.ts";
 * import { lmPlan } from "./_lm_plan.ts";
 * const { model } = await randomModel({ n_layer: 1, n_embd: 8, n_head: 2 });
 * const plan = lmPlan([[[1, 2, 3]]], { kind: "trace" }, model, 0, "cpu");
 * plan.batchSize; // 1
 * ```
 */
export function lmPlan(
  perInvoke: number[][][],
  mode: RunMode,
  model: CausalLM,
  pad: number,
  device: Device,
): RunPlan {
  const { vocabSize: vocab, maxPositions } = model.shape;
  const per = perInvoke.map((r, i) =>
    checkTokenRows(r, vocab, perInvoke.length > 1 ? `Invoke ${i}` : "")
  );
  const invokes: InvokeRows[] = [];
  const rows: number[][] = [];
  for (const r of per) {
    invokes.push({ start: rows.length, size: r.length });
    rows.push(...r);
  }
  const width = Math.max(...rows.map((r) => r.length));
  if (mode.kind === "generate") {
    const options = checkGenerateOptions(mode.options as GenerateOptions | undefined, vocab);
    const maxNew = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
    checkPromptLength(width, maxNew, maxPositions);
    let steps = 0;
    return {
      invokes,
      batchSize: rows.length,
      device,
      body: async () => {
        streamPrompt(model, rows, pad, device);
        const ids = await generateHeld(model, rows, { padTokenId: pad, ...options });
        steps = ids.shape[1] - width;
        return ids;
      },
      summary: () => `generation ran ${steps} step${steps === 1 ? "" : "s"}`,
    };
  }
  checkPromptLength(width, 0, maxPositions);
  const { logitsToKeep } = checkTraceOptions(mode.options);
  return {
    invokes,
    batchSize: rows.length,
    device,
    // In a tidy: the batch and the forward's intermediates are freed (webgpu); the logits
    // and the values the trace keeps are not.
    body: () =>
      Promise.resolve(tidy(() => {
        const b = prepareBatch(rows, pad, { device, vocabSize: vocab });
        const padded = b.lengths.some((n) => n !== b.width);
        const opts = padded ? { attentionMask: b.attentionMask, positionIds: b.positionIds } : {};
        return model.call(b.inputIds, { ...opts, logitsToKeep });
      })),
    summary: () => "the forward pass ran once (use generate() for more steps)",
  };
}

/**
 * Calls `generator.streamer` with the left-padded prompt ids [B, T] before the first step, as
 * transformers' generate() calls a streamer (so a traced streamer's step 0 is the prompt, then
 * one step per token). The prompt is not fed back: replacing it is an error.
 */
function streamPrompt(model: CausalLM, rows: number[][], pad: number, device: Device): void {
  const T = Math.max(...rows.map((r) => r.length));
  const flat = new Int32Array(rows.length * T).fill(pad);
  rows.forEach((r, b) => flat.set(r, b * T + T - r.length));
  tidy(() => {
    const ids = tensor(flat, [rows.length, T], { device, dtype: "int32" }); // (B, T)
    const version = ids.storage.version;
    const out = model.generator.streamer.call(ids);
    if (out !== ids || ids.storage.version !== version) {
      throw new TypeError(
        'generator.streamer\'s first call (step 0) is the prompt, which generate() does not feed back: edit a token step instead (streamer.next() or iter("1:"))',
      );
    }
  });
}
