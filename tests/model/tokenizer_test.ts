// Tests model/tokenizer.ts against the GPT-2 ids in the gpt2-tokenizer fixture README.

import assert from "node:assert/strict";
import { Tokenizer } from "../../model/tokenizer.ts";

const FIXTURE = new URL("../fixtures/gpt2-tokenizer/", import.meta.url);

Deno.test("gpt2() encodes like HuggingFace GPT-2", async () => {
  const tok = await Tokenizer.gpt2();
  assert.deepEqual(
    tok.encode("The Eiffel Tower is in the city of"),
    [464, 412, 733, 417, 8765, 318, 287, 262, 1748, 286],
  );
  assert.deepEqual(tok.encode("Hello, my dog is cute"), [15496, 11, 616, 3290, 318, 13779]);
  assert.deepEqual(tok.encode(" Paris, and"), [6342, 11, 290]);
  assert.deepEqual(tok.encode("<|endoftext|>"), [50256]);
  assert.deepEqual(tok.encode(""), []);
  assert.equal(tok.decode([6342, 11, 290]), " Paris, and");
  assert.equal(tok.decode(new Int32Array([6342, 11, 290])), " Paris, and");
  assert.equal(tok.vocabSize, 50257);
  assert.equal(tok.eosTokenId, 50256);
  assert.equal(tok.bosTokenId, 50256);
  assert.equal(tok.padTokenId, undefined);
  assert.equal(tok.idToToken(6342), "ĠParis");
  assert.equal(tok.tokenToId("ĠParis"), 6342);
  assert.equal(await Tokenizer.gpt2(), tok);
});

Deno.test("round trip of the README string is exact", async () => {
  const tok = await Tokenizer.gpt2();
  const text = "  Hello\n\nworld!! 123 4567 it's we'll ünïcödé 🙂 <|endoftext|>x";
  const ids = [
    220,
    18435,
    198,
    198,
    6894,
    3228,
    17031,
    4153,
    3134,
    340,
    338,
    356,
    1183,
    6184,
    120,
    77,
    26884,
    66,
    9101,
    67,
    2634,
    32485,
    220,
    50256,
    87,
  ];
  assert.deepEqual(tok.encode(text), ids);
  assert.equal(tok.decode(ids), text);
});

