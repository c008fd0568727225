// Reads the safetensors format into plain typed arrays (float32 or int32).
// Knows nothing of tensors or models: the engine wraps what this returns.

import {
  ByteLengthError,
  HeaderFormatError,
  HeaderLengthError,
  NonFiniteWeightError,
  OffsetRangeError,
  TensorLayoutError,
  UnknownDtypeError,
} from "./errors.ts";
import { whyBadName } from "./hub_check.ts";
export { type TensorToWrite, writeSafetensors } from "./safetensors_write.ts";

export {
  ByteLengthError,
  HeaderFormatError,
  HeaderLengthError,
  NonFiniteWeightError,
  OffsetRangeError,
  SafetensorsError,
  TensorLayoutError,
  UnknownDtypeError,
} from "./errors.ts";

/** Dtypes tsight reads from safetensors files. */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "I32" | "I64";

const DTYPE_SIZE: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };
const MAX_HEADER = 100 * 1024 * 1024;

/** Where one tensor lives in a file: dtype on disk, shape, and its bytes within the data section. */
export interface TensorInfo {
  /** The dtype stored in the file. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first; `[]` for a scalar. */
  shape: number[];
  /** Offset of the tensor's first byte from the start of the data section. */
  byteOffset: number;
  /** Size in bytes on disk. */
  byteLength: number;
}

/** One tensor as the engine holds it: float dtypes as Float32Array, integer ones as Int32Array. */
export interface SafetensorsEntry {
  /** The tensor's key in the file, e.g. `h.0.attn.c_attn.weight`. */
  name: string;
  /** The dtype stored in the file. */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first. */
  shape: number[];
  /** Row-major values: Float32Array for F32/F16/BF16, Int32Array for I32/I64. */
  data: Float32Array | Int32Array;
}

/**
 * A parsed safetensors buffer (or several merged shards). F32 and I32 tensors are zero-copy
 * views of the buffer when 4-byte aligned (mutating them mutates the buffer); other dtypes are
 * converted on each call.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const bytes = writeSafetensors({ w: { dtype: "F32", shape: [2], data: [1, 2] } });
 * const file = readSafetensors(bytes);
 * console.log(file.names, file.float32("w")); // ["w"] Float32Array [1, 2]
 * ```
 */
export class SafetensorsFile {
  /** The header's `__metadata__` (string to string), empty when absent. */
  readonly metadata: Readonly<Record<string, string>>;
  #tensors = new Map<string, { info: TensorInfo; bytes: Uint8Array }>();
  #names?: string[];

  /** Use {@link readSafetensors}; `infos` offsets are into `data` and already validated. */
  constructor(data: Uint8Array, infos: Map<string, TensorInfo>, metadata: Record<string, string>) {
    for (const [name, info] of infos) {
      const bytes = data.subarray(info.byteOffset, info.byteOffset + info.byteLength);
      this.#tensors.set(name, { info, bytes });
    }
    this.metadata = metadata;
  }

  /**
   * One reader over tensors of several files, e.g. the shards of a checkpoint.
   *
   * @example
   * ```ts
   * import { readSafetensors, SafetensorsFile, writeSafetensors } from "./safetensors.ts";
   * const a = readSafetensors(writeSafetensors({ a: { dtype: "F32", shape: [1], data: [1] } }));
   * const b = readSafetensors(writeSafetensors({ b: { dtype: "F32", shape: [1], data: [2] } }));
   * console.log(SafetensorsFile.merge([["a", a], ["b", b]]).names); // ["a", "b"]
   * ```
   */
  static merge(
    owners: Iterable<[string, SafetensorsFile]>,
    metadata: Record<string, string> = {},
  ): SafetensorsFile {
    const out = new SafetensorsFile(new Uint8Array(0), new Map(), metadata);
    for (const [name, file] of owners) {
      const t = file.#tensors.get(name);
      if (!t) file.info(name);
      else out.#tensors.set(name, t);
    }
    return out;
  }

  /** Tensor names in sorted order. */
  get names(): readonly string[] {
    return this.#names ??= [...this.#tensors.keys()].sort();
  }

