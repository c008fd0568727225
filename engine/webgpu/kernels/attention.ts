// Fused attention in WGSL: one invocation per query row walks its visible keys once with an
// online softmax (running max and sum), accumulating P V in registers; probabilities are written
// by a second walk only when asked for. Strided q/k/v/bias, grouped kv heads, causal offset,
// sliding window and softcap are parameters, so one pipeline serves every layer.

import type { Kernels } from "../../backend.ts";
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
} from "./_common.ts";
import { HELPERS } from "./elementwise.ts";

const WG = 64;
/** Output channels accumulated per walk; wider heads walk the keys once per chunk. */
const CHUNK = 128;

/** The attention entry of the webgpu kernel table. */
export function attentionKernel(host: Host): Kernels["attention"] {
  return (out, probs, q, k, v, bias, prm) => {
    const [B, H, T, D] = q.shape;
    const KV = k.shape[1], S = k.shape[2];
    const rows = B * H * T;
    if (rows === 0 || D === 0) return;
    const params = new Params();
    const at = params.int(B, H, T, S, D, H / KV); // 0..5
    const view = (x: { offset: number; strides: readonly number[] } | null) =>
      params.int(x?.offset ?? 0, ...(x?.strides ?? [0, 0, 0, 0])); // offset, 4 strides
    const qa = view(q), ka = view(k), va = view(v), ba = view(bias);
    const oa = params.int(out.offset, probs?.offset ?? 0, prm.causal ? 1 : 0, prm.window ?? 0);
    const fa = params.float(prm.scale);
    params.float(prm.softcap ?? 0);
    const bindings: Binding[] = [
      { name: "out", storage: out.storage, write: true, full: coversStorage(out) },
      ...(probs
        ? [{ name: "pr", storage: probs.storage, write: true, full: coversStorage(probs) }]
        : []),
      { name: "q", storage: q.storage },
      { name: "k", storage: k.storage },
      { name: "v", storage: v.storage },
      ...(bias ? [{ name: "bi", storage: bias.storage }] : []),
    ];
    const decl = declare(host, bindings);
    const softcap = prm.softcap !== null;
    const P = (i: number) => p(at + i), Q = (i: number) => p(qa + i), K = (i: number) => p(ka + i);
    const V = (i: number) => p(va + i), Bi = (i: number) => p(ba + i);
    host.run({
      key: `attention:${decl.key}:${softcap ? "cap" : ""}`,
      bindings,
      params: params.words(),
      groups: grid(rows, WG),
      code: () =>
        `${decl.code}
${EXP}
${HELPERS.tanh_}
fn score(qo: i32, ko: i32, bo: i32) -> f32 {
  var s = 0.0;
  for (var d = 0; d < ${P(4)}; d++) { s += ld_q(qo + d * ${Q(4)}) * ld_k(ko + d * ${K(4)}); }
  s = s * ${pf(fa)};
  ${softcap ? `s = tanh_(s / ${pf(fa + 1)}) * ${pf(fa + 1)};` : ""}
  ${bias ? `s += ld_bi(bo);` : ""}
  return s;
}
${
          main1d(
            WG,
            `${P(0)} * ${P(1)} * ${P(2)}`,
            `let T = ${P(2)}; let S = ${P(3)}; let D = ${P(4)};
  let t = i % T; let bh = i / T; let h = bh % ${P(1)}; let b = bh / ${P(1)}; let g = h / ${P(5)};
  let qo = ${Q(0)} + b * ${Q(1)} + h * ${Q(2)} + t * ${Q(3)};
  let ko = ${K(0)} + b * ${K(1)} + g * ${K(2)};
  let vo = ${V(0)} + b * ${V(1)} + g * ${V(2)};
  let bo = ${Bi(0)} + b * ${Bi(1)} + h * ${Bi(2)} + t * ${Bi(3)};
  var lo = 0; var hi = S - 1;
  if (${p(oa + 2)} != 0) {
    let at = S - T + t;
    hi = min(hi, at);
    if (${p(oa + 3)} > 0) { lo = max(0, at - ${p(oa + 3)} + 1); }
  }
  var m = bitcast<f32>(0xff800000u); var l = 0.0;
  for (var d0 = 0; d0 < D; d0 += ${CHUNK}) {
    let dn = min(${CHUNK}, D - d0);
    var acc: array<f32, ${CHUNK}>;
    m = bitcast<f32>(0xff800000u); l = 0.0;
    for (var j = lo; j <= hi; j++) {
      let s = score(qo, ko + j * ${K(3)}, bo + j * ${Bi(4)});
      let mn = max(m, s);
      let c = exp_(m - mn); let e = exp_(s - mn);
      l = l * c + e;
      let vj = vo + j * ${V(3)} + d0 * ${V(4)};
      for (var d = 0; d < dn; d++) { acc[d] = acc[d] * c + e * ld_v(vj + d * ${V(4)}); }
      m = mn;
    }
    for (var d = 0; d < dn; d++) { st_out(${p(oa)} + i * D + d0 + d, acc[d] / l); }
  }
  ${
              probs
                ? `for (var j = 0; j < S; j++) {
    var w = 0.0;
    if (j >= lo && j <= hi) { w = exp_(score(qo, ko + j * ${K(3)}, bo + j * ${Bi(4)}) - m) / l; }
    st_pr(${p(oa + 1)} + i * S + j, w);
  }`
                : ""
            }`,
          )
        }`,
    });
  };
}
