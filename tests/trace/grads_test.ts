// `.grad` and `backward()` in traces against transformers (tests/fixtures/<family>/grads.json,
// float64) on both cpu tiers: layer-output gradients, a gradient edit (in place and by
// assignment), attribution patching with two invokes, several backward passes, and the errors.

import assert from "node:assert/strict";
import { randn, setCpuTier, type Tensor, zeros } from "../../engine/mod.ts";
import type { Envoy } from "../../trace/envoy.ts";
import { GraphValidationError, InterventionError, MissingValueError } from "../../trace/errors.ts";
import { LanguageModel } from "../../trace/language_model.ts";
import type { InterventionProxy } from "../../trace/proxy.ts";
import { assertClose, type Tolerance } from "../_assert.ts";

// deno-lint-ignore no-explicit-any
type Json = any;
type P = InterventionProxy;
/** The fixture README's tolerance for a float32 implementation. */
const GRAD: Tolerance = { atol: 1e-4, rtol: 1e-3 };

/**
 * A fixture folder, its layers' paths, whether a layer returns a tuple, and how to load it.
 * tiny-llama's grads.json was written by a float64 model loaded as such, whose rotary inv_freq
 * is not rounded, while its reference.json (and a default load here) rounds inv_freq to the
 * stored bfloat16 as transformers does for a model loaded in bfloat16; `dtype: "float32"` loads
 * it the way grads.json was made (metric 0.629860, against 0.626724 with rounded frequencies).
 */
const FAMILIES = [
  { name: "tiny-gpt2", layers: "transformer.h", tuple: true, load: {} },
  { name: "tiny-llama", layers: "model.layers", tuple: false, load: { dtype: "float32" } as const },
];

function envoyAt(model: LanguageModel, path: string): Envoy {
  return path.split(".").reduce(
    (e: Envoy, part) => (/^\d+$/.test(part) ? e.at(Number(part)) : e.child(part)),
    model.envoy,
  );
}

function close(got: number, want: number, msg: string, tol: Tolerance = GRAD): void {
  const ok = Math.abs(got - want) <= tol.atol! + tol.rtol! * Math.abs(want);
  assert.ok(ok, `${msg}: ${got} != ${want}`);
}

/** Registers `fn` as a test on both cpu tiers (the tier is restored after). */
function tierTest(name: string, fn: () => Promise<void>): void {
  for (const tier of ["reference", "fast"] as const) {
    Deno.test(`cpu/${tier}: ${name}`, async () => {
      const prev = setCpuTier(tier);
      try {
        await fn();
      } finally {
        setCpuTier(prev);
      }
    });
  }
}

