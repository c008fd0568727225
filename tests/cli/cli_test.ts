// Every CLI command on the tiny GPT-2 fixture, in-process: outputs checked against the fixture's
// reference numbers, exit codes 0 / 1 / 2, usage on bad arguments, nothing written on error.

import assert from "node:assert/strict";
import { LanguageModel } from "../../mod.ts";
import { readSafetensors } from "../../model/safetensors.ts";
import { layerAttention } from "../../cli/attention.ts";
import { logitLens } from "../../cli/lens.ts";
import { assertClose } from "../_assert.ts";
import { ACT, reference } from "../model/_tiny_gpt2.ts";
import { deviceTest } from "../_devices.ts";
import { parseXml, select, textOf } from "../viz/_xml.ts";
import { cli, MODEL, PROMPT } from "./_run.ts";

const COMMANDS = ["generate", "trace", "lens", "attention", "info"];

/** Each case of `cmd` on the fixture exits 2 with its message and the usage; `dir` stays empty. */
async function expectUsageErrors(cmd: string, dir: string, cases: [string[], RegExp][]) {
  for (const [args, msg] of cases) {
    const r = await cli(cmd, MODEL, PROMPT, "--device", "cpu", ...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, msg);
    assert.match(r.err, new RegExp(`\\n\\nUsage: tsight ${cmd} `));
  }
  assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
}

Deno.test("cli: --help on the CLI and on every command prints the usage and exits 0", async () => {
  const top = await cli("--help");
  assert.equal(top.code, 0);
  for (const c of COMMANDS) assert.match(top.out, new RegExp(`^  ${c} `, "m"));
  for (const c of COMMANDS) {
    const r = await cli(c, "--help");
    assert.equal(r.code, 0, c);
    assert.ok(r.out.startsWith(`Usage: tsight ${c} `), r.out);
    assert.match(r.out, /-h, --help/);
    assert.equal(r.err, "");
  }
});

Deno.test("cli: unknown commands, unknown flags and missing arguments print usage and exit 2", async () => {
  const none = await cli();
  assert.equal(none.code, 2);
  assert.match(none.err, /^Missing a command\n\nUsage: tsight <command>/);
  const bogus = await cli("lense", MODEL);
  assert.equal(bogus.code, 2);
  assert.match(
    bogus.err,
    /Unknown command "lense": use one of generate, trace, lens, attention, info/,
  );
  for (const c of COMMANDS) {
    const flag = await cli(c, MODEL, ...(c === "info" ? [] : [PROMPT]), "--bogus");
    assert.equal(flag.code, 2, c);
    assert.match(flag.err, /^Error: Unknown option '--bogus'\n\nUsage: tsight /);
    const missing = await cli(c);
    assert.equal(missing.code, 2, c);
    assert.match(missing.err, new RegExp(`^Error: Missing MODEL.*\\n\\nUsage: tsight ${c}`));
  }
  const extra = await cli("info", MODEL, "more");
  assert.equal(extra.code, 2);
  assert.match(extra.err, /Unexpected argument "more": "info" takes MODEL/);
});

Deno.test("cli generate: greedy tokens equal the reference; the text is printed", async () => {
  const ref = (await reference()).cases.eiffel;
  const model = await LanguageModel.load(MODEL, { device: "cpu" });
  const expected = model.tokenizer.decode([...ref.input_ids[0], ...ref.generate_greedy.new_tokens]);
  const r = await cli("generate", MODEL, PROMPT, "--max-new-tokens", "5", "--device", "cpu");
  assert.deepEqual(r, { code: 0, out: expected, err: "" });
});

