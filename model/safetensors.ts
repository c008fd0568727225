// Reads the safetensors format into plain typed arrays (float32 or int32).
// Knows nothing of tensors or models: the engine wraps what this returns.

import {
  ByteLengthError,
  HeaderFormatError,
  HeaderLengthError,
  OffsetRangeError,
  TensorLayoutError,
  UnknownDtypeError,
} from "./errors.ts";
export { type TensorToWrite, writeSafetensors } from "./safetensors_write.ts";

export {
  ByteLengthError,
  HeaderFormatError,
  HeaderLengthError,
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

  /** Every tensor in sorted-name order, converted as by float32() / int32(). */
  *entries(): IterableIterator<SafetensorsEntry> {
    for (const name of this.names) {
      const { dtype, shape } = this.info(name);
      const isInt = dtype === "I32" || dtype === "I64";
      yield { name, dtype, shape, data: isInt ? this.int32(name) : this.float32(name) };
    }
  }
}

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
  const size = bytes.byteLength;
  const n = size < 8 ? -1n : new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true);
  if (n < 0n || n > BigInt(MAX_HEADER) || 8n + n > BigInt(size)) {
    const what = n < 0n ? `File of "${size}" bytes` : `Header length "${n}"`;
    const why = n < 0n
      ? "has no 8-byte header length"
      : n > BigInt(MAX_HEADER)
      ? "is larger than 100 MB"
      : `is larger than the file (${size} bytes)`;
    throw new HeaderLengthError(`${what} ${why}: the file is truncated or not safetensors`);
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))),
    );
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
  const data = bytes.subarray(8 + Number(n));
  const infos = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") metadata = parseMetadata(raw);
    else infos.set(name, parseEntry(name, raw, data.byteLength));
  }
  checkTiling(infos, data.byteLength);
  return new SafetensorsFile(data, infos, metadata);
}

function parseMetadata(raw: unknown): Record<string, string> {
  if (isObject(raw)) return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
  throw new HeaderFormatError(`Header "__metadata__" is "${JSON.stringify(raw)}", not an object`);
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
  if (!(dtype in DTYPE_SIZE)) {
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

function f16ToF32(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / 2;
  const out = new Float32Array(n);
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

function bf16ToF32(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / 2;
  const bits = new Uint32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) bits[i] = dv.getUint16(2 * i, true) << 16;
  return new Float32Array(bits.buffer);
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
  return readSafetensors(await Deno.readFile(path));
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
  const single = `${dir}/model.safetensors`;
  if (await exists(single)) return await loadSafetensors(single);
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
  const shards = new Map<string, SafetensorsFile>();
  const owners: [string, SafetensorsFile][] = [];
  for (const [name, shard] of Object.entries(map as Record<string, string>)) {
    let file = shards.get(shard);
    if (!file) shards.set(shard, file = await loadSafetensors(`${dir}/${shard}`));
    if (!file.has(name)) {
      throw new TensorLayoutError(
        `Index "${indexPath}" puts tensor "${name}" in "${shard}" but that shard lacks it`,
      );
    }
    owners.push([name, file]);
  }
  const metadata = Object.fromEntries(
    Object.entries(index.metadata ?? {}).map(([k, v]) => [k, String(v)]),
  );
  return SafetensorsFile.merge(owners, metadata);
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}