  /** Whether the file holds a tensor of this name. */
  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  /** Dtype, shape and byte range of a tensor; throws RangeError for an unknown name. */
  info(name: string): TensorInfo {
    return this.#get(name).info;
  }

  #get(name: string): { info: TensorInfo; bytes: Uint8Array } {
    const t = this.#tensors.get(name);
    if (t) return t;
    const some = this.names.slice(0, 4).map((n) => `"${n}"`).join(", ");
    throw new RangeError(
      `Unknown tensor "${name}": the file has ${this.names.length} (${some}...)`,
    );
  }

  /** A float tensor (F32, F16 or BF16) as float32. */
  float32(name: string): Float32Array {
    const { info: { dtype }, bytes } = this.#get(name);
    if (dtype === "F32") {
      const aligned = bytes.byteOffset % 4 === 0;
      return aligned
        ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
        : new Float32Array(bytes.slice().buffer);
    }
    if (dtype === "F16") return f16ToF32(bytes);
    if (dtype === "BF16") return bf16ToF32(bytes);
    throw new TypeError(`Tensor "${name}" has integer dtype "${dtype}": read it with int32()`);
  }

  /**
   * Rows [r0, r1) of a float tensor seen as (shape[0], rest) written into `dst` as float32
   * ((r1 - r0) * rest values); what loaders stream into packed weights.
   */
  float32Rows(name: string, dst: Float32Array, r0: number, r1: number): void {
    const { info: { dtype, shape }, bytes } = this.#get(name);
    const rest = shape.slice(1).reduce((a, d) => a * d, 1);
    const width = dtype === "F32" ? 4 : 2;
    const part = bytes.subarray(r0 * rest * width, r1 * rest * width);
    if (dtype === "F16") f16ToF32(part, dst);
    else if (dtype === "BF16") bf16ToF32(part, dst);
    else if (dtype === "F32") {
      const aligned = part.byteOffset % 4 === 0;
      const data = aligned ? part : part.slice();
      dst.set(new Float32Array(data.buffer, data.byteOffset, part.byteLength / 4));
    } else this.float32(name); // throws the integer-dtype TypeError
  }

  /** An integer tensor (I32 or I64) as int32; I64 values outside int32 throw RangeError. */
  int32(name: string): Int32Array {
    const { info: { dtype }, bytes } = this.#get(name);
    if (dtype === "I32") {
      const aligned = bytes.byteOffset % 4 === 0;
      return aligned
        ? new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
        : new Int32Array(bytes.slice().buffer);
    }
    if (dtype === "I64") return i64ToI32(name, bytes);
    throw new TypeError(`Tensor "${name}" has float dtype "${dtype}": read it with float32()`);
  }

  /**
   * Where a float tensor holds NaN or ±Infinity: the first flat index and how many, read from
   * the stored bits (no conversion); undefined when all are finite or the dtype is an integer.
   */
  nonFinite(name: string): { index: number; count: number; value: number } | undefined {
    const { info: { dtype }, bytes } = this.#get(name);
    if (dtype !== "F32" && dtype !== "F16" && dtype !== "BF16") return undefined;
    const wide = dtype === "F32";
    // Exponent all ones: F32 0x7f800000, F16 0x7c00, BF16 0x7f80.
    const mask = wide ? 0x7f800000 : dtype === "F16" ? 0x7c00 : 0x7f80;
    const n = bytes.byteLength / (wide ? 4 : 2);
    let index = -1;
    let count = 0;
    if (wide && bytes.byteOffset % 4 === 0 && isLittleEndian) {
      // Aligned F32 (every checkpoint written with 8-byte aligned data): a typed-array scan,
      // several times faster than DataView reads on a 500 MB checkpoint.
      count = countExponentOnes(new Uint32Array(bytes.buffer, bytes.byteOffset, n));
      if (count > 0) index = firstExponentOnes(new Uint32Array(bytes.buffer, bytes.byteOffset, n));
    } else {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0; i < n; i++) {
        const bits = wide ? dv.getUint32(4 * i, true) : dv.getUint16(2 * i, true);
        if ((bits & mask) === mask) {
          if (index < 0) index = i;
          count++;
        }
      }
    }
    if (index < 0) return undefined;
    const value = this.float32(name)[index];
    return { index, count, value };
  }

  /** Every tensor in sorted-name order, converted as by float32() / int32(). */
  *entries(): IterableIterator<SafetensorsEntry> {
    for (const name of this.names) {
      const { dtype, shape } = this.info(name);
      const isInt = dtype === "I32" || dtype === "I64";
      yield { name, dtype, shape, data: isInt ? this.int32(name) : this.float32(name) };
    }
  }
}

