// The closed set of Tensor members a graph may reach: each traced method with its argument kinds
// (arity) and whether it returns a view, the readable properties, and the size of a call's result
// before it runs (the work budget). Checked against Tensor at compile time; calls nothing itself.

import { Tensor } from "../engine/mod.ts";

/** What one argument of a traced method may be; `?` marks an optional trailing argument. */
type ArgKind = "int" | "number" | "bool" | "tensor" | "tensorlike" | "dtype" | "device";
type Arg = ArgKind | `${ArgKind}?`;

/** One traced Tensor method: its positional arguments, or `rest` for `reshape(2, 3)`-style dims. */
export interface MethodSpec {
  /** Positional arguments in order. */
  readonly args: readonly Arg[];
  /** The kind of every argument after `args` (dims); at most {@link MAX_REST} of them. */
  readonly rest?: ArgKind;
  /** Returns a view of its input (an in-place `set` on the result reaches the input). */
  readonly view?: true;
  /** Elements of the result, before it is computed (default: the input's size). */
  readonly out?: (t: Tensor, a: readonly unknown[]) => number;
}

/** Tensor methods a graph never calls: reading data, raw storage, freeing, printing. */
export type UntracedMethod =
  | "dispose"
  | "asView"
  | "dataSync"
  | "data"
  | "toArray"
  | "item"
  | "toDevice" // async
  | "toString"
  | "get" // recorded as getitem
  | "set" // recorded as set
  // Autodiff: recorded as the grad, gradset and backward node ops (trace/_grads.ts).
  | "requiresGrad"
  | "backward"
  | "registerHook"
  | "retainGrad"
  | "detach";

/** Names of the methods of `T`. */
export type MethodNames<T> = {
  [K in keyof T]: T[K] extends (...a: never[]) => unknown ? K : never;
}[keyof T];

/** The Tensor methods a graph may call: every method not in {@link UntracedMethod}. */
export type TracedMethod = Exclude<Extract<MethodNames<Tensor>, string>, UntracedMethod>;

/** Tensor properties a graph may read (`p.shape`). */
export const TRACED_PROPERTIES = ["shape", "dtype", "device", "ndim", "size"] as const;
/** A readable Tensor property. */
export type TracedProperty = typeof TRACED_PROPERTIES[number];
/** Keys of object results a graph may read as properties (`p.topk(3).values`). */
export const RESULT_KEYS = ["values", "indices"] as const;

/** The most `rest` arguments (dims) a call takes. */
export const MAX_REST = 16;

const BINARY: MethodSpec = { args: ["tensorlike"], out: broadcastOut };
const UNARY: MethodSpec = { args: [] };
const REDUCE: MethodSpec = { args: ["int?", "bool?"] };
const DIMS: MethodSpec = { args: [], rest: "int", view: true };

/**
 * Every Tensor method a graph may call, by name. A method added to Tensor is a compile error
 * here until it is listed or added to {@link UntracedMethod}.
 */
export const TENSOR_METHODS = {
  expand: { ...DIMS, out: expandOut },
  reshape: DIMS,
  view: DIMS,
  permute: DIMS,
  transpose: { args: ["int?", "int?"], view: true },
  squeeze: { args: ["int?"], view: true },
  unsqueeze: { args: ["int"], view: true },
  flatten: { args: [], view: true },
  fill: { args: ["number"] },
  clone: UNARY,
  contiguous: UNARY,
  astype: { args: ["dtype"] },
  to: { args: ["device"] },
  neg: UNARY,
  exp: UNARY,
  log: UNARY,
  sqrt: UNARY,
  rsqrt: UNARY,
  tanh: UNARY,
  abs: UNARY,
  relu: UNARY,
  sigmoid: UNARY,
  gelu: UNARY,
  add: BINARY,
  sub: BINARY,
  mul: BINARY,
  div: BINARY,
  pow: BINARY,
  maximum: BINARY,
  minimum: BINARY,
  eq: BINARY,
  gt: BINARY,
  lt: BINARY,
  where: { args: ["tensor", "tensorlike"], out: broadcastOut },
  sum: REDUCE,
  mean: REDUCE,
  max: REDUCE,
  min: REDUCE,
  argmax: REDUCE,
  argmin: REDUCE,
  softmax: { args: ["int?"] },
  logSoftmax: { args: ["int?"] },
  layerNorm: { args: ["tensor", "tensor", "number?"] },
  matmul: { args: ["tensor"], out: matmulOut },
  indexSelect: { args: ["int", "tensor"], out: indexSelectOut },
  indexAdd: { args: ["int", "tensor", "tensor"] },
  topk: { args: ["int", "int?"] },
} as const satisfies Record<TracedMethod, MethodSpec>;

/** True when `name` is a method a graph may call (own key of the table, never inherited). */
export function isTracedMethod(name: unknown): name is TracedMethod {
  return typeof name === "string" && Object.hasOwn(TENSOR_METHODS, name);
}

/** True when `name` is a property a graph may read. */
export function isTracedProperty(name: unknown): boolean {
  return (TRACED_PROPERTIES as readonly unknown[]).includes(name) ||
    (RESULT_KEYS as readonly unknown[]).includes(name);
}

/** Every name a proxy answers to as a method or property, for "did you mean" lists. */
export const PROXY_NAMES: readonly string[] = [
  ...Object.keys(TENSOR_METHODS),
  ...TRACED_PROPERTIES,
  ...RESULT_KEYS,
  "get",
  "set",
  "grad",
  "backward",
  "save",
  "value",
  "stop",
];

