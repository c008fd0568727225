// What each node op does to real values (getattr, call, index, in-place set, containers, log),
// and merging a replacement back into an invoke's rows. Knows nothing of events or scheduling.

import { cat, type Device, slice, Tensor } from "../engine/mod.ts";
import { isPlain, type Node } from "./graph.ts";

/** Tensor methods that return a view of their input, so an in-place edit reaches the source. */
export const VIEW_METHODS: ReadonlySet<string> = new Set([
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
        throw new TypeError(`${kind(t)} has no method "${a[1]}"`);
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
    case "log":
      printLog(a);
      return undefined;
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
  throw new TypeError(`Cannot index ${kind(t)} with ${JSON.stringify(i)}`);
}

function setItem(t: unknown, i: unknown, v: unknown): unknown {
  if (t instanceof Tensor) {
    if (typeof v !== "number" && !(v instanceof Tensor)) {
      throw new TypeError(`set() needs a number or a Tensor, got ${kind(v)}`);
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
  throw new TypeError(`Cannot set an item of ${kind(t)}`);
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

/**
 * Puts `repl` in place of `cur`. With `rows` (an invoke that is part of a batch of `B`), only
 * those rows of batch-sized tensors are replaced; tuples are merged element by element.
 * Tensors must keep their shape: the module after this one expects it.
 */
export function merge(
  cur: unknown,
  repl: unknown,
  rows: { start: number; size: number } | null,
  B: number,
): unknown {
  if (Array.isArray(cur) && Array.isArray(repl) && cur.length === repl.length) {
    return cur.map((c, i) => merge(c, repl[i], rows, B));
  }
  if (!(cur instanceof Tensor)) return repl;
  if (!(repl instanceof Tensor)) {
    throw new TypeError(
      `the replacement is ${kind(repl)} but the value it replaces is a Tensor ${fmt(cur.shape)}`,
    );
  }
  const batched = rows !== null && cur.ndim > 0 && cur.shape[0] === B;
  const want = batched ? [rows.size, ...cur.shape.slice(1)] : cur.shape;
  if (repl.shape.length !== want.length || repl.shape.some((d, k) => d !== want[k])) {
    throw new RangeError(
      `the replacement has shape ${fmt(repl.shape)} but the value it replaces has shape ${
        fmt(want)
      }${
        batched ? ` (rows ${rows.start} to ${rows.start + rows.size - 1} of ${fmt(cur.shape)})` : ""
      }: the shapes must match`,
    );
  }
  const r = repl.device === cur.device ? repl : repl.to(cur.device);
  if (!batched) return r;
  const parts = [
    cur.get([slice(0, rows.start)]),
    r.astype(cur.dtype),
    cur.get([slice(rows.start + rows.size)]),
  ].filter((p) => p.shape[0] > 0);
  return cat(parts, 0);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function kind(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `a tuple of ${v.length} items`;
  if (v instanceof Tensor) return `a Tensor ${fmt(v.shape)}`;
  return typeof v === "object" ? (v.constructor?.name ?? "an object") : `a ${typeof v}`;
}

/** Prints `tracer.log` arguments: tensors with their first values (cpu), others as they are. */
export function printLog(args: readonly unknown[]): void {
  console.log(...args.map(fmtLog));
}

/** True when `v` holds a webgpu tensor (in tuples and arrays), whose values need an async read. */
export function hasDeviceTensor(v: unknown, depth = 0): boolean {
  if (v instanceof Tensor) return v.device === "webgpu";
  return Array.isArray(v) && depth < 16 && v.some((x) => hasDeviceTensor(x, depth + 1));
}

function fmtLog(v: unknown): unknown {
  if (v instanceof Tensor) {
    if (v.device !== "cpu") return String(v);
    const data = v.dataSync();
    const head = [...data.subarray(0, 8)].map((x) => +x.toPrecision(5)).join(", ");
    return `${v} [${head}${data.length > 8 ? ", ..." : ""}]`;
  }
  if (Array.isArray(v)) return v.map(fmtLog);
  return v;
}

/** The rows of an invoke of batch-sized tensors (views), walking tuples. */
export function narrow(v: unknown, rows: { start: number; size: number }, B: number): unknown {
  if (v instanceof Tensor) {
    return v.ndim > 0 && v.shape[0] === B ? v.get([slice(rows.start, rows.start + rows.size)]) : v;
  }
  if (Array.isArray(v)) return v.map((x) => narrow(x, rows, B));
  return v;
}

/** A condition's truth: one-element tensors by value (cpu), anything else by JS truthiness. */
export function truthy(v: unknown, what: string): boolean {
  if (!(v instanceof Tensor)) return !!v;
  if (v.size !== 1) {
    throw new TypeError(
      `The condition ${what} has shape [${v.shape}]: a condition needs one element (use .any() style reductions like .sum())`,
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
        `A webgpu tensor [${a.shape}] was passed to a trace of a model on the ${device}: move it first with await t.toDevice("${device}")`,
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
