// Runs out = a @ b on the SIMD tier: decides whether it applies, lays the operands out in the
// wasm heap, cuts the work into per-thread task records by column panels, copies C back.

import type { View } from "../../backend.ts";
import { smallGroup } from "./matmul_kernels.ts";
import { cachedPanels, copyRows, type Layout, type Mat2, packedOnly, packPanels } from "./pack.ts";
import { poolThreads, RECORD_INTS, runUnits } from "./threads.ts";
import { getHeap, HeapFullError } from "./wasm_heap.ts";

/** Knobs of `fastMatmulWith`; the defaults are what `fastMatmul` uses. */
export interface FastMatmulOptions {
  /** Decline when M*N*K per batch element is below this: the reference kernel wins there. */
  minWork?: number;
  /** Use at most this many threads (default: every started one). */
  threads?: number;
  /**
   * A is already in the heap (a's view then only gives shapes): rows `ld` bytes apart from
   * byte `addr`, batch elements m rows apart.
   */
  aAt?: HeapRows;
  /**
   * C goes to the heap, not to out (whose view then only gives shapes): rows `ld` bytes apart
   * (at least the padded width times 4) from byte `addr`, batch elements m rows apart; what
   * lands in the padding columns is unspecified.
   */
  cAt?: HeapRows;
  /**
   * Row r (of each batch element) of C is needed only in columns below `colsUpTo(r)`: the rest
   * may be skipped and hold junk (causal attention scores). Non-decreasing in r is best.
   */
  colsUpTo?: (row: number) => number;
  /** Row r of A is zero from column `kUpTo(r)` on, so that part of k may be skipped. */
  kUpTo?: (row: number) => number;
}

/** Rows of a matrix in the wasm heap: the byte address of row 0 and the bytes between rows. */
export interface HeapRows {
  addr: number;
  ld: number;
}

export const MIN_WORK = 1 << 14;
/** Below this much total M*N*K a dispatch to the workers costs more than it saves. */
const THREAD_WORK = 1 << 18;
/** Row and k blocking of the general path: an MC x KC block of A stays in L2. */
const MC = 96, KC = 256;
/** Units of work per thread: enough that a descheduled thread's share can be picked up. */
const UNITS_PER_THREAD = 4;

function isF32(v: View): boolean {
  // A storage held only as panels (packed_weight.ts) is float32 without a host buffer yet.
  return v.storage.dtype === "float32" &&
    (packedOnly.has(v.storage) || v.storage.buf instanceof Float32Array);
}

function isContiguous(v: View): boolean {
  let expect = 1;
  for (let d = v.shape.length - 1; d >= 0; d--) {
    if (v.shape[d] !== 1 && v.strides[d] !== expect) return false;
    expect *= v.shape[d];
  }
  return true;
}

/** Offsets of each batch element of a view's leading dims, in row-major order. */
function batchOffsets(v: View, dims: number): number[] {
  let offsets = [v.offset];
  for (let d = 0; d < dims; d++) {
    const next: number[] = [];
    for (const o of offsets) {
      for (let i = 0; i < v.shape[d]; i++) next.push(o + i * v.strides[d]);
    }
    offsets = next;
  }
  return offsets;
}

/** Cuts `panels` into about `parts` contiguous ranges whose cuts fall on multiples of `group`. */
function split(panels: number, parts: number, group: number): [number, number][] {
  const units = Math.ceil(panels / group);
  const n = Math.max(1, Math.min(parts, units));
  return Array.from({ length: n }, (_, t) => [
    Math.min(panels, Math.floor((t * units) / n) * group),
    Math.min(panels, Math.floor(((t + 1) * units) / n) * group),
  ]);
}

/** `fastMatmul` with explicit options (tests use `minWork: 0` to reach tiny shapes). */
export function fastMatmulWith(
  out: View,
  a: View,
  b: View,
  opts: FastMatmulOptions = {},
): boolean {
  try {
    return matmul(out, a, b, opts);
  } catch (e) {
    if (e instanceof HeapFullError) return false; // the reference kernel needs no wasm memory
    throw e;
  }
}

