// Row kernels over the last axis: softmax, logSoftmax and layerNorm, one workgroup per row
// with workgroup reductions for the max, sums, mean and variance. Outputs are contiguous.

import type { Kernels, View } from "../../backend.ts";
import {
  type Binding,
  coversStorage,
  declare,
  EXP,
  grid,
  type Host,
  LOG,
  mainRows,
  p,
  Params,
  pf,
  walkCode,
} from "./_common.ts";
import { pushRows, ROW_WG } from "./reduce.ts";

/** WGSL: a workgroup-wide sum and max of one f32 per thread (call in uniform control flow). */
const WG_REDUCE = `${EXP}\n${LOG}\nvar<workgroup> red: array<f32, ${ROW_WG}>;
fn wg_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var w = ${ROW_WG / 2}u; w > 0u; w = w / 2u) {
    if (lid < w) { red[lid] += red[lid + w]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wg_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var w = ${ROW_WG / 2}u; w > 0u; w = w / 2u) {
    if (lid < w) { red[lid] = max(red[lid], red[lid + w]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}`;

/** Runs a row kernel: `body` sees n, s (inner stride), o_x (row start), d (output row start). */
export function rowKernel(
  host: Host,
  op: string,
  out: View,
  x: View,
  body: () => string,
  extra: { bindings?: Binding[]; push?: (params: Params) => void } = {},
): void {
  const params = new Params();
  const rw = pushRows(params, x, op);
  if (rw.rows === 0 || rw.n === 0) return;
  const outAt = params.int(out.offset);
  extra.push?.(params);
  const bindings: Binding[] = [
    { name: "out", storage: out.storage, write: true, full: coversStorage(out) },
    { name: "x", storage: x.storage },
    ...(extra.bindings ?? []),
  ];
  const decl = declare(host, bindings);
  const code = body();
  host.run({
    key: `rows:${op}:${decl.key}:r${rw.walk.rank}`,
    bindings,
    params: params.words(),
    groups: grid(rw.rows, 1),
    code: () =>
      `${decl.code}
${WG_REDUCE}
${
        mainRows(
          ROW_WG,
          p(rw.rowsAt),
          `let n = ${p(rw.nAt)}; let s = ${p(rw.strideAt)}; let d = ${p(outAt)} + row * n;
  ${walkCode(rw.walk, "row", ["x"])}
  ${code}`,
        )
      }`,
  });
}

const MAX_PASS = `var m = bitcast<f32>(0xff800000u);
  for (var j = i32(lid); j < n; j += ${ROW_WG}) { m = max(m, ld_x(o_x + j * s)); }
  m = wg_max(m, lid);
  var acc = 0.0;
  for (var j = i32(lid); j < n; j += ${ROW_WG}) { acc += exp_(ld_x(o_x + j * s) - m); }
  let sum = wg_sum(acc, lid);`;

/** The row part of the kernel table.
 *
 * @example
 * ```ts ignore
 * const { softmax } = rowKernels(host);
 * softmax(out, x); // one workgroup per row of x
 * ```
 */
export function rowKernels(host: Host): Pick<Kernels, "softmax" | "logSoftmax" | "layerNorm"> {
  return {
    softmax: (out, x) =>
      rowKernel(
        host,
        "softmax",
        out,
        x,
        () =>
          `${MAX_PASS}
  for (var j = i32(lid); j < n; j += ${ROW_WG}) { st_out(d + j, exp_(ld_x(o_x + j * s) - m) / sum); }`,
      ),
    logSoftmax: (out, x) =>
      rowKernel(
        host,
        "logSoftmax",
        out,
        x,
        () =>
          `${MAX_PASS}
  let ls = log_(sum);
  for (var j = i32(lid); j < n; j += ${ROW_WG}) { st_out(d + j, (ld_x(o_x + j * s) - m) - ls); }`,
      ),
    layerNorm: (out, x, weight, bias, eps) => {
      let at = 0;
      rowKernel(
        host,
        "layerNorm",
        out,
        x,
        () =>
          `var acc = 0.0;
  for (var j = i32(lid); j < n; j += ${ROW_WG}) { acc += ld_x(o_x + j * s); }
  let mean = wg_sum(acc, lid) / f32(n);
  var acc2 = 0.0;
  for (var j = i32(lid); j < n; j += ${ROW_WG}) { let c = ld_x(o_x + j * s) - mean; acc2 += c * c; }
  let inv = 1.0 / sqrt(wg_sum(acc2, lid) / f32(n) + ${pf(at + 4)});
  for (var j = i32(lid); j < n; j += ${ROW_WG}) {
    let w = ld_w(${p(at)} + j * ${p(at + 1)});
    let b = ld_b(${p(at + 2)} + j * ${p(at + 3)});
    st_out(d + j, (ld_x(o_x + j * s) - mean) * inv * w + b);
  }`,
        {
          bindings: [{ name: "w", storage: weight.storage }, { name: "b", storage: bias.storage }],
          push: (params) => {
            at = params.int(weight.offset, weight.strides[0], bias.offset, bias.strides[0]);
            params.float(eps);
          },
        },
      );
    },
  };
}
