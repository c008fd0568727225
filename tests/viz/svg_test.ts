// The SVG plots: well-formed XML (strict parser), the expected number of cells, labels, lines
// and markers, colours by probability, escaping of untrusted tokens, and errors on bad input.

import assert from "node:assert/strict";
import { attentionSvg, escapeXml, linePlotSvg, logitLensSvg } from "../../viz/mod.ts";
import { parseXml, select, textOf } from "./_xml.ts";

/** Tokens a tokenizer may produce that break naive SVG: markup, quotes, controls, a surrogate. */
const NASTY = ["<s>", " &amp", '"q"', "a'b", "\n", "\u0001", "x\ud800", "]]>"];

Deno.test("the XML checker rejects what is not well-formed", () => {
  assert.equal(parseXml(`<a x="1"><b>t &amp; &#65;</b></a>`).children.length, 1);
  assert.equal(textOf(parseXml(`<a><b>t &amp; &#65;&#x42;</b></a>`)), "t & AB");
  for (
    const bad of [
      "<a><b></a>",
      "<a>1 < 2</a>",
      "<a>1 & 2</a>",
      '<a x="1" x="2"/>',
      "<a x=1/>",
      '<a x="<"/>',
      "<a>&nbsp;</a>",
      "<a/><b/>",
      "<a>\u0001</a>",
      "<a>",
    ]
  ) {
    assert.throws(() => parseXml(bad), SyntaxError, bad);
  }
});

Deno.test("logit lens: one cell per layer and position, tokens on both axes, a legend", () => {
  const tokens = ["The", " cat", " sat", NASTY[0]];
  const cells = [0, 1, 2].map((l) =>
    tokens.map((_, t) => ({ token: NASTY[(l * 4 + t) % NASTY.length], prob: (l * 4 + t) / 11 }))
  );
  const svg = logitLensSvg({ tokens, cells, title: 'Lens <of> & "that"' });
  const root = parseXml(svg);
  assert.equal(root.name, "svg");
  assert.equal(root.attrs.xmlns, "http://www.w3.org/2000/svg");
  assert.equal(select(root, "g", "cell").length, 12);
  assert.deepEqual(select(root, "text", "x-label").map(textOf), ["The", " cat", " sat", "<s>"]);
  assert.deepEqual(select(root, "text", "y-label").map(textOf), ["layer 0", "layer 1", "layer 2"]);
  assert.equal(select(root, "g", "legend").length, 1);
  assert.equal(textOf(select(root, "title")[0]), 'Lens <of> & "that"');
  // Each cell: its top-1 token (controls shown as pictures) and probability, tooltip with both.
  const first = select(root, "g", "cell")[1]; // layer 0, position 1
  assert.deepEqual(select(first, "text").map(textOf), [" &amp", "0.09"]);
  assert.match(
    textOf(select(first, "title")[0]),
    /layer 0, position 1 \(" cat"\): " &amp" p = 0\.091/,
  );
  const shown = select(root, "g", "cell").map((c) => textOf(select(c, "text")[0]));
  assert.ok(shown.includes("\u21b5"), "newline drawn as a visible arrow");
  assert.ok(shown.includes("\u2401"), "U+0001 drawn as its control picture");
  assert.ok(shown.includes("x\ufffd"), "a lone surrogate becomes U+FFFD");
  assert.ok(shown.includes('"q"') && shown.includes("a'b") && shown.includes("]]>"));
});

Deno.test("logit lens: colour follows probability on the viridis scale", () => {
  const svg = logitLensSvg({
    tokens: ["a", "b"],
    cells: [[{ token: "x", prob: 0 }, { token: "y", prob: 1 }]],
  });
  const fills = select(parseXml(svg), "g", "cell").map((c) => select(c, "rect")[0].attrs.fill);
  assert.deepEqual(fills, ["#440154", "#fde725"]);
});

Deno.test("logit lens: ragged rows, NaN and out-of-range probabilities are named errors", () => {
  assert.throws(
    () => logitLensSvg({ tokens: ["a", "b"], cells: [[{ token: "x", prob: 0.5 }]] }),
    {
      name: "RangeError",
      message: "Row 0 of the logit lens has 1 cells for 2 tokens: pass one cell per token",
    },
  );
  assert.throws(
    () => logitLensSvg({ tokens: ["a"], cells: [[{ token: "x", prob: NaN }]] }),
    {
      name: "RangeError",
      message:
        'Probability "NaN" at layer 0, position 0 is not a number in [0, 1]: pass softmax probabilities',
    },
  );
  assert.throws(
    () => logitLensSvg({ tokens: ["a"], cells: [[{ token: "x", prob: 1.5 }]] }),
    RangeError,
  );
  assert.throws(() => logitLensSvg({ tokens: [], cells: [] }), RangeError);
});