/** How many F32 bit patterns have an all-ones exponent (NaN or ±Inf); a small hot loop. */
function countExponentOnes(u32: Uint32Array): number {
  let count = 0;
  for (let i = 0; i < u32.length; i++) count += (u32[i] & 0x7f800000) === 0x7f800000 ? 1 : 0;
  return count;
}

/** The first index of an all-ones exponent in `u32` (one is there). */
function firstExponentOnes(u32: Uint32Array): number {
  return u32.findIndex((bits) => (bits & 0x7f800000) === 0x7f800000);
}

/** Whether this host stores numbers little-endian (typed-array views then read safetensors' bytes). */
const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses and validates a safetensors buffer: header, dtypes, offsets, exact tiling of the data.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const t = { ids: { dtype: "I32" as const, shape: [3], data: [1, 2, 3] } };
 * console.log(readSafetensors(writeSafetensors(t)).info("ids").byteLength); // 12
 * ```
 */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  const { dataStart, infos, metadata } = parseSafetensorsHeader(
    (start, length) => bytes.subarray(start, start + length),
    bytes.byteLength,
  );
  return new SafetensorsFile(bytes.subarray(dataStart), infos, metadata);
}

/** A safetensors header, validated against the file size: where data starts, and each tensor. */
export interface SafetensorsHeader {
  /** Byte offset of the data section in the file (8 + header length). */
  dataStart: number;
  /** Each tensor's dtype, shape and byte range within the data section, validated. */
  infos: Map<string, TensorInfo>;
  /** The header's `__metadata__`. */
  metadata: Record<string, string>;
}

/**
 * Parses and validates the header of a safetensors file of `size` bytes, reading only its first
 * bytes through `read(start, length)`: dtypes, shapes, offsets and the exact tiling of the data
 * section. Throws the named errors readSafetensors documents.
 *
 * @example
 * ```ts
 * import { parseSafetensorsHeader, writeSafetensors } from "./safetensors.ts";
 * const bytes = writeSafetensors({ w: { dtype: "F32", shape: [2], data: [1, 2] } });
 * const read = (start: number, length: number) => bytes.subarray(start, start + length);
 * parseSafetensorsHeader(read, bytes.byteLength).infos.get("w")?.shape; // [2]
 * ```
 */
export function parseSafetensorsHeader(
  read: (start: number, length: number) => Uint8Array,
  size: number,
): SafetensorsHeader {
  const n = size < 8 ? -1n : new DataView(read(0, 8).slice().buffer).getBigUint64(0, true);
  if (n < 0n || n > BigInt(MAX_HEADER) || 8n + n > BigInt(size)) {
    const what = n < 0n ? `File of "${size}" bytes` : `Header length "${n}"`;
    const why = n < 0n
      ? "has no 8-byte header length"
      : n > BigInt(MAX_HEADER)
      ? "is larger than 100 MB"
      : `is larger than the file (${size} bytes)`;
    throw new HeaderLengthError(`${what} ${why}: the file is truncated or not safetensors`);
  }
  const headerBytes = read(8, Number(n));
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new HeaderFormatError(
      `Header is not JSON (${(e as Error).message}): the file is corrupt`,
    );
  }
  if (!isObject(header)) {
    throw new HeaderFormatError(
      `Header "${JSON.stringify(header)}" is not a JSON object: the file is corrupt`,
    );
  }
  const twice = duplicateKey(new TextDecoder().decode(headerBytes));
  if (twice !== undefined) {
    throw new HeaderFormatError(
      `Header names tensor ${
        JSON.stringify(twice)
      } twice: each name must appear once; the file is corrupt or hand-made`,
    );
  }
  const dataStart = 8 + Number(n);
  const dataLength = size - dataStart;
  const infos = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") metadata = parseMetadata(raw);
    else infos.set(name, parseEntry(name, raw, dataLength));
  }
  checkTiling(infos, dataLength);
  return { dataStart, infos, metadata };
}

function parseMetadata(raw: unknown): Record<string, string> {
  if (!isObject(raw)) {
    throw new HeaderFormatError(
      `Header "__metadata__" is "${
        JSON.stringify(raw)
      }", not an object of strings: the file is corrupt`,
    );
  }
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== "string") {
      throw new HeaderFormatError(
        `Header "__metadata__" has key "${k}" with value "${
          JSON.stringify(v)
        }": the format allows string values only; the file is corrupt or hand-made`,
      );
    }
  }
  return Object.fromEntries(Object.entries(raw)) as Record<string, string>;
}