function matmul(out: View, a: View, b: View, opts: FastMatmulOptions): boolean {
  const heap = getHeap();
  if (!heap || !isF32(a) || !isF32(b) || !isF32(out)) return false;
  if (!opts.cAt && !isContiguous(out)) return false;
  const nd = a.shape.length;
  if (nd < 2 || b.shape.length !== nd || out.shape.length !== nd) return false;
  const [m, k, n] = [a.shape[nd - 2], a.shape[nd - 1], b.shape[nd - 1]];
  if (b.shape[nd - 2] !== k || out.shape[nd - 2] !== m || out.shape[nd - 1] !== n) {
    throw new TypeError(
      `matmul: shapes do not chain, a [${a.shape.join(", ")}] @ b [${b.shape.join(", ")}] -> out [${
        out.shape.join(", ")
      }]`,
    );
  }
  const work = m * n * k;
  if (work === 0 || work < (opts.minWork ?? MIN_WORK)) return false;

  const aOffsets = batchOffsets(a, nd - 2), bOffsets = batchOffsets(b, nd - 2);
  const batch = aOffsets.length;
  const nr = heap.config.nv * 4;
  const panels = Math.ceil(n / nr), npad = panels * nr;
  const threads = batch * work < THREAD_WORK
    ? 1
    : Math.max(1, Math.min(opts.threads ?? Infinity, poolThreads()));

  const bLayout = (offset: number): Layout => ({
    offset,
    rows: k,
    cols: n,
    rs: b.strides[nd - 2],
    cs: b.strides[nd - 1],
  });
  const bMat = (offset: number): Mat2 => ({
    ...bLayout(offset),
    buf: b.storage.buf as Float32Array,
  });
  // Scratch holds A's rows, C's padded rows, the panels of each distinct non-constant b and,
  // for row-major ones, b's rows on their way into the wasm packer.
  const stride = k * nr * 4;
  const round = (x: number) => Math.ceil(x / 64) * 64;
  const { aAt, cAt } = opts;
  const aBytes = aAt ? 0 : round(batch * m * k * 4), cBytes = cAt ? 0 : round(batch * m * npad * 4);
  const distinct = b.storage.constant ? [] : [...new Set(bOffsets)];
  const bBytes = distinct.length * panels * stride;
  const rowMajor = distinct.length > 0 && b.strides[nd - 1] === 1;
  const tBytes = rowMajor ? round(k * n * 4 + 64) : 0;
  if (cAt && cAt.ld < npad * 4) {
    throw new RangeError(`matmul: cAt.ld ${cAt.ld} is below the padded row of ${npad * 4} bytes`);
  }
  const aAddr = heap.scratch(aBytes + cBytes + bBytes + tBytes);
  const cAddr = aAddr + aBytes, tAddr = cAddr + cBytes + bBytes;
  const bAddrs = new Map<number, number>();
  distinct.forEach((o, i) => {
    const addr = cAddr + cBytes + i * panels * stride;
    if (rowMajor) {
      copyRows(heap.f32(), tAddr / 4, bMat(o));
      heap.packRows(tAddr, n * 4, addr, k, panels);
    } else {
      packPanels(heap.f32(), addr / 4, bMat(o), nr);
    }
    bAddrs.set(o, addr);
  });
  for (const o of bOffsets) {
    if (!bAddrs.has(o)) bAddrs.set(o, cachedPanels(heap, b.storage, bLayout(o)));
  }
  const f32 = heap.f32(), aBuf = a.storage.buf as Float32Array;
  const [ars, acs] = [a.strides[nd - 2], a.strides[nd - 1]];
  if (!aAt) {
    aOffsets.forEach((offset, i) => {
      copyRows(f32, aAddr / 4 + i * m * k, {
        buf: aBuf,
        offset,
        rows: m,
        cols: k,
        rs: ars,
        cs: acs,
      });
    });
  }
  const [a00, lda] = aAt ? [aAt.addr, aAt.ld] : [aAddr, k * 4];
  const [c00, ldc] = cAt ? [cAt.addr, cAt.ld] : [cAddr, npad * 4];

  // A unit is one batch element's panel range with all its (row block, k block) steps in
  // order; a record is [driver, a, lda, b, bstride, c, ldc, m, k, p0, p1, accum].
  const small = m <= heap.config.smallM;
  const [mb, kb] = small ? [m, k] : [MC, KC];
  const group = small ? smallGroup(heap.config, m) : 1;
  const ranges = split(panels, threads === 1 ? 1 : threads * UNITS_PER_THREAD, group);
  const steps = Math.ceil(m / mb) * Math.ceil(k / kb);
  const recs = new Int32Array(batch * ranges.length * steps * RECORD_INTS);
  let r = 0;
  // Per row block: the last panel and the k extent its rows need (all of them by default).
  const { colsUpTo, kUpTo } = opts;
  const blockMax = (f: ((row: number) => number) | undefined, m0: number, all: number) => {
    if (!f || small) return all;
    let most = 0;
    for (let row = m0; row < Math.min(m, m0 + mb); row++) most = Math.max(most, f(row));
    return Math.max(1, Math.min(all, most));
  };
  const blocks = Array.from({ length: Math.ceil(m / mb) }, (_, i) => ({
    pEnd: Math.ceil(blockMax(colsUpTo, i * mb, n) / nr),
    kEnd: blockMax(kUpTo, i * mb, k),
  }));
  for (let i = 0; i < batch; i++) {
    const bAddr = bAddrs.get(bOffsets[i])!;
    const a0 = a00 + i * m * lda, c0 = c00 + i * m * ldc;
    for (const [p0, p1] of ranges) {
      for (let m0 = 0; m0 < m; m0 += mb) {
        const { pEnd, kEnd } = blocks[m0 / mb];
        for (let k0 = 0; k0 < k; k0 += kb) {
          const kLen = Math.min(kb, kEnd - k0), q1 = kLen > 0 ? Math.min(p1, pEnd) : p0;
          recs[r++] = small ? m : 0;
          recs[r++] = a0 + m0 * lda + k0 * 4;
          recs[r++] = lda;
          recs[r++] = bAddr + k0 * nr * 4;
          recs[r++] = stride;
          recs[r++] = c0 + m0 * ldc;
          recs[r++] = ldc;
          recs[r++] = Math.min(mb, m - m0);
          recs[r++] = Math.max(1, kLen);
          recs[r++] = p0;
          recs[r++] = Math.max(p0, q1); // p0: nothing to do
          recs[r++] = k0 > 0 ? 1 : 0;
        }
      }
    }
  }
  runUnits(heap, recs, batch * ranges.length, { steps, threads });
  if (cAt) {
    heap.trimScratch();
    return true;
  }

  const outBuf = out.storage.buf as Float32Array;
  if (npad === n) {
    outBuf.set(f32.subarray(cAddr / 4, cAddr / 4 + batch * m * n), out.offset);
  } else {
    for (let row = 0; row < batch * m; row++) {
      const s = cAddr / 4 + row * npad;
      outBuf.set(f32.subarray(s, s + n), out.offset + row * n);
    }
  }
  heap.trimScratch();
  return true;
}
