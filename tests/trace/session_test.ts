// model.session(): traces run in order, values of earlier traces used (read, edited) in later
// ones without .save(), session.iter/cond, and the failure paths; checked against nnsight 0.4.11.

import assert from "node:assert/strict";
import { list } from "../../trace/containers.ts";
import { LOGIT } from "../model/_tiny_gpt2.ts";
import { assertClose } from "../_assert.ts";
import { deviceTest, skipReason } from "../_devices.ts";
import { liveBuffers } from "../../engine/webgpu/mod.ts";
import { flat, type InterventionProxy as P, nnsightCases, PROMPT, tiny } from "./_tiny.ts";

deviceTest(
  "session: an input from trace 1 set in trace 2 (nnsight's test_input_setting)",
  async (device) => {
    const model = await tiny(device);
    const want = (await nnsightCases()).input_setting;
    const h = model.transformer.h;
    let t1!: P, t2!: P;
    const done = await model.session(() => {
      let hs!: P;
      const first = model.trace(PROMPT, () => {
        hs = h[1].inputs;
        t1 = model.lm_head.output.argmax(-1).save();
      });
      model.trace(PROMPT, () => {
        h[1].input = hs[0];
        t2 = model.lm_head.output.argmax(-1).save();
      });
      return first;
    });
    assert.equal(done, undefined); // a trace's own promise resolves after the session ran it
    assert.deepEqual(await flat(t1.value), want.tokens_1);
    assert.deepEqual(await flat(t2.value), want.tokens_2);
  },
);

deviceTest(
  "session: a value of trace 1 is edited in trace 2 and replaces a layer there",
  async (device) => {
    const model = await tiny(device);
    const want = (await nnsightCases()).session_patch;
    const h = model.transformer.h;
    const logits = await model.session((session) => {
      const h0 = session.trace(PROMPT, () => h[0].output[0]);
      return session.trace(PROMPT, () => {
        h0.set(":, 0", 0);
        h[2].output.set(0, h0);
        return model.lm_head.output;
      });
    });
    await assertClose(logits.get("0, -1, :8"), want.first8, { ...LOGIT, msg: "patched logits" });
    assert.equal((await flat(logits.get("0, -1").argmax(-1)))[0], want.argmax);
  },
);

deviceTest(
  "session: iter over an array and over a run-time value; cond gates traces",
  async (device) => {
    const model = await tiny(device);
    const h = model.transformer.h;
    const got = await model.session((session) => {
      const sums: P[] = [];
      session.iter([0, 1, 2], (i) => {
        sums.push(session.trace(PROMPT, () => h[i].output[0].sum()));
      });
      const layers = session.trace(PROMPT, (t) => t.apply(() => [2, 0]));
      const again: P[] = [];
      session.iter(layers, (i: number) => {
        again.push(session.trace(PROMPT, () => h[i].output[0].sum().save()));
      });
      const yes = session.trace(PROMPT, () => h[0].output[0].sum().gt(-1e9));
      const no = session.trace(PROMPT, () => h[0].output[0].sum().lt(-1e9));
      let ran!: P, skipped!: P;
      session.cond(yes, () => {
        ran = session.trace(PROMPT, () => model.lm_head.output.sum());
      });
      session.cond(no, () => {
        skipped = session.trace(PROMPT, () => model.lm_head.output.sum());
      });
      session.cond(false, () => {
        throw new Error("a false plain condition records nothing");
      });
      return { sums, again, ran, skipped: () => skipped.value };
    });
    const v = await Promise.all(got.sums.map(flat));
    const w = await Promise.all(got.again.map(flat));
    assert.deepEqual(w, [v[2], v[0]]);
    assert.equal(got.ran.size, 1);
    assert.throws(got.skipped, /the trace failed \(its session.cond\(\) condition was false\)/);
  },
);

