// Weights that live only as packed matmul panels in the wasm heap: built from a checkpoint in
// row chunks (no whole host copy), given a host copy only when something reads their values,
// and with embedding rows gathered straight from the panels.

import type { Storage, View } from "../../backend.ts";
import { MIN_WORK } from "./matmul.ts";
import { adoptPanels, type Layout, type PackedOnly, packedOnly } from "./pack.ts";
import { getHeap, HeapFullError } from "./wasm_heap.ts";

/** Bytes of checkpoint rows read and packed at a time (a reused heap block). */
const CHUNK_BYTES = 8 << 20;

/** Fills `dst` with rows [r0, r1) of the stored (rows, cols) matrix, row-major. */
export type RowFill = (dst: Float32Array, r0: number, r1: number) => void;

/**
 * A constant float32 storage of a stored (rows, cols) matrix S that is a matmul's right operand
 * B = S (`transposed` false, GPT-2's Conv1D) or B = S^T (`transposed` true, nn.Linear and tied
 * heads), held only as the panels matmul reads. `fill` is asked for S's rows a chunk at a
 * time. The host copy (`storage.buf`) is unpacked on first read and kept. Null, calling
 * nothing, without wasm SIMD, for matrices matmul would not pack, or when the heap is full.
 */
export function packedWeight(
  rows: number,
  cols: number,
  transposed: boolean,
  fill: RowFill,
): Storage | null {
  const heap = getHeap();
  if (!heap || rows * cols < MIN_WORK) return null;
  const nr = heap.config.nv * 4;
  const [k, n] = transposed ? [cols, rows] : [rows, cols];
  let addr: number, tmp: number;
  const fit = Math.max(1, Math.floor(CHUNK_BYTES / (cols * 4)));
  const step = Math.min(rows, transposed ? Math.max(nr, fit - fit % nr) : fit);
  try {
    addr = heap.alloc(Math.ceil(n / nr) * k * nr * 4);
    // The chunk goes in the reused scratch block, whose pages are already touched (fresh pages
    // cost a fault each). + 64: packRows reads up to nr - 1 floats past a row.
    tmp = heap.scratch(step * cols * 4 + 64);
  } catch (e) {
    if (e instanceof HeapFullError) return null;
    throw e;
  }
  try {
    for (let r0 = 0; r0 < rows; r0 += step) {
      const r1 = Math.min(rows, r0 + step);
      const chunk = new Float32Array(heap.memory.buffer, tmp, (r1 - r0) * cols); // (r1 - r0, cols)
      fill(chunk, r0, r1);
      if (transposed) columnsIntoPanels(heap.f32(), addr / 4, chunk, r0, r1, k, nr);
      else {
        for (let p = 0; p * nr < n; p++) {
          heap.packRows(tmp + p * nr * 4, cols * 4, addr + (p * k + r0) * nr * 4, r1 - r0, 1);
        }
      }
    }
    if (transposed) zeroPadding(heap.f32(), addr / 4, n, k, nr);
  } catch (e) {
    heap.free(addr);
    throw e;
  }
  const layout: Layout = transposed
    ? { offset: 0, rows: k, cols: n, rs: 1, cs: k }
    : { offset: 0, rows: k, cols: n, rs: n, cs: 1 };
  const storage = lazyHostStorage(rows * cols);
  adoptPanels(heap, storage, layout, addr);
  packedOnly.set(storage, { heap, addr, layout });
  return storage;
}

/**
 * Whether `storage`'s values are still held only as panels (no host copy made yet).
 *
 * @example
 * ```ts
 * import { isPackedOnly, packedWeight } from "./packed_weight.ts";
 * const s = packedWeight(128, 128, true, (dst) => dst.fill(1));
 * if (s) isPackedOnly(s); // true until something reads s.buf
 * ```
 */
export function isPackedOnly(storage: Storage): boolean {
  return packedOnly.has(storage);
}

/** Stored rows [r0, r1) of S (N, K) are B's columns: lane j % nr of panel j / nr. */
function columnsIntoPanels(
  f32: Float32Array,
  base: number,
  chunk: Float32Array,
  r0: number,
  r1: number,
  k: number,
  nr: number,
): void {
  for (let j = r0; j < r1; j++) {
    const d = base + Math.floor(j / nr) * k * nr + (j % nr);
    const s = (j - r0) * k;
    for (let i = 0; i < k; i++) f32[d + i * nr] = chunk[s + i];
  }
}

/** Zeroes the lanes of the last panel past column n - 1. */
function zeroPadding(f32: Float32Array, base: number, n: number, k: number, nr: number): void {
  for (let j = n; j % nr !== 0; j++) {
    const d = base + Math.floor(j / nr) * k * nr + (j % nr);
    for (let i = 0; i < k; i++) f32[d + i * nr] = 0;
  }
}

/** A cpu storage whose `buf` is unpacked from its panels on first read, then kept. */
function lazyHostStorage(size: number): Storage {
  const storage: Storage = { device: "cpu", dtype: "float32", size, buf: null, version: 0 };
  storage.constant = true;
  Object.defineProperty(storage, "buf", {
    configurable: true,
    enumerable: true,
    get: () => {
      const buf = unpack(packedOnly.get(storage)!, size);
      Object.defineProperty(storage, "buf", {
        value: buf,
        writable: true,
        configurable: true,
        enumerable: true,
      });
      packedOnly.delete(storage);
      return buf;
    },
  });
  return storage;
}

/** The host values of a packed-only storage: B (K, N) back to its stored layout. */
function unpack({ heap, addr, layout }: PackedOnly, size: number): Float32Array {
  const out = new Float32Array(size);
  const nr = heap.config.nv * 4;
  const f32 = heap.f32();
  const { rows: k, cols: n, rs, cs } = layout;
  for (let j = 0; j < n; j++) {
    const s = addr / 4 + Math.floor(j / nr) * k * nr + (j % nr);
    for (let i = 0; i < k; i++) out[i * rs + j * cs] = f32[s + i * nr];
  }
  return out;
}

/**
 * Embedding rows straight from a packed-only table stored (V, C) whose panels are its
 * transpose (a tied head's): out[t] = table[ids[t]], without making the host copy. False,
 * doing nothing, for any other table or a non-contiguous out. Ids out of range throw the
 * reference kernel's RangeError.
 */
export function gatherPackedRows(out: View, table: View, ids: View): boolean {
  const packed = packedOnly.get(table.storage);
  const [V, C] = table.shape;
  if (
    !packed || packed.layout.rs !== 1 || table.offset !== 0 || table.strides[0] !== C ||
    table.strides[1] !== 1 || packed.layout.cols !== V || out.strides[0] !== C ||
    out.strides[1] !== 1
  ) return false;
  const { heap, addr } = packed;
  const nr = heap.config.nv * 4;
  const f32 = heap.f32(), o = out.storage.buf as Float32Array, idb = ids.storage.buf as Int32Array;
  for (let t = 0; t < ids.shape[0]; t++) {
    const id = idb[ids.offset + t * ids.strides[0]];
    if (id < 0 || id >= V || !Number.isInteger(id)) {
      throw new RangeError(`gatherRows: id ${id} at position ${t} is out of range for ${V} rows`);
    }
    const s = addr / 4 + Math.floor(id / nr) * C * nr + (id % nr);
    const d = out.offset + t * C;
    for (let c = 0; c < C; c++) o[d + c] = f32[s + c * nr];
  }
  return true;
}
