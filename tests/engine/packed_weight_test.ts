// Weights built straight into matmul panels (packedMatmulWeight): matmul, values read back,
// embedding rows gathered from the panels, writes after the host copy, odd sizes, and the
// reference tier, all against the same weight held as a plain host tensor.

import assert from "node:assert/strict";
import {
  isPackedOnly,
  packedMatmulWeight,
  setCpuTier,
  type Storage,
  Tensor,
  tensor,
} from "../../engine/mod.ts";

/** A seeded (rows, cols) matrix, row-major. */
function matrix(rows: number, cols: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: rows * cols }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** The matrix as a packed-only weight, filled in chunks; asserts the chunks tile the rows. */
function packed(data: Float32Array, rows: number, cols: number, transposed: boolean): Storage {
  let next = 0;
  const s = packedMatmulWeight(rows, cols, transposed, (dst, r0, r1) => {
    assert.equal(r0, next, "chunks arrive in order");
    assert.equal(dst.length, (r1 - r0) * cols);
    dst.set(data.subarray(r0 * cols, r1 * cols));
    next = r1;
  });
  assert.ok(s, "the fast tier packs it");
  assert.equal(next, rows, "every row was asked for");
  return s;
}

const close = (got: Float32Array, want: Float32Array, tol: number) => {
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      assert.fail(`element ${i}: got ${got[i]}, want ${want[i]} (tolerance ${tol})`);
    }
  }
};

// (rows, cols) stored; odd sizes leave a partial panel; 2048 x 1100 (9 MB) takes two chunks.
const SHAPES: [number, number][] = [[96, 200], [131, 129], [300, 1030], [2048, 1100]];

for (const transposed of [false, true]) {
  for (const [rows, cols] of SHAPES) {
    Deno.test(`packed weight ${rows}x${cols}${transposed ? " (transposed)" : ""}: matmul and values match a plain weight`, () => {
      const data = matrix(rows, cols, rows + cols);
      const s = packed(data, rows, cols, transposed);
      const w = new Tensor(s, [rows, cols]);
      const plain = tensor(Array.from(data)).reshape(rows, cols);
      const [k] = transposed ? [cols] : [rows];
      const x = tensor(Array.from(matrix(5, k, 7))).reshape(5, k);
      const got = x.matmul(transposed ? w.transpose() : w);
      assert.ok(isPackedOnly(s), "a matmul reads the panels, not a host copy");
      const want = x.matmul(transposed ? plain.transpose() : plain);
      close(got.dataSync() as Float32Array, want.dataSync() as Float32Array, 1e-5 * k);
      // Reading the values unpacks them exactly, once.
      close(w.dataSync() as Float32Array, data, 0);
      assert.ok(!isPackedOnly(s));
    });
  }
}

Deno.test("packed weight: embedding rows come from the panels, with the reference's range error", () => {
  const [V, C] = [1000, 48];
  const data = matrix(V, C, 3);
  const s = packed(data, V, C, true);
  const table = new Tensor(s, [V, C]);
  const ids = tensor([0, 999, 17, 17, 512], [5], { dtype: "int32" });
  const rows = table.indexSelect(0, ids).dataSync() as Float32Array;
  assert.ok(isPackedOnly(s), "the lookup made no host copy");
  const want = new Float32Array(ids.size * C);
  [0, 999, 17, 17, 512].forEach((id, t) => want.set(data.subarray(id * C, id * C + C), t * C));
  close(rows, want, 0);
  assert.throws(
    () => table.indexSelect(0, tensor([3, 1000], [2], { dtype: "int32" })),
    /gatherRows: id 1000 at position 1 is out of range for 1000 rows/,
  );
  assert.ok(isPackedOnly(s), "a refused lookup made no host copy either");
});

Deno.test("packed weight: a write after the host copy repacks the panels", () => {
  const [rows, cols] = [128, 160];
  const data = matrix(rows, cols, 9);
  const w = new Tensor(packed(data, rows, cols, true), [rows, cols]);
  const x = tensor(Array.from(matrix(3, cols, 5))).reshape(3, cols);
  x.matmul(w.transpose()); // the panels are in use
  w.set([0], 7); // in place: makes the host copy, bumps the version
  const plain = tensor(Array.from(data)).reshape(rows, cols).set([0], 7);
  const got = x.matmul(w.transpose()).dataSync() as Float32Array;
  close(got, x.matmul(plain.transpose()).dataSync() as Float32Array, 1e-4);
});

Deno.test("packed weight: none on the reference tier or for a tiny matrix", () => {
  const prev = setCpuTier("reference");
  try {
    assert.equal(packedMatmulWeight(128, 128, true, () => assert.fail("not called")), null);
  } finally {
    setCpuTier(prev);
  }
  assert.equal(packedMatmulWeight(2, 3, false, () => assert.fail("not called")), null);
});

Deno.test("packed weight: the reference tier reads the unpacked values", () => {
  const [rows, cols] = [150, 170];
  const data = matrix(rows, cols, 11);
  const w = new Tensor(packed(data, rows, cols, false), [rows, cols]);
  const prev = setCpuTier("reference");
  try {
    const x = tensor(Array.from(matrix(2, rows, 1))).reshape(2, rows);
    const plain = tensor(Array.from(data)).reshape(rows, cols);
    close(
      x.matmul(w).dataSync() as Float32Array,
      x.matmul(plain).dataSync() as Float32Array,
      1e-6,
    );
  } finally {
    setCpuTier(prev);
  }
});

Deno.test("packed weight: an error from fill frees the panels and propagates", () => {
  assert.throws(
    () =>
      packedMatmulWeight(256, 256, false, () => {
        throw new RangeError("disk gone");
      }),
    /disk gone/,
  );
  // The heap is still usable: a later weight packs and multiplies correctly.
  const data = matrix(128, 160, 2);
  const w = new Tensor(packed(data, 128, 160, false), [128, 160]);
  close(w.dataSync() as Float32Array, data, 0);
});
