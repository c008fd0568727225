// Edits of the value a module is handing on, made while its event is open: `set` on an element of
// the model's tuple, a swap (`.output = v`), a skip; each writes back into its invoke's rows.
// Does not decide when an edit runs, nor which getter it edits (the node-op table does).

import { Tensor } from "../engine/mod.ts";
import type { Entry } from "./_hooks.ts";
import { kindOf, setItem } from "./_ops.ts";
import type { BatchRows } from "./_rows.ts";
import type { Ref } from "./_values.ts";
import type { Node } from "./graph.ts";

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

/** Writes an in-place `set` into the getter's rows: a narrowed tuple is a copy, so the element
 * is written into the model's own tuple as well. */
export function editSet(node: Node, args: unknown[], site: EditSite): unknown {
  const { event: ev, getter, batch } = site;
  if (!batch.of(getter.invoke) || !Array.isArray(args[0])) {
    return setItem(args[0], args[1], args[2]);
  }
  if ((node.args[0] as Ref).id !== getter.id || getter.kind === "input") {
    throw new TypeError(
      `Setting an element of a nested tuple inside one of several invokes is not supported: replace the whole value with ${getter.path}.${getter.kind} = [...]`,
    );
  }
  const out = setItem(args[0], args[1], args[2]) as unknown[];
  const i = (args[1] as number) < 0 ? out.length + (args[1] as number) : args[1] as number;
  const whole = [...(ev.value as unknown[])];
  whole[i] = batch.merge(whole[i], args[2], getter.invoke);
  ev.value = whole;
  return out;
}

/** Replaces the event's value (`.output = v`, `.input = v`, `.inputs = v`) in the getter's rows. */
export function editSwap(_node: Node, args: unknown[], site: EditSite): unknown {
  const { event: ev, getter, batch } = site;
  const v = args[1];
  if (ev.input && getter.kind === "input") {
    const a = [...(ev.value as unknown[])];
    a[0] = batch.merge(a[0], v, getter.invoke);
    ev.value = a;
  } else {
    checkStructure(ev, getter, v);
    ev.value = batch.merge(ev.value, v, getter.invoke);
  }
  return v;
}

/**
 * Makes the module hand on `args[1]` without running. Inside one of several invokes the module
 * still runs for the other rows, and its output's rows of this invoke are replaced by `args[1]`.
 */
export function editSkip(_node: Node, args: unknown[], site: EditSite): unknown {
  const { event: ev, getter, batch } = site;
  if (batch.of(getter.invoke)) {
    const output = { ...getter, kind: "output" as const };
    ev.entry.skipRows.push((out) => {
      checkStructure({ ...ev, value: out }, output, args[1]);
      return batch.merge(out, args[1], getter.invoke);
    });
  } else ev.entry.skipBox = { value: args[1] };
  return args[1];
}

/**
 * A replacement must have the structure of what it replaces: a module that hands on a tuple
 * gets a tuple of as many items (`[h, ...rest]`), a tensor a tensor.
 */
function checkStructure(ev: ModuleEvent, getter: Node, v: unknown): void {
  const old = ev.value;
  const what = `${getter.path || "model"}.${getter.kind}`;
  if (Array.isArray(old) && (!Array.isArray(v) || v.length !== old.length)) {
    throw new TypeError(
      `${what} is a tuple of ${old.length} items (${
        old.map(kindOf).join(", ")
      }), so its replacement must be a tuple of ${old.length} items, got ${
        kindOf(v)
      }: set one element with .output.set(0, value) or replace it with [value, ...the rest]`,
    );
  }
  if (old instanceof Tensor && !(v instanceof Tensor)) {
    throw new TypeError(
      `${what} is ${kindOf(old)}, so its replacement must be a Tensor, got ${kindOf(v)}`,
    );
  }
}
