// Reads a checkpoint's tensors from disk on demand (no whole-file buffer): one tensor or a few
// MiB of its rows at a time, each read checked for NaN/±Inf. What loadModel streams from.

import {
  bf16ToF32,
  f16ToF32,
  missingFromShard,
  nonFiniteWeight,
  parseSafetensorsHeader,
  type SafetensorsHeader,
  type TensorInfo,
  weightFiles,
} from "./safetensors.ts";
import type { WeightSource } from "./weights.ts";

/** Options of {@link SafetensorsReader.openDir}. */
export interface ReaderOptions {
  /** Skip the NaN/±Inf check of every read. Default false. */
  allowNonFinite?: boolean;
}

interface Entry {
  info: TensorInfo;
  file: Deno.FsFile;
  path: string;
  /** The file offset of the tensor's first byte. */
  start: number;
}

/** One open checkpoint file and its validated header. */
interface Opened extends SafetensorsHeader {
  file: Deno.FsFile;
}

/**
 * The tensors of a model directory (`model.safetensors` or an index's shards), validated like
 * readSafetensors but read from the open files only when asked: `float32(name)` for a whole
 * tensor, `float32Rows` for a chunk of rows. Every read is checked for NaN and ±Inf unless
 * `allowNonFinite` (NonFiniteWeightError names the tensor, first index and count). Close it
 * (or `using`) when done.
 *
 * @example
 * ```ts
 * import { SafetensorsReader } from "./safetensors_reader.ts";
 * using weights = await SafetensorsReader.openDir("tests/fixtures/tiny-llama");
 * weights.float32("model.norm.weight").length; // 32
 * ```
 */
export class SafetensorsReader implements WeightSource, Disposable {
  #entries = new Map<string, Entry>();
  #files: Deno.FsFile[] = [];
  #allowNonFinite: boolean;
  #names?: string[];

  private constructor(opts: ReaderOptions) {
    this.#allowNonFinite = opts.allowNonFinite ?? false;
  }

  /** Opens a model directory's weights: its one file or every shard of its index. */
  static async openDir(dir: string, opts: ReaderOptions = {}): Promise<SafetensorsReader> {
    const reader = new SafetensorsReader(opts);
    try {
      const found = await weightFiles(dir);
      if ("file" in found) {
        const { file, infos, dataStart } = await reader.#open(found.file);
        for (const [name, info] of infos) {
          reader.#entries.set(name, { info, file, path: found.file, start: dataStart });
        }
        return reader;
      }
      const shards = new Map<string, Opened>();
      for (const [name, shard] of found.owners) {
        const path = `${dir}/${shard}`;
        let opened = shards.get(shard);
        if (!opened) shards.set(shard, opened = await reader.#open(path));
        const info = opened.infos.get(name);
        if (!info) throw missingFromShard(found.index, name, shard);
        reader.#entries.set(name, { info, file: opened.file, path, start: opened.dataStart });
      }
      return reader;
    } catch (e) {
      reader.close();
      throw e;
    }
  }

  async #open(path: string): Promise<Opened> {
    const file = await Deno.open(path);
    this.#files.push(file);
    const size = (await file.stat()).size;
    const read = (start: number, length: number) => readAt(file, path, start, length);
    return { file, ...parseSafetensorsHeader(read, size) };
  }

  /** Tensor names in sorted order. */
  get names(): readonly string[] {
    return this.#names ??= [...this.#entries.keys()].sort();
  }

  /** Dtype, shape and byte range of a tensor; throws RangeError for an unknown name. */
  info(name: string): TensorInfo {
    return this.#get(name).info;
  }

  #get(name: string): Entry {
    const e = this.#entries.get(name);
    if (e) return e;
    const some = this.names.slice(0, 4).map((n) => `"${n}"`).join(", ");
    throw new RangeError(
      `Unknown tensor "${name}": the checkpoint has ${this.names.length} (${some}...)`,
    );
  }

  /** A whole float tensor (F32, F16 or BF16) as float32, read from disk now. */
  float32(name: string): Float32Array {
    const { shape } = this.#get(name).info;
    const out = new Float32Array(shape.reduce((a, d) => a * d, 1));
    this.float32Rows(name, out, 0, shape.length === 0 ? 1 : shape[0]);
    return out;
  }

  /**
   * Rows [r0, r1) of a float tensor seen as (shape[0], rest), read from disk into `dst` as
   * float32 ((r1 - r0) * rest values; dst may be a view of wasm memory).
   */
  float32Rows(name: string, dst: Float32Array, r0: number, r1: number): void {
    const { info, file, path, start } = this.#get(name);
    const { dtype, shape } = info;
    if (dtype !== "F32" && dtype !== "F16" && dtype !== "BF16") {
      throw new TypeError(`Tensor "${name}" has integer dtype "${dtype}": read it as int32`);
    }
    const rest = shape.slice(1).reduce((a, d) => a * d, 1);
    const width = dtype === "F32" ? 4 : 2;
    const at = start + info.byteOffset + r0 * rest * width, length = (r1 - r0) * rest * width;
    if (dtype === "F32") {
      readAt(file, path, at, length, new Uint8Array(dst.buffer, dst.byteOffset, length));
    } else {
      const raw = readAt(file, path, at, length);
      if (dtype === "F16") f16ToF32(raw, dst);
      else bf16ToF32(raw, dst);
    }
    if (!this.#allowNonFinite && firstNonFinite(dst, (r1 - r0) * rest) >= 0) {
      throw nonFiniteWeight(name, this.#census(name));
    }
  }

  /** Where a tensor known to hold NaN/±Inf holds them (first index, value, count). */
  #census(name: string): { index: number; count: number; value: number } {
    const saved = this.#allowNonFinite;
    this.#allowNonFinite = true;
    const all = this.float32(name);
    this.#allowNonFinite = saved;
    const index = firstNonFinite(all, all.length);
    let count = 0;
    for (let i = index; i < all.length; i++) if (!Number.isFinite(all[i])) count++;
    return { index, count, value: all[index] };
  }

  /** Closes every file. Reads after this throw. */
  close(): void {
    for (const f of this.#files.splice(0)) f.close();
  }

  /** `using` support: closes every file. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The first index among the first n values of x that is NaN or ±Inf (all-ones exponent), or -1. */
function firstNonFinite(x: Float32Array, n: number): number {
  const bits = new Uint32Array(x.buffer, x.byteOffset, n);
  for (let i = 0; i < n; i++) if ((bits[i] & 0x7f800000) === 0x7f800000) return i;
  return -1;
}

/**
 * `length` bytes of `file` from byte `start`, into `into` when given; a file that ends early
 * (changed since its header was read) is a RangeError naming it.
 */
function readAt(
  file: Deno.FsFile,
  path: string,
  start: number,
  length: number,
  into: Uint8Array = new Uint8Array(length),
): Uint8Array {
  file.seekSync(start, Deno.SeekMode.Start);
  let off = 0;
  while (off < length) {
    const n = file.readSync(into.subarray(off, length));
    if (n === null || n === 0) {
      throw new RangeError(
        `File "${path}" ended at byte ${start + off} while reading bytes [${start}, ${
          start + length
        }]: it changed after its header was read; load it again once it is written`,
      );
    }
    off += n;
  }
  return into;
}