Deno.test("session: failures are clear and leave later traces unrun", async () => {
  const model = await tiny("cpu");
  const h = model.transformer.h;
  let later!: Promise<unknown>;
  await assert.rejects(
    model.session(() => {
      model.trace(PROMPT, () => h[0].output[0].get("0, 0, 99").save());
      later = model.trace(PROMPT, () => h[0].output.save());
    }),
  );
  await assert.rejects(later, /99/);
  await assert.rejects(
    model.session(async () => {}),
    /returned a promise: it must be synchronous/,
  );
  await assert.rejects(
    model.session(() => {
      model.session(() => {});
    }),
    /cannot be nested/,
  );
  let escaped!: P;
  await model.trace(PROMPT, () => {
    escaped = h[0].output[0];
  });
  await assert.rejects(
    model.trace(PROMPT, () => h[1].output.set(0, escaped)),
    /A proxy from another trace was used here/,
  );
  let s!: { iter: (c: number[], f: () => void) => void };
  await model.session((session) => {
    s = session;
  });
  assert.throws(() => s.iter([1], () => {}), /outside the session callback/);
});

Deno.test("session: a run-time iter body can only use earlier values that were saved", async () => {
  const model = await tiny("cpu");
  const h = model.transformer.h;
  await assert.rejects(
    model.session((session) => {
      let kept!: P; // not returned, not saved: gone once its trace ran
      session.trace(PROMPT, () => {
        kept = h[0].output[0];
      });
      const n = session.trace(PROMPT, (t) => t.apply(() => [0]));
      session.iter(n, () => {
        session.trace(PROMPT, () => h[1].output.set(0, kept));
      });
    }),
    /from a trace that already ran without keeping it: call \.save\(\)/,
  );
  const out = await model.session((session) => {
    const kept = session.trace(PROMPT, () => h[0].output[0].save());
    const n = session.trace(PROMPT, (t) => t.apply(() => [0]));
    const got: P[] = [];
    session.iter(n, () => {
      got.push(session.trace(PROMPT, () => kept.mul(2).save()));
    });
    return { kept, got };
  });
  await assertClose(out.got[0], out.kept.mul(2));
});

Deno.test({
  name: "session, edits and cache on webgpu leave no device buffer behind",
  ignore: skipReason("webgpu") !== null,
  fn: async () => {
    const model = await tiny("webgpu");
    const h = model.transformer.h;
    const edited = model.edit(() => h[1].output[0].set(":, 0", 0));
    await edited.trace(PROMPT); // warm the pipelines and pools
    const before = liveBuffers();
    const out = await edited.session((session) => {
      const h0 = session.trace(PROMPT, () => h[0].output[0]);
      return session.trace(PROMPT, (t) => {
        h[2].output.set(0, h0.mul(2));
        return { cache: t.cache({ modules: ["transformer.h.2"] }), logits: model.lm_head.output };
      });
    });
    assert.equal(liveBuffers(), before, "live buffers after the session");
    assert.equal(out.logits.device, "cpu");
    const cached = out.cache.get("transformer.h.2");
    assert.ok(cached && !Array.isArray(cached) && cached.output[0].device === "cpu");
  },
});

Deno.test("session: a generate and a trace share values; edits of the model apply to both", async () => {
  const model = await tiny("cpu");
  const h = model.transformer.h;
  const edited = model.edit(() => h[1].output[0].set(":, 0", 0));
  const out = await edited.session(() => {
    let last!: P;
    const ids = edited.generate(PROMPT, { maxNewTokens: 2 }, () => {
      last = h[0].next().output[0]; // step 1's hidden state [1, 1, 32]
      return edited.generator.output;
    });
    const patched = edited.trace(PROMPT, () => {
      h[0].output[0].set(":, -1:", last);
      return h[1].output[0].get(":, 0").abs().sum();
    });
    return { ids, patched, last };
  });
  assert.deepEqual(out.ids.shape, [1, 12]);
  assert.deepEqual(out.last.shape, [1, 1, 32]);
  assert.equal((await flat(out.patched))[0], 0); // the edit ran in the session's trace
});

Deno.test("session: a plain loop of traces fills one list (nnsight 0.7's session pattern)", async () => {
  const model = await tiny("cpu");
  const prompts = [PROMPT, "Hello", "World"];
  const top = (logits: P) => logits.get("0, -1").argmax(-1);
  const got = await model.session(() => {
    const results = list().save();
    for (const p of prompts) model.trace(p, () => results.append(top(model.lm_head.output)));
    return results;
  });
  const alone = await Promise.all(
    prompts.map((p) => model.trace(p, () => top(model.lm_head.output))),
  );
  assert.deepEqual(await Promise.all(got.map(flat)), await Promise.all(alone.map(flat)));
});
