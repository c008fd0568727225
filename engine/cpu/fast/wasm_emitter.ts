// A small WebAssembly assembler: module sections, LEB128 and the scalar and SIMD opcodes the
// matmul kernels use. It knows nothing about matmul; the kernels live in matmul_kernels.ts.

/** Value type byte of i32. */
export const I32 = 0x7f;
/** Value type byte of v128. */
export const V128 = 0x7b;
/** Value type byte of f32. */
export const F32 = 0x7d;

const SIMD = 0xfd;

function uleb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    const byte = v & 0x7f;
    v >>>= 7;
    out.push(v === 0 ? byte : byte | 0x80);
  } while (v !== 0);
}

function sleb(out: number[], value: number): void {
  let v = value | 0;
  while (true) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  out.push(...bytes);
}

/**
 * Builds one function body. Each opcode helper appends its bytes and returns `this`, so a
 * kernel reads as a chain of stack-machine instructions.
 */
export class FuncBuilder {
  /** Parameter types; parameters are locals 0..n-1. */
  readonly params: readonly number[];
  /** Result types. */
  readonly results: readonly number[];
  #locals: number[] = [];
  #code: number[] = [];

  constructor(params: readonly number[], results: readonly number[] = []) {
    this.params = params;
    this.results = results;
  }

  /** Declares a new local of `type` and returns its index. */
  local(type: number): number {
    this.#locals.push(type);
    return this.params.length + this.#locals.length - 1;
  }

