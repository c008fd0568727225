// Tests chat templates (model/chat_template.ts through Tokenizer.applyChatTemplate) against
// transformers' renderings and the Rust tokenizers' ids in tests/fixtures/chat-templates.

import assert from "node:assert/strict";
import {
  ChatTemplateError,
  renderChatTemplate,
  selectChatTemplate,
} from "../../model/chat_template.ts";
import { Tokenizer } from "../../model/tokenizer.ts";

const LLAMA = new URL("../fixtures/tiny-llama/", import.meta.url);
const EXPECTED = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/chat-templates/expected.json", import.meta.url)),
);
const TEMPLATES = EXPECTED.templates as Record<string, string>;
const MESSAGES = EXPECTED.messages as { role: string; content: string }[];

Deno.test("applyChatTemplate renders as transformers and tokenizes as the Rust tokenizers", async () => {
  const tok = await Tokenizer.fromDir(LLAMA);
  let cases = 0;
  for (const [name, chatTemplate] of Object.entries(TEMPLATES)) {
    const messages = name === "plain" ? MESSAGES.slice(1) : MESSAGES;
    for (const addGenerationPrompt of [false, true]) {
      const want = EXPECTED[`${name}/${addGenerationPrompt ? "True" : "False"}`];
      const opts = { chatTemplate, addGenerationPrompt };
      assert.equal(
        tok.applyChatTemplate(messages, opts),
        want.text,
        `${name} ${addGenerationPrompt}`,
      );
      assert.deepEqual(tok.applyChatTemplate(messages, { ...opts, tokenize: true }), want.ids);
      cases++;
    }
  }
  assert.equal(cases, 6);
});

Deno.test("the config's chat_template is used, named templates are picked as transformers does", async () => {
  const json = JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", LLAMA)));
  const config = JSON.parse(await Deno.readTextFile(new URL("tokenizer_config.json", LLAMA)));
  const msgs = MESSAGES.slice(1, 2);
  const own = Tokenizer.fromJSON(json, { ...config, chat_template: TEMPLATES.llama2 });
  assert.equal(own.applyChatTemplate(msgs), "<s>[INST] What is the capital of France? [/INST]");
  const named = Tokenizer.fromJSON(json, {
    ...config,
    chat_template: [
      { name: "default", template: TEMPLATES.llama2 },
      { name: "tool_use", template: "tools: {{ tools | length }}" },
    ],
  });
  assert.equal(named.applyChatTemplate(msgs), own.applyChatTemplate(msgs));
  assert.equal(named.applyChatTemplate(msgs, { tools: [{}, {}] }), "tools: 2");
  assert.equal(named.applyChatTemplate(msgs, { chatTemplate: "tool_use", tools: [] }), "tools: 0");
  assert.equal(
    selectChatTemplate([{ name: "rag", template: "x" }], { name: "{{ 1 + 1 }}" }),
    "{{ 1 + 1 }}",
  );
  assert.throws(() => selectChatTemplate([{ name: "rag", template: "x" }]), /"rag".*chatTemplate/);
  // tiny-llama's own config has no template: the error says what to pass.
  const bare = await Tokenizer.fromDir(LLAMA);
  assert.equal(bare.chatTemplate, undefined);
  assert.throws(() => bare.applyChatTemplate(msgs), /no chat template.*chatTemplate/);
});

Deno.test("chat_template.jinja in the folder wins over the config, as in transformers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
      await Deno.copyFile(new URL(f, LLAMA), `${dir}/${f}`);
    }
    await Deno.writeTextFile(
      `${dir}/chat_template.jinja`,
      "{{ messages[0].content }}|{{ eos_token }}",
    );
    const tok = await Tokenizer.fromDir(dir);
    assert.equal(tok.applyChatTemplate([{ role: "user", content: "hi" }]), "hi|</s>");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("template variables, raise_exception and bad input give named errors", () => {
  const special = { bos_token: "<s>" };
  assert.equal(
    renderChatTemplate("{{ bos_token }}{% if enable_thinking %}think{% endif %}", [], special, {
      variables: { enable_thinking: true },
    }),
    "<s>think",
  );
  assert.throws(
    () =>
      renderChatTemplate(TEMPLATES.llama2, [
        { role: "user", content: "a" },
        { role: "user", content: "b" },
      ], special),
    (e) => e instanceof ChatTemplateError && /roles must alternate/.test(e.message),
  );
  assert.throws(() => renderChatTemplate("{% for %}", [], {}), /does not parse/);
  assert.throws(
    () => renderChatTemplate("x", [{ content: "no role" } as never], {}),
    /Message 0 has no string "role"/,
  );
  assert.throws(() => renderChatTemplate("x", "hi" as never, {}), /array of \{ role, content \}/);
});
