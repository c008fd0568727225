// Generates the SIMD matmul module: register-blocked tiles over packed B panels and the
// drivers that walk them. Pure code generation; memory layout and threads live elsewhere.

import { FuncBuilder, I32, ModuleBuilder, V128 } from "./wasm_emitter.ts";

/** Shape parameters of the generated kernels. */
export interface KernelConfig {
  /** f32x4 vectors per panel row; the panel width is 4 * nv columns. */
  nv: number;
  /** Rows per tile in the general driver. */
  mr: number;
  /** Largest M handled by the streaming (decode) drivers `small1..smallN`. */
  smallM: number;
  /** k-loop unroll factor. */
  unroll: number;
  /** Use f32x4.relaxed_madd instead of mul + add. */
  relaxed: boolean;
}

/** The layout and parameters every caller of the module must agree on. */
export const DEFAULT_CONFIG: Omit<KernelConfig, "relaxed"> = { nv: 2, mr: 6, smallM: 4, unroll: 8 };

/** Parameters shared by every driver export (all i32; pointers and strides in bytes). */
export const DRIVER_PARAMS = [
  "a",
  "lda",
  "b",
  "bstride",
  "c",
  "ldc",
  "m",
  "k",
  "p0",
  "p1",
  "accum",
] as const;

/**
 * One tile: C[0:mr, 0:np*nr] (+)= A[0:mr, 0:k] @ B for np panels at b, b + bstride, ...
 * Params (a, lda, b, bstride, c, ldc, k, accum). Panel element (kk, j) is at kk * nr + j.
 */
function tile(cfg: KernelConfig, mr: number, np: number): FuncBuilder {
  const { nv, unroll } = cfg;
  const nr = 4 * nv;
  const f = new FuncBuilder([I32, I32, I32, I32, I32, I32, I32, I32]);
  const [A, LDA, B, BSTRIDE, C, LDC, K, ACCUM] = [0, 1, 2, 3, 4, 5, 6, 7];
  const ap = Array.from({ length: mr }, () => f.local(I32));
  const bp = Array.from({ length: np }, () => f.local(I32));
  const kk = f.local(I32);
  const acc = Array.from({ length: mr * np * nv }, () => f.local(V128));
  const at = (r: number, j: number, v: number) => acc[(r * np + j) * nv + v];
  // Hold whichever operand needs fewer registers: the row splats or one panel's vectors.
  const holdA = mr <= nv;
  const areg = Array.from({ length: holdA ? mr : 1 }, () => f.local(V128));
  const breg = Array.from({ length: holdA ? 1 : nv }, () => f.local(V128));

  f.get(A).set(ap[0]);
  for (let r = 1; r < mr; r++) f.get(ap[r - 1]).get(LDA).add().set(ap[r]);
  f.get(B).set(bp[0]);
  for (let j = 1; j < np; j++) f.get(bp[j - 1]).get(BSTRIDE).add().set(bp[j]);
  for (const x of acc) f.v128Zero().set(x);
  f.get(K).set(kk);

  const fma = (accLocal: number, x: number, y: number) => {
    if (cfg.relaxed) f.get(x).get(y).get(accLocal).f32x4RelaxedMadd().set(accLocal);
    else f.get(x).get(y).f32x4Mul().get(accLocal).f32x4Add().set(accLocal);
  };
  const step = (u: number) => {
    if (holdA) {
      for (let r = 0; r < mr; r++) f.get(ap[r]).loadSplat(u * 4).set(areg[r]);
      for (let j = 0; j < np; j++) {
        for (let v = 0; v < nv; v++) {
          f.get(bp[j]).v128Load((u * nr + v * 4) * 4).set(breg[0]);
          for (let r = 0; r < mr; r++) fma(at(r, j, v), areg[r], breg[0]);
        }
      }
    } else {
      for (let j = 0; j < np; j++) {
        for (let v = 0; v < nv; v++) f.get(bp[j]).v128Load((u * nr + v * 4) * 4).set(breg[v]);
        for (let r = 0; r < mr; r++) {
          f.get(ap[r]).loadSplat(u * 4).set(areg[0]);
          for (let v = 0; v < nv; v++) fma(at(r, j, v), areg[0], breg[v]);
        }
      }
    }
  };
  const advance = (n: number) => {
    for (const p of ap) f.get(p).i32(4 * n).add().set(p);
    for (const p of bp) f.get(p).i32(4 * n * nr).add().set(p);
    f.get(kk).i32(n).sub().set(kk);
  };
  // Unrolled main loop, then the remainder one k at a time.
  f.block().loop();
  f.get(kk).i32(unroll).ltU().brIf(1);
  for (let u = 0; u < unroll; u++) step(u);
  advance(unroll);
  f.br(0).end().end();
  f.block().loop();
  f.get(kk).eqz().brIf(1);
  step(0);
  advance(1);
  f.br(0).end().end();

  // Write back, adding to C when accumulating over a k-block.
  const cp = f.local(I32);
  const writeBack = (add: boolean) => {
    f.get(C).set(cp);
    for (let r = 0; r < mr; r++) {
      if (r > 0) f.get(cp).get(LDC).add().set(cp);
      for (let j = 0; j < np; j++) {
        for (let v = 0; v < nv; v++) {
          const off = (j * nr + v * 4) * 4;
          f.get(cp).get(at(r, j, v));
          if (add) f.get(cp).v128Load(off).f32x4Add();
          f.v128Store(off);
        }
      }
    }
  };
  f.get(ACCUM).if();
  writeBack(true);
  f.else();
  writeBack(false);
  f.end();
  return f;
}

