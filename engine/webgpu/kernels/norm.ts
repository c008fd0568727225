// WGSL for the fused row primitives: rmsNorm and the norms' and softmaxes' input-gradient kernels
// (one workgroup per row, on rows.ts's rowKernel), rotary and geluGrad (one thread per element).

import type { FusedRowKernels, View } from "../../backend.ts";
import { numel } from "../../layout.ts";
import {
  type Binding,
  coversStorage,
  declare,
  EXP,
  grid,
  type Host,
  main1d,
  p,
  Params,
  pf,
  pushWalk,
  walkCode,
} from "./_common.ts";
import { ROW_WG } from "./reduce.ts";
import { rowKernel } from "./rows.ts";

const WG = 64;
/** WGSL loop over this thread's columns of the row. */
const EACH = `for (var j = i32(lid); j < n; j += ${ROW_WG})`;

/** Weight accessors: binding "w" with offset and stride at param `at`; scale w + offset at `at + 2`. */
function weight(params: Params, w: View, offset: number): number {
  const at = params.int(w.offset, w.strides[0]);
  params.float(offset);
  return at;
}
const W = (at: number) => `(ld_w(${p(at)} + j * ${p(at + 1)}) + ${pf(at + 2)})`;

/** The fused row part of the kernel table.
 *
 * @example
 * ```ts ignore
 * const { rmsNorm } = fusedRowKernels(host);
 * rmsNorm(out, x, weight, 1e-6, 0); // one workgroup per row of x
 * ```
 */
