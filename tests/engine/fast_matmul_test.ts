// Checks the wasm SIMD matmul tier against a naive triple loop: odd shapes, strided and
// transposed b, broadcast batches, the constant-b panel cache and 1- vs 2-thread equality.

import assert from "node:assert/strict";
import type { Storage, View } from "../../engine/backend.ts";
import { fastMatmul, fastTierInfo, startThreads, stopThreads } from "../../engine/cpu/fast/mod.ts";
import { type FastMatmulOptions, fastMatmulWith } from "../../engine/cpu/fast/matmul.ts";
import { evictPanels } from "../../engine/cpu/fast/pack.ts";
import { createHeap, getHeap } from "../../engine/cpu/fast/wasm_heap.ts";

/** |got - want| <= ATOL + RTOL * sum_k |a_ik * b_kj|: float32 rounding of a K-term dot product. */
const RTOL = 1e-5, ATOL = 1e-6;

let seed = 1;
function rand(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 2 ** 32 - 0.5;
}

function storage(buf: Float32Array, constant = false): Storage {
  return { device: "cpu", dtype: "float32", size: buf.length, buf, version: 0, constant };
}

function contiguous(shape: number[], buf?: Float32Array, constant = false): View {
  const size = shape.reduce((x, y) => x * y, 1);
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((x, y) => x * y, 1));
  buf ??= Float32Array.from({ length: size }, rand);
  return { storage: storage(buf, constant), shape, strides, offset: 0 };
}

/** [..., K, N] view of a stored [..., N, K] buffer: the tied lm_head's wte^T. */
function transposed(shape: number[], constant = false): View {
  const v = contiguous([...shape.slice(0, -2), shape.at(-1)!, shape.at(-2)!], undefined, constant);
  const s = [...v.strides];
  [s[s.length - 2], s[s.length - 1]] = [s[s.length - 1], s[s.length - 2]];
  return { ...v, shape, strides: s };
}

function at(v: View, idx: number[]): number {
  let o = v.offset;
  idx.forEach((i, d) => o += i * v.strides[d]);
  return (v.storage.buf as Float32Array)[o];
}

/** Naive reference: loops every batch index, row, column and k in float64. */
function check(out: View, a: View, b: View): void {
  const nd = a.shape.length;
  const [m, k, n] = [a.shape[nd - 2], a.shape[nd - 1], b.shape[nd - 1]];
  const batch = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  const got = out.storage.buf as Float32Array;
  let maxDiff = 0, first = "";
  for (let t = 0; t < batch; t++) {
    const bi: number[] = [];
    for (let d = nd - 3, r = t; d >= 0; d--) {
      bi.unshift(r % a.shape[d]);
      r = Math.floor(r / a.shape[d]);
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0, mag = 0;
        for (let q = 0; q < k; q++) {
          const p = at(a, [...bi, i, q]) * at(b, [...bi, q, j]);
          s += p;
          mag += Math.abs(p);
        }
        const g = got[out.offset + (t * m + i) * n + j];
        const diff = Math.abs(g - s);
        maxDiff = Math.max(maxDiff, diff);
        if (!(diff <= ATOL + RTOL * mag) && !first) first = `[${bi},${i},${j}] got ${g} want ${s}`;
      }
    }
  }
  assert.equal(first, "", `a [${a.shape}] @ b [${b.shape}]: ${first}, max diff ${maxDiff}`);
}

function run(a: View, b: View, opts: FastMatmulOptions = { minWork: 0 }): View {
  const nd = a.shape.length;
  const out = contiguous([...a.shape.slice(0, -1), b.shape[nd - 1]], undefined);
  (out.storage.buf as Float32Array).fill(NaN);
  assert.ok(fastMatmulWith(out, a, b, opts), `declined a [${a.shape}] @ b [${b.shape}]`);
  return out;
}

Deno.test("fast matmul: the tier is available here", () => {
  assert.ok(fastTierInfo().simd);
});

