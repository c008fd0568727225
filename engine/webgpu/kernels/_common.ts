// Shared pieces of the WGSL generators: binding declarations with accessors that hide storages
// split across several buffers, the uniform block, axis collapsing and strided offset code.
// Generates text and parameter words only; recording and buffers belong to the backend.

import type { DType, Storage, View } from "../../backend.ts";
import { fmtShape } from "../../layout.ts";
import type { Program } from "../program.ts";

/** Highest rank a strided view may have after collapsing mergeable axes. */
export const MAX_RANK = 8;

/** What a kernel generator needs from the backend. */
export interface Host {
  /** Elements per buffer of a storage split across bindings. */
  readonly chunkElems: number;
  /** How many buffers back a storage (1 unless it exceeds one binding). */
  chunks(s: Storage): number;
  /** Records one dispatch. */
  run(k: Kernel): void;
  /** A temporary storage (freed with `release`). */
  alloc(size: number, dtype: DType): Storage;
  /** Frees a temporary storage. */
  release(s: Storage): void;
}

/**
 * One storage binding: read-only, or written (`full` when the kernel overwrites all of it);
 * `vec4` declares a read-only binding as vec4s (the kernel reads aligned groups of 4).
 */
export interface Binding {
  readonly name: string;
  readonly storage: Storage;
  readonly write?: boolean;
  readonly full?: boolean;
  readonly vec4?: boolean;
}

/** A dispatch as a generator describes it: a Program whose buffers are still storage bindings. */
export interface Kernel extends Omit<Program, "buffers"> {
  /** The storages to bind, in declaration order; the backend turns them into buffers. */
  readonly bindings: readonly Binding[];
}

/** WGSL scalar type of a dtype. */
export function wtype(d: DType): "f32" | "i32" {
  return d === "float32" ? "f32" : "i32";
}

