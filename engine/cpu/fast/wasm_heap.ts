// The fast tier's shared wasm memory, its compiled kernel module and a first-fit free-list
// allocator over it. Main thread only: workers receive the module and memory by message.

import { buildMatmulModule, DEFAULT_CONFIG, type KernelConfig } from "./matmul_kernels.ts";
import { buildRowModule, ROW_EXPORTS } from "./row_kernels.ts";
import { relaxedSupported, simdSupported } from "./wasm_emitter.ts";

const PAGE = 65536;
const MAX_PAGES = 65536;
const INITIAL_PAGES = 256;
/** Bytes at the bottom of memory for the thread control block and task table. */
export const RESERVED_BYTES = PAGE;
const ALIGN = 64;
/** Scratch above this size is returned after the call (a long prefill's logits, say). */
const SCRATCH_KEEP = 64 << 20;

/** Names of the module's driver exports, in the order task records refer to them. */
export const EXPORT_NAMES: readonly string[] = [
  "gemm",
  ...Array.from({ length: DEFAULT_CONFIG.smallM }, (_, i) => `small${i + 1}`),
];

/** Index in `drivers` of the first row kernel (row_kernels.ts's ROW_EXPORTS follow, in order). */
export const ROW_DRIVER_BASE = EXPORT_NAMES.length;

/** A driver export: (a, lda, b, bstride, c, ldc, m, k, p0, p1, accum), all i32. */
export type Driver = (...args: number[]) => void;

/** The compiled tier: memory, module, this thread's drivers and the kernel layout. */
export interface WasmHeap {
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  /** The SIMD row module (row_kernels.ts), instantiated on the same memory. */
  readonly rowModule: WebAssembly.Module;
  /** The matmul drivers, then the row kernels from ROW_DRIVER_BASE on. */
  readonly drivers: readonly Driver[];
  /** Repacks row-major rows (src, ld bytes apart) into panels at dst: (src, ld, dst, k, panels). */
  readonly packRows: (src: number, ld: number, dst: number, k: number, panels: number) => void;
  readonly config: KernelConfig;
  readonly relaxed: boolean;
  /** A float32 view of all of memory, refreshed after growth. */
  f32(): Float32Array;
  /** Allocates `bytes` (64-byte aligned) and returns the byte address. */
  alloc(bytes: number): number;
  /** Returns a block from `alloc` to the free list. */
  free(addr: number): void;
  /** The per-call scratch block, at least `bytes` long; valid until the next call. */
  scratch(bytes: number): number;
  /** Frees the scratch block if it is larger than `keep` bytes (default 64 MiB). */
  trimScratch(keep?: number): void;
  /** Bytes held through `alloc` (cached panels), not counting scratch: for leak checks. */
  inUse(): number;
}

class Heap implements WasmHeap {
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly rowModule: WebAssembly.Module;
  readonly drivers: readonly Driver[];
  readonly packRows: WasmHeap["packRows"];
  readonly config: KernelConfig;
  readonly relaxed: boolean;
  #view: Float32Array;
  /** Free blocks sorted by address, never adjacent (they are merged). */
  #free: { addr: number; size: number }[] = [];
  #sizes = new Map<number, number>();
  #top = RESERVED_BYTES;
  #inUse = 0;
  #scratch = { addr: 0, size: 0 };

  constructor(relaxed: boolean) {
    this.relaxed = relaxed;
    this.config = { ...DEFAULT_CONFIG, relaxed };
    const limits = { initial: INITIAL_PAGES, maximum: MAX_PAGES };
    this.memory = new WebAssembly.Memory({ ...limits, shared: true });
    const bytes = buildMatmulModule(this.config, limits) as Uint8Array<ArrayBuffer>;
    this.module = new WebAssembly.Module(bytes);
    const env = { env: { memory: this.memory } };
    const { exports } = new WebAssembly.Instance(this.module, env);
    const rowBytes = buildRowModule(limits) as Uint8Array<ArrayBuffer>;
    this.rowModule = new WebAssembly.Module(rowBytes);
    const rows = new WebAssembly.Instance(this.rowModule, env).exports;
    this.drivers = [
      ...EXPORT_NAMES.map((n) => exports[n] as Driver),
      ...ROW_EXPORTS.map((n) => rows[n] as Driver),
    ];
    this.packRows = exports.pack as WasmHeap["packRows"];
    this.#view = new Float32Array(this.memory.buffer);
  }

