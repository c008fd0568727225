/**
 * tsight's pictures: SVG strings for a logit lens heatmap, an attention grid (one heatmap per
 * head) and a line plot of probabilities across layers. No dependencies and no model code:
 * pass numbers and token strings (escaped when drawn); runs in Deno and browsers.
 *
 * @example
 * ```ts
 * import { attentionSvg } from "./mod.ts";
 * const svg = attentionSvg({ tokens: ["<s>", "Hi"], heads: [[[1, 0], [0.4, 0.6]]] });
 * console.log(svg.includes("&lt;s&gt;")); // true
 * ```
 *
 * @module
 */
export { type LensCell, type LogitLensData, logitLensSvg } from "./logit_lens.ts";
export { type AttentionData, attentionSvg, type AttentionSvgOptions } from "./attention.ts";
export { type LinePlotData, linePlotSvg, type LineSeries } from "./line_plot.ts";
export { escapeXml } from "./_svg.ts";
