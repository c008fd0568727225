// The webgpu device on its own: every kernel against the cpu reference on awkward views,
// storages split across bindings, the buffer pool, live-buffer counts, tidy, submissions and
// device choice. Skipped (not deleted) where there is no WebGPU adapter.

import assert from "node:assert/strict";
import {
  type Backend,
  type DType,
  getBackend,
  type Kernels,
  registerBackend,
  type Storage,
  type Tensor,
  tensor,
  type View,
} from "../../engine/mod.ts";
import { UNARY_OPS } from "../../engine/backend.ts";
import { referenceKernels } from "../../engine/cpu/reference.ts";
import { Rng } from "../../engine/random.ts";
import {
  initWebGPU,
  keep,
  liveBuffers,
  readAll,
  resolveDevice,
  tidy,
  webgpuBackend,
} from "../../engine/webgpu/mod.ts";
import { createWebGPUBackend } from "../../engine/webgpu/backend.ts";
import { assertClose, assertExact } from "../_assert.ts";

const ready = await initWebGPU();
const ignore = !ready;
const gpu = () => webgpuBackend()!;
const cpu = getBackend("cpu");
const D = { device: "webgpu" as const };

// ---- kernels against the reference ----------------------------------------------------

/** An input: storage data plus the view on it (default contiguous). */
interface Arg {
  data: ArrayLike<number>;
  dtype?: DType;
  shape: number[];
  strides?: number[];
  offset?: number;
}

const rng = new Rng(7);
const randn = (n: number) => Array.from({ length: n }, () => rng.normal());
const randint = (n: number, lo: number, hi: number) =>
  Array.from({ length: n }, () => lo + Math.floor(rng.uniform() * (hi - lo)));
const contiguous = (shape: readonly number[]) =>
  shape.map((_, i) => shape.slice(i + 1).reduce((a, d) => a * d, 1));

function storageOn(be: Backend, a: Arg): Storage {
  const data = a.dtype === "int32" ? Int32Array.from(a.data) : Float32Array.from(a.data);
  return be.fromData(data);
}
function viewOf(s: Storage, a: Omit<Arg, "data">): View {
  return {
    storage: s,
    shape: a.shape,
    strides: a.strides ?? contiguous(a.shape),
    offset: a.offset ?? 0,
  };
}

/**
 * Runs `call` with the reference kernels on cpu and the webgpu kernels, on the same views
 * of the same data, and compares every output storage (outputs are fresh and contiguous
 * unless `outs` gives an Arg, whose storage is then written through a view).
 */
async function same(
  label: string,
  ins: Arg[],
  outs: (Arg | { shape: number[]; dtype?: DType })[],
  call: (k: Kernels, outs: View[], ins: View[]) => void,
  tol = { atol: 1e-5, rtol: 1e-5 },
): Promise<void> {
  const run = (be: Backend, k: Kernels) => {
    const o = outs.map((a) =>
      "data" in a
        ? viewOf(storageOn(be, a), a)
        : viewOf(be.alloc(a.shape.reduce((x, d) => x * d, 1), a.dtype ?? "float32"), a)
    );
    call(k, o, ins.map((a) => viewOf(storageOn(be, a), a)));
    return o.map((v) => v.storage);
  };
  const want = run(cpu, referenceKernels);
  const got = await tidy(() => run(gpu(), gpu().kernels));
  for (let i = 0; i < want.length; i++) {
    const g = await gpu().read(got[i], 0, got[i].size);
    const w = want[i].buf as ArrayLike<number>;
    const exact = want[i].dtype === "int32";
    await assertClose(g, w, { ...(exact ? { atol: 0, rtol: 0 } : tol), msg: `${label} out ${i}` });
    gpu().dispose(got[i]);
  }
}

