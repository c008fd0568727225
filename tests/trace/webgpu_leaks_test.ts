// Tracing GPT-2 on webgpu without any tidy from the user: after a trace, a generation and an
// error inside a trace, the live-buffer count is back at its start; saved values come back as
// cpu tensors read with one sync; a generation of N tokens syncs N + 1 times. Tiny fixture only.

import assert from "node:assert/strict";
import { type Tensor, tensor } from "../../engine/mod.ts";
import { initWebGPU, liveBuffers, webgpuStats } from "../../engine/webgpu/mod.ts";
import { list } from "../../trace/containers.ts";
import { InterventionError, MissingValueError } from "../../trace/errors.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose, assertExact } from "../_assert.ts";
import { ACT, FIXTURE, type Json, reference } from "../model/_tiny_gpt2.ts";

type P = InterventionProxy;
const PROMPT = "The Eiffel Tower is in the city of"; // 10 tokens
const ready = await initWebGPU();
const ignore = !ready;
const gpu = ready ? await LanguageModel.load(FIXTURE.pathname, { device: "webgpu" }) : null!;
const cpu = await LanguageModel.load(FIXTURE.pathname, { device: "cpu" });
const layers = () => gpu.transformer.h;
const syncs = () => webgpuStats()?.syncs ?? 0;

/** Runs `fn` and checks it left the live-buffer count where it found it; returns the syncs used. */
async function noLeak(what: string, fn: () => Promise<unknown>): Promise<number> {
  const before = liveBuffers(), s0 = syncs();
  await fn();
  assert.equal(liveBuffers(), before, `live buffers after ${what}`);
  return syncs() - s0;
}

Deno.test({
  name: "webgpu trace: saved and returned values come back on the cpu with one sync, nothing left",
  ignore,
  fn: async () => {
    assert.equal(gpu.device, "webgpu");
    let h0!: P, att!: P;
    let r!: { logits: Tensor; last: [Tensor, [Tensor, Tensor] | null] };
    const used = await noLeak("a trace", async () => {
      r = await gpu.trace(PROMPT, () => {
        h0 = layers()[0].output[0].save();
        att = layers()[1].attn.attn_dropout.output.save();
        return { logits: gpu.lm_head.output, last: layers()[-1].output };
      });
    });
    assert.equal(used, 1, "one sync for two saved values and the returned structure");
    for (const t of [h0.value, att.value, r.logits, r.last[0]]) assert.equal(t.device, "cpu");
    // The saved/returned values hold no device memory: baseline + 0 is "baseline + exactly them".
    const ref: Json = (await reference()).cases.eiffel.activations;
    await assertClose(h0.value.get("0"), ref["transformer.h.0"], ACT);
    await assertClose(att.value.get("0"), ref["transformer.h.1.attn.attn_probs"], ACT);
    await assertClose(r.logits, await cpu.trace(PROMPT), { atol: 2e-4, rtol: 1e-4 });
    const raw = await noLeak("a trace with no callback", () => gpu.trace(PROMPT));
    assert.equal(raw, 1, "the logits of a plain trace are one read");
  },
});

Deno.test({
  name: "webgpu generate: N tokens take N + 1 syncs with or without interventions, nothing left",
  ignore,
  fn: async () => {
    const N = 5;
    const want = await cpu.generate(PROMPT, { maxNewTokens: N });
    let ids!: Tensor;
    assert.equal(
      await noLeak("a plain generate", async () => {
        ids = await gpu.generate(PROMPT, { maxNewTokens: N });
      }),
      N + 1,
    );
    assert.equal(ids.device, "cpu");
    await assertExact(ids, want);
    const hs = list<Tensor>(), toks = list<Tensor>();
    let h1!: P, out!: P;
    const used = await noLeak("a traced generate", async () => {
      await gpu.generate(PROMPT, { maxNewTokens: N }, () => {
        layers().all(() => {
          layers()[0].output[0].set(":", 0);
          hs.append(layers()[-1].output[0]);
        });
        gpu.generator.streamer.all(() => toks.append(gpu.generator.streamer.output));
        h1 = layers()[1].attn.next(2).output.save(); // [attn_output, attn_weights]
        out = gpu.generator.output.save();
      });
    });
    assert.equal(used, N + 1, "one read per token; the saved values ride on the last one");
    const ref: Json = (await reference()).cases.eiffel.interventions;
    await assertExact(
      await out.value.get(`0, -${N}:`).data(),
      ref.zero_block0_output_every_step.generate_greedy.new_tokens,
    );
    assert.equal(hs.value.length, N);
    assert.deepEqual(hs.value.map((h) => h.device), Array(N).fill("cpu"));
    assert.deepEqual(toks.value[0].shape, [1, 10]); // the streamer's first call is the prompt
    assert.deepEqual(
      toks.value.slice(1).map((t) => t.dataSync()[0]),
      [...out.value.dataSync()].slice(-N),
    );
    assert.deepEqual(h1.value[1].shape, [1, 4, 1, 12]); // step 2 attends 10 + 2 positions
    assert.equal(h1.value[1].device, "cpu");
  },
});

Deno.test({
  name: "webgpu generate: padded batches and sampling leave nothing behind",
  ignore,
  fn: async () => {
    const N = 4;
    const rows = [PROMPT, "Hello, my dog is cute"];
    const want = await cpu.generate(rows, { maxNewTokens: N });
    let got!: Tensor;
    assert.equal(
      await noLeak("a padded generate", async () => {
        got = await gpu.generate(rows, { maxNewTokens: N });
      }),
      N + 1,
    );
    await assertExact(got, want);
    const opts = { maxNewTokens: N, doSample: true, topK: 5, seed: 3 };
    await noLeak("a sampled generate", async () => {
      const ids = await gpu.generate(PROMPT, opts, (t) => t.result);
      assert.deepEqual(ids.shape, [1, 10 + N]);
    });
  },
});

