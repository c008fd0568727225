// The fused attention primitive: softmax(softcap(scale q k^T) + bias) v with grouped kv heads,
// causal masking offset for a KV cache, sliding windows; [B, H, T, S] is materialised only when
// the probabilities are asked for. `attentionComposite` is the same math from plain ops.

import type { AttentionParams } from "./backend.ts";
import { GRAD_NODE, gradState } from "./autograd/state.ts";
import { record } from "./autograd/tape.ts";
import { fmtShape } from "./layout.ts";
import { Tensor, where } from "./tensor.ts";

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Multiplies q k^T; default 1 / sqrt(head size). */
  scale?: number;
  /** Additive scores bias broadcastable to [B, H, T, S] (padding masks), or null. */
  bias?: Tensor | null;
  /** Query t sees key j only when j <= S - T + t (the cache holds S - T earlier positions). */
  causal?: boolean;
  /** With causal: only the last `window` positions up to the query's own (HF's sliding window). */
  window?: number | null;
  /** Scores become softcap * tanh(scores / softcap) before the bias (Gemma 2). */
  softcap?: number | null;
  /** Also return the probabilities [B, H, T, S]; default false (returns null there). */
  needProbs?: boolean;
}

/** Data an "attention" tape node keeps: the kernel's scalars and whether input 3 is a bias. */
export interface AttentionData {
  readonly params: AttentionParams;
  readonly bias: boolean;
}

function check(q: Tensor, k: Tensor, v: Tensor, o: AttentionOptions): AttentionParams {
  const bad = (msg: string) => new RangeError(`attention: ${msg}`);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw bad(
      `q, k and v must be [B, H, T, D] and [B, KV, S, D], got ${fmtShape(q.shape)}, ${
        fmtShape(k.shape)
      } and ${fmtShape(v.shape)}`,
    );
  }
  const [B, H, T, D] = q.shape, [Bk, KV, S, Dk] = k.shape;
  if (Bk !== B || Dk !== D || v.shape.some((d, i) => d !== k.shape[i])) {
    throw bad(
      `k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)} must both be [${B}, KV, S, ${D}] for q ${
        fmtShape(q.shape)
      }`,
    );
  }
  if (KV === 0 || H % KV !== 0) throw bad(`${H} query heads are not a multiple of ${KV} kv heads`);
  for (const t of [q, k, v, o.bias ?? q]) {
    if (t.dtype !== "float32") throw bad(`expected float32 tensors, got ${t.dtype}: astype first`);
    if (t.device !== q.device) {
      throw bad(`tensors are on "${q.device}" and "${t.device}": move them with .to()`);
    }
  }
  const causal = o.causal ?? false, window = o.window ?? null, softcap = o.softcap ?? null;
  if (causal && S < T) throw bad(`causal needs S >= T (the cache), got S = ${S} and T = ${T}`);
  if (window !== null && (!causal || !Number.isInteger(window) || window < 1)) {
    throw bad(`window must be a positive integer with causal: true, got ${window}`);
  }
  if (softcap !== null && !(softcap > 0 && Number.isFinite(softcap))) {
    throw bad(`softcap must be a positive finite number or null, got ${softcap}`);
  }
  const scale = o.scale ?? 1 / Math.sqrt(D);
  if (!Number.isFinite(scale)) throw bad(`scale must be finite, got ${scale}`);
  return { scale, causal, window, softcap };
}

/**
 * Scaled dot-product attention as one kernel. q [B, H, T, D], k and v [B, KV, S, D] (query head h
 * reads kv head floor(h / (H / KV))) -> [context [B, H, T, D], probabilities [B, H, T, S] or null].
 * Keys hidden by `causal`/`window` get probability exactly 0. Differentiable in q, k, v and bias.
 *
 * @example
 * ```ts
 * import { attention, randn } from "./mod.ts";
 * const q = randn([1, 4, 3, 8]), kv = randn([1, 2, 5, 8]); // 2 past positions cached
 * const [y, p] = attention(q, kv, kv, { causal: true, needProbs: true });
 * y.shape; // [1, 4, 3, 8]
 * p!.shape; // [1, 4, 3, 5]
 * ```
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): [Tensor, Tensor | null] {
  const params = check(q, k, v, opts);
  const [B, H, T, D] = q.shape, S = k.shape[2];
  let bias: Tensor | null = null;
  if (opts.bias) {
    try {
      bias = opts.bias.expand(B, H, T, S);
    } catch {
      throw new RangeError(
        `attention: bias ${
          fmtShape(opts.bias.shape)
        } does not broadcast to [${B}, ${H}, ${T}, ${S}]`,
      );
    }
  }
  const inputs = bias ? [q, k, v, bias] : [q, k, v];
  const grads = gradState.enabled && inputs.some((t) => t[GRAD_NODE] !== null);
  // Probabilities that gradients must flow through come from the composite.
  if (opts.needProbs && grads) return attentionComposite(q, k, v, opts);
  const be = q.backend;
  const out = new Tensor(be.alloc(B * H * T * D, "float32"), [B, H, T, D]);
  const probs = opts.needProbs
    ? new Tensor(be.alloc(B * H * T * S, "float32"), [B, H, T, S])
    : null;
  be.kernels.attention(
    out.asView(),
    probs?.asView() ?? null,
    q.asView(),
    k.asView(),
    v.asView(),
    bias?.asView() ?? null,
    params,
  );
  const data: AttentionData = { params, bias: bias !== null };
  return [record("attention", out, inputs, data), probs];
}

/**
 * {@link attention} from plain ops (matmul, tanh, where, softmax), materialising [B, H, T, S]:
 * the reference the kernels are tested against and the eager path when weights are observed.
 * Always returns the probabilities.
 *
 * @example
 * ```ts
 * import { attentionComposite, randn } from "./mod.ts";
 * const q = randn([1, 2, 3, 4]);
 * const [, p] = attentionComposite(q, q, q, { causal: true });
 * (await p.get("0, 0, 0").toArray()); // [1, 0, 0]
 * ```
 */
export function attentionComposite(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  opts: AttentionOptions = {},
): [Tensor, Tensor] {
  const { scale, causal, window, softcap } = check(q, k, v, opts);
  const [B, H, T, D] = q.shape, [, KV, S] = k.shape, G = H / KV;
  const qg = q.reshape(B, KV, G * T, D); // heads of one group stacked: (B, KV, G*T, D)
  let s = qg.matmul(k.transpose(-2, -1)).mul(scale).reshape(B, H, T, S); // (B, H, T, S)
  if (softcap !== null) s = s.div(softcap).tanh().mul(softcap);
  if (opts.bias) s = s.add(opts.bias);
  if (causal) {
    const seen = new Int32Array(T * S);
    for (let t = 0; t < T; t++) {
      const at = S - T + t, lo = window === null ? 0 : Math.max(0, at - window + 1);
      seen.fill(1, t * S + lo, t * S + at + 1);
    }
    const mask = new Tensor(q.backend.fromData(seen, { adopt: true }), [T, S]); // (T, S)
    s = where(mask, s, -Infinity);
  }
  const probs = s.softmax(-1); // (B, H, T, S)
  const y = probs.reshape(B, KV, G * T, S).matmul(v).reshape(B, H, T, D); // (B, H, T, D)
  return [y, probs];
}
