// The attention grid: one query x key heatmap per head of a layer, tokens on both axes of every
// panel, one shared colour legend. Renders given probabilities; computes none.

import {
  checkProbability,
  colorLegend,
  colorOf,
  el,
  svgDocument,
  text,
  visibleToken,
} from "./_svg.ts";

/** What {@link attentionSvg} draws. */
export interface AttentionData {
  /** The tokens, one per position (queries and keys). */
  tokens: readonly string[];
  /** `heads[head][query][key]`: attention probabilities, each query row over all keys. */
  heads: readonly (readonly (readonly number[])[])[];
  /** Title above the grid; default "Attention". */
  title?: string;
}

/** Layout options of {@link attentionSvg}. */
export interface AttentionSvgOptions {
  /** Panels per row; default up to 4. */
  columns?: number;
}

const LABEL_W = 70;
const LABEL_H = 64;
const TITLE_H = 18;
const GAP = 24;
/** Above this many positions, cells get no tooltip (the file would grow as T squared). */
const TIPS_UP_TO = 32;

/**
 * Attention probabilities as an SVG grid of heatmaps, one per head: queries down, keys across,
 * the tokens on both axes, colour by probability (viridis) with a legend. Labels are escaped.
 *
 * @example
 * ```ts
 * import { attentionSvg } from "./attention.ts";
 * const svg = attentionSvg({ tokens: ["a", "b"], heads: [[[1, 0], [0.3, 0.7]]] });
 * console.log(svg.match(/class="cell"/g)?.length); // 4
 * ```
 */
export function attentionSvg(data: AttentionData, opts: AttentionSvgOptions = {}): string {
  const T = data.tokens.length;
  const H = data.heads.length;
  if (T === 0 || H === 0) {
    throw new RangeError(`The attention has ${H} heads and ${T} tokens: pass at least one of each`);
  }
  const columns = opts.columns ?? Math.min(H, 4);
  if (!Number.isInteger(columns) || columns < 1) {
    throw new RangeError(`columns is ${columns}: it must be an integer >= 1`);
  }
  const cs = Math.max(4, Math.min(24, Math.floor(240 / T)));
  const fs = Math.max(6, Math.min(11, cs - 2));
  const panelW = LABEL_W + T * cs + GAP;
  const panelH = TITLE_H + T * cs + LABEL_H + GAP;
  const rows = Math.ceil(H / columns);
  const title = data.title ?? "Attention";
  const body: string[] = [
    text({ x: 12, y: 22, "font-size": 14, "font-weight": "bold" }, title),
    text({ x: 12, y: 36, fill: "#555555" }, "rows: query position; columns: key position"),
  ];
  data.heads.forEach((head, h) => {
    const ox = 12 + (h % columns) * panelW + LABEL_W;
    const oy = 48 + Math.floor(h / columns) * panelH + TITLE_H;
    body.push(el("g", { class: "head" }, panel(head, h, ox, oy, cs, fs, data.tokens)));
  });
  const width = 12 + Math.min(columns, H) * panelW + 70;
  const height = 48 + rows * panelH;
  body.push(colorLegend(width - 60, 60, Math.min(160, T * cs), "p"));
  return svgDocument(width, height, body, title);
}

/** One head's heatmap with its title and axis labels; (ox, oy) is the grid's top left. */
function panel(
  head: readonly (readonly number[])[],
  h: number,
  ox: number,
  oy: number,
  cs: number,
  fs: number,
  tokens: readonly string[],
): string {
  const T = tokens.length;
  if (head.length !== T) {
    throw new RangeError(`Head ${h} has ${head.length} query rows for ${T} tokens: pass T x T`);
  }
  const out = [text({ x: ox, y: oy - 6, "font-weight": "bold" }, `head ${h}`)];
  head.forEach((row, q) => {
    if (row.length !== T) {
      throw new RangeError(
        `Head ${h}, query ${q} has ${row.length} keys for ${T} tokens: pass T x T`,
      );
    }
    row.forEach((v, k) => {
      const p = checkProbability(v, `head ${h}, query ${q}, key ${k}`);
      const a = { x: ox + k * cs, y: oy + q * cs, width: cs, height: cs, fill: colorOf(p) };
      out.push(
        T <= TIPS_UP_TO
          ? el("rect", { ...a, class: "cell" }, `<title>${q} \u2192 ${k}: ${p.toFixed(3)}</title>`)
          : el("rect", { ...a, class: "cell" }),
      );
    });
  });
  tokens.forEach((tok, i) => {
    const label = visibleToken(tok, 10);
    out.push(text(
      {
        x: ox - 4,
        y: oy + i * cs + cs / 2 + fs / 3,
        "text-anchor": "end",
        "font-size": fs,
        class: "y-label",
      },
      label,
    ));
    const x = ox + i * cs + cs / 2 + fs / 3;
    const y = oy + T * cs + 6;
    out.push(text(
      {
        x,
        y,
        "text-anchor": "end",
        "font-size": fs,
        transform: `rotate(-90 ${x} ${y})`,
        class: "x-label",
      },
      label,
    ));
  });
  return out.join("");
}