/** Parameter words for the uniform block; floats are stored as their bits. */
export class Params {
  #words: number[] = [];
  #f = new Float32Array(1);
  #i = new Int32Array(this.#f.buffer);
  /** Appends integers and returns the index of the first. */
  int(...v: readonly number[]): number {
    const at = this.#words.length;
    for (const x of v) this.#words.push(x | 0);
    return at;
  }
  /** Appends a float32 and returns its index. */
  float(v: number): number {
    this.#f[0] = v;
    return this.int(this.#i[0]);
  }
  /** The words, checked to fit one uniform slot. */
  words(): Int32Array {
    if (this.#words.length > 64) throw new RangeError(`webgpu: ${this.#words.length} params > 64`);
    return Int32Array.from(this.#words);
  }
}

/** WGSL expression reading parameter word `i` as i32. */
export function p(i: number): string {
  return `P[${i >> 2}].${"xyzw"[i & 3]}`;
}

/** WGSL expression reading parameter word `i` as f32. */
export function pf(i: number): string {
  return `bitcast<f32>(${p(i)})`;
}

/**
 * Declarations for bindings in order (each split storage takes several binding slots) plus
 * the uniform block, and for each binding `ld_<name>(i: i32)` (`ld4_<name>` for vec4
 * bindings) and, if written, `st_<name>(i: i32, v)`. Returns the code and a key fragment naming dtypes and splits.
 */
export function declare(host: Host, bindings: readonly Binding[]): { code: string; key: string } {
  const lines: string[] = [];
  const keys: string[] = [];
  let slot = 0;
  const CH = host.chunkElems;
  for (const b of bindings) {
    const t = wtype(b.storage.dtype);
    const n = host.chunks(b.storage);
    const v4 = b.vec4 === true;
    keys.push(`${b.name}${t}${b.write ? "w" : ""}${v4 ? "v4" : ""}${n > 1 ? `c${n}x${CH}` : ""}`);
    const access = b.write ? "read_write" : "read";
    const elem = v4 ? `vec4<${t}>` : t;
    for (let c = 0; c < n; c++) {
      lines.push(
        `@group(0) @binding(${slot++}) var<storage, ${access}> ${b.name}_${c}: array<${elem}>;`,
      );
    }
    // ld_x(i) reads element i; ld4_x(i) the 4 elements from i (a multiple of 4) on.
    const ld = v4 ? `ld4_${b.name}` : `ld_${b.name}`;
    const at = (r: string) => (v4 ? `${r} / 4` : r);
    if (n === 1) {
      lines.push(`fn ${ld}(i: i32) -> ${elem} { return ${b.name}_0[${at("i")}]; }`);
      if (b.write) lines.push(`fn st_${b.name}(i: i32, v: ${t}) { ${b.name}_0[i] = v; }`);
      continue;
    }
    // A split storage: chunk c holds elements [c * CH, (c + 1) * CH); CH is a multiple of 4.
    const pick = (body: (c: number) => string) =>
      Array.from({ length: n }, (_, c) => c === n - 1 ? body(c) : `if (c == ${c}) { ${body(c)} }`)
        .join(" ");
    lines.push(
      `fn ${ld}(i: i32) -> ${elem} { let c = i / ${CH}; let r = i - c * ${CH}; ${
        pick((c) => `return ${b.name}_${c}[${at("r")}];`)
      } }`,
    );
    if (b.write) {
      lines.push(
        `fn st_${b.name}(i: i32, v: ${t}) { let c = i / ${CH}; let r = i - c * ${CH}; ${
          pick((c) => `${b.name}_${c}[r] = v; return;`)
        } }`,
      );
    }
  }
  lines.push(`@group(0) @binding(${slot}) var<uniform> P: array<vec4<i32>, 16>;`);
  return { code: lines.join("\n"), key: keys.join(",") };
}

/**
 * Merges axes that every view steps through uniformly and drops size-1 axes, so a
 * contiguous tensor is one axis whatever its rank. Throws past MAX_RANK.
 */
export function collapse(
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  op: string,
): { shape: number[]; strides: number[][] } {
  const s: number[] = [];
  const st: number[][] = strides.map(() => []);
  for (let k = 0; k < shape.length; k++) {
    if (shape[k] === 1) continue;
    const last = s.length - 1;
    if (last >= 0 && strides.every((v, j) => st[j][last] === v[k] * shape[k])) {
      s[last] *= shape[k];
      strides.forEach((v, j) => (st[j][last] = v[k]));
    } else {
      s.push(shape[k]);
      strides.forEach((v, j) => st[j].push(v[k]));
    }
  }
  if (s.length > MAX_RANK) {
    throw new RangeError(
      `webgpu ${op}: view of shape ${
        fmtShape(shape)
      } has ${s.length} non-mergeable axes, more than ${MAX_RANK}: make it contiguous first`,
    );
  }
  return { shape: s, strides: st };
}

/** Where a strided walk's shape and each view's strides and offset live in the params. */
export interface Walk {
  rank: number;
  shapeAt: number;
  views: { strideAt: number; offsetAt: number }[];
}

/** Pushes a collapsed walk over `shape` for views with `strides` and `offsets`. */
export function pushWalk(
  params: Params,
  shape: readonly number[],
  strides: readonly (readonly number[])[],
  offsets: readonly number[],
  op: string,
): Walk {
  const c = collapse(shape, strides, op);
  const shapeAt = params.int(...c.shape);
  const views = c.strides.map((st, j) => ({
    strideAt: params.int(...st),
    offsetAt: params.int(offsets[j]),
  }));
  return { rank: c.shape.length, shapeAt, views };
}

/**
 * WGSL that declares `o_<name>` for each view: the storage offset of linear element `idx`
 * of the walk (row-major over its shape).
 */
export function walkCode(w: Walk, idx: string, names: readonly string[]): string {
  const out = names.map((n, j) => `var o_${n} = ${p(w.views[j].offsetAt)};`);
  if (w.rank === 0) return out.join(" ");
  out.push(`var r_ = ${idx};`);
  for (let k = w.rank - 1; k >= 0; k--) {
    const d = p(w.shapeAt + k);
    out.push(k === 0 ? `{ let c_ = r_;` : `{ let c_ = r_ % ${d}; r_ = r_ / ${d};`);
    names.forEach((n, j) => out.push(`o_${n} += c_ * ${p(w.views[j].strideAt + k)};`));
    out.push("}");
  }
  return out.join(" ");
}

/** Workgroup counts covering `n` items in groups of `wg`, folded into y past 65535. */
export function grid(n: number, wg: number): [number, number, number] {
  const g = Math.max(1, Math.ceil(n / wg));
  const x = Math.min(g, 65535);
  const y = Math.ceil(g / x);
  if (y > 65535) throw new RangeError(`webgpu: ${n} items is too many for one dispatch`);
  return [x, y, 1];
}

/** An entry point running `body` once per linear item `i` < `total` (WGSL i32 expression). */
export function main1d(wg: number, total: string, body: string): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = i32(gid.x + gid.y * nwg.x * ${wg}u);
  if (i >= ${total}) { return; }
  ${body}
}`;
}

/** An entry point with one workgroup per row: `row` (i32) and `lid` (u32) are in scope. */
export function mainRows(wg: number, rows: string, body: string): string {
  return `@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = i32(wid.x + wid.y * nwg.x);
  if (row >= ${rows}) { return; }
  ${body}
}`;
}

/** True when a view covers its whole storage in row-major order (a full overwrite). */
export function coversStorage(v: View): boolean {
  let n = 1;
  let s = 1;
  for (let k = v.shape.length - 1; k >= 0; k--) {
    if (v.shape[k] !== 1 && v.strides[k] !== s) return false;
    s *= v.shape[k];
    n *= v.shape[k];
  }
  return v.offset === 0 && n === v.storage.size;
}

/**
 * WGSL `exp_`: Cody-Waite reduction and a degree-7 polynomial, within 1 ulp; llvmpipe's
 * builtin exp is off by up to 4e-6 relative.
 */
export const EXP = `fn exp_(x: f32) -> f32 {
  if (x != x) { return x; }
  if (x > 88.72284) { return bitcast<f32>(0x7f800000u); }
  if (x < -103.28) { return 0.0; }
  let n = round(x * 1.4426950408889634);
  let r = (x - n * 0.693145751953125) - n * 1.428606765330187e-06;
  let p = 1.0 + r * (1.0 + r * (0.5 + r * (0.16666667 + r * (0.041666668 + r * (0.008333334 +
    r * (0.0013888889 + r * 0.0001984127))))));
  return ldexp(p, i32(n));
}`;

/**
 * WGSL `log_`: frexp and an atanh series, within 1 ulp; llvmpipe's builtin log is off by up to
 * 4e-5 absolute. Zero, negatives, infinity and NaN go to the builtin.
 */
export const LOG = `fn log_(x: f32) -> f32 {
  if (!(x > 0.0) || x == bitcast<f32>(0x7f800000u)) { return log(x); }
  let fr = frexp(x);
  var m = fr.fract;
  var e = f32(fr.exp);
  if (m < 0.70710678) { m = m * 2.0; e = e - 1.0; }
  let s = (m - 1.0) / (m + 1.0);
  let z = s * s;
  let l = 2.0 * s * (1.0 + z * (0.33333333 + z * (0.2 + z * (0.14285714 + z * 0.11111111))));
  return e * 0.693145751953125 + (e * 1.428606765330187e-06 + l);
}`;