export function fusedRowKernels(host: Host): FusedRowKernels {
  /** A gradient kernel: x and g contiguous, g's row at og; `body` ends writing dx. */
  const gradKernel = (
    op: string,
    dx: View,
    g: View,
    x: View,
    w: View,
    eps: number,
    off: number,
    body: (at: number, epsAt: number) => string,
  ) => {
    let at = 0, epsAt = 0, gAt = 0;
    rowKernel(host, op, dx, x, () =>
      `let og = ${p(gAt)} + row * n;
  ${body(at, epsAt)}`, {
      bindings: [{ name: "w", storage: w.storage }, { name: "g", storage: g.storage }],
      push: (params) => {
        at = weight(params, w, off);
        epsAt = params.float(eps);
        gAt = params.int(g.offset);
      },
    });
  };
  /** A softmax gradient kernel: y (bound as x) and g contiguous, g's row at og. */
  const softGrad = (op: string, dx: View, g: View, y: View, body: string) => {
    let gAt = 0;
    rowKernel(host, op, dx, y, () =>
      `let og = ${p(gAt)} + row * n;
  ${body}`, {
      bindings: [{ name: "g", storage: g.storage }],
      push: (params) => void (gAt = params.int(g.offset)),
    });
  };
  return {
    softmaxGrad: (dx, g, y) =>
      softGrad(
        "softmaxGrad",
        dx,
        g,
        y,
        `var acc = 0.0;
  ${EACH} { acc += ld_g(og + j) * ld_x(o_x + j * s); }
  let dot = wg_sum(acc, lid);
  ${EACH} { st_out(d + j, ld_x(o_x + j * s) * (ld_g(og + j) - dot)); }`,
      ),
    logSoftmaxGrad: (dx, g, y) =>
      softGrad(
        "logSoftmaxGrad",
        dx,
        g,
        y,
        `var acc = 0.0;
  ${EACH} { acc += ld_g(og + j); }
  let sum = wg_sum(acc, lid);
  ${EACH} { st_out(d + j, ld_g(og + j) - exp_(ld_x(o_x + j * s)) * sum); }`,
      ),
    geluGrad: (dx, g, x) => {
      const total = numel(x.shape);
      if (total === 0) return;
      const params = new Params();
      const at = params.int(total, dx.offset, g.offset, x.offset);
      const bindings: Binding[] = [
        { name: "out", storage: dx.storage, write: true, full: coversStorage(dx) },
        { name: "g", storage: g.storage },
        { name: "x", storage: x.storage },
      ];
      const decl = declare(host, bindings);
      host.run({
        key: `geluGrad:${decl.key}`,
        bindings,
        params: params.words(),
        groups: grid(total, WG),
        // gelu'(x) = s + 2 x s (1 - s) du with s = sigmoid(2u): no tanh, no cancellation.
        code: () =>
          `${decl.code}
${EXP}
${
            main1d(
              WG,
              p(at),
              `let v = ld_x(${p(at + 3)} + i);
  let u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  let sg = 1.0 / (1.0 + exp_(clamp(-2.0 * u, -80.0, 80.0)));
  let du = 0.7978845608028654 * (1.0 + 0.134145 * v * v);
  st_out(${p(at + 1)} + i, ld_g(${p(at + 2)} + i) * (sg + 2.0 * v * sg * (1.0 - sg) * du));`,
            )
          }`,
      });
    },
    rmsNorm: (out, x, w, eps, offset) => {
      let at = 0, epsAt = 0;
      rowKernel(host, "rmsNorm", out, x, () =>
        `var acc = 0.0;
  ${EACH} { let v = ld_x(o_x + j * s); acc += v * v; }
  let r = 1.0 / sqrt(wg_sum(acc, lid) / f32(n) + ${pf(epsAt)});
  ${EACH} { st_out(d + j, ld_x(o_x + j * s) * r * ${W(at)}); }`, {
        bindings: [{ name: "w", storage: w.storage }],
        push: (params) => {
          at = weight(params, w, offset);
          epsAt = params.float(eps);
        },
      });
    },
    rmsNormGrad: (dx, g, x, w, eps, offset) =>
      gradKernel(
        "rmsNormGrad",
        dx,
        g,
        x,
        w,
        eps,
        offset,
        (at, epsAt) =>
          `var ss = 0.0; var dot = 0.0;
  ${EACH} { let v = ld_x(o_x + j * s); ss += v * v; dot += ld_g(og + j) * ${W(at)} * v; }
  let r = 1.0 / sqrt(wg_sum(ss, lid) / f32(n) + ${pf(epsAt)});
  let k = wg_sum(dot, lid) / f32(n) * r * r;
  ${EACH} { st_out(d + j, r * (ld_g(og + j) * ${W(at)} - ld_x(o_x + j * s) * k)); }`,
      ),
    layerNormGrad: (dx, g, x, w, eps) =>
      gradKernel("layerNormGrad", dx, g, x, w, eps, 0, (at, epsAt) =>
        `var acc = 0.0;
  ${EACH} { acc += ld_x(o_x + j * s); }
  let mean = wg_sum(acc, lid) / f32(n);
  var v2 = 0.0; var sg = 0.0; var dot = 0.0;
  ${EACH} {
    let c = ld_x(o_x + j * s) - mean; let gw = ld_g(og + j) * ${W(at)};
    v2 += c * c; sg += gw; dot += gw * c;
  }
  let r = 1.0 / sqrt(wg_sum(v2, lid) / f32(n) + ${pf(epsAt)});
  let mg = wg_sum(sg, lid) / f32(n);
  let k = wg_sum(dot, lid) / f32(n) * r * r;
  ${EACH} {
    st_out(d + j, r * (ld_g(og + j) * ${W(at)} - mg - (ld_x(o_x + j * s) - mean) * k));
  }`),
    rotary: (out, x, cos, sin) => {
      const r = x.shape.length, D = x.shape[r - 1], R = cos.shape[r - 1];
      const total = numel(x.shape);
      if (total === 0) return;
      const params = new Params();
      const lead = x.shape.slice(0, r - 1);
      const views = [x, cos, sin];
      const walk = pushWalk(
        params,
        lead,
        views.map((v) => v.strides.slice(0, r - 1)),
        views.map((v) => v.offset),
        "rotary",
      );
      const at = params.int(total, D, R, out.offset, ...views.map((v) => v.strides[r - 1]));
      const bindings: Binding[] = [
        { name: "out", storage: out.storage, write: true, full: coversStorage(out) },
        { name: "x", storage: x.storage },
        { name: "c", storage: cos.storage },
        { name: "s", storage: sin.storage },
      ];
      const decl = declare(host, bindings);
      host.run({
        key: `rotary:${decl.key}:r${walk.rank}`,
        bindings,
        params: params.words(),
        groups: grid(total, WG),
        code: () =>
          `${decl.code}
${
            main1d(
              WG,
              p(at),
              `let D = ${p(at + 1)}; let R = ${p(at + 2)}; let h = R / 2;
  let row = i / D; let j = i - row * D;
  ${walkCode(walk, "row", ["x", "c", "s"])}
  let sx = ${p(at + 4)}; let sc = ${p(at + 5)}; let ss = ${p(at + 6)};
  let xj = ld_x(o_x + j * sx);
  var v = xj;
  if (j < h) {
    v = xj * ld_c(o_c + j * sc) - ld_x(o_x + (j + h) * sx) * ld_s(o_s + j * ss);
  } else if (j < R) {
    v = xj * ld_c(o_c + j * sc) + ld_x(o_x + (j - h) * sx) * ld_s(o_s + j * ss);
  }
  st_out(${p(at + 3)} + i, v);`,
            )
          }`,
      });
    },
  };
}