/**
 * The first key that appears twice at the top level of a JSON object text (JSON.parse keeps the
 * last silently, so a file could show one tensor to tsight and another to other readers).
 */
function duplicateKey(text: string): string | undefined {
  const seen = new Set<string>();
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (seen.has(key)) return key;
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === "{" || c === "[") {
      depth++;
      expectKey = depth === 1;
    } else if (c === "}" || c === "]") depth--;
    else if (c === "," && depth === 1) expectKey = true;
  }
  return undefined;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === "object" && !Array.isArray(x);
}

const isCount = (d: unknown) => Number.isSafeInteger(d) && (d as number) >= 0;

function parseEntry(name: string, raw: unknown, dataLength: number): TensorInfo {
  const e = isObject(raw) ? raw : {};
  const { dtype, shape, data_offsets: offs } = e;
  if (typeof dtype !== "string" || !Array.isArray(shape) || !shape.every(isCount)) {
    const got = JSON.stringify(raw);
    throw new HeaderFormatError(
      `Tensor "${name}" has header entry "${got}" without a dtype string and integer shape`,
    );
  }
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) {
    const got = JSON.stringify(offs);
    throw new HeaderFormatError(
      `Tensor "${name}" has data_offsets "${got}" instead of [begin, end]`,
    );
  }
  if (!Object.hasOwn(DTYPE_SIZE, dtype)) {
    throw new UnknownDtypeError(
      `Tensor "${name}" has unknown dtype "${dtype}": tsight reads F32, F16, BF16, I32 and I64; convert the file`,
    );
  }
  const [begin, end] = offs as [number, number];
  if (begin > end || end > dataLength) {
    throw new OffsetRangeError(
      `Tensor "${name}" has data_offsets "[${begin}, ${end}]" outside the ${dataLength}-byte data section: the file is truncated or corrupt`,
    );
  }
  const need = shape.reduce((a, d) => a * d, 1) * DTYPE_SIZE[dtype as SafetensorsDtype];
  if (need !== end - begin) {
    throw new ByteLengthError(
      `Tensor "${name}" of shape "[${
        shape.join(", ")
      }]" and dtype "${dtype}" needs ${need} bytes but has ${end - begin}: the file is corrupt`,
    );
  }
  return { dtype: dtype as SafetensorsDtype, shape, byteOffset: begin, byteLength: end - begin };
}

/** The data section must be covered exactly once, in any order, with no gap or overlap. */
function checkTiling(infos: Map<string, TensorInfo>, dataLength: number): void {
  const spans = [...infos].map(([name, i]) =>
    [name, i.byteOffset, i.byteOffset + i.byteLength] as const
  )
    .sort((a, b) => a[1] - b[1] || a[2] - b[2]);
  let pos = 0;
  let prev = "the data section start";
  for (const [name, begin, end] of spans) {
    if (begin !== pos) {
      const what = begin < pos ? "overlaps" : "leaves a gap after";
      throw new TensorLayoutError(
        `Tensor "${name}" at bytes [${begin}, ${end}] ${what} "${prev}" ending at byte ${pos}: tensors must tile the data exactly`,
      );
    }
    if (end > begin || pos === 0) prev = name;
    pos = end;
  }
  if (pos !== dataLength) {
    throw new TensorLayoutError(
      `Tensors end at byte "${pos}" but the data section has ${dataLength} bytes: the file has trailing bytes`,
    );
  }
}