Deno.test("fromDir and fromJSON read HF files; bad input is a clear error", async () => {
  const tok = await Tokenizer.fromDir(FIXTURE.pathname);
  assert.deepEqual(tok.encode("Hello, my dog is cute"), [15496, 11, 616, 3290, 318, 13779]);
  const json = JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", FIXTURE)));
  const bare = Tokenizer.fromJSON(json);
  assert.deepEqual(bare.encode(" Paris, and"), [6342, 11, 290]);
  assert.equal(bare.eosTokenId, undefined);
  assert.equal(
    Tokenizer.fromJSON(json, { eos_token: { content: "<|endoftext|>" } }).eosTokenId,
    50256,
  );
  assert.throws(() => Tokenizer.fromJSON({}), /tokenizer\.json/);
  assert.throws(() => tok.decode([50257]), /"50257".*0 to 50256/);
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(Tokenizer.fromDir(dir), /No "tokenizer\.json"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const LLAMA = new URL("../fixtures/tiny-llama/", import.meta.url);
const llamaFiles = async () => ({
  json: JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", LLAMA))),
  config: JSON.parse(await Deno.readTextFile(new URL("tokenizer_config.json", LLAMA))),
});

Deno.test("the Llama 2 tokenizer gives transformers' ids of the tiny-llama prompt", async () => {
  const { prompt } = JSON.parse(await Deno.readTextFile(new URL("reference.json", LLAMA)));
  const tok = await Tokenizer.fromDir(LLAMA);
  assert.deepEqual(tok.encode(prompt.text), prompt.ids);
  assert.deepEqual(tok.encode(prompt.text, { addSpecialTokens: false }), prompt.ids.slice(1));
  assert.equal(tok.vocabSize, 32000);
  assert.deepEqual([tok.bosTokenId, tok.eosTokenId, tok.unkTokenId, tok.padTokenId], [
    1,
    2,
    0,
    undefined,
  ]);
  assert.deepEqual(tok.specialTokens, {
    bos_token: "<s>",
    eos_token: "</s>",
    unk_token: "<unk>",
    additional_special_tokens: [],
  });
  // Expected strings from transformers 5.18 (LlamaTokenizer.decode).
  assert.equal(tok.decode([1, 15043, 2]), "<s> discovery</s>");
  assert.equal(tok.decode([1, 15043, 2], { skipSpecialTokens: true }), "discovery");
  assert.equal(tok.decode([]), "");
  assert.equal(tok.decode(tok.encode(prompt.text), { skipSpecialTokens: true }), prompt.text);
});

Deno.test("add_bos_token / add_eos_token apply as transformers applies them", async () => {
  const { json, config } = await llamaFiles();
  const text = "The Eiffel Tower";
  const body = [415, 413, 2728, 301, 19895];
  const with_ = (c: object) => Tokenizer.fromJSON(json, { ...config, ...c }).encode(text);
  // transformers 5.18: AutoTokenizer.from_pretrained(dir, add_eos_token=True, add_bos_token=False)
  assert.deepEqual(with_({ add_bos_token: false, add_eos_token: true }), [...body, 2]);
  assert.deepEqual(with_({ add_bos_token: true, add_eos_token: true }), [1, ...body, 2]);
  assert.deepEqual(with_({ add_bos_token: false }), body);
  // LlamaTokenizer defaults: BOS on, EOS off, even where the config does not say.
  assert.deepEqual(with_({ add_bos_token: undefined, add_eos_token: undefined }), [1, ...body]);
  // Another class without the flags keeps tokenizer.json's post-processor (which adds <s>)...
  assert.deepEqual(
    with_({ tokenizer_class: "PreTrainedTokenizerFast", add_bos_token: undefined }),
    [1, ...body],
  );
  // ...and one that sets a flag is rebuilt from it, the other side kept as tokenizer.json has it.
  assert.deepEqual(
    with_({ tokenizer_class: "PreTrainedTokenizerFast", add_bos_token: false }),
    body,
  );
  assert.deepEqual(
    with_({
      tokenizer_class: "PreTrainedTokenizerFast",
      add_bos_token: undefined,
      add_eos_token: true,
    }),
    [1, ...body, 2],
  );
  // Special tokens written as AddedToken objects, as older configs store them.
  const added = Tokenizer.fromJSON(json, {
    ...config,
    bos_token: { __type: "AddedToken", content: "<s>" },
    add_eos_token: true,
  });
  assert.equal(added.bosTokenId, 1);
  assert.deepEqual(added.encode(text), [1, ...body, 2]);
  assert.throws(
    () => Tokenizer.fromJSON(json, { ...config, bos_token: null }),
    /"add_bos_token" true but its "bos_token" \("none"\).*"add_bos_token": false/,
  );
  assert.throws(
    () => Tokenizer.fromJSON(json, { ...config, add_eos_token: "yes" }),
    /"add_eos_token" must be true or false, got "yes"/,
  );
  assert.throws(() => Tokenizer.fromJSON(json, null as never), /tokenizer_config\.json object/);
});

Deno.test({
  name: "a missing read permission names the flag",
  permissions: { read: false },
  async fn() {
    await assert.rejects(
      Tokenizer.fromDir(LLAMA),
      (e) => e instanceof Deno.errors.NotCapable && /--allow-read/.test((e as Error).message),
    );
    // The bundled GPT-2 tokenizer is a JSON module: it needs no permission at all.
    assert.deepEqual((await Tokenizer.gpt2()).encode(" Paris"), [6342]);
  },
});