  f32(): Float32Array {
    if (this.#view.byteLength !== this.memory.buffer.byteLength) {
      this.#view = new Float32Array(this.memory.buffer);
    }
    return this.#view;
  }

  alloc(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    let addr = -1;
    const i = this.#free.findIndex((b) => b.size >= size);
    if (i >= 0) {
      const block = this.#free[i];
      addr = block.addr;
      if (block.size === size) this.#free.splice(i, 1);
      else Object.assign(block, { addr: block.addr + size, size: block.size - size });
    } else {
      // Extend the top, absorbing a free block that ends there.
      const last = this.#free[this.#free.length - 1];
      const absorb = last !== undefined && last.addr + last.size === this.#top;
      addr = absorb ? last.addr : this.#top;
      this.#ensure(addr + size);
      if (absorb) this.#free.pop();
      this.#top = addr + size;
    }
    this.#sizes.set(addr, size);
    this.#inUse += size;
    return addr;
  }

  free(addr: number): void {
    const size = this.#sizes.get(addr);
    if (size === undefined) throw new RangeError(`fastMatmul heap: no block at address ${addr}`);
    this.#sizes.delete(addr);
    this.#inUse -= size;
    let i = this.#free.findIndex((b) => b.addr > addr);
    if (i < 0) i = this.#free.length;
    this.#free.splice(i, 0, { addr, size });
    const next = this.#free[i + 1];
    if (next && addr + size === next.addr) {
      this.#free[i].size += next.size;
      this.#free.splice(i + 1, 1);
    }
    const prev = this.#free[i - 1];
    if (prev && prev.addr + prev.size === addr) {
      prev.size += this.#free[i].size;
      this.#free.splice(i, 1);
    }
  }

  scratch(bytes: number): number {
    if (this.#scratch.size < bytes) {
      const want = Math.max(bytes, Math.min(this.#scratch.size * 1.5, SCRATCH_KEEP));
      this.trimScratch(0);
      const addr = this.alloc(want);
      this.#scratch = { addr, size: this.#sizes.get(addr)! };
    }
    return this.#scratch.addr;
  }

  trimScratch(keep = SCRATCH_KEEP): void {
    if (this.#scratch.size <= keep) return;
    this.free(this.#scratch.addr);
    this.#scratch = { addr: 0, size: 0 };
  }

  inUse(): number {
    return this.#inUse - this.#scratch.size;
  }

  #ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / PAGE);
    const full = () =>
      new HeapFullError(`fastMatmul heap: ${end} bytes needed, wasm memory stops at 4 GiB`);
    if (have / PAGE + pages > MAX_PAGES) throw full();
    // Grow by at least a quarter to keep the number of grow calls logarithmic.
    const extra = Math.max(pages, have / PAGE / 4 | 0);
    try {
      this.memory.grow(Math.min(MAX_PAGES - have / PAGE, extra));
    } catch {
      throw full();
    }
  }
}

/** The heap cannot grow to hold a matmul's operands: callers fall back to another kernel. */
export class HeapFullError extends RangeError {
  override name = "HeapFullError";
}

let heap: WasmHeap | null | undefined;

/**
 * A new heap with its own memory and module; null where the engine lacks wasm SIMD or cannot
 * reserve a shared 4 GiB memory (a tight address-space limit, say).
 */
export function createHeap(): WasmHeap | null {
  if (!simdSupported()) return null;
  try {
    return new Heap(relaxedSupported());
  } catch (e) {
    if (e instanceof RangeError) return null;
    throw e;
  }
}

/** The process-wide heap, built on first use; null where the engine lacks wasm SIMD. */
export function getHeap(): WasmHeap | null {
  if (heap === undefined) heap = createHeap();
  return heap;
}
