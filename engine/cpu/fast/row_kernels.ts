// Generates the SIMD row module: rmsNorm, layerNorm, softmax and gelu over rows padded to a
// multiple of 4 floats in wasm memory. Every parameter is an i32 (floats as their bits) so task
// records of the worker pool can carry them. Pure code generation; dispatch lives in rows.ts.

import { F32, FuncBuilder, I32, ModuleBuilder, V128 } from "./wasm_emitter.ts";

/** f32.reinterpret_i32: a float parameter passed as its bits. */
const REINTERPRET = 0xbe;

/** SIMD opcodes (after the 0xfd prefix) used here. */
const OP = {
  f32x4Splat: 0x13,
  i32x4Splat: 0x11,
  f32x4Lt: 0x43,
  andnot: 0x4f,
  nearest: 0x6a,
  i32x4Shl: 0xab,
  i32x4Add: 0xae,
  sub: 0xe5,
  div: 0xe7,
  min: 0xe8,
  max: 0xe9,
  truncSat: 0xf8,
} as const;
/** Scalar opcodes. */
const F = { sqrt: 0x91, add: 0x92, sub: 0x93, mul: 0x94, div: 0x95, max: 0x97 } as const;

/** exp's Cody-Waite split of ln 2 and its degree-7 Taylor coefficients (1 ulp on |r| <= ln2/2). */
const LN2_HI = 0.693145751953125, LN2_LO = 1.428606765330187e-6;
const EXP_POLY = [1, 1, 0.5, 1 / 6, 1 / 24, 1 / 120, 1 / 720, 1 / 5040];
/** Below this exponent exp is taken as 0 (float32's smallest normal is e^-87.34). */
export const EXP_FLOOR = -87;

/** A function with helpers for the loops every row kernel shares. */
class RowFn extends FuncBuilder {
  /** Parameter `i` (float bits) as an f32 on the stack. */
  getF(i: number): this {
    return this.get(i).op(REINTERPRET);
  }
  /** A v128 local holding `v` in all lanes. */
  splat(v: number): number {
    const l = this.local(V128);
    this.f32(v).simd(OP.f32x4Splat).set(l);
    return l;
  }
  /** for (k = 0; k < bytes; k += 16) body(): rows are padded, so bytes >= 16. */
  vecLoop(k: number, bytes: number, body: () => void): this {
    this.i32(0).set(k).loop();
    body();
    this.get(k).i32(16).add().tee(k).get(bytes).ltU().brIf(0).end();
    return this;
  }
  /** v128.load of base + k. */
  at(base: number, k: number): this {
    return this.get(base).get(k).add().v128Load();
  }
  /** Sum of the four lanes of v128 local `v`, as an f32 on the stack. */
  hsum(v: number): this {
    this.get(v).extractLane(0).get(v).extractLane(1).op(F.add);
    return this.get(v).extractLane(2).op(F.add).get(v).extractLane(3).op(F.add);
  }
  /** Runs `body` once per row while `rows` counts down, then advances each pointer by `bytes`. */
  rowLoop(rows: number, bytes: number, ptrs: number[], body: () => void): this {
    this.block().loop().get(rows).eqz().brIf(1);
    body();
    for (const p of ptrs) this.get(p).get(bytes).add().set(p);
    this.get(rows).i32(1).sub().set(rows).br(0).end().end();
    return this;
  }
  /** 1 / sqrt(f32 on the stack + eps) broadcast into a new v128 local. */
  rsqrtSplat(eps: number): number {
    const l = this.local(V128), s = this.local(F32);
    this.getF(eps).op(F.add).op(F.sqrt).set(s);
    this.f32(1).get(s).op(F.div).simd(OP.f32x4Splat).set(l);
    return l;
  }
  /** Locals of exp's constants; `exp(t)` then leaves e^t (t clamped by the caller) on the stack. */
  expConsts(): (t: number) => this {
    const log2e = this.splat(Math.LOG2E), hi = this.splat(LN2_HI), lo = this.splat(LN2_LO);
    const c = EXP_POLY.map((v) => this.splat(v));
    const bias = this.local(V128);
    this.i32(127).simd(OP.i32x4Splat).set(bias);
    const n = this.local(V128), r = this.local(V128);
    return (t) => {
      this.get(t).get(log2e).f32x4Mul().simd(OP.nearest).set(n);
      this.get(t).get(n).get(hi).f32x4Mul().simd(OP.sub).get(n).get(lo).f32x4Mul().simd(OP.sub)
        .set(r);
      // Horner: c7 r + c6, ... down to c0.
      this.get(c[7]);
      for (let i = 6; i >= 0; i--) this.get(r).f32x4Mul().get(c[i]).f32x4Add();
      // 2^n from the exponent bits: (n + 127) << 23.
      this.get(n).simd(OP.truncSat).get(bias).simd(OP.i32x4Add).i32(23).simd(OP.i32x4Shl);
      return this.f32x4Mul();
    };
  }
}

