// GPT-NeoX / Pythia with transformers 4.57's module tree: gpt_neox.{embed_in, emb_dropout,
// layers[i].{input_layernorm, post_attention_layernorm, post_attention_dropout, post_mlp_dropout,
// attention.{query_key_value, dense}, mlp.{dense_h_to_4h, act, dense_4h_to_h}},
// final_layer_norm, rotary_emb}, embed_out. Synchronous forward; every submodule via call().

import { type Device, slice, type Tensor } from "../../engine/mod.ts";
import type { CausalLMForwardOptions, DecoderPaths } from "../causal_lm.ts";
import { type CausalLMOptions, DecoderForCausalLM, linearHead } from "../_causal_lm.ts";
import { decoderShape, forwardInputs } from "../_decoder_shape.ts";
import { rotaryContext, stackOutput } from "../_decoder_forward.ts";
import { Activation } from "../layers/activation.ts";
import {
  attendCausal,
  ATTENTION_POINTS,
  type AttentionContext,
  weightsObserved,
} from "../layers/attention.ts";
import { Dropout, Embedding } from "../layers/embedding.ts";
import { Linear } from "../layers/linear.ts";
import { MLP_POINTS } from "../layers/mlp.ts";
import { LayerNorm } from "../layers/norm.ts";
import { applyRotary, RotaryEmbedding } from "../layers/rotary.ts";
import { Module, ModuleList } from "../module.ts";
import type { BaseModelOutput } from "../outputs.ts";
import { type GPTNeoXConfig, parseGPTNeoXConfig } from "./config.ts";

const ALL = slice();

/**
 * HF GPTNeoXAttention: one fused projection whose output is laid out per head as
 * [q | k | v] (3 * head_size channels per head), partial rotary on the first rotary_pct of
 * each head, causal softmax, then `dense`. Returns `[attn_output (B, T, C), attn_weights
 * (B, heads, T, S)]`.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGPTNeoXConfig } from "./config.ts";
 * import { GPTNeoXAttention } from "./model.ts";
 * const c = parseGPTNeoXConfig({ hidden_size: 8, num_attention_heads: 2, rotary_pct: 0.5 });
 * const [y, w] = new GPTNeoXAttention(c, 0, "cpu").call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null });
 * y.shape; // [1, 3, 8]; w is null: no trace observes this module's output
 * ```
 */
export class GPTNeoXAttention extends Module {
  /** hidden -> 3 * hidden, per head [q | k | v]. */
  readonly query_key_value: Linear;
  /** hidden -> hidden. */
  readonly dense: Linear;
  readonly #heads: number;
  readonly #layer: number;

  /** Builds the projections of layer `layer` (zero weights) on `device`. */
  constructor(config: GPTNeoXConfig, layer: number, device: Device) {
    super();
    const C = config.hidden_size, lin = { bias: config.attention_bias, device };
    this.#heads = config.num_attention_heads;
    this.#layer = layer;
    this.query_key_value = this.addModule("query_key_value", new Linear(C, 3 * C, lin));
    this.dense = this.addModule("dense", new Linear(C, C, lin));
  }

  /** q, k, v (after rotary), scores, probs, context (before dense). */
  override get points(): readonly string[] {
    return ATTENTION_POINTS;
  }

  /** x (B, T, C) -> [attn_output (B, T, C), attn_weights (B, nh, T, S) or null]. */
  forward(x: Tensor, ctx: AttentionContext): [Tensor, Tensor | null] {
    const [B, T, C] = x.shape;
    const nh = this.#heads, hs = C / nh;
    const qkv = this.query_key_value.call(x).reshape(B, T, nh, 3 * hs).transpose(1, 2); // (B, nh, T, 3hs)
    const part = (i: number) => qkv.get([ALL, ALL, ALL, slice(i * hs, (i + 1) * hs)]); // (B, nh, T, hs)
    let q = part(0), k = part(1);
    if (ctx.positionEmbeddings) {
      const [cos, sin] = ctx.positionEmbeddings; // (B, T, rotary dims)
      q = applyRotary(q, cos, sin);
      k = applyRotary(k, cos, sin);
    }
    q = this.point("q", q);
    k = this.point("k", k);
    const v = this.point("v", part(2));
    const [kAll, vAll] = ctx.cache ? ctx.cache.update(this.#layer, k, v) : [k, v];
    const opts = { scale: hs ** -0.5, bias: ctx.bias, module: this };
    const [y, probs] = attendCausal(q, kAll, vAll, opts, weightsObserved(this)); // (B, nh, T, hs)
    const merged = this.point("context", y.transpose(1, 2).reshape(B, T, C)); // (B, T, C), heads side by side
    return [this.dense.call(merged), probs];
  }
}

/**
 * HF GPTNeoXMLP: dense_h_to_4h, act, dense_4h_to_h. x (B, T, C) -> (B, T, C).
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGPTNeoXConfig } from "./config.ts";
 * import { GPTNeoXMLP } from "./model.ts";
 * const c = parseGPTNeoXConfig({ hidden_size: 8, num_attention_heads: 2, rotary_pct: 0.5, intermediate_size: 32 });
 * new GPTNeoXMLP(c, "cpu").call(zeros([1, 3, 8])).shape; // [1, 3, 8]
 * ```
 */
export class GPTNeoXMLP extends Module {
  /** hidden -> intermediate. */
  readonly dense_h_to_4h: Linear;
  /** intermediate -> hidden. */
  readonly dense_4h_to_h: Linear;
  /** hidden_act (exact GELU for Pythia). */
  readonly act: Activation;