const TILE_ARGS = (f: FuncBuilder, ap: number, bp: number, cp: number) =>
  f.get(ap).get(1).get(bp).get(3).get(cp).get(5).get(7).get(10);

/** General driver: for each panel in [p0, p1), all rows in tiles of mr, tail rows last. */
function gemmDriver(cfg: KernelConfig, tiles: number[]): FuncBuilder {
  const nr = 4 * cfg.nv;
  const f = new FuncBuilder(new Array(DRIVER_PARAMS.length).fill(I32));
  const [A, LDA, B, BSTRIDE, C, LDC, M, , P0, P1] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const p = f.local(I32), bp = f.local(I32), cp = f.local(I32), ap = f.local(I32);
  const rows = f.local(I32);
  f.get(P0).set(p);
  f.block().loop();
  f.get(p).get(P1).geU().brIf(1);
  f.get(B).get(p).get(BSTRIDE).mul().add().set(bp);
  f.get(C).get(p).i32(nr * 4).mul().add().set(cp);
  f.get(A).set(ap);
  f.get(M).set(rows);
  f.block().loop();
  f.get(rows).i32(cfg.mr).ltU().brIf(1);
  TILE_ARGS(f, ap, bp, cp).call(tiles[cfg.mr]);
  f.get(ap).get(LDA).i32(cfg.mr).mul().add().set(ap);
  f.get(cp).get(LDC).i32(cfg.mr).mul().add().set(cp);
  f.get(rows).i32(cfg.mr).sub().set(rows);
  f.br(0).end().end();
  for (let r = 1; r < cfg.mr; r++) {
    f.get(rows).i32(r).sub().eqz().if();
    TILE_ARGS(f, ap, bp, cp).call(tiles[r]);
    f.end();
  }
  f.get(p).i32(1).add().set(p);
  f.br(0).end().end();
  return f;
}

/** Streaming driver for exactly `m` rows: `group` panels per tile, then single panels. */
function smallDriver(cfg: KernelConfig, group: number, wide: number, one: number): FuncBuilder {
  const nr = 4 * cfg.nv;
  const f = new FuncBuilder(new Array(DRIVER_PARAMS.length).fill(I32));
  const [A, B, BSTRIDE, C, P0, P1] = [0, 2, 3, 4, 8, 9];
  const p = f.local(I32), bp = f.local(I32), cp = f.local(I32);
  f.get(P0).set(p);
  for (const [n, fn] of [[group, wide], [1, one]]) {
    f.block().loop();
    f.get(P1).get(p).i32(n).add().ltU().brIf(1); // stop once p + n > p1
    f.get(B).get(p).get(BSTRIDE).mul().add().set(bp);
    f.get(C).get(p).i32(nr * 4).mul().add().set(cp);
    TILE_ARGS(f, A, bp, cp).call(fn);
    f.get(p).i32(n).add().set(p);
    f.br(0).end().end();
  }
  return f;
}

/** Panels per streaming tile for m rows: enough independent accumulators to hide latency. */
export function smallGroup(cfg: Pick<KernelConfig, "nv">, m: number): number {
  return Math.max(1, Math.floor(12 / (m * cfg.nv)));
}

/**
 * pack(src, ld, dst, k, panels): repacks row-major rows `ld` bytes apart into `panels` panels
 * at dst. Reads up to nr - 1 floats past a row end; those land in padding columns only.
 */
function packRows(cfg: KernelConfig): FuncBuilder {
  const nr = 4 * cfg.nv;
  const f = new FuncBuilder([I32, I32, I32, I32, I32]);
  const [SRC, LD, DST, K, PANELS] = [0, 1, 2, 3, 4];
  const p = f.local(I32), s = f.local(I32), d = f.local(I32), kk = f.local(I32);
  f.get(DST).set(d); // panels are contiguous, so d runs straight through
  f.block().loop();
  f.get(p).get(PANELS).geU().brIf(1);
  f.get(SRC).get(p).i32(nr * 4).mul().add().set(s);
  f.get(K).set(kk);
  f.block().loop();
  f.get(kk).eqz().brIf(1);
  for (let v = 0; v < cfg.nv; v++) f.get(d).get(s).v128Load(v * 16).v128Store(v * 16);
  f.get(s).get(LD).add().set(s);
  f.get(d).i32(nr * 4).add().set(d);
  f.get(kk).i32(1).sub().set(kk);
  f.br(0).end().end();
  f.get(p).i32(1).add().set(p);
  f.br(0).end().end();
  return f;
}

/** Emits the module: `gemm` and `small1..small{smallM}` with DRIVER_PARAMS, and `pack`. */
export function buildMatmulModule(
  cfg: KernelConfig,
  memory: { initial: number; maximum: number; shared?: boolean },
): Uint8Array {
  const mod = new ModuleBuilder({ shared: true, ...memory });
  const tiles: number[] = [];
  for (let r = 1; r <= cfg.mr; r++) tiles[r] = mod.add(tile(cfg, r, 1));
  mod.add(gemmDriver(cfg, tiles), "gemm");
  for (let m = 1; m <= cfg.smallM; m++) {
    const g = smallGroup(cfg, m);
    const one = m <= cfg.mr ? tiles[m] : mod.add(tile(cfg, m, 1));
    const wide = g > 1 ? mod.add(tile(cfg, m, g)) : one;
    mod.add(smallDriver(cfg, g, wide, one), `small${m}`);
  }
  mod.add(packRows(cfg), "pack");
  return mod.bytes();
}