Deno.test("fast matmul: odd shapes match the naive loop", () => {
  for (const [m, k, n] of [[1, 1, 1], [1, 3, 17], [3, 5, 33], [2, 17, 3], [4, 64, 1]]) {
    const a = contiguous([m, k]), b = contiguous([k, n]);
    check(run(a, b), a, b);
  }
  for (const [m, k, n] of [[5, 33, 17], [7, 70, 9], [13, 300, 40], [97, 257, 65], [6, 8, 8]]) {
    const a = contiguous([m, k]), b = contiguous([k, n]);
    check(run(a, b), a, b);
  }
});

Deno.test("fast matmul: transposed and strided operands", () => {
  const a = transposed([9, 31]), b = transposed([31, 45]);
  check(run(a, b), a, b);
  // A column slice of a wider matrix: b rows have stride 50, offset 7.
  const wide = contiguous([20, 50]);
  const b2: View = { ...wide, shape: [20, 30], offset: 7 };
  const a2 = contiguous([3, 20]);
  check(run(a2, b2), a2, b2);
});

Deno.test("fast matmul: decode against a 50257-column transposed constant weight", () => {
  const a = contiguous([1, 64]), b = transposed([64, 50257], true);
  check(run(a, b), a, b);
  const a4 = contiguous([4, 64]);
  check(run(a4, b), a4, b);
});

Deno.test("fast matmul: batched with a broadcast batch dim", () => {
  const a = contiguous([2, 3, 5, 19]);
  const b0 = contiguous([3, 19, 21]);
  const b: View = { ...b0, shape: [2, 3, 19, 21], strides: [0, ...b0.strides] };
  check(run(a, b), a, b);
  const q = contiguous([2, 40, 16]), kt = transposed([2, 16, 40]);
  check(run(q, kt), q, kt);
});

Deno.test("fast matmul: constant b is cached and repacked after a version bump", () => {
  const a = contiguous([8, 32]), b = contiguous([32, 24], undefined, true);
  const first = run(a, b);
  check(first, a, b);
  const again = run(a, b);
  assert.deepEqual(again.storage.buf, first.storage.buf);
  (b.storage.buf as Float32Array).fill(0.5);
  const stale = run(a, b);
  assert.deepEqual(stale.storage.buf, first.storage.buf, "cache is used while version holds");
  b.storage.version++;
  check(run(a, b), a, b);
});

Deno.test("fast matmul: batched constant b caches each slice; eviction frees them", () => {
  const heap = getHeap()!;
  const before = heap.inUse();
  const a = contiguous([3, 6, 40]), b = contiguous([3, 40, 20], undefined, true);
  check(run(a, b), a, b);
  assert.ok(heap.inUse() >= before + 3 * 40 * 24 * 4, "three cached panel sets");
  check(run(a, b), a, b);
  evictPanels(heap, b.storage);
  assert.equal(heap.inUse(), before);
});

Deno.test("fast matmul: the heap's free list reuses and merges blocks", () => {
  const heap = createHeap()!;
  const before = heap.inUse();
  const [x, y, z] = [heap.alloc(100), heap.alloc(1000), heap.alloc(10)];
  assert.equal(x % 64 + y % 64 + z % 64, 0, "64-byte aligned");
  heap.free(y);
  assert.equal(heap.alloc(1000), y, "first fit reuses the hole");
  heap.free(x);
  heap.free(y);
  const merged = heap.alloc(1100);
  assert.equal(merged, x, "neighbouring free blocks merge");
  heap.free(merged);
  heap.free(z);
  assert.equal(heap.inUse(), before);
  assert.throws(() => heap.free(z), RangeError);
});

Deno.test("fast matmul: default sizes go through fastMatmul and tiny ones decline", () => {
  const a = contiguous([64, 64]), b = contiguous([64, 64]);
  const out = contiguous([64, 64]);
  assert.ok(fastMatmul(out, a, b));
  check(out, a, b);
  const tiny = contiguous([2, 2]);
  assert.equal(fastMatmul(contiguous([2, 2]), tiny, tiny), false);
  const ints: View = { ...a, storage: { ...a.storage, dtype: "int32" } };
  assert.equal(fastMatmul(out, ints, b), false);
});