Deno.test("attention grid: T x T cells per head, tokens on both axes of every panel", () => {
  const tokens = ["<|endoftext|>", "A", " & B"];
  const head = [[1, 0, 0], [0.25, 0.75, 0], [0.2, 0.3, 0.5]];
  const svg = attentionSvg({ tokens, heads: [head, head], title: "L0 <attn>" });
  const root = parseXml(svg);
  assert.equal(select(root, "g", "head").length, 2);
  assert.equal(select(root, "rect", "cell").length, 18);
  assert.deepEqual(
    select(root, "text", "y-label").map(textOf),
    [...tokens, ...tokens].map((t) => t === "<|endoftext|>" ? "<|endofte\u2026" : t),
  );
  assert.equal(select(root, "text", "x-label").length, 6);
  assert.equal(select(root, "g", "legend").length, 1);
  const cells = select(root, "rect", "cell");
  assert.equal(cells[0].attrs.fill, "#fde725"); // head 0, query 0 -> key 0: p = 1
  assert.equal(cells[1].attrs.fill, "#440154"); // masked future key: p = 0
  assert.equal(textOf(select(cells[4], "title")[0]), "1 \u2192 1: 0.750");
  assert.ok(svg.includes("&lt;|endofte") && !svg.includes("<|endofte"));
});

Deno.test("attention grid: a non-square head is a named error", () => {
  assert.throws(
    () => attentionSvg({ tokens: ["a", "b"], heads: [[[1, 0], [1]]] }),
    { name: "RangeError", message: "Head 0, query 1 has 1 keys for 2 tokens: pass T x T" },
  );
  assert.throws(() => attentionSvg({ tokens: ["a"], heads: [[[1]]] }, { columns: 0 }), RangeError);
});

Deno.test("line plot: one line and one marker per point for each token, a legend entry each", () => {
  const svg = linePlotSvg({
    x: ["0", "1", "2", "3"],
    series: [
      { label: " Paris", values: [0.1, 0.2, 0.5, 0.9] },
      { label: '<London & "co">', values: [0.3, 0.2, 0.1, 0] },
    ],
  });
  const root = parseXml(svg);
  assert.equal(select(root, "g", "series").length, 2);
  assert.equal(select(root, "polyline").length, 2);
  assert.equal(select(root, "circle").length, 8);
  assert.deepEqual(select(root, "text", "legend-label").map(textOf), [" Paris", '<London & "co">']);
  assert.deepEqual(select(root, "text", "x-label").map(textOf), ["0", "1", "2", "3"]);
  assert.deepEqual(select(root, "text", "y-tick").map(textOf), [
    "0.00",
    "0.25",
    "0.50",
    "0.75",
    "1.00",
  ]);
});

Deno.test("line plot: the y axis fits small probabilities", () => {
  const svg = linePlotSvg({ x: ["0", "1"], series: [{ label: "a", values: [0.01, 0.07] }] });
  const ticks = select(parseXml(svg), "text", "y-tick").map(textOf);
  assert.deepEqual(ticks, ["0.000", "0.025", "0.050", "0.075", "0.100"]);
  assert.throws(
    () => linePlotSvg({ x: ["0", "1"], series: [{ label: "a", values: [0.1] }] }),
    {
      name: "RangeError",
      message: 'Series "a" has 1 values for 2 x positions: pass one per position',
    },
  );
});

Deno.test("escapeXml escapes markup and replaces characters XML cannot hold", () => {
  assert.equal(
    escapeXml(`<a href="x">&'</a>`),
    "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;",
  );
  assert.equal(
    escapeXml("a\u0000b\u001fc\ud800d\udc00e\ud83d\ude00"),
    "a\ufffdb\ufffdc\ufffdd\ufffde\ud83d\ude00",
  );
  assert.equal(escapeXml("tab\tnl\ncr\r"), "tab\tnl\ncr\r");
});