Deno.test("cli generate: sampling with a seed repeats; sampling flags need --sample", async () => {
  const args = ["generate", MODEL, PROMPT, "--max-new-tokens", "4", "--device", "cpu", "--sample"];
  const a = await cli(...args, "--seed", "7", "--top-k", "50", "--temperature", "0.8");
  const b = await cli(...args, "--seed", "7", "--top-k", "50", "--temperature", "0.8");
  assert.equal(a.code, 0, a.err);
  assert.equal(a.out, b.out);
  assert.ok(a.out.startsWith(PROMPT) && a.out.length > PROMPT.length);
  const stray = await cli("generate", MODEL, PROMPT, "--temperature", "0.5");
  assert.equal(stray.code, 2);
  assert.match(stray.err, /^Error: --temperature only applies when sampling: add --sample/);
  for (
    const [flag, value, msg] of [
      ["--max-new-tokens", "-1", /--max-new-tokens is "-1": pass an integer >= 0/],
      ["--max-new-tokens", "2.5", /--max-new-tokens is "2.5": pass an integer >= 0/],
      ["--top-p", "0", /--top-p is "0": pass a number > 0 and <= 1/],
      ["--temperature", "hot", /--temperature is "hot": pass a number > 0/],
      ["--device", "tpu", /--device is "tpu": pass auto, cpu or webgpu/],
    ] as const
  ) {
    const r = await cli("generate", MODEL, PROMPT, "--sample", `${flag}=${value}`);
    assert.equal(r.code, 2, `${flag} ${value}`);
    assert.match(r.err, msg);
  }
});