Deno.test("fast matmul: 1 and 2 threads give identical results", async () => {
  await startThreads(2);
  try {
    assert.equal(fastTierInfo().threads, 2);
    const cases: [View, View][] = [
      [contiguous([200, 300]), contiguous([300, 150])],
      [contiguous([1, 768]), transposed([768, 1000], true)],
      [contiguous([3, 512]), contiguous([512, 777])],
      [contiguous([4, 37, 64]), contiguous([4, 64, 90])],
    ];
    for (const [a, b] of cases) {
      const one = run(a, b, { minWork: 0, threads: 1 });
      const two = run(a, b);
      check(two, a, b);
      assert.deepEqual(two.storage.buf, one.storage.buf, `a [${a.shape}] @ b [${b.shape}]`);
    }
  } finally {
    stopThreads();
  }
  assert.equal(fastTierInfo().threads, 1);
});

Deno.test("fast matmul: threads restart, and starting twice shares one pool", async () => {
  await Promise.all([startThreads(2), startThreads(2)]);
  assert.equal(fastTierInfo().threads, 2);
  stopThreads();
  await startThreads(2);
  const a = contiguous([1, 768]), b = contiguous([768, 600]);
  check(run(a, b, {}), a, b);
  stopThreads();
  await startThreads(1);
  assert.equal(fastTierInfo().threads, 1);
});

Deno.test("fast matmul: threads left running do not trip the sanitizers", async () => {
  await startThreads(2);
  const a = contiguous([64, 256]), b = contiguous([256, 512]);
  check(run(a, b), a, b);
});

Deno.test("fast matmul: A read from and C written to the heap match the copying path", () => {
  const heap = getHeap()!;
  // batch 2, m 100 (> the 96-row block), k 37, n 21 (padded to 24): rows `ld` floats apart.
  const a = contiguous([2, 100, 37]), b = contiguous([2, 37, 21]);
  const want = run(a, b);
  const ldA = 40, ldC = 32;
  const aAddr = heap.alloc(2 * 100 * ldA * 4), cAddr = heap.alloc(2 * 100 * ldC * 4);
  try {
    const f32 = heap.f32(), src = a.storage.buf as Float32Array;
    for (let r = 0; r < 200; r++) f32.set(src.subarray(r * 37, r * 37 + 37), aAddr / 4 + r * ldA);
    const shapes = contiguous([2, 100, 21], new Float32Array(2 * 100 * 21));
    const aShapes = contiguous([2, 100, 37], new Float32Array(2 * 100 * 37));
    const opts = {
      minWork: 0,
      aAt: { addr: aAddr, ld: ldA * 4 },
      cAt: { addr: cAddr, ld: ldC * 4 },
    };
    assert.ok(fastMatmulWith(shapes, aShapes, b, opts));
    const got = heap.f32(), w = want.storage.buf as Float32Array;
    for (let r = 0; r < 200; r++) {
      for (let j = 0; j < 21; j++) {
        assert.equal(got[cAddr / 4 + r * ldC + j], w[r * 21 + j], `row ${r} column ${j}`);
      }
    }
    assert.throws(
      () => fastMatmulWith(shapes, aShapes, b, { ...opts, cAt: { addr: cAddr, ld: 21 * 4 } }),
      /cAt\.ld 84 is below the padded row of 96 bytes/,
    );
  } finally {
    heap.free(aAddr);
    heap.free(cAddr);
  }
});

Deno.test("fast matmul: colsUpTo and kUpTo skip only what a causal pattern never needs", () => {
  // m 200 (three row blocks), k 300 (two k blocks), n 250: row r needs columns and k below r + 1.
  const upTo = (r: number) => r + 1;
  const a = contiguous([200, 300]), b = contiguous([300, 250]);
  const full = run(a, b), got = run(a, b, { minWork: 0, colsUpTo: upTo });
  const f = full.storage.buf as Float32Array, g = got.storage.buf as Float32Array;
  for (let r = 0; r < 200; r++) {
    for (let j = 0; j < Math.min(250, r + 1); j++) {
      assert.equal(g[r * 250 + j], f[r * 250 + j], `colsUpTo: row ${r} column ${j}`);
    }
  }
  const buf = a.storage.buf as Float32Array;
  for (let r = 0; r < 200; r++) buf.fill(0, r * 300 + r + 1, (r + 1) * 300); // zero past r
  check(run(a, b, { minWork: 0, kUpTo: upTo }), a, b);
});