/**
 * Checks the arguments of `name` (a literal `Ref` stands for a run-time value and passes when
 * `isRef` says so). Returns null, or `[index, what is allowed]` for the first bad argument.
 */
export function checkMethodArgs(
  name: TracedMethod,
  args: readonly unknown[],
  isRef: (v: unknown) => boolean = () => false,
): [number, string] | null {
  const spec: MethodSpec = TENSOR_METHODS[name];
  const min = spec.args.filter((a) => !a.endsWith("?")).length;
  const max = spec.rest ? spec.args.length + MAX_REST : spec.args.length;
  if (args.length < min || args.length > max) {
    const n = min === max
      ? `${min}`
      : max === min + MAX_REST
      ? `${min} or more`
      : `${min} to ${max}`;
    return [-1, `${n} argument${min === 1 && max === 1 ? "" : "s"} (${signature(name)})`];
  }
  // One array of dims (`reshape([2, 3])`) is the same as the dims themselves.
  if (spec.rest && args.length === 1 && Array.isArray(args[0])) {
    const dims = args[0];
    if (dims.length > MAX_REST) return [0, `at most ${MAX_REST} dims`];
    const bad = dims.findIndex((d) => !isRef(d) && !isKind(d, spec.rest!));
    return bad < 0 ? null : [0, `dims that are ${KIND_TEXT[spec.rest]}s`];
  }
  for (let i = 0; i < args.length; i++) {
    const kind = (spec.args[i] ?? spec.rest!).replace("?", "") as ArgKind;
    const v = args[i];
    if (v === undefined && spec.args[i]?.endsWith("?")) continue;
    if (!isRef(v) && !isKind(v, kind)) return [i, KIND_TEXT[kind]];
  }
  return null;
}

/** `reshape(...dims: int)`, `sum(int?, bool?)`: a method's signature for messages. */
export function signature(name: TracedMethod): string {
  const spec: MethodSpec = TENSOR_METHODS[name];
  const parts: string[] = [...spec.args];
  if (spec.rest) parts.push(`...dims: ${spec.rest}`);
  return `${name}(${parts.join(", ")})`;
}

/** Elements of `t.name(...a)`'s result and of every tensor it reads, before it runs. */
export function callSize(name: TracedMethod, t: Tensor, a: readonly unknown[]): number {
  const spec: MethodSpec = TENSOR_METHODS[name];
  const out = spec.out ? spec.out(t, a) : t.size;
  // A view allocates nothing (a copy, when reshape needs one, is the size of its result); any
  // other kernel may read each operand in full, broadcast views included.
  if (spec.view) return out;
  return Math.max(out, t.size, ...a.map((x) => (x instanceof Tensor ? x.size : 0)));
}

const KIND_TEXT: Record<ArgKind, string> = {
  int: "an integer",
  number: "a number",
  bool: "true or false",
  tensor: "a Tensor",
  tensorlike: "a Tensor or a number",
  dtype: '"float32" or "int32"',
  device: '"cpu", "webgpu" or "meta"',
};

function isKind(v: unknown, kind: ArgKind): boolean {
  switch (kind) {
    case "int":
      return Number.isSafeInteger(v);
    case "number":
      return typeof v === "number";
    case "bool":
      return typeof v === "boolean";
    case "tensor":
      return v instanceof Tensor;
    case "tensorlike":
      return typeof v === "number" || v instanceof Tensor;
    case "dtype":
      return v === "float32" || v === "int32";
    case "device":
      return v === "cpu" || v === "webgpu" || v === "meta";
  }
}

function shapeOf(v: unknown): readonly number[] {
  return v instanceof Tensor ? v.shape : [];
}

/** Size of the broadcast of the operands' shapes (the engine checks they broadcast). */
function broadcastOut(t: Tensor, a: readonly unknown[]): number {
  const shapes = [t.shape, ...a.map(shapeOf)];
  const n = Math.max(...shapes.map((s) => s.length));
  let size = 1;
  for (let i = 1; i <= n; i++) size *= Math.max(...shapes.map((s) => s[s.length - i] ?? 1));
  return size;
}

function expandOut(t: Tensor, a: readonly unknown[]): number {
  const dims = (a.length === 1 && Array.isArray(a[0]) ? a[0] : a) as number[];
  let size = 1;
  dims.forEach((d, i) => {
    size *= d === -1 ? (t.shape[i - (dims.length - t.ndim)] ?? 1) : Math.abs(d);
  });
  return size;
}

/** (..., n, k) @ (..., k, m): the broadcast batch times n times m. */
function matmulOut(t: Tensor, a: readonly unknown[]): number {
  const b = shapeOf(a[0]);
  const s = t.shape;
  const n = s.length >= 2 ? s[s.length - 2] : 1, m = b.length >= 2 ? b[b.length - 1] : 1;
  const batch = (x: readonly number[]) => x.slice(0, Math.max(0, x.length - 2));
  const [ba, bb] = [batch(s), batch(b)];
  let size = n * m;
  for (let i = 1; i <= Math.max(ba.length, bb.length); i++) {
    size *= Math.max(ba[ba.length - i] ?? 1, bb[bb.length - i] ?? 1);
  }
  return size;
}

function indexSelectOut(t: Tensor, a: readonly unknown[]): number {
  const axis = Number.isInteger(a[0]) ? t.shape.at(a[0] as number) ?? 1 : 1;
  return (t.size / Math.max(axis, 1)) * (a[1] instanceof Tensor ? a[1].size : 1);
}
