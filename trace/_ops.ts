// What the plain node ops do to real values (traced method calls, property reads, index, in-place
// set, apply, container writes), plus conditions' truth and literals' device. Which op runs which
// is the node-op table's (_node_ops.ts); knows nothing of events or scheduling.

import { type Device, Tensor } from "../engine/mod.ts";
import {
  callSize,
  checkMethodArgs,
  isTracedMethod,
  RESULT_KEYS,
  signature,
  TRACED_PROPERTIES,
  type TracedProperty,
} from "./_methods.ts";
import { isPlain } from "./_values.ts";
import { isBranch, mapLeaves } from "./_tree.ts";

/** Keys a graph never reads or writes on an object: they reach prototypes, not data. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
]);

/** `t.name(...args)` for a traced Tensor method, checked again on the run-time values. */
export function callMethod(t: unknown, name: unknown, args: unknown[], budget: Budget): unknown {
  if (!isTracedMethod(name)) {
    throw new TypeError(`"${String(name)}" is not a Tensor method a graph may call`);
  }
  if (!(t instanceof Tensor)) {
    throw new TypeError(
      `${name}() needs a Tensor, got ${kindOf(t)}: index it first (p[0] or p.get(...))`,
    );
  }
  const bad = checkMethodArgs(name, args);
  if (bad) {
    const [i, allowed] = bad;
    throw new TypeError(
      i < 0
        ? `${name}() takes ${allowed}, got ${args.length}`
        : `${signature(name)}: argument ${i + 1} is ${kindOf(args[i])}; it must be ${allowed}`,
    );
  }
  budget(callSize(name, t, args), `${name}()`);
  const f = Tensor.prototype[name] as (...a: unknown[]) => unknown;
  return f.apply(t, args);
}

/** `t.name` for a traced Tensor property or a key of an object result (`topk(...).values`). */
export function getAttr(t: unknown, name: unknown): unknown {
  if (t instanceof Tensor && (TRACED_PROPERTIES as readonly unknown[]).includes(name)) {
    const v = t[name as TracedProperty];
    return Array.isArray(v) ? [...v] : v;
  }
  if (
    isPlain(t) && (RESULT_KEYS as readonly unknown[]).includes(name) &&
    Object.hasOwn(t, name as string)
  ) {
    return t[name as string];
  }
  throw new TypeError(`${kindOf(t)} has no property ${JSON.stringify(name)} a graph may read`);
}

/** Checks the size of a result (in elements) before it is made; throws past the budget. */
export type Budget = (elements: number, what: string) => void;

/** Runs a tracer.apply function; a promise is refused (the model runs synchronously). */
export function applyFn(a: unknown[]): unknown {
  const r = (a[0] as (...x: unknown[]) => unknown)(...a.slice(1));
  if (r instanceof Promise) {
    throw new TypeError(
      "tracer.apply() got an async function: the model runs synchronously, so apply functions must return a value, not a promise",
    );
  }
  return r;
}

/** Appends to a run-time list. */
export function append(list: unknown, v: unknown): undefined {
  if (!Array.isArray(list)) throw new TypeError(`append() needs a list, got ${kindOf(list)}`);
  list.push(v);
  return undefined;
}

/** Stores under a key of a run-time dict. */
export function dictSet(dict: unknown, key: unknown, v: unknown): undefined {
  if (!isPlain(dict)) throw new TypeError(`dict.set() needs a dict, got ${kindOf(dict)}`);
  if (typeof key !== "string" || FORBIDDEN_KEYS.has(key)) {
    throw new TypeError(
      `dict.set() needs a string key other than ${[...FORBIDDEN_KEYS].join(", ")}, got ${
        JSON.stringify(key)
      }`,
    );
  }
  dict[key] = v;
  return undefined;
}

/** Element, row or key `i` of `t`. */
export function getItem(t: unknown, i: unknown): unknown {
  if (t instanceof Tensor) return t.get(i as Parameters<Tensor["get"]>[0]);
  if (Array.isArray(t)) {
    const j = tupleIndex(t, i);
    return t[j];
  }
  if (isPlain(t)) {
    if (typeof i !== "string" || FORBIDDEN_KEYS.has(i) || !Object.hasOwn(t, i)) {
      throw new RangeError(
        `No key ${JSON.stringify(i)}: the keys are ${Object.keys(t).join(", ") || "none yet"}`,
      );
    }
    return t[i];
  }
  throw new TypeError(`Cannot index ${kindOf(t)} with ${JSON.stringify(i)}`);
}

/** Writes `v` at `i` of `t` in place (a tensor region, a tuple element). */
export function setItem(t: unknown, i: unknown, v: unknown): unknown {
  if (t instanceof Tensor) {
    if (typeof v !== "number" && !(v instanceof Tensor)) {
      throw new TypeError(`set() needs a number or a Tensor, got ${kindOf(v)}`);
    }
    return t.set(i as Parameters<Tensor["set"]>[0], v);
  }
  if (Array.isArray(t)) {
    t[tupleIndex(t, i)] = v;
    return t;
  }
  if (isPlain(t) && typeof i === "string" && !FORBIDDEN_KEYS.has(i)) {
    t[i] = v;
    return t;
  }
  throw new TypeError(`Cannot set item ${JSON.stringify(i)} of ${kindOf(t)}`);
}

function tupleIndex(t: unknown[], i: unknown): number {
  if (typeof i !== "number" || !Number.isInteger(i)) {
    throw new TypeError(
      `A tuple of ${t.length} items is indexed by an integer, not ${JSON.stringify(i)}`,
    );
  }
  const j = i < 0 ? i + t.length : i;
  if (j < 0 || j >= t.length) {
    throw new RangeError(`Index ${i} is out of range for a tuple of ${t.length} items`);
  }
  return j;
}

/** A shape for messages: `[2, 3]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** What `v` is, for messages: `a Tensor [2, 3]`, `a tuple of 2 items`, `a number`. */
export function kindOf(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `a tuple of ${v.length} items`;
  if (v instanceof Tensor) return `a Tensor ${fmtShape(v.shape)}`;
  return typeof v === "object" ? (v.constructor?.name ?? "an object") : `a ${typeof v}`;
}

/** A condition's truth: one-element tensors by value (cpu), anything else by JS truthiness. */
export function truthy(v: unknown, what: string): boolean {
  if (!(v instanceof Tensor)) return !!v;
  if (v.size !== 1) {
    throw new TypeError(
      `The condition ${what} has shape [${
        v.shape.join(", ")
      }]: a condition needs one element (use .any() style reductions like .sum())`,
    );
  }
  if (v.device === "meta") return true;
  if (v.device !== "cpu") {
    throw new TypeError(
      `The condition ${what} is a ${v.device} tensor: conditions are read during the forward pass, and reading a ${v.device} value there is impossible (it needs an async read). Use a condition on plain values (e.g. a step counter in tracer.apply), or run the model on the cpu`,
    );
  }
  return v.dataSync()[0] !== 0;
}

/** Literal tensors moved to the device of the model's values. */
export function onDevice(a: unknown, device: Device | undefined): unknown {
  if (!device) return a;
  if (a instanceof Tensor) {
    if (a.device === device) return a;
    if (a.device === "webgpu" && device !== "meta") {
      throw new TypeError(
        `A webgpu tensor [${
          a.shape.join(", ")
        }] was passed to a trace of a model on the ${device}: move it first with await t.toDevice("${device}")`,
      );
    }
    return a.to(device);
  }
  if (isBranch(a)) return mapLeaves(a, (x) => onDevice(x, device));
  return a;
}
