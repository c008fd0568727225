// Copies matmul operands into the wasm heap: B as K x nr column panels (cached per storage for
// constant weights), A as plain rows. Knows layouts and the heap, not kernels or threads.

import type { Storage } from "../../backend.ts";
import type { WasmHeap } from "./wasm_heap.ts";

/** Where a 2-D strided window sits in its buffer: element (i, j) at offset + i*rs + j*cs. */
export interface Layout {
  offset: number;
  rows: number;
  cols: number;
  rs: number;
  cs: number;
}

/** A 2-D strided window of a float32 host buffer: element (i, j) is buf[offset + i*rs + j*cs]. */
export interface Mat2 extends Layout {
  buf: Float32Array;
}

/** Writes m as panels of nr columns (zero-padded) at float index d0 of dst. */
export function packPanels(dst: Float32Array, d0: number, m: Mat2, nr: number): void {
  const { buf, offset, rows: k, cols: n, rs, cs } = m;
  const panels = Math.ceil(n / nr);
  if (Math.abs(cs) <= Math.abs(rs)) {
    // Rows are the contiguous direction: copy nr-wide strips row by row.
    for (let p = 0; p < panels; p++) {
      const full = Math.min(nr, n - p * nr);
      let d = d0 + p * k * nr;
      for (let i = 0; i < k; i++, d += nr) {
        const s = offset + i * rs + p * nr * cs;
        for (let j = 0; j < full; j++) dst[d + j] = buf[s + j * cs];
        for (let j = full; j < nr; j++) dst[d + j] = 0;
      }
    }
  } else {
    // Columns are contiguous (a transposed weight): stream each column down its panel slot.
    for (let p = 0; p < panels; p++) {
      for (let j = 0; j < nr; j++) {
        const col = p * nr + j;
        const d = d0 + p * k * nr + j;
        if (col >= n) {
          for (let i = 0; i < k; i++) dst[d + i * nr] = 0;
          continue;
        }
        const s = offset + col * cs;
        for (let i = 0; i < k; i++) dst[d + i * nr] = buf[s + i * rs];
      }
    }
  }
}

/** Writes m row-major (leading dimension m.cols) at float index d0 of dst. */
export function copyRows(dst: Float32Array, d0: number, m: Mat2): void {
  const { buf, offset, rows, cols, rs, cs } = m;
  if (cs === 1 && (rs === cols || rows === 1)) {
    dst.set(buf.subarray(offset, offset + rows * cols), d0);
  } else if (cs === 1) {
    for (let i = 0; i < rows; i++) {
      dst.set(buf.subarray(offset + i * rs, offset + i * rs + cols), d0 + i * cols);
    }
  } else {
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) dst[d0 + i * cols + j] = buf[offset + i * rs + j * cs];
    }
  }
}

interface Entry {
  addr: number;
  version: number;
}

type Entries = Map<string, Entry>;
const caches = new WeakMap<WasmHeap, WeakMap<Storage, Entries>>();
const registry = new FinalizationRegistry<{ heap: WasmHeap; entries: Entries }>(
  ({ heap, entries }) => {
    for (const e of entries.values()) heap.free(e.addr);
  },
);

/** Where the panels of a storage held only as panels (packed_weight.ts) are. */
export interface PackedOnly {
  heap: WasmHeap;
  addr: number;
  /** The panels' slice of the storage as matmul's right operand B (K, N). */
  layout: Layout;
}

/** Storages whose values exist only as panels, until their host copy is made. */
export const packedOnly: WeakMap<Storage, PackedOnly> = new WeakMap();

/** The cache key of one 2-D slice of a storage. */
const keyOf = (b: Layout) => `${b.offset}/${b.rows}/${b.cols}/${b.rs}/${b.cs}`;

function entriesOf(heap: WasmHeap, storage: Storage): Entries {
  let cache = caches.get(heap);
  if (!cache) caches.set(heap, cache = new WeakMap());
  let entries = cache.get(storage);
  if (!entries) {
    cache.set(storage, entries = new Map());
    registry.register(storage, { heap, entries });
  }
  return entries;
}

/**
 * The heap address of b's panels, b being one 2-D slice of a constant `storage`: packed on
 * first use, cached by slice, repacked when `storage.version` moves, freed when the storage
 * is garbage-collected. Reads `storage.buf` only when it packs.
 */
export function cachedPanels(heap: WasmHeap, storage: Storage, b: Layout): number {
  const nr = heap.config.nv * 4;
  const entries = entriesOf(heap, storage);
  const key = keyOf(b);
  let entry = entries.get(key);
  if (!entry || entry.version !== storage.version) {
    entry ??= { addr: heap.alloc(Math.ceil(b.cols / nr) * b.rows * nr * 4), version: 0 };
    entry.version = storage.version;
    const m: Mat2 = { ...b, buf: storage.buf as Float32Array };
    if (b.cs === 1) {
      // Row-major: one bulk copy into the heap, then the wasm packer.
      const tmp = heap.alloc(b.rows * b.cols * 4 + 64);
      copyRows(heap.f32(), tmp / 4, m);
      heap.packRows(tmp, b.cols * 4, entry.addr, b.rows, Math.ceil(b.cols / nr));
      heap.free(tmp);
    } else {
      packPanels(heap.f32(), entry.addr / 4, m, nr);
    }
    entries.set(key, entry);
  }
  return entry.addr;
}

/**
 * Files panels already packed at `addr` (from heap.alloc) as the cache entry of slice `b` of
 * `storage` at its current version: matmul then finds them, and they are freed with the storage.
 */
export function adoptPanels(heap: WasmHeap, storage: Storage, b: Layout, addr: number): void {
  entriesOf(heap, storage).set(keyOf(b), { addr, version: storage.version });
}

/** Frees every cached panel set of `storage` now (e.g. when a weight is replaced). */
export function evictPanels(heap: WasmHeap, storage: Storage): void {
  const entries = caches.get(heap)?.get(storage);
  if (!entries) return;
  for (const e of entries.values()) heap.free(e.addr);
  entries.clear();
}
