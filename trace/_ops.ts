// What each plain node op does to real values (getattr, call, index, in-place set, apply,
// containers), plus conditions' truth and literals' device. Knows nothing of events or scheduling.

import { type Device, Tensor } from "../engine/mod.ts";
import { isPlain, type Node } from "./graph.ts";

/** Runs a non-provider node on resolved arguments and returns its value. */
export function execute(node: Node, a: unknown[]): unknown {
  switch (node.op) {
    case "getattr": {
      const t = a[0] as Record<string, unknown>;
      if (t === null || t === undefined) throw new TypeError(`Cannot read "${a[1]}" of ${t}`);
      const v = t[a[1] as string];
      return typeof v === "function" ? v.bind(t) : v;
    }
    case "call": {
      const t = a[0] as Record<string, unknown>;
      const f = t?.[a[1] as string];
      if (typeof f !== "function") {
        throw new TypeError(`${kindOf(t)} has no method "${a[1]}"`);
      }
      return f.apply(t, a.slice(2));
    }
    case "getitem":
      return getItem(a[0], a[1]);
    case "set":
      return setItem(a[0], a[1], a[2]);
    case "apply": {
      const r = (a[0] as (...x: unknown[]) => unknown)(...a.slice(1));
      if (r instanceof Promise) {
        throw new TypeError(
          "tracer.apply() got an async function: the model runs synchronously, so apply functions must return a value, not a promise",
        );
      }
      return r;
    }
    case "list":
      return node.init ?? [];
    case "dict":
      return node.init ?? {};
    case "append":
      (a[0] as unknown[]).push(a[1]);
      return undefined;
    case "dictset":
      (a[0] as Record<string, unknown>)[a[1] as string] = a[2];
      return undefined;
    default:
      throw new TypeError(`Node op "${node.op}" cannot be executed directly`);
  }
}

function getItem(t: unknown, i: unknown): unknown {
  if (t instanceof Tensor) return t.get(i as Parameters<Tensor["get"]>[0]);
  if (Array.isArray(t)) {
    const j = tupleIndex(t, i);
    return t[j];
  }
  if (isPlain(t) && !(String(i) in t)) {
    throw new RangeError(
      `No key ${JSON.stringify(i)}: the keys are ${Object.keys(t).join(", ") || "none yet"}`,
    );
  }
  if (t !== null && typeof t === "object") return (t as Record<string, unknown>)[String(i)];
  throw new TypeError(`Cannot index ${kindOf(t)} with ${JSON.stringify(i)}`);
}

function setItem(t: unknown, i: unknown, v: unknown): unknown {
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
  if (t !== null && typeof t === "object") {
    (t as Record<string, unknown>)[String(i)] = v;
    return t;
  }
  throw new TypeError(`Cannot set an item of ${kindOf(t)}`);
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
  if (Array.isArray(a)) return a.map((x) => onDevice(x, device));
  if (isPlain(a)) {
    return Object.fromEntries(Object.entries(a).map(([k, x]) => [k, onDevice(x, device)]));
  }
  return a;
}