  /** Builds zero weights on `device`. */
  constructor(config: GPTNeoXConfig, device: Device) {
    super();
    const C = config.hidden_size, I = config.intermediate_size;
    this.dense_h_to_4h = this.addModule("dense_h_to_4h", new Linear(C, I, { device }));
    this.dense_4h_to_h = this.addModule("dense_4h_to_h", new Linear(I, C, { device }));
    this.act = this.addModule("act", new Activation(config.hidden_act));
  }

  /** `act`: the activation's output ({@link MLP_POINTS}). */
  override get points(): readonly string[] {
    return MLP_POINTS;
  }

  /** x (B, T, C) -> (B, T, C). */
  forward(x: Tensor): Tensor {
    return this.dense_4h_to_h.call(this.point("act", this.act.call(this.dense_h_to_4h.call(x))));
  }
}

/**
 * HF GPTNeoXLayer. Parallel residual (Pythia): x + attn(ln1(x)) + mlp(ln2(x)); otherwise
 * h = x + attn(ln1(x)), h + mlp(ln2(h)). Returns a 1-tuple `[hidden (B, T, C)]`, as
 * transformers 4.57 does: `gpt_neox.layers[i].output[0]`.
 *
 * @example
 * ```ts
 * import { zeros } from "../../engine/mod.ts";
 * import { parseGPTNeoXConfig } from "./config.ts";
 * import { GPTNeoXLayer } from "./model.ts";
 * const c = parseGPTNeoXConfig({ hidden_size: 8, num_attention_heads: 2, rotary_pct: 0.5, intermediate_size: 32 });
 * const [h] = new GPTNeoXLayer(c, 0, "cpu").call(zeros([1, 3, 8]), { positionEmbeddings: null, bias: null, cache: null });
 * h.shape; // [1, 3, 8]
 * ```
 */
export class GPTNeoXLayer extends Module {
  /** LayerNorm before attention. */
  readonly input_layernorm: LayerNorm;
  /** LayerNorm before the MLP. */
  readonly post_attention_layernorm: LayerNorm;
  /** Identity at inference, on the attention output. */
  readonly post_attention_dropout: Dropout;
  /** Identity at inference, on the MLP output. */
  readonly post_mlp_dropout: Dropout;
  /** Fused-projection attention: output [attn_output, attn_weights]. */
  readonly attention: GPTNeoXAttention;
  /** The feed-forward block. */
  readonly mlp: GPTNeoXMLP;
  readonly #parallel: boolean;

  /** Builds layer `layer` with zero weights on `device`. */
  constructor(config: GPTNeoXConfig, layer: number, device: Device) {
    super();
    const norm = () => new LayerNorm(config.hidden_size, config.layer_norm_eps, { device });
    this.#parallel = config.use_parallel_residual;
    this.input_layernorm = this.addModule("input_layernorm", norm());
    this.post_attention_layernorm = this.addModule("post_attention_layernorm", norm());
    this.post_attention_dropout = this.addModule("post_attention_dropout", new Dropout());
    this.post_mlp_dropout = this.addModule("post_mlp_dropout", new Dropout());
    this.attention = this.addModule("attention", new GPTNeoXAttention(config, layer, device));
    this.mlp = this.addModule("mlp", new GPTNeoXMLP(config, device));
  }

  /** x (B, T, C) -> [x' (B, T, C)]. */
  forward(x: Tensor, ctx: AttentionContext): [Tensor] {
    const [a0] = this.attention.call(this.input_layernorm.call(x), ctx); // (B, T, C)
    const a = this.post_attention_dropout.call(a0);
    if (this.#parallel) {
      const m = this.post_mlp_dropout.call(this.mlp.call(this.post_attention_layernorm.call(x)));
      return [m.add(a).add(x)];
    }
    const h = a.add(x); // (B, T, C)
    const m = this.post_mlp_dropout.call(this.mlp.call(this.post_attention_layernorm.call(h)));
    return [m.add(h)];
  }
}

/**
 * The decoder stack (HF GPTNeoXModel): embed_in, emb_dropout, layers, final_layer_norm,
 * rotary_emb. Returns a BaseModelOutput: `output[0]` is final_layer_norm's output (B, T, C).
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { parseGPTNeoXConfig } from "./config.ts";
 * import { GPTNeoXModel } from "./model.ts";
 * const c = parseGPTNeoXConfig({ hidden_size: 8, num_attention_heads: 2, rotary_pct: 0.5, intermediate_size: 32, num_hidden_layers: 1, vocab_size: 10 });
 * new GPTNeoXModel(c, "cpu").call(tensor([[1, 2]], undefined, { dtype: "int32" }))[0].shape; // [1, 2, 8]
 * ```
 */
export class GPTNeoXModel extends Module {
  /** Token embeddings (V, C). */
  readonly embed_in: Embedding;
  /** Identity at inference; its output is the embeddings. */
  readonly emb_dropout: Dropout;
  /** The decoder layers. */
  readonly layers: ModuleList<GPTNeoXLayer>;
  /** Final LayerNorm. */
  readonly final_layer_norm: LayerNorm;
  /** Rotary tables: output [cos, sin] (B, T, rotary dims). */
  readonly rotary_emb: RotaryEmbedding;
  readonly #device: Device;

