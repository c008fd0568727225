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
