// Batched matmul a [..., M, K] @ b [..., K, N] -> out [..., M, N] in WGSL: an 8x8 register-block
// kernel, and a row kernel for M <= 8 (decoding). Any strides for a and b (a transposed b such
// as wte^T is a view, never copied); out is contiguous.

import type { View } from "../../backend.ts";
import { numel } from "../../layout.ts";
import {
  type Binding,
  coversStorage,
  declare,
  type Host,
  p,
  Params,
  pushWalk,
  walkCode,
} from "./_common.ts";

// llvmpipe runs each invocation as a SIMD lane and makes workgroup barriers expensive, so
// these kernels use no workgroup memory: each thread keeps a register block of outputs and
// reads a and b straight from the buffers (the host caches do the tiling).
/** Outputs per thread of the block kernel (rows x cols) and its workgroup (8 x 8 threads). */
const BR = 8, BC = 8, WGX = 8, WGY = 8;
/** Rows up to which the row kernel (decoding, M <= 8) is used, and its columns per thread. */
const SMALL_M = 8;
const ROW_COLS = 8;
const ROW_WG = 64;

/**
 * The matmul kernel: picks the block kernel (M > 8) or a row kernel (vec4 along n, vec4
 * along k, or scalar, by b's strides and alignment).
 *
 * @example
 * ```ts ignore
 * const matmul = matmulKernel(host);
 * matmul(out, a, b); // a [..., M, K] @ b [..., K, N] -> out [..., M, N]
 * ```
 */
export function matmulKernel(host: Host): (out: View, a: View, b: View) => void {
  return (out, a, b) => {
    const r = a.shape.length;
    const [M, K] = [a.shape[r - 2], a.shape[r - 1]];
    const N = b.shape[r - 1];
    const batchShape = a.shape.slice(0, r - 2);
    const batches = numel(batchShape);
    if (M === 0 || N === 0 || batches === 0) return;
    if (batches > 65535) {
      throw new RangeError(`webgpu matmul: ${batches} batch items is more than 65535`);
    }
    const params = new Params();
    const dims = params.int(M, N, K, a.strides[r - 2], a.strides[r - 1]);
    params.int(b.strides[r - 2], b.strides[r - 1], out.offset);
    const walk = pushWalk(
      params,
      batchShape,
      [a.strides.slice(0, r - 2), b.strides.slice(0, r - 2)],
      [a.offset, b.offset],
      "matmul",
    );
    // Unit strides become literals so the compiler can simplify the address arithmetic.
    const [am, ak, bk, bn] = [
      a.strides[r - 2],
      a.strides[r - 1],
      b.strides[r - 2],
      b.strides[r - 1],
    ];
    const unit = (v: number, name: string) => (v === 1 ? "1" : name);
    const strides = {
      am: unit(am, "am"),
      ak: unit(ak, "ak"),
      bk: unit(bk, "bk"),
      bn: unit(bn, "bn"),
    };
    // b read 4 elements at a time where its rows (n) or columns (k) are aligned runs of 4:
    // llvmpipe then issues one load per 4 values.
    const aligned = b.offset % 4 === 0 && b.strides.slice(0, r - 2).every((s) => s % 4 === 0);
    let kind = M > SMALL_M ? "block" : `row${M}`;
    if (M <= SMALL_M && aligned && bn === 1 && N % 4 === 0 && bk % 4 === 0) kind += "n4";
    else if (M <= SMALL_M && aligned && bk === 1 && K % 4 === 0 && bn % 4 === 0) kind += "k4";
    const bindings: Binding[] = [
      { name: "out", storage: out.storage, write: true, full: coversStorage(out) },
      { name: "a", storage: a.storage },
      // "row4" (M = 4, scalar loads) also ends in 4: only the n4/k4 kinds read vec4s.
      { name: "b", storage: b.storage, vec4: kind.endsWith("n4") || kind.endsWith("k4") },
    ];
    const decl = declare(host, bindings);
    const head = `let M = ${p(dims)}; let N = ${p(dims + 1)}; let K = ${p(dims + 2)};
  let am = ${p(dims + 3)}; let ak = ${p(dims + 4)}; let bk = ${p(dims + 5)}; let bn = ${
      p(dims + 6)
    };
  let batch = i32(wid.z);
  let o_out = ${p(dims + 7)} + batch * M * N;
  ${walkCode(walk, "batch", ["a", "b"])}`;
    const unitKey = Object.values(strides).map((v) => (v === "1" ? "1" : "s")).join("");
    const key = `matmul:${kind}:${unitKey}:${decl.key}:r${walk.rank}`;
    const run = (groups: [number, number, number], code: string) =>
      host.run({
        key,
        bindings,
        params: params.words(),
        groups,
        code: () => `${decl.code}\n${code}`,
      });
    if (M > SMALL_M) {
      const gx = Math.ceil(N / (BC * WGX)), gy = Math.ceil(M / (BR * WGY));
      if (gx > 65535 || gy > 65535) throw new RangeError(`webgpu matmul: ${M}x${N} is too large`);
      return run([gx, gy, batches], blockCode(head, strides));
    }
    const cols = kind.endsWith("k4") && M > 2 ? 4 : ROW_COLS;
    const groups: [number, number, number] = [Math.ceil(N / (ROW_WG * cols)), 1, batches];
    if (kind.endsWith("n4")) run(groups, rowN4Code(M, head, strides));
    else if (kind.endsWith("k4")) run(groups, rowK4Code(M, cols, head, strides));
    else run(groups, rowCode(M, head, strides));
  };
}