/** F16 bytes widened to float32 (into `out` when given). */
export function f16ToF32(
  bytes: Uint8Array,
  out: Float32Array = new Float32Array(bytes.byteLength / 2),
): Float32Array {
  const n = bytes.byteLength / 2;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    const h = dv.getUint16(2 * i, true);
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) out[i] = sign * frac * 2 ** -24;
    else if (exp === 31) out[i] = frac ? NaN : sign * Infinity;
    else out[i] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** BF16 bytes widened to float32 (into `out` when given). */
export function bf16ToF32(
  bytes: Uint8Array,
  out: Float32Array = new Float32Array(bytes.byteLength / 2),
): Float32Array {
  const n = bytes.byteLength / 2;
  const bits = new Uint32Array(out.buffer, out.byteOffset, n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
  return out;
}

function i64ToI32(name: string, bytes: Uint8Array): Int32Array {
  const n = bytes.byteLength / 8;
  const out = new Int32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    const v = dv.getBigInt64(8 * i, true);
    if (v < -2147483648n || v > 2147483647n) {
      throw new RangeError(
        `Tensor "${name}" holds I64 value "${v}" at index ${i}, outside the int32 range tsight uses: store it as I32 or rescale it`,
      );
    }
    out[i] = Number(v);
  }
  return out;
}

/**
 * Reads and validates a safetensors file from disk.
 *
 * @example
 * ```ts ignore
 * import { loadSafetensors } from "./safetensors.ts";
 * const file = await loadSafetensors("tests/fixtures/tiny-gpt2/model.safetensors");
 * console.log(file.info("wte.weight").shape); // [50257, 32]
 * ```
 */
export async function loadSafetensors(path: string | URL): Promise<SafetensorsFile> {
  return readSafetensors(await readWhole(path));
}

/**
 * A file's bytes read into one buffer of its size (Deno.readFile grows and copies its buffer,
 * which for a 500 MB checkpoint costs seconds and twice the memory). A file that changes size
 * while being read is refused.
 */
async function readWhole(path: string | URL): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const size = (await file.stat()).size;
  const bytes = new Uint8Array(size);
  const CHUNK = 64 << 20;
  let off = 0;
  while (off < size) {
    const n = await file.read(bytes.subarray(off, Math.min(size, off + CHUNK)));
    if (n === null) break;
    off += n;
  }
  if (off !== size || (await file.read(new Uint8Array(1))) !== null) {
    throw new RangeError(
      `File "${
        String(path)
      }" changed size while it was read (${size} bytes at the start, ${off} read): load it again once it is written`,
    );
  }
  return bytes;
}

/**
 * Loads the weights of a model directory: `model.safetensors`, or the shards listed in the
 * `weight_map` of `model.safetensors.index.json`, merged into one reader.
 *
 * @example
 * ```ts ignore
 * import { loadSafetensorsDir } from "./safetensors.ts";
 * const weights = await loadSafetensorsDir("tests/fixtures/tiny-gpt2");
 * console.log(weights.has("ln_f.weight")); // true
 * ```
 */
export async function loadSafetensorsDir(dir: string): Promise<SafetensorsFile> {
  const found = await weightFiles(dir);
  if ("file" in found) return await loadSafetensors(found.file);
  const shards = new Map<string, SafetensorsFile>();
  const owners: [string, SafetensorsFile][] = [];
  for (const [name, shard] of found.owners) {
    let file = shards.get(shard);
    if (!file) shards.set(shard, file = await loadSafetensors(`${dir}/${shard}`));
    if (!file.has(name)) throw missingFromShard(found.index, name, shard);
    owners.push([name, file]);
  }
  return SafetensorsFile.merge(owners, found.metadata);
}

/** Where a model directory's weights are: one file, or shards named by an index. */
export type WeightFiles =
  | { file: string }
  | {
    /** The index file's path. */
    index: string;
    /** [tensor name, shard file name inside the directory], validated names. */
    owners: [string, string][];
    /** The index's `metadata`, as strings. */
    metadata: Record<string, string>;
  };

