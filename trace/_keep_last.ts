// Whether a recorded forward trace observes the logits only at the last position
// (`model.output.get(":, -1")`), so the head can run there alone (logitsToKeep 1) with every
// value the graph sees unchanged. Conservative: anything else that could see the rest says no.

import { type Graph, Ref } from "./graph.ts";

/** Index spellings that take every row's last position (of [B, T, V]). */
const LAST = new Set([":,-1", ":,-1,:", "...,-1,:"]);
/** Ops whose values could depend on every position of the logits. */
const UNSAFE = new Set(["result", "grad", "gradset", "backward"]);

/**
 * True when the graph reads the model's output only through `[:, -1]` getitems, nothing saves
 * or edits that output itself, no node touches the head module at `headPath`, and no gradient
 * or `tracer.result` is involved: logits at the other positions would never be observed.
 *
 * @example
 * ```ts
 * import { Graph, Ref } from "./graph.ts";
 * import { observesLastLogitsOnly } from "./_keep_last.ts";
 * const g = new Graph();
 * const steps = { kind: "at", step: 0 } as const;
 * const out = g.add("getter", [], [], { getter: { path: "", kind: "output", steps } });
 * g.add("getitem", [new Ref(out.id), ":, -1"], [out.id]).saved = true;
 * observesLastLogitsOnly(g, "lm_head"); // true
 * out.saved = true;
 * observesLastLogitsOnly(g, "lm_head"); // false: the whole output is kept
 * ```
 */
export function observesLastLogitsOnly(graph: Graph, headPath: string): boolean {
  const nodes = graph.nodes;
  const root = new Set<number>();
  for (const n of nodes) {
    if (UNSAFE.has(n.op)) return false;
    if (n.op !== "getter") continue;
    const path = n.path ?? "";
    if (path === headPath || path.startsWith(`${headPath}.`)) return false;
    if (path !== "") continue;
    if (n.kind !== "output" || n.saved) return false;
    root.add(n.id);
  }
  if (root.size === 0) return false;
  for (const n of nodes) {
    const uses = n.deps.filter((d) => root.has(d));
    if (uses.length === 0) continue;
    const [src, index] = n.args;
    const lastItem = n.op === "getitem" && n.args.length === 2 && src instanceof Ref &&
      typeof index === "string" && LAST.has(index.replace(/\s+/g, ""));
    if (!lastItem || uses.length !== 1 || n.cond.includes(uses[0]) || n.after.includes(uses[0])) {
      return false;
    }
  }
  return true;
}