type Strides = { am: string; ak: string; bk: string; bn: string };
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** ROW_COLS output columns per thread for all M (<= 8) rows, unrolled. */
function rowCode(M: number, head: string, s: Strides): string {
  const rows = range(M), cols = range(ROW_COLS);
  return `${MAIN_ROW}
  ${head}
  let n0 = (i32(wid.x) * ${ROW_WG} + i32(lid)) * ${ROW_COLS};
  if (n0 >= N) { return; }
  ${cols.map((j) => `var pb${j} = o_b + min(n0 + ${j}, N - 1) * ${s.bn};`).join(" ")}
  var pa = o_a;
  ${rows.flatMap((m) => cols.map((j) => `var c${m}_${j} = 0.0;`)).join(" ")}
  for (var k = 0; k < K; k++) {
    ${cols.map((j) => `let b${j} = ld_b(pb${j}); pb${j} += ${s.bk};`).join(" ")}
    ${rows.map((m) => `let a${m} = ld_a(pa + ${m} * ${s.am});`).join(" ")}
    ${rows.flatMap((m) => cols.map((j) => `c${m}_${j} += a${m} * b${j};`)).join(" ")}
    pa += ${s.ak};
  }
  ${
    cols.map((j) =>
      `if (n0 + ${j} < N) { ${
        rows.map((m) => `st_out(o_out + ${m} * N + n0 + ${j}, c${m}_${j});`).join(" ")
      } }`
    ).join("\n  ")
  }
}`;
}

const MAIN_ROW = `@compute @workgroup_size(${ROW_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {`;

/** Row kernel for b with contiguous rows: 8 columns per thread as two vec4 loads per k. */
function rowN4Code(M: number, head: string, s: Strides): string {
  const rows = range(M), halves = [0, 1];
  const store = (m: number, h: number) =>
    range(4).map((q) => `st_out(o_out + ${m} * N + n${h} + ${q}, c${m}_${h}[${q}]);`).join(" ");
  return `${MAIN_ROW}
  ${head}
  let n0 = (i32(wid.x) * ${ROW_WG} + i32(lid)) * 8;
  if (n0 >= N) { return; }
  let n1 = min(n0 + 4, N - 4);
  var pb0 = o_b + n0;
  var pb1 = o_b + n1;
  var pa = o_a;
  ${rows.flatMap((m) => halves.map((h) => `var c${m}_${h} = vec4<f32>(0.0);`)).join(" ")}
  for (var k = 0; k < K; k++) {
    let b0 = ld4_b(pb0); let b1 = ld4_b(pb1);
    pb0 += ${s.bk}; pb1 += ${s.bk};
    ${rows.map((m) => `let a${m} = ld_a(pa + ${m} * ${s.am});`).join(" ")}
    ${rows.map((m) => `c${m}_0 += a${m} * b0; c${m}_1 += a${m} * b1;`).join(" ")}
    pa += ${s.ak};
  }
  ${rows.map((m) => store(m, 0)).join("\n  ")}
  if (n0 + 4 < N) {
    ${rows.map((m) => store(m, 1)).join("\n    ")}
  }
}`;
}

