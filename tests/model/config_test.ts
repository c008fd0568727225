// Tests model/config.ts: the tiny-gpt2 fixture config, GPT2Config defaults and validation errors.

import assert from "node:assert/strict";
import { GPT2_DEFAULTS, loadGPT2Config, parseGPT2Config } from "../../model/config.ts";

const TINY = new URL("../fixtures/tiny-gpt2/", import.meta.url);

Deno.test("the tiny-gpt2 fixture config parses", async () => {
  const fromDir = await loadGPT2Config(TINY.pathname);
  assert.deepEqual(await loadGPT2Config(TINY), fromDir);
  assert.deepEqual(await loadGPT2Config(new URL("config.json", TINY)), fromDir);
  assert.deepEqual(fromDir, {
    model_type: "gpt2",
    n_layer: 3,
    n_head: 4,
    n_embd: 32,
    n_positions: 64,
    vocab_size: 50257,
    layer_norm_epsilon: 1e-5,
    activation_function: "gelu_new",
    n_inner: null,
    bos_token_id: 50256,
    eos_token_id: 50256,
    scale_attn_weights: true,
    scale_attn_by_inverse_layer_idx: false,
    tie_word_embeddings: true,
  });
});

Deno.test("missing keys take the HuggingFace GPT2Config defaults", () => {
  assert.deepEqual(parseGPT2Config({}), GPT2_DEFAULTS);
  const c = parseGPT2Config({ n_layer: 2, n_inner: 100, eos_token_id: null, extra_key: 1 });
  assert.equal(c.n_layer, 2);
  assert.equal(c.n_embd, 768);
  assert.equal(c.n_inner, 100);
  assert.equal(c.eos_token_id, null);
  assert.equal("extra_key" in c, false);
  assert.equal(parseGPT2Config({ activation_function: "gelu" }).activation_function, "gelu");
});

function rejects(json: unknown, cls: ErrorConstructor, pattern: RegExp): void {
  assert.throws(() => parseGPT2Config(json), (e: Error) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
    assert.match(e.message, pattern);
    assert.doesNotMatch(e.message, /\.$/);
    return true;
  });
}

Deno.test("bad configs say what is wrong and what to use", () => {
  rejects(
    { n_embd: 30, n_head: 4 },
    RangeError,
    /"n_embd" \(30\) is not divisible by "n_head" \(4\)/,
  );
  rejects(
    { activation_function: "swiglu" },
    RangeError,
    /"swiglu".*"gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu", "relu"/,
  );
  rejects({ n_layer: 0 }, RangeError, /"n_layer" is "0".*positive integer/);
  rejects({ n_head: 2.5 }, RangeError, /"n_head" is "2.5"/);
  rejects({ vocab_size: "50257" }, TypeError, /"vocab_size" is "50257".*number/);
  rejects({ layer_norm_epsilon: 0 }, RangeError, /"layer_norm_epsilon"/);
  rejects({ model_type: "llama" }, RangeError, /"llama".*GPT-2/);
  rejects({ eos_token_id: -1 }, RangeError, /"eos_token_id" is "-1"/);
  rejects({ tie_word_embeddings: "yes" }, TypeError, /"tie_word_embeddings"/);
  rejects([1], TypeError, /config\.json/);
});
