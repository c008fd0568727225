// The line plot: chosen tokens' probabilities across layers, one coloured line per token, with
// axes, ticks and a legend. Renders given numbers; computes none.

import {
  CATEGORICAL,
  checkProbability,
  el,
  escapeXml,
  round,
  svgDocument,
  text,
  visibleToken,
} from "./_svg.ts";

/** One line: a label (a token) and one value per x position. */
export interface LineSeries {
  /** Legend text (untrusted: escaped when drawn). */
  label: string;
  /** One probability per x label, each in [0, 1]. */
  values: readonly number[];
}

/** What {@link linePlotSvg} draws. */
export interface LinePlotData {
  /** Labels of the x positions, e.g. "0", "1", ... for layers. */
  x: readonly string[];
  /** The lines. */
  series: readonly LineSeries[];
  /** Title above the plot; default "Probability across layers". */
  title?: string;
  /** Caption of the x axis; default "layer". */
  xLabel?: string;
  /** Caption of the y axis; default "probability". */
  yLabel?: string;
  /** Top of the y axis; default the smallest of 0.01, 0.02, 0.05, 0.1, ..., 1 above every value. */
  yMax?: number;
}

/** The smallest "nice" bound (1, 2 or 5 times a power of ten, at most 1) at or above `v`. */
function niceMax(v: number): number {
  for (let e = -4; e <= 0; e++) {
    for (const m of [1, 2, 5]) {
      const b = m * 10 ** e;
      if (b >= 1) return 1;
      if (b >= v) return b;
    }
  }
  return 1;
}

const LEFT = 56;
const TOP = 40;
const PLOT_H = 220;
const LEGEND_W = 150;

/**
 * Probabilities across layers as an SVG line plot: y from 0 to `yMax` with gridlines, one line and
 * marker per point for each series, a legend of the (escaped) labels.
 *
 * @example
 * ```ts
 * import { linePlotSvg } from "./line_plot.ts";
 * const svg = linePlotSvg({ x: ["0", "1", "2"], series: [{ label: " Paris", values: [0.1, 0.3, 0.8] }] });
 * console.log(svg.match(/<circle/g)?.length); // 3
 * ```
 */
export function linePlotSvg(data: LinePlotData): string {
  const N = data.x.length;
  if (N === 0 || data.series.length === 0) {
    throw new RangeError(
      `The line plot has ${N} x positions and ${data.series.length} series: pass at least one of each`,
    );
  }
  const checked = data.series.map((s, k) => {
    if (s.values.length !== N) {
      throw new RangeError(
        `Series ${
          JSON.stringify(s.label)
        } has ${s.values.length} values for ${N} x positions: pass one per position`,
      );
    }
    return s.values.map((v, i) => checkProbability(v, `series ${k}, x ${i}`));
  });
  const yMax = data.yMax ?? niceMax(Math.max(...checked.flat()));
  if (!(yMax > 0 && yMax <= 1)) throw new RangeError(`yMax is ${yMax}: pass a number in (0, 1]`);
  const digits = Math.max(2, 1 - Math.floor(Math.log10(yMax / 4))); // 0.025 needs 3
  const plotW = Math.max(240, Math.min(720, N * 40));
  const step = N > 1 ? plotW / (N - 1) : 0;
  const xAt = (i: number) => LEFT + (N > 1 ? i * step : plotW / 2);
  const yAt = (p: number) => TOP + PLOT_H - Math.min(p, yMax) / yMax * PLOT_H;
  const title = data.title ?? "Probability across layers";
  const body: string[] = [
    text({ x: LEFT, y: 22, "font-size": 14, "font-weight": "bold" }, title),
  ];
  for (const t of [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax)) {
    body.push(
      el("line", { x1: LEFT, x2: LEFT + plotW, y1: yAt(t), y2: yAt(t), stroke: "#dddddd" }),
      text(
        { x: LEFT - 6, y: yAt(t) + 4, "text-anchor": "end", class: "y-tick" },
        t.toFixed(digits),
      ),
    );
  }
  data.x.forEach((label, i) => {
    body.push(text(
      { x: xAt(i), y: TOP + PLOT_H + 16, "text-anchor": "middle", class: "x-label" },
      visibleToken(label, 8),
    ));
  });
  body.push(
    el("line", { x1: LEFT, x2: LEFT, y1: TOP, y2: TOP + PLOT_H, stroke: "#333333" }),
    el("line", { x1: LEFT, x2: LEFT + plotW, y1: yAt(0), y2: yAt(0), stroke: "#333333" }),
    text(
      { x: LEFT + plotW / 2, y: TOP + PLOT_H + 36, "text-anchor": "middle" },
      data.xLabel ?? "layer",
    ),
    text(
      {
        x: 14,
        y: TOP + PLOT_H / 2,
        "text-anchor": "middle",
        transform: `rotate(-90 14 ${TOP + PLOT_H / 2})`,
      },
      data.yLabel ?? "probability",
    ),
  );
  data.series.forEach((s, k) => {
    const color = CATEGORICAL[k % CATEGORICAL.length];
    const ps = checked[k];
    const points = ps.map((p, i) => `${round(xAt(i))},${round(yAt(p))}`).join(" ");
    const marks = ps.map((p, i) =>
      el(
        "circle",
        { cx: xAt(i), cy: yAt(p), r: 3.5, fill: color },
        `<title>${
          escapeXml(`${JSON.stringify(s.label)} at ${data.x[i]}: ${p.toFixed(3)}`)
        }</title>`,
      )
    );
    const ly = TOP + 8 + k * 18;
    body.push(el(
      "g",
      { class: "series" },
      el("polyline", { points, fill: "none", stroke: color, "stroke-width": 2 }) + marks.join("") +
        el("line", {
          x1: LEFT + plotW + 16,
          x2: LEFT + plotW + 36,
          y1: ly,
          y2: ly,
          stroke: color,
          "stroke-width": 3,
        }) +
        text({ x: LEFT + plotW + 42, y: ly + 4, class: "legend-label" }, visibleToken(s.label, 16)),
    ));
  });
  const height = Math.max(TOP + PLOT_H + 50, TOP + 20 + data.series.length * 18);
  const width = Math.max(LEFT + plotW + LEGEND_W, LEFT + 8 * [...title].length);
  return svgDocument(width, height, body, title);
}