Deno.test({
  name: "webgpu kernels equal the cpu reference on transposed, broadcast, reversed, offset views",
  ignore,
  fn: async () => {
    const before = liveBuffers();
    // x: a transposed (9, 6) view at offset 3 of 60 values; positive for log, sqrt, rsqrt.
    const pos = {
      data: randn(60).map((v) => Math.abs(v) + 0.05),
      shape: [9, 6],
      strides: [1, 9],
      offset: 3,
    };
    const mixed = { ...pos, data: [...randn(58), 1e-4, -3e-5] };
    for (const op of UNARY_OPS) {
      await same(
        op,
        [op === "log" || op.includes("sqrt") ? pos : mixed],
        [{ shape: [9, 6] }],
        (k, [o], [x]) => k[op](o, x),
      );
    }
    // a: (4, 3, 5) with the last two axes transposed; b: (3,) broadcast along axes 0 and 2, reversed.
    const a = { data: randn(60), shape: [4, 3, 5], strides: [15, 1, 3] };
    const b = { data: [0.5, -2, 3, 9], shape: [4, 3, 5], strides: [0, -1, 0], offset: 3 };
    const out = [{ shape: [4, 3, 5] }];
    for (const op of ["add", "sub", "mul", "div", "maximum", "minimum"] as const) {
      await same(op, [a, b], out, (k, [o], [x, y]) => k[op](o, x, y));
    }
    for (const op of ["eq", "gt", "lt"] as const) {
      const ties = { ...a, data: randint(60, -2, 3) };
      await same(
        op,
        [ties, { ...b, data: [1, 0, -1, 2] }],
        [{ shape: [4, 3, 5], dtype: "int32" }],
        (k, [o], [x, y]) => k[op](o, x, y),
      );
    }
    await same(
      "pow",
      [{ ...a, data: randn(60) }, {
        data: [2, 3, -1, 0.5, 1.7],
        shape: [4, 3, 5],
        strides: [0, 0, 1],
      }],
      out,
      (k, [o], [x, y]) => k.pow(o, x, y),
      { atol: 1e-5, rtol: 1e-5 },
    );
    const ints = {
      data: randint(60, -50, 50),
      dtype: "int32" as const,
      shape: [4, 3, 5],
      strides: [15, 1, 3],
    };
    for (const op of ["add", "sub", "mul", "maximum", "minimum"] as const) {
      await same(`int32 ${op}`, [ints, { ...ints, strides: [0, 5, 1] }], [{
        shape: [4, 3, 5],
        dtype: "int32",
      }], (k, [o], [x, y]) => k[op](o, x, y));
    }
    // Reductions over 130 values (more than one workgroup stride), rows permuted, with ties.
    const rows = { data: randint(3 * 130, -3, 4), shape: [3, 130], strides: [1, 3] };
    for (const op of ["sum", "max", "min", "argmax", "argmin"] as const) {
      const dtype = op.startsWith("arg") ? "int32" : "float32";
      await same(op, [rows], [{ shape: [3], dtype }], (k, [o], [x]) => k[op](o, x));
      await same(
        `int32 ${op}`,
        [{ ...rows, dtype: "int32" }],
        [{ shape: [3], dtype: "int32" }],
        (k, [o], [x]) => k[op](o, x),
      );
    }
    await same("argmax of -inf and NaN", [{ data: [-Infinity, NaN, -Infinity], shape: [1, 3] }], [{
      shape: [1],
      dtype: "int32",
    }], (k, [o], [x]) => k.argmax(o, x));
    await same("cast to int32", [{ data: [-2.7, -0.5, 0.5, 2.7, 1e3, -7], shape: [6] }], [{
      shape: [6],
      dtype: "int32",
    }], (k, [o], [x]) => k.cast(o, x));
    await same(
      "cast to float32",
      [{ ...ints, shape: [60], strides: [1] }],
      [{ shape: [60] }],
      (k, [o], [x]) => k.cast(o, x),
    );
    // copy and fill write through strided views of an existing storage.
    const dst = { data: randn(40), shape: [4, 5], strides: [10, 2], offset: 1 };
    await same(
      "copy into a strided view",
      [{ data: [1, 2, 3, 4, 5], shape: [4, 5], strides: [0, 1] }],
      [dst],
      (k, [o], [x]) => k.copy(o, x),
    );
    await same("fill a strided view", [], [dst], (k, [o]) => k.fill(o, -1.5));
    await same(
      "fill int32",
      [],
      [{ ...dst, data: randint(40, 0, 9), dtype: "int32" }],
      (k, [o]) => k.fill(o, 7),
    );
    await same(
      "where",
      [
        { data: [1, 0, 0, 1, 1], dtype: "int32", shape: [4, 5], strides: [0, 1] },
        { data: randn(20), shape: [4, 5], strides: [1, 4] },
        { data: [9], shape: [4, 5], strides: [0, 0] },
      ],
      [{ shape: [4, 5] }],
      (k, [o], [c, x, y]) => k.where(o, c, x, y),
    );
    // matmul: the block kernel (M > 8) with a transposed a and b broadcast over the batch,
    // and the row kernel (M <= 8) with a transposed b (lm_head's wte^T).
    await same(
      "matmul block",
      [
        { data: randn(2 * 70 * 33), shape: [2, 70, 33], strides: [2310, 1, 70] },
        { data: randn(33 * 75), shape: [2, 33, 75], strides: [0, 75, 1] },
      ],
      [{ shape: [2, 70, 75] }],
      (k, [o], [x, y]) => k.matmul(o, x, y),
      { atol: 1e-4, rtol: 1e-5 },
    );
    const mm = (label: string, x: Arg, y: Arg, shape: number[]) =>
      same(label, [x, y], [{ shape }], (k, [o], [p, q]) => k.matmul(o, p, q), {
        atol: 1e-4,
        rtol: 1e-5,
      });
    // The row kernel in its three forms: vec4 along k (b transposed, 8 or 4 columns per
    // thread), vec4 along n (contiguous b, batch broadcast) and scalar (unaligned b).
    const wteT = { data: randn(40 * 301), shape: [40, 301], strides: [1, 40] };
    await mm("matmul rows, vec4 along k", { data: randn(120), shape: [3, 40] }, wteT, [3, 301]);
    await mm("matmul rows, M = 1", { data: randn(40), shape: [1, 40] }, wteT, [1, 301]);
    await mm(
      "matmul rows, vec4 along n",
      { data: randn(2 * 5 * 24), shape: [2, 5, 24] },
      { data: randn(24 * 36), shape: [2, 24, 36], strides: [0, 36, 1] },
      [2, 5, 36],
    );
    await mm(
      "matmul rows, scalar",
      { data: randn(13), shape: [1, 13] },
      { data: randn(1 + 13 * 7), shape: [13, 7], offset: 1 },
      [1, 7],
    );
    const soft = { data: randn(500).map((v) => 4 * v), shape: [5, 100], strides: [1, 5] };
    await same("softmax", [soft], [{ shape: [5, 100] }], (k, [o], [x]) => k.softmax(o, x));
    await same("logSoftmax", [soft], [{ shape: [5, 100] }], (k, [o], [x]) => k.logSoftmax(o, x));
    await same(
      "layerNorm",
      [
        { data: randn(320).map((v) => v + 3), shape: [4, 80] },
        { data: randn(160), shape: [80], strides: [2] },
        { data: randn(80), shape: [80] },
      ],
      [{ shape: [4, 80] }],
      (k, [o], [x, w, bb]) => k.layerNorm(o, x, w, bb, 1e-5),
      { atol: 1e-5, rtol: 1e-4 },
    );
    await same(
      "gatherRows",
      [
        { data: randn(84), shape: [12, 7], strides: [1, 12] },
        { data: [3, 11, 0, 5], dtype: "int32", shape: [3], strides: [-1], offset: 3 },
      ],
      [{ shape: [3, 7] }],
      (k, [o], [t, i]) => k.gatherRows(o, t, i),
    );
    const tk = { data: [...randint(448, -5, 5), NaN, NaN], shape: [3, 150] };
    await same(
      "topk",
      [tk],
      [{ shape: [3, 5] }, { shape: [3, 5], dtype: "int32" }],
      (k, [v, i], [x]) => k.topk(v, i, x, 5),
    );
    await same("int32 topk", [{
      ...tk,
      data: randint(450, -5, 5),
      dtype: "int32",
      strides: [1, 3],
    }], [
      { shape: [3, 5], dtype: "int32" },
      { shape: [3, 5], dtype: "int32" },
    ], (k, [v, i], [x]) => k.topk(v, i, x, 5));
    assert.equal(liveBuffers(), before, "every storage of the comparisons was freed");
  },
});

