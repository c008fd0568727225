// Edits of the value a module is handing on, made while its event is open: `set` on an element of
// the model's tuple, a swap (`.output = v`), a skip. Finds the getter each edit writes into and
// writes the edit back into that invoke's rows. Does not decide when an edit runs.

import type { Entry } from "./_hooks.ts";
import { execute } from "./_ops.ts";
import type { BatchRows } from "./_rows.ts";
import { type Node, Ref } from "./graph.ts";

/** Where an edit writes: the open event of the getter it edits, and the batch's rows. */
export interface EditSite {
  /** The getter's open event. */
  event: ModuleEvent;
  /** The getter the edit writes into (its invoke picks the rows). */
  getter: Node;
  /** The rows of every invoke. */
  batch: BatchRows;
}

/** One module call's input or output while its getters are being served; edits replace `value`. */
export interface ModuleEvent {
  /** The hooked module. */
  entry: Entry;
  /** True for the input event (value: the positional arguments), false for the output. */
  input: boolean;
  /** Its provider key, e.g. `transformer.h.0.output.i0`. */
  key: string;
  /** The value the module will hand on. */
  value: unknown;
}

/** Tensor methods that return a view of their input, so an in-place edit reaches the source. */
const VIEW_METHODS: ReadonlySet<string> = new Set([
  "get",
  "view",
  "reshape",
  "transpose",
  "permute",
  "squeeze",
  "unsqueeze",
  "expand",
  "flatten",
]);

/**
 * The getter whose event `node` edits: a swap's or skip's getter, or the getter an in-place `set`
 * writes into through index and view ops; -1 for every other node (a set on a value of its own).
 */
export function editTarget(nodes: readonly Node[], node: Node): number {
  if (node.op === "swap" || node.op === "skip") {
    return node.args[0] instanceof Ref ? node.args[0].id : -1;
  }
  if (node.op !== "set") return -1;
  let target = node.args[0];
  while (target instanceof Ref) {
    const n = nodes[target.id];
    if (n.op === "getter") return n.id;
    const viewCall = n.op === "call" && VIEW_METHODS.has(n.args[1] as string);
    if (n.op !== "getitem" && n.op !== "set" && !viewCall) return -1;
    target = n.args[0];
  }
  return -1;
}

/** Runs edit `node` on resolved `args` at `site`, within its getter's invoke's rows. */
export function applyEdit(node: Node, args: unknown[], site: EditSite): unknown {
  const { event: ev, getter, batch } = site;
  switch (node.op) {
    case "set": {
      if (!batch.of(getter.invoke) || !Array.isArray(args[0])) return execute(node, args);
      // A narrowed tuple is a copy: write the element into the model's own tuple as well.
      if ((node.args[0] as Ref).id !== getter.id || getter.kind === "input") {
        throw new TypeError(
          `Setting an element of a nested tuple inside one of several invokes is not supported: replace the whole value with ${getter.path}.${getter.kind} = [...]`,
        );
      }
      const out = execute(node, args) as unknown[];
      const i = (args[1] as number) < 0 ? out.length + (args[1] as number) : args[1] as number;
      const whole = [...(ev.value as unknown[])];
      whole[i] = batch.merge(whole[i], args[2], getter.invoke);
      ev.value = whole;
      return out;
    }
    case "swap": {
      if (ev.input && getter.kind === "input") {
        const a = [...(ev.value as unknown[])];
        a[0] = batch.merge(a[0], args[1], getter.invoke);
        ev.value = a;
      } else ev.value = batch.merge(ev.value, args[1], getter.invoke);
      return args[1];
    }
    case "skip": {
      if (batch.of(getter.invoke)) {
        throw new TypeError(
          `skip() inside one of several invokes would replace every row's output: call it outside tracer.invoke() with a value for the whole batch`,
        );
      }
      ev.entry.skipBox = { value: args[1] };
      return args[1];
    }
    default:
      throw new TypeError(`Node op "${node.op}" is not an edit`);
  }
}