/** Row kernel for b with contiguous columns (a transposed b, wte^T): vec4 loads along k. */
function rowK4Code(M: number, C: number, head: string, s: Strides): string {
  const rows = range(M), cols = range(C);
  const a4 = (m: number) =>
    `vec4<f32>(${range(4).map((q) => `ld_a(pa + ${m} * ${s.am} + ${q} * ${s.ak})`).join(", ")})`;
  return `${MAIN_ROW}
  ${head}
  let n0 = (i32(wid.x) * ${ROW_WG} + i32(lid)) * ${C};
  if (n0 >= N) { return; }
  ${cols.map((j) => `var pb${j} = o_b + min(n0 + ${j}, N - 1) * ${s.bn};`).join(" ")}
  var pa = o_a;
  ${rows.flatMap((m) => cols.map((j) => `var c${m}_${j} = vec4<f32>(0.0);`)).join(" ")}
  for (var k = 0; k < K; k += 4) {
    ${cols.map((j) => `let b${j} = ld4_b(pb${j}); pb${j} += 4;`).join(" ")}
    ${rows.map((m) => `let a${m} = ${a4(m)};`).join("\n    ")}
    ${rows.flatMap((m) => cols.map((j) => `c${m}_${j} += a${m} * b${j};`)).join(" ")}
    pa += 4 * ${s.ak};
  }
  ${
    cols.map((j) =>
      `if (n0 + ${j} < N) { ${
        rows.map((m) => `st_out(o_out + ${m} * N + n0 + ${j}, dot(c${m}_${j}, vec4<f32>(1.0)));`)
          .join(" ")
      } }`
    ).join("\n  ")
  }
}`;
}

/** A BR x BC block of outputs per thread; rows and columns past the edge are clamped on load. */
function blockCode(head: string, s: Strides): string {
  const rows = range(BR), cols = range(BC);
  return `@compute @workgroup_size(${WGX}, ${WGY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) l3: vec3<u32>) {
  ${head}
  let r0 = (i32(wid.y) * ${WGY} + i32(l3.y)) * ${BR};
  let n0 = (i32(wid.x) * ${WGX} + i32(l3.x)) * ${BC};
  if (r0 >= M || n0 >= N) { return; }
  ${rows.map((i) => `var pa${i} = o_a + min(r0 + ${i}, M - 1) * ${s.am};`).join(" ")}
  ${cols.map((j) => `var pb${j} = o_b + min(n0 + ${j}, N - 1) * ${s.bn};`).join(" ")}
  ${rows.flatMap((i) => cols.map((j) => `var c${i}_${j} = 0.0;`)).join(" ")}
  for (var k = 0; k < K; k++) {
    ${rows.map((i) => `let a${i} = ld_a(pa${i}); pa${i} += ${s.ak};`).join(" ")}
    ${cols.map((j) => `let b${j} = ld_b(pb${j}); pb${j} += ${s.bk};`).join(" ")}
    ${rows.flatMap((i) => cols.map((j) => `c${i}_${j} += a${i} * b${j};`)).join(" ")}
  }
  ${
    rows.map((i) =>
      `if (r0 + ${i} < M) { ${
        cols.map((j) =>
          `if (n0 + ${j} < N) { st_out(o_out + (r0 + ${i}) * N + n0 + ${j}, c${i}_${j}); }`
        )
          .join(" ")
      } }`
    ).join("\n  ")
  }
}`;
}
