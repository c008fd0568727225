// SVG building blocks shared by the plots: XML escaping of untrusted labels, the colour scale,
// text and legend fragments. Pure strings; knows nothing of models or tensors.

/** Characters XML 1.0 cannot hold even escaped: C0 controls except tab, LF, CR; lone surrogates. */
const INVALID_XML =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Escapes text for an XML attribute or element: `& < > " '` become entities and characters XML
 * cannot hold become U+FFFD, so any token string yields well-formed SVG.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./_svg.ts";
 * console.log(escapeXml(`<a & "b">`)); // "&lt;a &amp; &quot;b&quot;&gt;"
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(INVALID_XML, "\ufffd").replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

/**
 * A token as a short visible label: newline as ↵, tab as ⇥, other controls as their control
 * pictures (U+2400 block), cut to `max` characters with an ellipsis. Not escaped.
 */
export function visibleToken(token: string, max = 10): string {
  // deno-lint-ignore no-control-regex
  const shown = token.replace(/[\u0000-\u001f\u007f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code === 0x0a) return "\u21b5"; // ↵, which every font has
    if (code === 0x09) return "\u21e5"; // ⇥
    return String.fromCharCode(code === 0x7f ? 0x2421 : 0x2400 + code);
  });
  const chars = [...shown];
  return chars.length > max ? chars.slice(0, max - 1).join("") + "\u2026" : shown;
}

/** Viridis at eleven even stops, [r, g, b] 0..255: dark purple (0) to yellow (1). */
const VIRIDIS = [
  [68, 1, 84],
  [72, 36, 117],
  [65, 68, 135],
  [53, 95, 141],
  [42, 120, 142],
  [33, 145, 140],
  [34, 168, 132],
  [68, 191, 112],
  [122, 209, 81],
  [189, 223, 38],
  [253, 231, 37],
] as const;

/** The colour of `t` in [0, 1] on the viridis scale, as `#rrggbb`. */
export function colorOf(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const c = [0, 1, 2].map((k) =>
    Math.round(VIRIDIS[i][k] + f * (VIRIDIS[i + 1][k] - VIRIDIS[i][k]))
  );
  return "#" + c.map((v) => v.toString(16).padStart(2, "0")).join("");
}

/** Black or white, whichever reads better on the scale's colour at `t`. */
export function inkOn(t: number): string {
  return t > 0.55 ? "#000000" : "#ffffff";
}

/** Ten distinct colours for lines (Tableau 10). */
export const CATEGORICAL: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

/** Attributes as ` k="v"`, values escaped; numbers rounded to 0.01. */
function attrs(a: Record<string, string | number>): string {
  return Object.entries(a)
    .map(([k, v]) => ` ${k}="${typeof v === "number" ? round(v) : escapeXml(v)}"`)
    .join("");
}

/** `v` with at most two decimals, as SVG coordinates need no more. */
export function round(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** An element with attributes and optional (already escaped) content. */
export function el(name: string, a: Record<string, string | number>, content?: string): string {
  return content === undefined
    ? `<${name}${attrs(a)}/>`
    : `<${name}${attrs(a)}>${content}</${name}>`;
}

/** A text element whose content is escaped. */
export function text(a: Record<string, string | number>, content: string): string {
  return el("text", a, escapeXml(content));
}

/** The document: root element with size and viewBox, a font and white background. */
export function svgDocument(width: number, height: number, body: string[], title: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg"${
      attrs({ width, height, viewBox: `0 0 ${round(width)} ${round(height)}` })
    } font-family="ui-sans-serif, system-ui, sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<style>text { white-space: pre; }</style>`,
    el("rect", { width, height, fill: "#ffffff" }),
    ...body,
    "</svg>",
    "",
  ].join("\n");
}

/**
 * A vertical colour legend: `steps` boxes from 0 (bottom) to 1 (top), ticks at 0, 0.5 and 1,
 * and a caption above; top-left corner at (x, y).
 */
export function colorLegend(x: number, y: number, height: number, caption: string): string {
  const steps = 20;
  const h = height / steps;
  const out = [text({ x, y: y - 6, class: "legend-caption" }, caption)];
  for (let i = 0; i < steps; i++) {
    const t = (i + 0.5) / steps;
    out.push(
      el("rect", { x, y: y + height - (i + 1) * h, width: 14, height: h + 0.5, fill: colorOf(t) }),
    );
  }
  for (const t of [0, 0.5, 1]) {
    out.push(
      text({ x: x + 18, y: y + height - t * height + 4, class: "legend-tick" }, t.toFixed(1)),
    );
  }
  return el("g", { class: "legend" }, out.join(""));
}

/** Throws unless `v` is a finite number in [0, 1]; `where` names it in the message. */
export function checkProbability(v: unknown, where: string): number {
  // float32 softmax sums may pass 1 by a few ulps: tolerated and clamped.
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1 + 1e-4) {
    throw new RangeError(
      `Probability "${
        String(v)
      }" at ${where} is not a number in [0, 1]: pass softmax probabilities`,
    );
  }
  return Math.min(v, 1);
}
