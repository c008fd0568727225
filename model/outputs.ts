// The structured output of a decoder's base model (HF's BaseModelOutputWithPast): the last
// hidden state under its name and at index 0, as transformers' ModelOutput allows. Data only.

import type { Tensor } from "../engine/mod.ts";
import type { KVCacheLike } from "./causal_lm.ts";

/**
 * What `model.model` / `transformer` / `gpt_neox` return: `output[0]` and
 * `output.last_hidden_state` are the final norm's output (B, T, C); `past_key_values` is the
 * cache the forward appended to (or null). A hook may replace element 0 with `set(0, x)`.
 *
 * @example
 * ```ts
 * import { zeros } from "../engine/mod.ts";
 * import { BaseModelOutput } from "./outputs.ts";
 * const out = new BaseModelOutput(zeros([1, 2, 4]), null);
 * out[0] === out.last_hidden_state; // true
 * ```
 */
export class BaseModelOutput {
  /** The final norm's output (B, T, C). */
  last_hidden_state: Tensor;
  /** The KV cache this forward appended to, or null. */
  past_key_values: KVCacheLike | null;
  /** Wraps the hidden state and cache. */
  constructor(lastHiddenState: Tensor, pastKeyValues: KVCacheLike | null) {
    this.last_hidden_state = lastHiddenState;
    this.past_key_values = pastKeyValues;
  }
  /** Element 0: the last hidden state. */
  get 0(): Tensor {
    return this.last_hidden_state;
  }
  /** Replaces the last hidden state. */
  set 0(value: Tensor) {
    this.last_hidden_state = value;
  }
}