  /** Builds the stack computing on `device`, weights on `weightDevice` (default `device`). */
  constructor(config: GPTNeoXConfig, device: Device, weightDevice: Device = device) {
    super();
    const c = config, w = weightDevice;
    this.#device = device;
    this.embed_in = this.addModule("embed_in", new Embedding(c.vocab_size, c.hidden_size, w));
    this.emb_dropout = this.addModule("emb_dropout", new Dropout());
    const layers = Array.from({ length: c.num_hidden_layers }, (_, i) => new GPTNeoXLayer(c, i, w));
    this.layers = this.addModule("layers", new ModuleList(layers));
    this.final_layer_norm = this.addModule(
      "final_layer_norm",
      new LayerNorm(c.hidden_size, c.layer_norm_eps, { device: w }),
    );
    this.rotary_emb = this.addModule(
      "rotary_emb",
      new RotaryEmbedding({
        headDim: c.hidden_size / c.num_attention_heads,
        base: c.rotary_emb_base,
        partialRotaryFactor: c.rotary_pct,
        scaling: c.rope_scaling,
        bufferDtype: c.dtype,
        device,
      }),
    );
  }

  /** ids (B, T) int32 -> BaseModelOutput (last_hidden_state (B, T, C)). */
  forward(inputIds: Tensor, opts: CausalLMForwardOptions = {}): BaseModelOutput {
    const inputs = forwardInputs("gpt_neox model", inputIds, opts, this.#device);
    let x = this.emb_dropout.call(this.embed_in.call(inputIds)); // (B, T, C)
    const ctx = rotaryContext(x, inputs, opts.attentionMask, this.#device, {
      rotary: this.rotary_emb,
    });
    for (const layer of this.layers) [x] = layer.call(x, ctx);
    return stackOutput(x, this.final_layer_norm, inputs.cache, inputs.T);
  }
}

/** Options of the GPTNeoXForCausalLM constructor. */
export type GPTNeoXModelOptions = CausalLMOptions;

/** Where GPT-NeoX's parts sit in the module tree. */
export const GPT_NEOX_PATHS: DecoderPaths = Object.freeze({
  layers: "gpt_neox.layers",
  attention: "attention",
  mlp: "mlp",
  finalNorm: "gpt_neox.final_layer_norm",
  lmHead: "embed_out",
  embed: "gpt_neox.embed_in",
  layerReturnsTuple: true,
});

/**
 * GPT-NeoX / Pythia with its head (HF GPTNeoXForCausalLM): ids (B, T) -> logits (B, T, V).
 * The head `embed_out` has its own weight unless tie_word_embeddings is true.
 *
 * @example
 * ```ts
 * import { tensor } from "../../engine/mod.ts";
 * import { GPTNeoXForCausalLM } from "./model.ts";
 * const m = new GPTNeoXForCausalLM({ hidden_size: 8, num_attention_heads: 2, rotary_pct: 0.5, intermediate_size: 32, num_hidden_layers: 2, vocab_size: 10 });
 * m.call(tensor([[1, 2]], undefined, { dtype: "int32" })).shape; // [1, 2, 10]
 * ```
 */
export class GPTNeoXForCausalLM extends DecoderForCausalLM<GPTNeoXConfig, GPTNeoXModel, Linear> {
  /** The decoder stack. */
  readonly gpt_neox: GPTNeoXModel = this.stack;
  /** hidden -> vocab (no bias). */
  readonly embed_out: Linear = this.head;

  /** Builds the tree with zero (or placeholder) weights from a config object. */
  constructor(config: Partial<GPTNeoXConfig> | GPTNeoXConfig = {}, opts: GPTNeoXModelOptions = {}) {
    const c = parseGPTNeoXConfig(config);
    super({
      config: c,
      stackName: "gpt_neox",
      stack: (c, device, w) => new GPTNeoXModel(c, device, w),
      headName: "embed_out",
      head: (c, m, w) =>
        linearHead(c.hidden_size, c.vocab_size, m.embed_in, c.tie_word_embeddings, w),
      shape: decoderShape(c),
      paths: GPT_NEOX_PATHS,
    }, opts);
  }
}
