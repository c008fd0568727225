// The logit-lens heatmap: layers x positions, each cell a layer's top-1 next-token guess at one
// position and its probability, coloured by probability. Renders given numbers; computes none.

import {
  checkProbability,
  colorLegend,
  colorOf,
  el,
  escapeXml,
  inkOn,
  svgDocument,
  text,
  visibleToken,
} from "./_svg.ts";

/** One cell of the lens: the most likely token and its probability. */
export interface LensCell {
  /** The top-1 token as text (untrusted: escaped when drawn). */
  token: string;
  /** Its probability, in [0, 1]. */
  prob: number;
}

/** What {@link logitLensSvg} draws. */
export interface LogitLensData {
  /** The input tokens, one per position (the x axis). */
  tokens: readonly string[];
  /** `cells[layer][position]`, one row per layer (the y axis, first row at the top). */
  cells: readonly (readonly LensCell[])[];
  /** Row labels; default "layer 0", "layer 1", ... */
  layers?: readonly string[];
  /** Title above the plot; default "Logit lens". */
  title?: string;
}

const CELL_W = 64;
const CELL_H = 32;
const LEFT = 70;
const TOP = 40;

/**
 * The logit lens as an SVG heatmap: one row per layer, one column per input position, each
 * cell showing the top-1 token and its probability, coloured by probability (viridis), input
 * tokens on the x axis, layers on the y axis, a colour legend. Every label is XML-escaped.
 *
 * @example
 * ```ts
 * import { logitLensSvg } from "./logit_lens.ts";
 * const svg = logitLensSvg({
 *   tokens: ["The", " cat"],
 *   cells: [[{ token: " a", prob: 0.1 }, { token: " sat", prob: 0.4 }]],
 * });
 * console.log(svg.startsWith("<svg")); // true
 * ```
 */
export function logitLensSvg(data: LogitLensData): string {
  const T = data.tokens.length;
  const L = data.cells.length;
  if (T === 0 || L === 0) {
    throw new RangeError(
      `The logit lens has ${L} layers and ${T} positions: pass at least one of each`,
    );
  }
  const layers = data.layers ?? data.cells.map((_, i) => `layer ${i}`);
  if (layers.length !== L) {
    throw new RangeError(`${layers.length} layer labels for ${L} rows: pass one label per row`);
  }
  const gridW = T * CELL_W;
  const gridH = L * CELL_H;
  const bottom = TOP + gridH;
  const body: string[] = [
    text({ x: LEFT, y: 22, "font-size": 14, "font-weight": "bold" }, data.title ?? "Logit lens"),
  ];
  data.cells.forEach((row, l) => {
    if (row.length !== T) {
      throw new RangeError(
        `Row ${l} of the logit lens has ${row.length} cells for ${T} tokens: pass one cell per token`,
      );
    }
    row.forEach((cell, t) => {
      const p = checkProbability(cell.prob, `layer ${l}, position ${t}`);
      const x = LEFT + t * CELL_W;
      const y = TOP + l * CELL_H;
      const ink = inkOn(p);
      const tip = `${layers[l]}, position ${t} (${JSON.stringify(data.tokens[t])}): ${
        JSON.stringify(cell.token)
      } p = ${p.toFixed(3)}`;
      body.push(el(
        "g",
        { class: "cell" },
        `<title>${escapeXml(tip)}</title>` +
          el("rect", { x, y, width: CELL_W, height: CELL_H, fill: colorOf(p), stroke: "#ffffff" }) +
          text(
            { x: x + CELL_W / 2, y: y + 14, "text-anchor": "middle", fill: ink },
            visibleToken(cell.token, 9),
          ) +
          text(
            { x: x + CELL_W / 2, y: y + 26, "text-anchor": "middle", fill: ink, "font-size": 9 },
            p.toFixed(2),
          ),
      ));
    });
    body.push(text(
      { x: LEFT - 6, y: TOP + l * CELL_H + CELL_H / 2 + 4, "text-anchor": "end", class: "y-label" },
      layers[l],
    ));
  });
  // Rotated labels reach down about sin(40 deg) * 6.5 px per character.
  const longest = Math.max(...data.tokens.map((tok) => [...visibleToken(tok, 14)].length));
  const captionY = bottom + 30 + Math.ceil(longest * 6.5 * 0.65);
  data.tokens.forEach((tok, t) => {
    const x = LEFT + t * CELL_W + CELL_W / 2;
    body.push(text(
      {
        x,
        y: bottom + 12,
        "text-anchor": "end",
        transform: `rotate(-40 ${x} ${bottom + 12})`,
        class: "x-label",
      },
      visibleToken(tok, 14),
    ));
  });
  body.push(
    text({ x: LEFT + gridW / 2, y: captionY, "text-anchor": "middle" }, "input token"),
    colorLegend(LEFT + gridW + 20, TOP + 12, Math.max(60, gridH - 12), "p(top-1)"),
  );
  return svgDocument(LEFT + gridW + 80, captionY + 12, body, data.title ?? "Logit lens");
}