for (const fam of FAMILIES) {
  const dir = new URL(`../fixtures/${fam.name}/`, import.meta.url);
  const grads: Json = JSON.parse(await Deno.readTextFile(new URL("grads.json", dir)));
  const model = await LanguageModel.load(dir.pathname, fam.load);
  const paths = Object.keys(grads.grads);
  /** Element 0 of layer i's output (the layer's output itself when it is a Tensor). */
  const hidden = (i: number): P => {
    const out = envoyAt(model, `${fam.layers}.${i}`).output;
    return fam.tuple ? out[0] : out;
  };
  /** The fixture's metric, logits[0, -1, a] - logits[0, -1, b], recorded. */
  const metric = (): P => {
    const logits = model.envoy.child("lm_head").output;
    const { a, b } = grads.metric;
    return logits.get(`0, -1, ${a}`).sub(logits.get(`0, -1, ${b}`));
  };

  tierTest(
    `${fam.name}: layer.output .grad after metric.backward() matches transformers`,
    async () => {
      let m: P | undefined;
      const gs: P[] = [];
      await model.trace(grads.prompt_ids, () => {
        for (let i = 0; i < paths.length; i++) gs.push(hidden(i).grad.save());
        m = metric().save();
        m.backward();
      });
      close((m!.value as Tensor).dataSync()[0], grads.metric.value, "metric");
      for (const [i, path] of paths.entries()) {
        await assertClose((gs[i].value as Tensor).get("0"), grads.grads[path], {
          ...GRAD,
          msg: path,
        });
      }
      // The run left the model as it was: no parameter needs a gradient or holds one.
      for (const p of model.module.parameters()) {
        assert.equal(p.needsGrad, false);
        assert.equal(p.grad, null);
      }
    },
  );

  for (const how of ["set", "assign"] as const) {
    tierTest(
      `${fam.name}: zeroing layer 1's gradient (${how}) stops it reaching earlier layers`,
      async () => {
        const edit = grads.grad_edit_zero_layer1;
        const sums: P[] = [];
        await model.trace(grads.prompt_ids, () => {
          for (let i = 0; i < paths.length; i++) {
            const g = hidden(i).grad;
            if (paths[i] === edit.edited) {
              if (how === "set") g.set(":", 0);
              else hidden(i).grad = 0;
            }
            sums.push(hidden(i).grad.abs().sum().save());
          }
          metric().backward();
        });
        for (const [i, path] of paths.entries()) {
          close((sums[i].value as Tensor).dataSync()[0], edit.grads_abs_sum[path], path);
        }
      },
    );
  }

  tierTest(
    `${fam.name}: attribution patching with two invokes (clean, corrupted) matches transformers`,
    async () => {
      const ap = grads.attribution_patching;
      const clean: P[] = [], corrupt: P[] = [], gs: P[] = [];
      let m: P | undefined;
      await model.trace((t) => {
        t.invoke(ap.clean_ids, () => {
          for (let i = 0; i < paths.length; i++) clean.push(hidden(i).save());
        });
        t.invoke(ap.corrupted_ids, () => {
          for (let i = 0; i < paths.length; i++) {
            corrupt.push(hidden(i).save());
            gs.push(hidden(i).grad.save());
          }
          m = metric().save();
          m.backward();
        });
      });
      close(
        (m!.value as Tensor).dataSync()[0],
        ap.metric_on_corrupted,
        "corrupted metric",
      );
      for (const [i, path] of paths.entries()) {
        const [c, k, g] = [clean[i], corrupt[i], gs[i]].map((p) => p.value as Tensor);
        assert.deepEqual(g.shape, [1, ap.corrupted_ids.length, g.shape[2]]);
        const attr = c.sub(k).mul(g).sum(-1).get("0"); // (T,)
        await assertClose(attr, ap.per_layer_per_position[i], { ...GRAD, msg: path });
      }
    },
  );

  tierTest(
    `${fam.name}: each layer's .grad agrees with central finite differences of the metric`,
    async () => {
      const T = grads.prompt_ids.length;
      const gs: P[] = [];
      await model.trace(grads.prompt_ids, () => {
        for (let i = 0; i < paths.length; i++) gs.push(hidden(i).grad.save());
        metric().backward();
      });
      const eps = 1e-2;
      for (let i = 0; i < paths.length; i++) {
        const g = gs[i].value as Tensor; // (1, T, C)
        // Along the gradient itself (the largest signal) and along a random direction.
        const r = randn([1, T, g.shape[2]], { seed: 7 + i });
        for (const d of [g, r]) {
          const v = d.div(d.mul(d).sum().sqrt()); // (1, T, C), unit length
          // The finite differences are the oracle, so they run on the reference tier: the fast
          // tier's SIMD exp and fused rows add float32 noise that 2 eps would magnify.
          const at = async (s: number) => {
            const prev = setCpuTier("reference");
            try {
              const m = await model.trace(grads.prompt_ids, () => {
                hidden(i).set(":", hidden(i).add(v.mul(s)));
                return metric();
              }) as Tensor;
              return m.dataSync()[0];
            } finally {
              setCpuTier(prev);
            }
          };
          const [hi, lo] = [await at(eps), await at(-eps)];
          const fd = (hi - lo) / (2 * eps);
          const dot = g.mul(v).sum().dataSync()[0];
          // The metric is float32 after three layers: a few ulps of noise each side, over 2 eps.
          const noise = (16 * 2 ** -23 * Math.max(Math.abs(hi), Math.abs(lo))) / (2 * eps);
          close(dot, fd, `${paths[i]}: gradient . v against finite differences`, {
            atol: GRAD.atol! + noise,
            rtol: GRAD.rtol,
          });
        }
      }
    },
  );
}

const gpt2Dir = new URL("../fixtures/tiny-gpt2/", import.meta.url);
const gpt2 = await LanguageModel.load(gpt2Dir.pathname);
const PROMPT = "The Eiffel Tower is in the city of";

Deno.test("trace grads: each .grad gets the next backward() (nnsight's test_multi_grad)", async () => {
  let g1: P | undefined, g2: P | undefined, g3: P | undefined;
  await gpt2.trace(PROMPT, () => {
    const h = gpt2.transformer.h[-1].output[0];
    const logits = gpt2.lm_head.output;
    g1 = h.grad.save();
    logits.sum().backward();
    g2 = h.grad.save();
    logits.sum().mul(2).backward();
    g3 = h.grad.save(); // after the last backward: that one's gradient
  });
  const [a, b, c] = [g1, g2, g3].map((g) => g!.value as Tensor);
  await assertClose(b, a.mul(2), { atol: 1e-5, rtol: 1e-5 });
  await assertClose(c, b, { atol: 0, rtol: 0 });
  assert.ok(a.abs().sum().dataSync()[0] > 0);
});

Deno.test("trace grads: inference without backward records no tape", async () => {
  let h: P | undefined;
  await gpt2.trace(PROMPT, () => void (h = gpt2.transformer.h[0].output[0].save()));
  assert.equal((h!.value as Tensor).needsGrad, false);
});