// ---- storages split across bindings -------------------------------------------------------

Deno.test({
  name: "webgpu: storages past the binding limit are split across buffers and still exact",
  ignore,
  fn: async () => {
    // 256-byte bindings: 64 elements per buffer, so a (20, 12) table takes 4 buffers and row 5
    // (elements 60..71) straddles the first edge.
    const small = createWebGPUBackend(gpu().gpu, { maxBindingBytes: 256 });
    assert.equal(small.chunkElems, 64);
    const data = randn(240);
    const x = randn(10 * 12);
    const want = (() => {
      const table = tensor(data, [20, 12]);
      const xs = tensor(x, [10, 12]);
      const t2 = table.clone().set("5:7, 1:", 0); // (20, 12), written across the edge
      return [
        table.indexSelect(0, tensor([5, 19, 0, 10], undefined, { dtype: "int32" })),
        xs.matmul(table.transpose()), // block kernel, b split
        xs.get("0:3").matmul(table.transpose()), // row kernel (vec4 along k), b split
        xs.get("0:2").matmul(table.get(":12")), // row kernel (vec4 along n), b split
        table.mul(2), // output split
        table.softmax(-1),
        table.transpose().sum(-1),
        t2,
        table.get("5"),
      ];
    })();
    const prev = gpu();
    registerBackend(small);
    try {
      await tidy(async () => {
        const table = tensor(data, [20, 12], D);
        assert.equal((table.storage.buf as { chunks: unknown[] }).chunks.length, 4);
        const xs = tensor(x, [10, 12], D);
        const got = [
          table.indexSelect(0, tensor([5, 19, 0, 10], undefined, { ...D, dtype: "int32" })),
          xs.matmul(table.transpose()),
          xs.get("0:3").matmul(table.transpose()),
          xs.get("0:2").matmul(table.get(":12")),
          table.mul(2),
          table.softmax(-1),
          table.transpose().sum(-1),
          table.clone().set("5:7, 1:", 0),
          table.get("5"),
        ];
        for (let i = 0; i < got.length; i++) {
          await assertClose(got[i], want[i], { atol: 1e-5, rtol: 1e-5, msg: `split case ${i}` });
        }
      });
      assert.equal(small.liveBuffers(), 0);
    } finally {
      registerBackend(prev);
    }
  },
});

