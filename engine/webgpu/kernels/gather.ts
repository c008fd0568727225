// Index kernels: gatherRows (embedding lookup, one thread per output element), scatterAddRows
// (its adjoint, one thread per column walking the ids in order: no atomics, deterministic) and
// topk (one workgroup per row, k rounds of a workgroup arg-max below the previous pick).

import type { Kernels, View } from "../../backend.ts";
import {
  type Binding,
  coversStorage,
  declare,
  grid,
  type Host,
  main1d,
  mainRows,
  p,
  Params,
  walkCode,
  wtype,
} from "./_common.ts";
import { pushRows, ROW_WG } from "./reduce.ts";

const WG = 64;

/** The index part of the kernel table.
 *
 * @example
 * ```ts ignore
 * const { gatherRows } = gatherKernels(host);
 * gatherRows(out, table, ids); // out[n, :] = table[ids[n], :]
 * ```
 */
export function gatherKernels(
  host: Host,
): Pick<Kernels, "gatherRows" | "scatterAddRows" | "topk"> {
  return {
    gatherRows: (out, table, ids) => {
      // Ids out of range cannot throw from the device: those rows read as zeros.
      const [V, C] = table.shape;
      const N = ids.shape[0];
      if (N * C === 0) return;
      const params = new Params();
      const at = params.int(N * C, C, V, table.offset, table.strides[0], table.strides[1]);
      params.int(ids.offset, ids.strides[0], out.offset);
      const bindings: Binding[] = [
        { name: "out", storage: out.storage, write: true, full: coversStorage(out) },
        { name: "t", storage: table.storage },
        { name: "ids", storage: ids.storage },
      ];
      const decl = declare(host, bindings);
      const t = wtype(table.storage.dtype);
      host.run({
        key: `gather:${decl.key}`,
        bindings,
        params: params.words(),
        groups: grid(N * C, WG),
        code: () =>
          `${decl.code}\n${
            main1d(
              WG,
              p(at),
              `let C = ${p(at + 1)};
  let n = i / C; let c = i - n * C;
  let id = ld_ids(${p(at + 6)} + n * ${p(at + 7)});
  var v = ${t}(0);
  if (id >= 0 && id < ${p(at + 2)}) { v = ld_t(${p(at + 3)} + id * ${p(at + 4)} + c * ${
                p(at + 5)
              }); }
  st_out(${p(at + 8)} + i, v);`,
            )
          }`,
      });
    },
    scatterAddRows: (dst, ids, src) => {
      // Ids out of range cannot throw from the device: their rows are skipped.
      const [V, C] = dst.shape;
      const N = ids.shape[0];
      if (N * C === 0) return;
      const params = new Params();
      const at = params.int(C, N, V, dst.offset, dst.strides[0], dst.strides[1]);
      params.int(ids.offset, ids.strides[0], src.offset, src.strides[0], src.strides[1]);
      const bindings: Binding[] = [
        { name: "dst", storage: dst.storage, write: true },
        { name: "ids", storage: ids.storage },
        { name: "src", storage: src.storage },
      ];
      const decl = declare(host, bindings);
      host.run({
        key: `scatterAdd:${decl.key}`,
        bindings,
        params: params.words(),
        groups: grid(C, WG),
        code: () =>
          `${decl.code}\n${
            main1d(
              WG,
              p(at),
              `let c = i;
  for (var n = 0; n < ${p(at + 1)}; n++) {
    let id = ld_ids(${p(at + 6)} + n * ${p(at + 7)});
    if (id >= 0 && id < ${p(at + 2)}) {
      let o = ${p(at + 3)} + id * ${p(at + 4)} + c * ${p(at + 5)};
      st_dst(o, ld_dst(o) + ld_src(${p(at + 8)} + n * ${p(at + 9)} + c * ${p(at + 10)}));
    }
  }`,
            )
          }`,
      });
    },
    topk: (values, indices, x, k) => topk(host, values, indices, x, k),
  };
}

/**
 * Order of the cpu reference: larger values first, NaN before everything, ties by lower index.
 * Round r picks the best element ranked after the pick of round r - 1.
 */
function topk(host: Host, values: View, indices: View, x: View, k: number): void {
  const params = new Params();
  const rw = pushRows(params, x, "topk");
  if (rw.rows === 0 || k === 0) return;
  const at = params.int(k, values.offset, indices.offset);
  const bindings: Binding[] = [
    { name: "vals", storage: values.storage, write: true, full: coversStorage(values) },
    { name: "idx", storage: indices.storage, write: true, full: coversStorage(indices) },
    { name: "x", storage: x.storage },
  ];
  const decl = declare(host, bindings);
  const t = wtype(x.storage.dtype);
  host.run({
    key: `topk:${decl.key}:r${rw.walk.rank}`,
    bindings,
    params: params.words(),
    groups: grid(rw.rows, 1),
    code: () =>
      `${decl.code}
var<workgroup> sv: array<${t}, ${ROW_WG}>;
var<workgroup> si: array<i32, ${ROW_WG}>;
fn beats(v: ${t}, i: i32, w: ${t}, j: i32) -> bool {
  if (j < 0) { return i >= 0; }
  if (i < 0) { return false; }
  let vn = v != v; let wn = w != w;
  if (vn || wn) { return vn && (!wn || i < j); }
  return v > w || (v == w && i < j);
}
${
        mainRows(
          ROW_WG,
          p(rw.rowsAt),
          `let n = ${p(rw.nAt)}; let s = ${p(rw.strideAt)}; let k = ${p(at)};
  ${walkCode(rw.walk, "row", ["x"])}
  var pv = ${t}(0);
  var pi = -1;
  for (var r = 0; r < k; r++) {
    var bv = ${t}(0);
    var bi = -1;
    for (var j = i32(lid); j < n; j += ${ROW_WG}) {
      let v = ld_x(o_x + j * s);
      if ((pi < 0 || beats(pv, pi, v, j)) && beats(v, j, bv, bi)) { bv = v; bi = j; }
    }
    sv[lid] = bv;
    si[lid] = bi;
    workgroupBarrier();
    for (var w = ${ROW_WG / 2}u; w > 0u; w = w / 2u) {
      if (lid < w && beats(sv[lid + w], si[lid + w], sv[lid], si[lid])) {
        sv[lid] = sv[lid + w];
        si[lid] = si[lid + w];
      }
      workgroupBarrier();
    }
    pv = sv[0];
    pi = si[0];
    workgroupBarrier();
    if (lid == 0u) {
      st_vals(${p(at + 1)} + row * k + r, pv);
      st_idx(${p(at + 2)} + row * k + r, pi);
    }
  }`,
        )
      }`,
  });
}