/** rms(x, o, w, bytes, rows, ninv, eps): o = x * rsqrt(sum(x^2) * ninv + eps) * w. */
function rms(): RowFn {
  const f = new RowFn([I32, I32, I32, I32, I32, I32, I32]);
  const [X, O, W, BYTES, ROWS, NINV, EPS] = [0, 1, 2, 3, 4, 5, 6];
  const k = f.local(I32), acc = f.local(V128), v = f.local(V128);
  f.rowLoop(ROWS, BYTES, [X, O], () => {
    f.v128Zero().set(acc);
    f.vecLoop(k, BYTES, () => {
      f.at(X, k).set(v).get(acc).get(v).get(v).f32x4Mul().f32x4Add().set(acc);
    });
    f.hsum(acc).getF(NINV).op(F.mul);
    const rv = f.rsqrtSplat(EPS);
    f.vecLoop(k, BYTES, () => {
      f.get(O).get(k).add().at(X, k).get(rv).f32x4Mul().at(W, k).f32x4Mul().v128Store();
    });
  });
  return f;
}

/**
 * ln(x, o, w, b, bytes, rows, ninv, eps, pad): layerNorm of rows padded with `pad` zeros, whose
 * (0 - mean)^2 terms are taken back out of the variance.
 */
function ln(): RowFn {
  const f = new RowFn([I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [X, O, W, B, BYTES, ROWS, NINV, EPS, PAD] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const k = f.local(I32), acc = f.local(V128), v = f.local(V128), mv = f.local(V128);
  const m = f.local(F32);
  f.rowLoop(ROWS, BYTES, [X, O], () => {
    f.v128Zero().set(acc);
    f.vecLoop(k, BYTES, () => f.at(X, k).get(acc).f32x4Add().set(acc));
    f.hsum(acc).getF(NINV).op(F.mul).tee(m).simd(OP.f32x4Splat).set(mv);
    f.v128Zero().set(acc);
    f.vecLoop(k, BYTES, () => {
      f.at(X, k).get(mv).simd(OP.sub).set(v).get(acc).get(v).get(v).f32x4Mul().f32x4Add().set(acc);
    });
    f.hsum(acc).getF(PAD).get(m).op(F.mul).get(m).op(F.mul).op(F.sub).getF(NINV).op(F.mul);
    const rv = f.rsqrtSplat(EPS);
    f.vecLoop(k, BYTES, () => {
      f.get(O).get(k).add().at(X, k).get(mv).simd(OP.sub).get(rv).f32x4Mul().at(W, k).f32x4Mul()
        .at(B, k).f32x4Add().v128Store();
    });
  });
  return f;
}

/** softmax(x, o, bytes, rows): rows padded with -inf; exponents below EXP_FLOOR give 0. */
function softmax(): RowFn {
  const f = new RowFn([I32, I32, I32, I32]);
  const [X, O, BYTES, ROWS] = [0, 1, 2, 3];
  const k = f.local(I32), acc = f.local(V128), d = f.local(V128), mv = f.local(V128);
  const dc = f.local(V128);
  const floor = f.splat(EXP_FLOOR);
  const exp = f.expConsts();
  f.rowLoop(ROWS, BYTES, [X, O], () => {
    f.f32(-Infinity).simd(OP.f32x4Splat).set(acc);
    f.vecLoop(k, BYTES, () => f.at(X, k).get(acc).simd(OP.max).set(acc));
    f.get(acc).extractLane(0).get(acc).extractLane(1).op(F.max);
    f.get(acc).extractLane(2).op(F.max).get(acc).extractLane(3).op(F.max);
    f.simd(OP.f32x4Splat).set(mv);
    f.v128Zero().set(acc);
    f.vecLoop(k, BYTES, () => {
      f.at(X, k).get(mv).simd(OP.sub).set(d);
      f.get(d).get(floor).simd(OP.max).set(dc);
      f.get(O).get(k).add();
      exp(dc).get(d).get(floor).simd(OP.f32x4Lt).simd(OP.andnot).v128Store();
      f.at(O, k).get(acc).f32x4Add().set(acc);
    });
    const inv = f.local(V128);
    f.f32(1).hsum(acc).op(F.div).simd(OP.f32x4Splat).set(inv);
    f.vecLoop(k, BYTES, () => f.get(O).get(k).add().at(O, k).get(inv).f32x4Mul().v128Store());
  });
  return f;
}

/** gelu(x, o, bytes): gelu_new as x / (1 + e^t), t = -2 sqrt(2/pi) (x + 0.044715 x^3) in [-80, 80]. */
function gelu(): RowFn {
  const f = new RowFn([I32, I32, I32]);
  const [X, O, BYTES] = [0, 1, 2];
  const k = f.local(I32), v = f.local(V128), t = f.local(V128);
  const k1 = -2 * Math.sqrt(2 / Math.PI);
  const [c1, c3, lo, hi, one] = [k1, k1 * 0.044715, -80, 80, 1].map((c) => f.splat(c));
  const exp = f.expConsts();
  f.vecLoop(k, BYTES, () => {
    f.at(X, k).set(v);
    f.get(v).get(v).f32x4Mul().get(c3).f32x4Mul().get(c1).f32x4Add().get(v).f32x4Mul();
    f.get(lo).simd(OP.max).get(hi).simd(OP.min).set(t);
    f.get(O).get(k).add().get(v);
    exp(t).get(one).f32x4Add().simd(OP.div).v128Store();
  });
  return f;
}

/**
 * sigmoid(x, o, bytes): 1 / (1 + e^t), t = -x clamped to [-80, 89]: e^89 overflows to inf (2^128
 * from the exponent bits), so far negative x gives exactly 0 and far positive x exactly 1.
 */
function sigmoid(): RowFn {
  const f = new RowFn([I32, I32, I32]);
  const [X, O, BYTES] = [0, 1, 2];
  const k = f.local(I32), t = f.local(V128);
  const [lo, hi, one, zero] = [-80, 89, 1, 0].map((c) => f.splat(c));
  const exp = f.expConsts();
  f.vecLoop(k, BYTES, () => {
    f.get(zero).at(X, k).simd(OP.sub).get(lo).simd(OP.max).get(hi).simd(OP.min).set(t);
    f.get(O).get(k).add().get(one);
    exp(t).get(one).f32x4Add().simd(OP.div).v128Store();
  });
  return f;
}

/** The module's exports, by name. */
export const ROW_EXPORTS = ["rms", "ln", "softmax", "gelu", "sigmoid"] as const;

/** Emits the row module (exports ROW_EXPORTS) against a shared memory with these limits. */
export function buildRowModule(memory: { initial: number; maximum: number }): Uint8Array {
  const mod = new ModuleBuilder({ shared: true, ...memory });
  mod.add(rms(), "rms");
  mod.add(ln(), "ln");
  mod.add(softmax(), "softmax");
  mod.add(gelu(), "gelu");
  mod.add(sigmoid(), "sigmoid");
  return mod.bytes();
}
