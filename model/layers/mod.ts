/**
 * Building blocks shared by every decoder family, each a Module under HuggingFace's names.
 * Constructor options, in short:
 *
 * - `Linear(in, out, { bias = true, device })`: weight [out, in], optional bias [out].
 * - `Embedding(n, dim, device)`: table [n, dim]; `Dropout()`: identity at inference.
 * - `LayerNorm(n, eps, { bias = true, device })`; `RMSNorm(n, eps, { unitOffset, device })`,
 *   where `unitOffset` scales by (1 + w) (Gemma).
 * - `RotaryEmbedding({ headDim, base, partialRotaryFactor, scaling, device })`: `scaling` is a
 *   config's `rope_scaling` (`linear`, `llama3`, `longrope`); forward(x, positionIds) ->
 *   [cos, sin] (B, T, rotaryDim); `applyRotary(x, cos, sin)` rotates the first rotaryDim
 *   channels.
 * - `SelfAttention({ hiddenSize, numHeads, numKvHeads, headDim, layer, qkvBias, outBias,
 *   qkNormEps, scale, softcap, sliding, device })`: q/k/v/o projections (+ q_norm/k_norm),
 *   returns [attn_output, attn_weights]; `attend(q, k, v, { scale, bias, softcap })` is the
 *   grouped-kv core (eager); `attendCausal(q, k, v, opts, weights)` picks it or the fused engine
 *   kernel (weights null); `attentionBias(B, T, past, mask, device, window)` the additive mask.
 * - `GatedMLP({ hiddenSize, intermediateSize, activation, bias, device })`: gate/up/down_proj
 *   and act_fn; `Activation(name)` takes HF's ACT2FN names (silu, gelu_pytorch_tanh, ...).
 * - `newParameter(shape, device)`: a zero weight marked constant.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { GatedMLP, RMSNorm } from "./mod.ts";
 * const norm = new RMSNorm(8, 1e-6);
 * const mlp = new GatedMLP({ hiddenSize: 8, intermediateSize: 16, activation: "silu" });
 * mlp.call(norm.call(zeros([1, 2, 8]))).shape; // [1, 2, 8]
 * ```
 *
 * @module
 */
export { Activation, type ActivationName, ACTIVATIONS, geluExact } from "./activation.ts";
export {
  attend,
  attendCausal,
  type AttendOptions,
  ATTENTION_POINTS,
  attentionBias,
  type AttentionContext,
  MASKED,
  SelfAttention,
  type SelfAttentionOptions,
  weightsObserved,
} from "./attention.ts";
export { Dropout, Embedding, ScaledEmbedding } from "./embedding.ts";
export { Linear, type LinearOptions } from "./linear.ts";
export { GatedMLP, type GatedMLPOptions, MLP_POINTS } from "./mlp.ts";
export { LayerNorm, type LayerNormOptions, RMSNorm, type RMSNormOptions } from "./norm.ts";
export { newParameter } from "./parameter.ts";
export {
  applyRotary,
  ropeInvFreq,
  type RopeScaling,
  RotaryEmbedding,
  type RotaryOptions,
} from "./rotary.ts";
