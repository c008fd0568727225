// Last-axis reductions (sum, max, min, argmax, argmin) with one workgroup per row and a tree
// reduction in workgroup memory. Rows may be any strided view; outputs are contiguous.

import type { Kernels, ReduceOp, View } from "../../backend.ts";
import { numel } from "../../layout.ts";
import {
  type Binding,
  declare,
  grid,
  type Host,
  mainRows,
  p,
  Params,
  pushWalk,
  walkCode,
  wtype,
} from "./_common.ts";

/** Threads per row. */
export const ROW_WG = 64;

/** Pushes the row walk of a [..., n] view: rows, n, inner stride, leading-axes walk. */
export function pushRows(params: Params, x: View, op: string) {
  const r = x.shape.length;
  const n = r === 0 ? 1 : x.shape[r - 1];
  const lead = x.shape.slice(0, Math.max(0, r - 1));
  const rows = numel(lead);
  const rowsAt = params.int(rows);
  const nAt = params.int(n);
  const strideAt = params.int(r === 0 ? 0 : x.strides[r - 1]);
  const walk = pushWalk(params, lead, [x.strides.slice(0, lead.length)], [x.offset], op);
  return { rows, n, rowsAt, nAt, strideAt, walk };
}

const INIT: Record<"f32" | "i32", Record<"max" | "min", string>> = {
  f32: { max: "bitcast<f32>(0xff800000u)", min: "bitcast<f32>(0x7f800000u)" },
  i32: { max: "i32(-2147483647 - 1)", min: "i32(2147483647)" },
};

/** The reduction part of the kernel table.
 *
 * @example
 * ```ts ignore
 * const { argmax } = reduceKernels(host);
 * argmax(out, x); // one workgroup per row of x
 * ```
 */
export function reduceKernels(host: Host): Pick<Kernels, ReduceOp> {
  const reduce = (op: ReduceOp) => (out: View, x: View) => {
    const params = new Params();
    const rw = pushRows(params, x, op);
    if (rw.rows === 0) return;
    const outAt = params.int(out.offset);
    const bindings: Binding[] = [
      {
        name: "out",
        storage: out.storage,
        write: true,
        full: out.offset === 0 && rw.rows === out.storage.size,
      },
      { name: "x", storage: x.storage },
    ];
    const decl = declare(host, bindings);
    const t = wtype(x.storage.dtype);
    const ot = wtype(out.storage.dtype);
    const kind = op === "sum" ? "sum" : op.endsWith("max") ? "max" : "min";
    const arg = op === "argmax" || op === "argmin";
    const cmp = kind === "max" ? ">" : "<";
    // Empty threads and rows hold index n; ints take their first element like the cpu
    // reference (which starts from -Infinity), floats never take +-Infinity or NaN.
    const take = (v: string) => t === "i32" ? `(${v} ${cmp} acc || best == n)` : `${v} ${cmp} acc`;
    const body = kind === "sum"
      ? `var acc = ${t}(0);
  for (var j = i32(lid); j < n; j += ${ROW_WG}) { acc += ld_x(o_x + j * s); }
  sv[lid] = acc;
  workgroupBarrier();
  for (var w = ${ROW_WG / 2}u; w > 0u; w = w / 2u) {
    if (lid < w) { sv[lid] += sv[lid + w]; }
    workgroupBarrier();
  }
  if (lid == 0u) { st_out(${p(outAt)} + row, ${ot}(sv[0])); }`
      : `var acc = ${INIT[t][kind]};
  var best = n;
  for (var j = i32(lid); j < n; j += ${ROW_WG}) {
    let v = ld_x(o_x + j * s);
    if (${take("v")}) { acc = v; best = j; }
  }
  sv[lid] = acc;
  si[lid] = best;
  workgroupBarrier();
  for (var w = ${ROW_WG / 2}u; w > 0u; w = w / 2u) {
    if (lid < w) {
      let vb = sv[lid + w]; let ib = si[lid + w];
      if (ib != n && (si[lid] == n || vb ${cmp} sv[lid] || (vb == sv[lid] && ib < si[lid]))) {
        sv[lid] = vb; si[lid] = ib;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) { st_out(${p(outAt)} + row, ${
        arg ? "select(si[0], 0, si[0] == n)" : `${ot}(sv[0])`
      }); }`;
    host.run({
      key: `reduce:${op}:${decl.key}:r${rw.walk.rank}`,
      bindings,
      params: params.words(),
      groups: grid(rw.rows, 1),
      code: () =>
        `${decl.code}
var<workgroup> sv: array<${t}, ${ROW_WG}>;
var<workgroup> si: array<i32, ${ROW_WG}>;
${
          mainRows(
            ROW_WG,
            p(rw.rowsAt),
            `let n = ${p(rw.nAt)}; let s = ${p(rw.strideAt)};
  ${walkCode(rw.walk, "row", ["x"])}
  ${body}`,
          )
        }`,
    });
  };
  return {
    sum: reduce("sum"),
    max: reduce("max"),
    min: reduce("min"),
    argmax: reduce("argmax"),
    argmin: reduce("argmin"),
  };
}