Deno.test({
  name: "webgpu errors inside a trace free everything and leave the model usable",
  ignore,
  fn: async () => {
    const h = layers();
    const fails: [string, () => Promise<unknown>, RegExp | ((e: Error) => boolean)][] = [
      ["a user exception in apply", () =>
        gpu.trace(PROMPT, (t) => {
          t.apply(() => {
            throw new Error("user bug");
          }, h[1].output[0]);
        }), /failed at transformer\.h\.1\.output\.i0: user bug/],
      [
        "an unknown module",
        () => gpu.trace(PROMPT, () => (gpu.transformer as unknown as Record<string, P>).hh),
        /Unknown module "transformer\.hh"/,
      ],
      [
        "a shape mismatch mid-forward",
        () => gpu.trace(PROMPT, () => void h[0].output[0].add(tensor([1, 2, 3])).save()),
        (e) => e instanceof InterventionError && /\[1, 10, 32\] and \[3\]/.test(e.message),
      ],
      ["a replacement of the wrong shape", () =>
        gpu.trace(PROMPT, () => {
          h[1].output = [h[1].output[0].get(":, 1:")];
        }), /replacement has shape \[1, 9, 32\]/],
      [
        "an exception at generation step 2",
        () =>
          gpu.generate(PROMPT, { maxNewTokens: 4 }, (t) => {
            h.iter(2, () =>
              void t.apply(() => {
                throw new Error("step 2");
              }, h[0].output[0]));
          }),
        /step 2/,
      ],
      [
        "a step that never ran",
        () => gpu.generate(PROMPT, { maxNewTokens: 2 }, () => void h[0].next(3).output.save()),
        (e) => e instanceof MissingValueError,
      ],
    ];
    for (const [what, run, match] of fails) {
      await noLeak(what, () => assert.rejects(run(), match as RegExp));
    }
    let h0!: P;
    await noLeak("a stopped trace", () =>
      gpu.trace(PROMPT, (t) => {
        h0 = h[0].output[0].save();
        t.stop();
      }));
    assert.deepEqual(h0.value.shape, [1, 10, 32]);
    for (const [p, m] of gpu.module.namedModules()) assert.equal(m.hook, null, `hook on ${p}`);
    assert.deepEqual((await gpu.trace(PROMPT)).shape, [1, 10, 50257]);
  },
});

Deno.test({
  name:
    "webgpu: tracer.log prints a snapshot after the run; conditions on device values are refused",
  ignore,
  fn: async () => {
    const ref: Json = (await reference()).cases.eiffel.activations;
    const lines: unknown[][] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => void lines.push(a);
    let after!: P;
    try {
      await noLeak("a trace with logs", () =>
        gpu.trace(PROMPT, (t) => {
          const x = layers()[0].output[0];
          t.log("plain", 1);
          t.log("h0", x.get("0, 0, 0:3"));
          x.set(":", 0);
          after = x.get("0, 0, 0:3").save();
        }));
    } finally {
      console.log = log;
    }
    assert.deepEqual(lines[0], ["plain", 1]);
    assert.equal(lines[1][0], "h0");
    const printed = String(lines[1][1]).match(/\[([-\d., e]+)\]$/)![1].split(",").map(Number);
    await assertClose(printed, ref["transformer.h.0"][0].slice(0, 3), {
      atol: 1e-3,
      rtol: 1e-3,
    });
    await assertExact(after.value, [0, 0, 0]);
    await noLeak("a refused condition", () =>
      assert.rejects(
        gpu.trace(PROMPT, (t) => {
          t.cond(layers()[0].output[0].sum().gt(0), () => layers()[1].output[0].set(":", 0));
        }),
        /is a webgpu tensor: conditions are read during the forward pass/,
      ));
  },
});

Deno.test({
  name:
    "webgpu: token ids on the device are accepted; a device tensor in a cpu trace is a clear error",
  ignore,
  fn: async () => {
    const ids = tensor([gpu.tokenizer.encode(PROMPT)], undefined, {
      dtype: "int32",
      device: "webgpu",
    });
    await noLeak("a trace of device ids", async () => {
      await assertClose(await gpu.trace(ids), await gpu.trace(PROMPT), { atol: 0, rtol: 0 });
    });
    const v = tensor(new Float32Array(32), [32], { device: "webgpu" });
    await assert.rejects(
      cpu.trace(PROMPT, () => void cpu.transformer.h[0].output[0].add(v).save()),
      /A webgpu tensor \[32\] was passed to a trace of a model on the cpu: move it first with await t\.toDevice\("cpu"\)/,
    );
    ids.dispose();
    v.dispose();
  },
});

Deno.test({
  name: 'webgpu: device "auto" picks the cpu on a software adapter, webgpu on hardware',
  ignore,
  fn: async () => {
    const adapter = await navigator.gpu.requestAdapter();
    const info = (adapter as unknown as { info?: { isFallbackAdapter?: boolean } }).info;
    const fallback = info?.isFallbackAdapter ?? false;
    const auto = await LanguageModel.load(FIXTURE.pathname, { device: "auto" });
    assert.equal(auto.device, fallback ? "cpu" : "webgpu");
    const random = await LanguageModel.random({ n_layer: 1, n_embd: 8, n_head: 2 }, {
      device: "auto",
    });
    assert.equal(random.device, auto.device);
  },
});
