// The backward rule of the fused attention primitive: the probabilities are recomputed by the
// device's own attention kernel, then the analytic gradients of softmax, softcap and both
// matmuls follow on transposed views (grouped kv heads sum over their query heads).

import { attention, type AttentionData } from "../attention.ts";
import type { Tensor } from "../tensor.ts";
import { type BackwardRule, unbroadcast } from "./rules.ts";

/**
 * (q [B, H, T, D], k [B, KV, S, D], v [B, KV, S, D], bias? [B, H, T, S] broadcast) -> y.
 * With z = softcap(scale q k^T) + bias and P = softmax(z) over the visible keys:
 * dv = P^T g, dz = P (g v^T - rowsum(P * g v^T)), dbias = dz, ds = dz * softcap' * scale,
 * dq = ds k, dk = ds^T q.
 */
export const attentionRule: BackwardRule = {
  reads: "inputs",
  grads: ({ g, x, needs, data }) => {
    const [q, k, v] = x, bias = x.length > 3 ? x[3] : null;
    const { params } = data as AttentionData;
    const [B, H, T, D] = q.shape, [, KV, S] = k.shape, G = H / KV;
    const [, pr] = attention(q, k, v, { ...params, bias, needProbs: true });
    const P = pr!.reshape(B, KV, G * T, S); // (B, KV, G*T, S)
    const gg = g.reshape(B, KV, G * T, D); // (B, KV, G*T, D)
    const dv = needs[2] ? P.transpose(-1, -2).matmul(gg) : null; // (B, KV, S, D)
    const dP = gg.matmul(v.transpose(-1, -2)); // (B, KV, G*T, S)
    const dz = P.mul(dP.sub(dP.mul(P).sum(-1, true))).reshape(B, H, T, S); // (B, H, T, S)
    let ds: Tensor = dz.mul(params.scale);
    if (params.softcap !== null) {
      const raw = q.reshape(B, KV, G * T, D).matmul(k.transpose(-1, -2)).reshape(B, H, T, S);
      const t = raw.mul(params.scale / params.softcap).tanh(); // (B, H, T, S)
      ds = ds.mul(t.mul(t).neg().add(1));
    }
    const dsg = ds.reshape(B, KV, G * T, S); // (B, KV, G*T, S)
    return [
      needs[0] ? dsg.matmul(k).reshape(B, H, T, D) : null,
      needs[1] ? dsg.transpose(-1, -2).matmul(q.reshape(B, KV, G * T, D)) : null,
      dv,
      bias && needs[3] ? unbroadcast(dz, bias.shape) : null,
    ].slice(0, x.length);
  },
};