// ---- memory: pool, zeroing, live counts, tidy, dispose ------------------------------------

Deno.test({
  name: "webgpu: the pool reuses released buffers, never before pending work is submitted",
  ignore,
  fn: async () => {
    const be = gpu();
    const n = 12_345; // a size bucket no other test uses
    be.dispose(be.alloc(n, "float32"));
    const s0 = be.stats();
    const a = be.alloc(n, "float32");
    assert.equal(be.stats().created, s0.created, "served from the pool");
    assert.equal(be.stats().reused, s0.reused + 1);
    // A reused buffer reads as zeros, as alloc promises.
    be.kernels.fill({ storage: a, shape: [n], strides: [1], offset: 0 }, 3);
    be.dispose(a);
    const b = be.alloc(n, "float32");
    assert.deepEqual(new Set(await be.read(b, 0, n)), new Set([0]));
    // Released while a recorded dispatch still reads it: not handed out until submitted.
    const c = be.alloc(n, "float32");
    be.kernels.exp({ storage: c, shape: [n], strides: [1], offset: 0 }, {
      storage: b,
      shape: [n],
      strides: [1],
      offset: 0,
    });
    const created = be.stats().created;
    be.dispose(b);
    const d = be.alloc(n, "float32");
    assert.equal(be.stats().created, created + 1, "a pending buffer is not reused");
    assert.deepEqual(new Set(await be.read(c, 0, n)), new Set([1]));
    for (const s of [c, d]) be.dispose(s);
  },
});

Deno.test({
  name: "webgpu: tidy frees intermediates, keeps results and kept tensors, and cleans up errors",
  ignore,
  fn: async () => {
    const before = liveBuffers();
    const x = tensor([1, 2, 3], undefined, D);
    const y = tidy(() => x.mul(2).add(1).exp().sum()); // 3 intermediates + 2 scalars freed
    assert.equal(liveBuffers(), before + 2);
    await assertClose(y, [Math.exp(3) + Math.exp(5) + Math.exp(7)], { rtol: 1e-6 });
    const nested = tidy(() => {
      const inner = tidy(() => ({ a: x.mul(3), list: [x.add(1)] }));
      return inner.a.add(inner.list[0]); // inner's results die with the outer scope
    });
    assert.equal(liveBuffers(), before + 3);
    await assertClose(nested, [5, 9, 13]);
    let kept: Tensor | null = null;
    tidy(() => void (kept = keep(x.mul(5))));
    assert.equal(liveBuffers(), before + 4);
    assert.throws(() =>
      tidy(() => {
        x.mul(2).add(x);
        throw new Error("boom");
      }), /boom/);
    assert.equal(liveBuffers(), before + 4, "an error inside tidy frees its tensors");
    await assert.rejects(
      () =>
        tidy(async () => {
          await x.mul(2).data();
          throw new Error("late");
        }),
      /late/,
    );
    const value = await tidy(async () => await x.mul(2).sum().item());
    assert.equal(value, 12);
    assert.equal(liveBuffers(), before + 4, "async scopes free after they settle");
    for (const t of [x, y, nested, kept!]) t.dispose();
    assert.equal(liveBuffers(), before);
  },
});