Deno.test("trace grads: .grad with no backward is a MissingValueError naming it; model unchanged", async () => {
  await assert.rejects(
    gpt2.trace(PROMPT, () => void gpt2.transformer.h[1].output[0].grad.save()),
    (e: Error) =>
      e instanceof MissingValueError &&
      /transformer\.h\.1\.output\.i0\[0\]\.grad has no value: the trace runs no backward pass/
        .test(e.message),
  );
  await assert.rejects(
    gpt2.trace(PROMPT, () => {
      gpt2.transformer.h[1].output[0].get(":, -1").grad.save();
      gpt2.lm_head.output.sum().backward();
    }),
    (e: Error) =>
      e instanceof InterventionError && /which the model does not hand on/.test(e.message),
  );
  for (const p of gpt2.module.parameters()) assert.equal(p.needsGrad, false);
  for (const m of gpt2.module.namedModules()) assert.equal(m[1].hook, null);
  // Still usable: a plain trace runs.
  const out = await gpt2.trace(PROMPT) as Tensor;
  assert.deepEqual(out.shape, [1, 10, 50257]);
});

Deno.test("trace grads: a .grad the metric does not depend on was never produced", async () => {
  await assert.rejects(
    gpt2.trace(PROMPT, () => {
      gpt2.transformer.h[2].output[0].grad.save();
      gpt2.transformer.h[1].output[0].sum().backward();
    }),
    (e: Error) =>
      e instanceof MissingValueError && /no backward pass reached that value/.test(e.message),
  );
});

Deno.test("trace grads: model.run runs a recorded gradient request and validates its nodes", async () => {
  const fn = () => {
    const h = gpt2.transformer.h[1].output[0];
    h.grad.set(":, 0", 0);
    const g = gpt2.transformer.h[0].output[0].grad;
    gpt2.lm_head.output.get("0, -1, 0").backward();
    return g;
  };
  const direct = await gpt2.trace(PROMPT, fn) as Tensor;
  const req = gpt2.record(fn, { input: PROMPT });
  const { output } = await gpt2.run(JSON.parse(JSON.stringify(req)));
  await assertClose(output, direct, { atol: 0, rtol: 0 });
  const bad = (edit: (nodes: Json[]) => void, re: RegExp) => {
    const r: Json = JSON.parse(JSON.stringify(req));
    edit(r.graph.nodes);
    return assert.rejects(
      gpt2.run(r),
      (e: Error) => e instanceof GraphValidationError && re.test(e.message),
    );
  };
  const at = (nodes: Json[], op: string) => nodes.find((n) => n.op === op);
  await bad((n) => (at(n, "backward").args[1] = "yes"), /true or false \(retainGraph\)/);
  await bad((n) => (at(n, "grad").args = [0, 1]), /a module's value/);
  await bad((n) => (at(n, "grad").args = [5]), /a getter or an element of one/);
  await bad((n) => n.push({ op: "gradset", args: [{ $ref: 0 }, 1] }), /a reference to a \.grad/);
  for (const p of gpt2.module.parameters()) assert.equal(p.needsGrad, false);
});

Deno.test("trace grads: assigning a Tensor to .grad replaces one invoke's rows only", async () => {
  const gs: P[] = [];
  await gpt2.trace((t) => {
    for (const k of [0, 1]) {
      t.invoke(PROMPT, () => {
        if (k === 0) gpt2.transformer.h[1].output[0].grad = zeros([1, 10, 32]);
        gs.push(gpt2.transformer.h[0].output[0].grad.save());
      });
    }
    gpt2.lm_head.output.get(":, -1").sum().backward();
  });
  const [zeroed, kept] = gs.map((g) => (g.value as Tensor).abs().sum().dataSync()[0]);
  assert.equal(zeroed, 0);
  assert.ok(kept > 0, `the other invoke's gradient reached layer 0: ${kept}`);
});

Deno.test("trace grads: a failing gradient edit is an InterventionError; the next backward trace works", async () => {
  await assert.rejects(
    gpt2.trace(PROMPT, () => {
      gpt2.transformer.h[1].output[0].grad = zeros([1, 3, 32]);
      gpt2.lm_head.output.sum().backward();
    }),
    (e: Error) =>
      e instanceof InterventionError &&
      /the replacement has shape \[1, 3, 32\] but the value it replaces has shape \[1, 10, 32\]/
        .test(e.message),
  );
  for (const p of gpt2.module.parameters()) assert.equal(p.needsGrad, false);
  let g: P | undefined;
  await gpt2.trace(PROMPT, () => {
    g = gpt2.transformer.h[0].output[0].grad.save();
    gpt2.lm_head.output.sum().backward();
  });
  assert.ok((g!.value as Tensor).abs().sum().dataSync()[0] > 0);
});