  #op(...bytes: number[]): this {
    this.#code.push(...bytes);
    return this;
  }

  #simd(op: number, align?: number, offset?: number): this {
    this.#code.push(SIMD);
    uleb(this.#code, op);
    if (align !== undefined) this.#memarg(align, offset ?? 0);
    return this;
  }

  #memarg(align: number, offset: number): void {
    uleb(this.#code, align);
    uleb(this.#code, offset);
  }

  /** local.get */
  get(i: number): this {
    this.#code.push(0x20);
    uleb(this.#code, i);
    return this;
  }
  /** local.set */
  set(i: number): this {
    this.#code.push(0x21);
    uleb(this.#code, i);
    return this;
  }
  /** local.tee */
  tee(i: number): this {
    this.#code.push(0x22);
    uleb(this.#code, i);
    return this;
  }
  /** i32.const */
  i32(v: number): this {
    this.#code.push(0x41);
    sleb(this.#code, v);
    return this;
  }
  /** i32.add */
  add(): this {
    return this.#op(0x6a);
  }
  /** i32.sub */
  sub(): this {
    return this.#op(0x6b);
  }
  /** i32.mul */
  mul(): this {
    return this.#op(0x6c);
  }
  /** i32.lt_u */
  ltU(): this {
    return this.#op(0x49);
  }
  /** i32.ge_u */
  geU(): this {
    return this.#op(0x4f);
  }
  /** i32.eqz */
  eqz(): this {
    return this.#op(0x45);
  }
  /** block with no result */
  block(): this {
    return this.#op(0x02, 0x40);
  }
  /** loop with no result */
  loop(): this {
    return this.#op(0x03, 0x40);
  }
  /** if with no result */
  if(): this {
    return this.#op(0x04, 0x40);
  }
  /** else */
  else(): this {
    return this.#op(0x05);
  }
  /** end of block, loop, if or function */
  end(): this {
    return this.#op(0x0b);
  }
  /** br to the label `depth` levels out */
  br(depth: number): this {
    this.#code.push(0x0c);
    uleb(this.#code, depth);
    return this;
  }
  /** br_if to the label `depth` levels out */
  brIf(depth: number): this {
    this.#code.push(0x0d);
    uleb(this.#code, depth);
    return this;
  }
  /** call function index `fn` */
  call(fn: number): this {
    this.#code.push(0x10);
    uleb(this.#code, fn);
    return this;
  }
  /** v128.load (alignment hint 4 bytes: panels are 16-byte aligned but rows of A are not) */
  v128Load(offset = 0): this {
    return this.#simd(0x00, 2, offset);
  }
  /** v128.store */
  v128Store(offset = 0): this {
    return this.#simd(0x0b, 2, offset);
  }
  /** v128.load32_splat: one f32 from memory broadcast to four lanes */
  loadSplat(offset = 0): this {
    return this.#simd(0x09, 2, offset);
  }
  /** v128.const of zeros */
  v128Zero(): this {
    this.#simd(0x0c);
    this.#code.push(...new Array(16).fill(0));
    return this;
  }
  /** f32x4.add */
  f32x4Add(): this {
    return this.#simd(0xe4);
  }
  /** f32x4.mul */
  f32x4Mul(): this {
    return this.#simd(0xe6);
  }
  /** f32x4.relaxed_madd: a * b + c (fused where the hardware has FMA) */
  f32x4RelaxedMadd(): this {
    return this.#simd(0x105);
  }
  /** Any SIMD instruction without a memory argument, by its opcode after the 0xfd prefix. */
  simd(op: number): this {
    return this.#simd(op);
  }
  /** f32x4.extract_lane */
  extractLane(lane: number): this {
    this.#simd(0x1f);
    this.#code.push(lane);
    return this;
  }
  /** Any scalar instruction without immediates (f32.add 0x92, f32.sqrt 0x91, ...). */
  op(code: number): this {
    return this.#op(code);
  }
  /** f32.const */
  f32(v: number): this {
    this.#code.push(0x43, ...new Uint8Array(Float32Array.of(v).buffer));
    return this;
  }

  /** The function's code-section entry: locals then instructions, without the size prefix. */
  encode(): number[] {
    const out: number[] = [];
    const groups: [number, number][] = [];
    for (const t of this.#locals) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(out, groups.length);
    for (const [n, t] of groups) {
      uleb(out, n);
      out.push(t);
    }
    out.push(...this.#code, 0x0b);
    return out;
  }
}

/** Options of the memory a module imports as `env.memory`. */
export interface MemoryImport {
  initial: number;
  maximum: number;
  shared: boolean;
}

/** Assembles a module: one imported memory, functions, exports by name. */
export class ModuleBuilder {
  #memory: MemoryImport;
  #funcs: { fn: FuncBuilder; exportName?: string }[] = [];

  constructor(memory: MemoryImport) {
    this.#memory = memory;
  }

  /** Adds a function and returns its index (for `call`). */
  add(fn: FuncBuilder, exportName?: string): number {
    this.#funcs.push({ fn, exportName });
    return this.#funcs.length - 1;
  }

  /** The module's bytes. */
  bytes(): Uint8Array {
    const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, body: number[]) => {
      out.push(id);
      uleb(out, body.length);
      out.push(...body);
    };
    const types: number[] = [];
    uleb(types, this.#funcs.length);
    for (const { fn } of this.#funcs) {
      types.push(0x60);
      uleb(types, fn.params.length);
      types.push(...fn.params);
      uleb(types, fn.results.length);
      types.push(...fn.results);
    }
    section(1, types);
    const imports: number[] = [1];
    name(imports, "env");
    name(imports, "memory");
    const m = this.#memory;
    imports.push(0x02, m.shared ? 0x03 : 0x01);
    uleb(imports, m.initial);
    uleb(imports, m.maximum);
    section(2, imports);
    const funcs: number[] = [];
    uleb(funcs, this.#funcs.length);
    this.#funcs.forEach((_, i) => uleb(funcs, i));
    section(3, funcs);
    const exported = this.#funcs.map((f, i) => [f.exportName, i] as const).filter((e) => e[0]);
    const exports: number[] = [];
    uleb(exports, exported.length);
    for (const [n, i] of exported) {
      name(exports, n!);
      exports.push(0x00);
      uleb(exports, i);
    }
    section(7, exports);
    const code: number[] = [];
    uleb(code, this.#funcs.length);
    for (const { fn } of this.#funcs) {
      const body = fn.encode();
      uleb(code, body.length);
      code.push(...body);
    }
    section(10, code);
    return new Uint8Array(out);
  }
}

function probe(body: (f: FuncBuilder) => void): boolean {
  const f = new FuncBuilder([I32]);
  body(f);
  const m = new ModuleBuilder({ initial: 1, maximum: 1, shared: false });
  m.add(f, "f");
  try {
    return WebAssembly.validate(m.bytes() as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}

/** Whether this engine validates 128-bit SIMD. */
export function simdSupported(): boolean {
  return probe((f) => f.get(0).get(0).v128Load().get(0).v128Load().f32x4Add().v128Store());
}

/** Whether this engine validates relaxed SIMD (`f32x4.relaxed_madd`). */
export function relaxedSupported(): boolean {
  return probe((f) =>
    f.get(0).get(0).v128Load().get(0).v128Load().get(0).v128Load().f32x4RelaxedMadd().v128Store()
  );
}