Deno.test({
  name: "webgpu: dispose is idempotent and a disposed tensor fails with a clear error",
  ignore,
  fn: async () => {
    const before = liveBuffers();
    const t = tensor([1, 2], undefined, D);
    t.dispose();
    t.dispose();
    assert.equal(liveBuffers(), before);
    assert.throws(() => tidy(() => t.add(1)), /used after dispose\(\)/);
    await assert.rejects(() => t.data(), /used after dispose\(\)/);
    assert.equal(liveBuffers(), before);
  },
});

// ---- submissions, readback, pipelines, transfers ---------------------------------------

Deno.test({
  name: "webgpu: a chain of ops is one submission and readAll reads many tensors with one sync",
  ignore,
  fn: async () => {
    const be = gpu();
    const before = liveBuffers();
    await tidy(async () => {
      const x = tensor([[1, 2], [3, 4]], undefined, D);
      let y = x;
      for (let i = 0; i < 50; i++) y = y.add(1);
      const s0 = be.stats().submissions;
      await assertExact(y, [[51, 52], [53, 54]]);
      assert.equal(be.stats().submissions, s0 + 1);
      const s1 = be.stats().submissions;
      const [a, b, c] = await readAll([y, x.transpose(), tensor([7])]);
      assert.equal(be.stats().submissions, s1 + 1, "one submission for both webgpu tensors");
      assert.deepEqual([...a], [51, 52, 53, 54]);
      assert.deepEqual([...b], [1, 3, 2, 4]);
      assert.deepEqual([...c], [7]);
    });
    assert.equal(liveBuffers(), before);
  },
});

Deno.test({
  name: "webgpu: pipelines are cached per shader key, not per shape",
  ignore,
  fn: () => {
    tidy(() => {
      const a = tensor([1, 2, 3], undefined, D), b = tensor([1, 2, 3, 4, 5, 6, 7], undefined, D);
      a.sigmoid();
      const p = gpu().stats().pipelines;
      b.sigmoid();
      a.sigmoid();
      assert.equal(gpu().stats().pipelines, p);
      b.reshape(7, 1).transpose().sigmoid(); // still contiguous after collapsing: same key
      assert.equal(gpu().stats().pipelines, p);
    });
  },
});

Deno.test({
  name: "webgpu: to() and toDevice() move float32 and int32 data both ways",
  ignore,
  fn: async () => {
    const before = liveBuffers();
    const f = tensor([[1.5, -2], [3, 4]]).to("webgpu");
    const i = tensor([7, -8], undefined, { dtype: "int32" }).to("webgpu");
    assert.equal(f.device, "webgpu");
    const back = await f.transpose().toDevice("cpu");
    assert.equal(back.device, "cpu");
    assert.deepEqual(await back.toArray(), [[1.5, 3], [-2, 4]]);
    const ib = await i.toDevice("cpu");
    assert.equal(ib.dtype, "int32");
    assert.deepEqual(await ib.toArray(), [7, -8]);
    f.dispose();
    i.dispose();
    assert.equal(liveBuffers(), before);
  },
});

// ---- device choice ------------------------------------------------------------------------

Deno.test({
  name: 'webgpu: device "auto" is cpu on a fallback adapter, "webgpu" forces the adapter',
  ignore,
  fn: async () => {
    const adapter = await navigator.gpu.requestAdapter();
    const fallback = (adapter as unknown as { info: { isFallbackAdapter: boolean } }).info
      .isFallbackAdapter;
    assert.equal(await resolveDevice("auto"), fallback ? "cpu" : "webgpu");
    assert.equal(await resolveDevice("webgpu"), "webgpu");
    assert.equal(await resolveDevice("cpu"), "cpu");
    assert.equal(await resolveDevice("meta"), "meta");
    await assert.rejects(() => resolveDevice("tpu" as "cpu"), TypeError);
  },
});