Deno.test("cli trace: saved values written as safetensors equal the reference activations", async () => {
  const ref = (await reference()).cases.eiffel.activations;
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/acts.safetensors`;
    const r = await cli(
      "trace",
      MODEL,
      PROMPT,
      "--save",
      "transformer.h.0.output.0,transformer.h.0.mlp.output",
      "--save",
      "transformer.wte.input",
      "--out",
      file,
      "--device",
      "cpu",
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      [
        "transformer.h.0.output.0 float32 [1, 10, 32]",
        "transformer.h.0.mlp.output float32 [1, 10, 32]",
        "transformer.wte.input int32 [1, 10]",
        `Wrote 3 values to ${file}`,
      ].join("\n"),
    );
    const st = readSafetensors(await Deno.readFile(file));
    assert.deepEqual([...st.names].sort(), [
      "transformer.h.0.mlp.output",
      "transformer.h.0.output.0",
      "transformer.wte.input",
    ]);
    assert.deepEqual(st.info("transformer.h.0.output.0").shape, [1, 10, 32]);
    await assertClose(st.float32("transformer.h.0.output.0"), ref["transformer.h.0"], ACT);
    await assertClose(st.float32("transformer.h.0.mlp.output"), ref["transformer.h.0.mlp"], ACT);
    assert.equal(st.info("transformer.wte.input").dtype, "I32");
    assert.equal(st.metadata.prompt, PROMPT);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli trace: JSON output holds dtype, shape and row-major data", async () => {
  const ref = (await reference()).cases.eiffel.activations;
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/probs.json`;
    const path = "transformer.h.1.attn.attn_dropout.output";
    const r = await cli("trace", MODEL, PROMPT, "--save", path, "--out", file, "--device", "cpu");
    assert.equal(r.code, 0, r.err);
    const json = JSON.parse(await Deno.readTextFile(file));
    assert.deepEqual(Object.keys(json), [path]);
    assert.equal(json[path].dtype, "float32");
    assert.deepEqual(json[path].shape, [1, 4, 10, 10]);
    await assertClose(json[path].data, ref["transformer.h.1.attn.attn_probs"], ACT);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli trace: bad paths and files exit 2 naming the fix, and write nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/x.json`;
    const cases: [string[], RegExp][] = [
      [
        ["--save", "transformer.h.0", "--out", file],
        /"transformer\.h\.0" does not name a value: write MODULE\.output/,
      ],
      [["--save", "transformer.h.0.output.x", "--out", file], /does not name a value/],
      [
        ["--save", "transformer.h.0.output", "--out", file],
        /"transformer\.h\.0\.output" is a tuple of 1 value, not a tensor: add an index, e\.g\. "transformer\.h\.0\.output\.0"/,
      ],
      [
        ["--save", "transformer.h.0.atn.output", "--out", file],
        /Unknown module "transformer\.h\.0\.atn".*did you mean "attn"/,
      ],
      [
        ["--save", "transformer.h.0.output.0", "--out", `${dir}/x.txt`],
        /--out ".*x\.txt" has no known extension: end it in \.safetensors or \.json/,
      ],
      [["--save", "transformer.h.0.output.0"], /Missing --out: it is required/],
      [["--out", file], /Missing --save: name at least one PATH/],
    ];
    await expectUsageErrors("trace", dir, cases);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli: a model that is not there exits 1 with the loader's message", async () => {
  const r = await cli("info", "/nonexistent/model--dir");
  assert.equal(r.code, 1);
  assert.match(
    r.err,
    /^Error: Model "\/nonexistent\/model--dir" is neither a directory nor a Hub id/,
  );
});

Deno.test("cli lens: the last layer's lens is the model's own top-1 (reference logits)", async () => {
  const ref = (await reference()).cases.eiffel;
  const { top5_ids, top5_values, logsumexp, probe_values } = ref.logits;
  const model = await LanguageModel.load(MODEL, { device: "cpu" });
  const lens = await logitLens(model, PROMPT);
  const ids: number[] = ref.input_ids[0];
  assert.deepEqual(lens.tokens, ids.map((id) => model.tokenizer.decode([id])));
  assert.equal(lens.top1.length, 3);
  const last = lens.top1[2];
  assert.deepEqual(
    last.map((c) => c.token),
    top5_ids.map((r: number[]) => model.tokenizer.decode([r[0]])),
  );
  await assertClose(
    last.map((c) => c.prob),
    top5_values.map((r: number[], t: number) => Math.exp(r[0] - logsumexp[t])),
    { atol: 1e-5, rtol: 1e-4 },
  );
  // " Paris" (6342) is a probe id: its probability at the last position, from its logit.
  const probe = (await reference()).probe_ids.indexOf(6342);
  await assertClose(
    [lens.last[2][6342]],
    [Math.exp(probe_values[9][probe] - logsumexp[9])],
    { atol: 1e-6, rtol: 1e-4 },
  );
  for (const row of lens.top1) for (const c of row) assert.ok(c.prob > 0 && c.prob <= 1);
});

Deno.test("cli lens: writes the heatmap and the line plot, says where", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const [out, lines] = [`${dir}/lens.svg`, `${dir}/lines.svg`];
    const r = await cli(
      "lens",
      MODEL,
      PROMPT,
      "--out",
      out,
      "--lines",
      lines,
      "--token",
      " Paris",
      "--token",
      " London",
      "--device",
      "cpu",
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      `Wrote the logit lens (3 layers x 10 positions) to ${out}\n` +
        `Wrote the probabilities of 2 tokens across layers to ${lines}`,
    );
    const lens = parseXml(await Deno.readTextFile(out));
    assert.equal(select(lens, "g", "cell").length, 30);
    assert.deepEqual(select(lens, "text", "y-label").map(textOf), [
      "layer 0",
      "layer 1",
      "layer 2",
    ]);
    assert.deepEqual(select(lens, "text", "x-label").map(textOf), [
      "The",
      " E",
      "iff",
      "el",
      " Tower",
      " is",
      " in",
      " the",
      " city",
      " of",
    ]);
    const plot = parseXml(await Deno.readTextFile(lines));
    assert.deepEqual(select(plot, "text", "legend-label").map(textOf), [" Paris", " London"]);
    assert.equal(select(plot, "circle").length, 6);
    // Without --token: the three most likely tokens at the last layer.
    const r2 = await cli("lens", MODEL, PROMPT, "--out", out, "--lines", lines, "--device", "cpu");
    assert.equal(r2.code, 0, r2.err);
    assert.equal(select(parseXml(await Deno.readTextFile(lines)), "polyline").length, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli lens: bad --token and missing --out exit 2 and write nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/lens.svg`;
    const cases: [string[], RegExp][] = [
      [
        ["--out", out, "--lines", `${dir}/l.svg`, "--token", "Eiffel Tower"],
        /--token "Eiffel Tower" is 4 tokens \("E", "iff", "el", " Tower"\): pass text that is one token/,
      ],
      [["--out", out, "--token", " Paris"], /--token needs --lines FILE to plot them/],
      [[], /Missing --out: it is required/],
    ];
    await expectUsageErrors("lens", dir, cases);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli attention: probabilities equal the reference; one heatmap per head", async () => {
  const ref = (await reference()).cases.eiffel.activations;
  const model = await LanguageModel.load(MODEL, { device: "cpu" });
  for (const layer of [0, 1, 2]) {
    const att = await layerAttention(model, PROMPT, layer);
    assert.equal(att.layer, layer);
    await assertClose(att.heads, ref[`transformer.h.${layer}.attn.attn_probs`], ACT);
  }
  assert.equal((await layerAttention(model, PROMPT, -1)).layer, 2);
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/attn.svg`;
    const r = await cli("attention", MODEL, PROMPT, "--layer=-1", "--out", out, "--device", "cpu");
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, `Wrote layer 2's attention (4 heads x 10 tokens) to ${out}`);
    const svg = parseXml(await Deno.readTextFile(out));
    assert.equal(select(svg, "g", "head").length, 4);
    assert.equal(select(svg, "rect", "cell").length, 400);
    assert.equal(select(svg, "text", "x-label").length, 40);
    assert.equal(select(svg, "text", "y-label").length, 40);
    assert.match(textOf(select(svg, "title")[0]), /^Layer 2 attention: /);
    const cases: [string[], RegExp][] = [
      [["--layer", "3", "--out", out], /--layer is 3: the model has layers 0 to 2 \(or -3 to -1\)/],
      [["--layer", "one", "--out", out], /--layer is "one": pass an integer/],
      [["--out", out], /Missing --layer: it is required/],
      [["--layer", "1"], /Missing --out: it is required/],
    ];
    await Deno.remove(out);
    await expectUsageErrors("attention", dir, cases);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli info: files, parameter count, dtypes, config and module tree", async () => {
  const r = await cli("info", MODEL, "--device", "cpu");
  assert.equal(r.code, 0, r.err);
  const lines = r.out.split("\n");
  assert.deepEqual(lines.slice(0, 5), [
    `Model: ${MODEL}`,
    `Files: ${MODEL} (a local directory)`,
    "Device: cpu",
    // wte 50257*32 + wpe 64*32 + 3 blocks of 12704 + ln_f 64; the tied head counted once.
    "Parameters: 1,648,448",
    "Dtypes: float32 (40 tensors)",
  ]);
  assert.match(r.out, /"n_layer": 3,/);
  assert.match(r.out, /^ {4}wte: Embedding {2}weight \[50257, 32\]$/m);
  assert.match(r.out, /^ {10}c_attn: Conv1D {2}weight \[32, 96\], bias \[96\]$/m);
  assert.match(r.out, /^ {6}1 to 2: as 0$/m);
  assert.match(r.out, /^ {2}lm_head: LMHead$/m);
});

deviceTest("cli lens and attention: the same numbers on every device", async (device) => {
  const ref = (await reference()).cases.eiffel;
  const model = await LanguageModel.load(MODEL, { device });
  assert.equal(model.device, device);
  const att = await layerAttention(model, PROMPT, 2);
  await assertClose(att.heads, ref.activations["transformer.h.2.attn.attn_probs"], ACT);
  const lens = await logitLens(model, PROMPT);
  assert.deepEqual(
    lens.top1[2].map((c) => c.token),
    ref.logits.top5_ids.map((r: number[]) => model.tokenizer.decode([r[0]])),
  );
});