/**
 * Finds a model directory's weights: `model.safetensors`, else the shards listed in the
 * `weight_map` of `model.safetensors.index.json` (each a plain .safetensors name inside the
 * directory). Throws NotFound when neither exists, HeaderFormatError for a bad index.
 *
 * @example
 * ```ts ignore
 * import { weightFiles } from "./safetensors.ts";
 * await weightFiles("tests/fixtures/tiny-gpt2"); // { file: "tests/fixtures/tiny-gpt2/model.safetensors" }
 * ```
 */
export async function weightFiles(dir: string): Promise<WeightFiles> {
  const single = `${dir}/model.safetensors`;
  if (await exists(single)) return { file: single };
  const indexPath = `${dir}/model.safetensors.index.json`;
  if (!(await exists(indexPath))) {
    throw new Deno.errors.NotFound(
      `No weights in "${dir}": expected "model.safetensors" or "model.safetensors.index.json"; convert other formats to safetensors first`,
    );
  }
  const index = JSON.parse(await Deno.readTextFile(indexPath));
  const map = index?.weight_map;
  if (map === null || typeof map !== "object") {
    throw new HeaderFormatError(
      `Index "${indexPath}" has no "weight_map" object of tensor name to shard file`,
    );
  }
  const owners: [string, string][] = [];
  for (const [name, raw] of Object.entries(map as Record<string, unknown>)) {
    const bad = whyBadName(raw, ".safetensors");
    if (bad !== undefined) {
      throw new HeaderFormatError(
        `Index "${indexPath}" puts tensor "${name}" in ${
          JSON.stringify(raw)
        }, which ${bad}: shards must be plain .safetensors names inside the directory`,
      );
    }
    owners.push([name, raw as string]);
  }
  const metadata = Object.fromEntries(
    Object.entries(index.metadata ?? {}).map(([k, v]) => [k, String(v)]),
  );
  return { index: indexPath, owners, metadata };
}

/** The error for an index that puts a tensor in a shard lacking it. */
export function missingFromShard(index: string, name: string, shard: string): TensorLayoutError {
  return new TensorLayoutError(
    `Index "${index}" puts tensor "${name}" in "${shard}" but that shard lacks it`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Options of {@link checkFiniteWeights}. */
export interface FiniteCheckOptions {
  /** Load anyway: report nothing. Default false. */
  allowNonFinite?: boolean;
}

/**
 * Refuses a checkpoint whose float tensors hold NaN or ±Infinity, naming the first such tensor,
 * index and value; `allowNonFinite: true` skips the check. Reads stored bits, converts nothing.
 *
 * @example
 * ```ts
 * import { checkFiniteWeights, NonFiniteWeightError, readSafetensors, writeSafetensors } from "./safetensors.ts";
 * const file = readSafetensors(writeSafetensors({ w: { dtype: "F32", shape: [2], data: [1, NaN] } }));
 * try {
 *   checkFiniteWeights(file);
 * } catch (e) {
 *   console.log(e instanceof NonFiniteWeightError, (e as NonFiniteWeightError).tensor); // true "w"
 * }
 * checkFiniteWeights(file, { allowNonFinite: true }); // no error
 * ```
 */
export function checkFiniteWeights(file: SafetensorsFile, opts: FiniteCheckOptions = {}): void {
  if (opts.allowNonFinite) return;
  for (const name of file.names) {
    const bad = file.nonFinite(name);
    if (bad) throw nonFiniteWeight(name, bad);
  }
}

/** The error for tensor `name` holding `bad.count` NaN/±Inf, the first `bad.value` at `bad.index`. */
export function nonFiniteWeight(
  name: string,
  bad: { index: number; count: number; value: number },
): NonFiniteWeightError {
  const more = bad.count > 1 ? ` (${bad.count} non-finite values in all)` : "";
  return new NonFiniteWeightError(
    `Tensor "${name}" holds ${bad.value} at index ${bad.index}${more}: the checkpoint is corrupt or was saved after a diverged step; re-download or re-export it, or pass allowNonFinite: true to load it anyway`,
    { tensor: name, index: bad.index },
  );
}
