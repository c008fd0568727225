// Names the interventions behind non-finite logits in a traced generate: the edits the graph
// recorded for the failing step, added to the model's NonFiniteLogitsError. Runs nothing.

import { NonFiniteLogitsError } from "../model/finite.ts";
import { editTarget } from "./_node_ops.ts";
import type { Graph } from "./graph.ts";
import { stepsMatch } from "./steps.ts";

/**
 * `e` with the edits (`set`, `.output = v`, `skip`) that `graph` recorded for the step it names,
 * when `e` is a NonFiniteLogitsError without them; any other error unchanged.
 *
 * @example
 * ```ts
 * import { NonFiniteLogitsError } from "../model/finite.ts";
 * import { Graph } from "./graph.ts";
 * import { withInterventions } from "./_nonfinite.ts";
 * const e = new NonFiniteLogitsError({ step: 0, row: 0, count: 1, vocabSize: 5 });
 * withInterventions(e, new Graph()) === e; // true: nothing edited step 0
 * ```
 */
export function withInterventions(e: unknown, graph: Graph): unknown {
  if (!(e instanceof NonFiniteLogitsError) || e.interventions.length > 0) return e;
  const edits: string[] = [];
  for (const node of graph.nodes) {
    const target = editTarget(graph.nodes, node);
    if (target < 0 || !stepsMatch(graph.nodes[target].steps!, e.step)) continue;
    edits.push(`%${node.id} ${graph.describe(node.id)}`);
  }
  if (edits.length === 0) return e;
  const more = new NonFiniteLogitsError({
    step: e.step,
    row: e.row,
    count: e.count,
    vocabSize: e.vocabSize,
    interventions: edits,
  });
  more.stack = e.stack;
  return more;
}
