// Renders a HuggingFace chat template (Jinja, from tokenizer_config.json or chat_template.jinja)
// as transformers' apply_chat_template does. Knows nothing of token ids; the Tokenizer encodes.

import { Template } from "npm:@huggingface/jinja@0.5.13";

/** One chat message: a role (`system`, `user`, `assistant`, `tool`, ...) and its content. */
export interface ChatMessage {
  /** Who speaks: `"system"`, `"user"`, `"assistant"` or what the template knows. */
  role: string;
  /** The text, or structured content a template understands (for example a list of parts). */
  content: unknown;
  /** Other fields a template may read (`tool_calls`, `name`, ...). */
  [key: string]: unknown;
}

/** A `chat_template` as tokenizer_config.json stores it: one template or named templates. */
export type ChatTemplateSource = string | readonly { name: string; template: string }[];

/** What the template sees besides the messages (transformers passes the same names). */
export interface ChatTemplateContext {
  /** Appends the tokens that start an assistant turn (`add_generation_prompt`). */
  addGenerationPrompt?: boolean;
  /** Tool definitions (JSON schemas), passed to the template as `tools`. */
  tools?: readonly unknown[];
  /** Documents for retrieval templates, passed as `documents`. */
  documents?: readonly unknown[];
  /** Further template variables, such as Qwen3's `enable_thinking`. */
  variables?: Record<string, unknown>;
}

/**
 * Picks the template to use: `name` selects one of several named templates (or is itself a
 * template string), else "tool_use" when tools are given, else "default", as transformers does.
 */
export function selectChatTemplate(
  source: ChatTemplateSource | undefined,
  opts: { name?: string; tools?: readonly unknown[] } = {},
): string {
  if (Array.isArray(source)) {
    const named = new Map(source.map((t) => [t.name, t.template]));
    if (opts.name !== undefined) return named.get(opts.name) ?? opts.name;
    if (opts.tools !== undefined && named.has("tool_use")) return named.get("tool_use")!;
    const fallback = named.get("default");
    if (fallback !== undefined) return fallback;
    throw new TypeError(
      `The tokenizer has chat templates named ${
        [...named.keys()].map((n) => `"${n}"`).join(", ")
      } and none is "default": pass { chatTemplate: "<name>" } to pick one`,
    );
  }
  if (opts.name !== undefined) return opts.name;
  if (typeof source === "string") return source;
  throw new TypeError(
    `The tokenizer has no chat template (no "chat_template" in tokenizer_config.json and no chat_template.jinja): pass { chatTemplate: "<jinja template>" }`,
  );
}

const compiled = new Map<string, Template>();

/**
 * Renders `template` over `messages` with the special tokens as variables (`bos_token`,
 * `eos_token`, ...), like transformers (`raise_exception` and `strftime_now` are built in).
 *
 * @example
 * ```ts
 * import { renderChatTemplate } from "./chat_template.ts";
 * const chatml = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n" +
 *   "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
 * const text = renderChatTemplate(chatml, [{ role: "user", content: "Hi" }], {}, {
 *   addGenerationPrompt: true,
 * });
 * console.log(text === "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"); // true
 * ```
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  specialTokens: Record<string, unknown>,
  ctx: ChatTemplateContext = {},
): string {
  if (!Array.isArray(messages)) {
    throw new TypeError(
      `applyChatTemplate takes an array of { role, content } messages, got "${typeof messages}"`,
    );
  }
  messages.forEach((m, i) => {
    if (m === null || typeof m !== "object" || typeof m.role !== "string") {
      throw new TypeError(
        `Message ${i} has no string "role": write messages as { role: "user", content: "..." }`,
      );
    }
  });
  let t = compiled.get(template);
  if (t === undefined) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new SyntaxError(
        `The chat template does not parse (${(e as Error).message}): check the template string`,
      );
    }
    compiled.set(template, t);
  }
  try {
    return t.render({
      ...specialTokens,
      ...ctx.variables,
      messages,
      tools: ctx.tools,
      documents: ctx.documents,
      add_generation_prompt: ctx.addGenerationPrompt ?? false,
    });
  } catch (e) {
    // The template's own raise_exception(msg) arrives here as an Error with its message.
    throw new ChatTemplateError(`The chat template refused the messages: ${(e as Error).message}`);
  }
}

/**
 * The chat template refused the messages (its `raise_exception`), or failed to render them.
 *
 * @example
 * ```ts
 * import { ChatTemplateError, renderChatTemplate } from "./chat_template.ts";
 * const strict = "{% if messages[0].role != 'user' %}{{ raise_exception('User first') }}{% endif %}";
 * try {
 *   renderChatTemplate(strict, [{ role: "assistant", content: "Hi" }], {});
 * } catch (e) {
 *   console.log(e instanceof ChatTemplateError, (e as Error).message);
 *   // true The chat template refused the messages: User first
 * }
 * ```
 */
export class ChatTemplateError extends Error {
  /**
   * Makes the error.
   *
   * @param message what the template said, or why rendering failed
   */
  constructor(message: string) {
    super(message);
    this.name = "ChatTemplateError";
  }
}
