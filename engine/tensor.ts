// Tensor: a strided view (shape, strides, offset) of a storage on one device, with the op set
// as methods. Shapes are checked here, once, for every backend; movement ops edit the layout
// and never reach a backend; everything else dispatches one primitive kernel. Each op hands its
// result to the tape (`record`), which keeps a node only when an input needs a gradient.

import type {
  Backend,
  BinaryOp,
  Device,
  DType,
  ReduceOp,
  Storage,
  TypedArray,
  UnaryOp,
  View,
} from "./backend.ts";
import { GRAD_NODE, type GradHook, type GradNode, gradState } from "./autograd/state.ts";
import {
  addHook,
  type BackwardOptions,
  checkInPlace,
  record,
  recordInPlace,
  retainGrad,
  runBackward,
  setRequiresGrad,
} from "./autograd/tape.ts";
import { getBackend } from "./devices.ts";
import { applyIndex, type IndexSpec, parseIndex } from "./index.ts";
import {
  broadcastShapes,
  broadcastStrides,
  contiguousStrides,
  fmtShape,
  inferShape,
  isContiguous,
  normAxis,
  numel,
  viewStrides,
} from "./layout.ts";

/** Nested arrays of numbers, as returned by `toArray()`. */
export type NestedArray = number | NestedArray[];

/** A number or a tensor, as accepted by binary ops. */
export type TensorLike = Tensor | number;

/**
 * An n-dimensional array of float32 or int32 values on the cpu, webgpu or meta device.
 *
 * @example
 * ```ts
 * import { tensor } from "./creation.ts";
 * const x = tensor([[1, 2], [3, 4]]);
 * const y = x.matmul(x).add(1);       // [[8, 11], [16, 23]]
 * console.log(await y.get(":, -1").toArray()); // [11, 23]
 * ```
 */
export class Tensor {
  /** The storage this tensor views. Several tensors may share one storage. */
  readonly storage: Storage;
  /** Size of each axis. */
  readonly shape: readonly number[];
  /** Elements to step in storage per unit of each axis (0 for broadcast axes). */
  readonly strides: readonly number[];
  /** Position of element (0, ..., 0) in the storage. */
  readonly offset: number;
  /** The tape's node for this tensor: null unless gradients flow to it. */
  [GRAD_NODE]: GradNode | null = null;
  /**
   * The gradient accumulated by `backward()` (leaves, and tensors that `retainGrad()`), or null.
   * Gradients add up like torch's; `zeroGrad([t])` frees and clears it. On webgpu it is kept
   * out of `tidy` scopes: it belongs to this tensor until `zeroGrad` (or its `dispose()`).
   */
  grad: Tensor | null = null;

  /** Wraps a storage; use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(storage: Storage, shape: readonly number[], strides?: readonly number[], offset = 0) {
    this.storage = storage;
    this.shape = shape;
    this.strides = strides ?? contiguousStrides(shape);
    this.offset = offset;
  }

  /** Element type. */
  get dtype(): DType {
    return this.storage.dtype;
  }
  /** Device the data lives on. */
  get device(): Device {
    return this.storage.device;
  }
  /** Number of axes. */
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }
  /** The backend of this tensor's device. */
  get backend(): Backend {
    return getBackend(this.storage.device);
  }
  /** True when the elements are row-major with no gaps. */
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  // ---- reading -------------------------------------------------------------------------

  /** A copy of the elements in row-major order. */
  async data(): Promise<TypedArray> {
    const c = this.contiguous();
    try {
      return await c.backend.read(c.storage, c.offset, c.size);
    } finally {
      if (c !== this) c.dispose(); // the temporary copy of a strided view (webgpu memory)
    }
  }
  /** The elements synchronously; only on the cpu device. */
  dataSync(): TypedArray {
    if (this.device === "meta") throw metaHasNoData("dataSync()", this.shape);
    const c = this.contiguous();
    const read = c.backend.readSync;
    if (!read) {
      throw new TypeError(
        `dataSync() is only available on the cpu device, not "${this.device}": use await data()`,
      );
    }
    return read(c.storage, c.offset, c.size);
  }
  /** The elements as nested arrays (a number for a scalar). */
  async toArray(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }
  /** The single element of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new RangeError(
        `item() needs a tensor with one element, got shape ${fmtShape(this.shape)}`,
      );
    }
    return (await this.data())[0];
  }
  /** A short description: `Tensor(float32, [2, 3], cpu)`. */
  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)}, ${this.device})`;
  }
  /** How `console.log` shows a tensor in Deno: its description and, for small cpu tensors, its values. */
  [Symbol.for("Deno.customInspect")](
    inspect: (v: unknown, o: unknown) => string,
    opts: unknown,
  ): string {
    if (this.device !== "cpu" || this.size > 1000) return this.toString();
    return `${this.toString()} ${inspect(nest(this.dataSync(), this.shape), opts)}`;
  }

  // ---- views ---------------------------------------------------------------------------

  /** A view of this tensor's storage with another layout. */
  #view(shape: readonly number[], strides: readonly number[], offset = this.offset): Tensor {
    return new Tensor(this.storage, shape, strides, offset);
  }
  /** The view handed to kernels. */
  asView(): View {
    return { storage: this.storage, shape: this.shape, strides: this.strides, offset: this.offset };
  }
  /** This tensor broadcast (as a view with 0 strides) to `shape`: `expand(2, 3)` or `expand([2, 3])`. */
  expand(shape: readonly number[]): Tensor;
  /** This tensor broadcast to the given sizes (-1 keeps an axis). */
  expand(...shape: number[]): Tensor;
  expand(...args: (number | readonly number[])[]): Tensor {
    const shape = shapeArgs(args, "expand");
    const target = shape.map((d, i) => (d === -1 ? this.shape[i - shape.length + this.ndim] : d));
    const out = this.#view(target, broadcastStrides(this.shape, this.strides, target, "expand"));
    return record("expand", out, [this]);
  }
  /**
   * The same elements with another shape (one axis may be -1), `reshape(2, 3)` or
   * `reshape([2, 3])`; a view when the layout allows.
   */
  reshape(shape: readonly number[]): Tensor;
  /** The same elements with the given sizes (one may be -1). */
  reshape(...shape: number[]): Tensor;
  reshape(...args: (number | readonly number[])[]): Tensor {
    const shape = shapeArgs(args, "reshape");
    const target = inferShape(shape, this.size, "reshape");
    const strides = viewStrides(this.shape, this.strides, target);
    const out = strides
      ? this.#view(target, strides)
      : this.contiguous().#view(target, contiguousStrides(target));
    return record("reshape", out, [this]);
  }
  /** Like reshape, but never copies: throws when the layout does not allow a view. */
  view(shape: readonly number[]): Tensor;
  /** Like reshape with the given sizes, but never copies. */
  view(...shape: number[]): Tensor;
  view(...args: (number | readonly number[])[]): Tensor {
    const shape = shapeArgs(args, "view");
    const target = inferShape(shape, this.size, "view");
    const strides = viewStrides(this.shape, this.strides, target);
    if (!strides) {
      throw new TypeError(
        `view: cannot view shape ${fmtShape(this.shape)} with strides ${
          fmtShape(this.strides)
        } as ${fmtShape(target)} without a copy: use reshape()`,
      );
    }
    return record("reshape", this.#view(target, strides), [this]);
  }
  /** Swaps two axes (default: the last two). */
  transpose(dim0 = -2, dim1 = -1): Tensor {
    const a = normAxis(dim0, this.ndim, "transpose");
    const b = normAxis(dim1, this.ndim, "transpose");
    const order = this.shape.map((_, i) => i);
    [order[a], order[b]] = [order[b], order[a]];
    return this.permute(...order);
  }
  /** Reorders the axes: `permute(1, 0)` or `permute([1, 0])`. */
  permute(dims: readonly number[]): Tensor;
  /** Reorders the axes to the given order. */
  permute(...dims: number[]): Tensor;
  permute(...args: (number | readonly number[])[]): Tensor {
    const dims = shapeArgs(args, "permute");
    const axes = dims.map((d) => normAxis(d, this.ndim, "permute"));
    if (axes.length !== this.ndim || new Set(axes).size !== axes.length) {
      throw new RangeError(`permute: ${fmtShape(dims)} is not a permutation of ${this.ndim} axes`);
    }
    const out = this.#view(axes.map((a) => this.shape[a]), axes.map((a) => this.strides[a]));
    return record("permute", out, [this], axes);
  }
  /** Removes one size-1 axis, or all of them. */
  squeeze(dim?: number): Tensor {
    if (dim === undefined) {
      const keep = this.shape.map((_, i) => i).filter((i) => this.shape[i] !== 1);
      const out = this.#view(keep.map((i) => this.shape[i]), keep.map((i) => this.strides[i]));
      return record("reshape", out, [this]);
    }
    const a = normAxis(dim, this.ndim, "squeeze");
    if (this.shape[a] !== 1) return this;
    const out = this.#view(
      this.shape.filter((_, i) => i !== a),
      this.strides.filter((_, i) => i !== a),
    );
    return record("reshape", out, [this]);
  }
  /** Inserts a size-1 axis at `dim` (negative counts from the end of the new shape). */
  unsqueeze(dim: number): Tensor {
    const a = normAxis(dim, this.ndim + 1, "unsqueeze");
    const shape = [...this.shape];
    const strides = [...this.strides];
    shape.splice(a, 0, 1);
    strides.splice(a, 0, 0);
    return record("reshape", this.#view(shape, strides), [this]);
  }
  /** Collapses all axes into one. */
  flatten(): Tensor {
    return this.reshape(-1);
  }
  /**
   * A view selected by the index grammar: `t.get(":, -1")`, `t.get([0, slice(1, 3)])`.
   * Integers drop an axis, slices keep it, `null` inserts one, `...` fills the rest.
   */
  get(index: IndexSpec): Tensor {
    const l = applyIndex(this.shape, this.strides, this.offset, parseIndex(index), index);
    return record("index", this.#view(l.shape, l.strides, l.offset), [this], index);
  }

  // ---- in place ------------------------------------------------------------------------

  /**
   * Writes a scalar or a broadcastable tensor into the indexed region, in place, and returns
   * this tensor. Views share storage, so writing through a view changes the base.
   */
  set(index: IndexSpec, value: TensorLike): this {
    checkInPlace(typeof value === "number" ? "fill" : "copy", this); // before anything is written
    const region = this.get(index);
    if (typeof value === "number") {
      this.backend.kernels.fill(region.asView(), value);
      this.storage.version++;
      recordInPlace("fill", this, [], index);
      return this;
    } else {
      const given = this.#onDevice(value, "set");
      let src = given.#cast(this.dtype);
      // Leading unit axes beyond the region's rank are dropped, as torch's setitem does.
      while (src.ndim > region.ndim && src.shape[0] === 1) src = src.squeeze(0);
      // A source sharing this storage is copied first, so overlapping regions read before writing.
      if (src.storage === this.storage) src = src.clone();
      let strides: number[];
      try {
        strides = broadcastStrides(src.shape, src.strides, region.shape, "set");
      } catch {
        throw new RangeError(
          `set: cannot broadcast ${fmtShape(given.shape)} to ${
            fmtShape(region.shape)
          }, the region ${JSON.stringify(index)} selects of ${fmtShape(this.shape)}`,
        );
      }
      this.backend.kernels.copy(region.asView(), { ...src.asView(), shape: region.shape, strides });
      this.storage.version++;
      recordInPlace("copy", this, [src], { base: true, regions: [index] });
    }
    return this;
  }
  /** Fills every element with `value`, in place. */
  fill(value: number): this {
    return this.set("...", value);
  }

  // ---- copies and conversion -----------------------------------------------------------

  /** A tensor with the same values in fresh contiguous storage. */
  clone(): Tensor {
    const out = this.#alloc(this.shape, this.dtype);
    this.backend.kernels.copy(out.asView(), this.asView());
    return record("copy", out, [this], { base: false, regions: ["..."] });
  }
  /** This tensor if it is contiguous, else a contiguous copy. */
  contiguous(): Tensor {
    return this.isContiguous ? this : this.clone();
  }
  /** The values converted to `dtype` (a no-op when it already is). */
  astype(dtype: DType): Tensor {
    return this.#cast(dtype);
  }
  /**
   * Copies this tensor to another device (cpu -> webgpu, anything -> meta; use `toDevice` from
   * webgpu). A tensor that needs a gradient stays on its device (the copy would cut the gradient
   * path): create the tensor that requires a gradient on the target device instead.
   */
  to(device: Device): Tensor {
    if (device === this.device) return this;
    if (device !== "meta" && this.needsGrad && gradState.enabled) {
      throw new TypeError(
        `to("${device}"): ${this} needs a gradient, which cannot flow back from ${device} to ${this.device}: create the tensor that requires a gradient on "${device}" (e.g. zeros(shape, { device: "${device}" }).requiresGrad()), or detach() it to move a constant`,
      );
    }
    const target = getBackend(device);
    if (device === "meta") return new Tensor(target.alloc(this.size, this.dtype), this.shape);
    if (this.device === "meta") throw metaHasNoData(`to("${device}")`, this.shape);
    return new Tensor(target.fromData(this.dataSync()), this.shape);
  }
  /** Copies this tensor to another device, also from webgpu (which needs an async read). */
  async toDevice(device: Device): Promise<Tensor> {
    if (device === this.device) return this;
    if (device === "meta") return this.to("meta");
    return new Tensor(getBackend(device).fromData(await this.data(), { adopt: true }), this.shape);
  }
  /** Frees device memory now (webgpu); the tensor must not be used afterwards. */
  dispose(): void {
    this.backend.dispose(this.storage);
  }

  // ---- gradients (engine/autograd/) ----------------------------------------------------

  /**
   * Makes this float32 tensor a leaf that requires a gradient (false: one that does not), as
   * torch's `requires_grad_()`; returns it. Ops on it then record what `backward()` needs.
   *
   * @example
   * ```ts
   * import { tensor } from "./creation.ts";
   * const x = tensor([1, 2, 3]).requiresGrad();
   * x.mul(x).sum().backward();
   * console.log(await x.grad!.toArray()); // [2, 4, 6]
   * ```
   */
  requiresGrad(on = true): this {
    setRequiresGrad(this, on);
    return this;
  }
  /** True when gradients flow to this tensor: a leaf that requires one, or computed from one. */
  get needsGrad(): boolean {
    return this[GRAD_NODE] !== null;
  }
  /** True for a tensor not computed by a recorded op (torch's `is_leaf`). */
  get isLeaf(): boolean {
    return this[GRAD_NODE] === null || this[GRAD_NODE].op === "leaf";
  }
  /** The op that computed this tensor on the tape ("leaf" for a leaf), or null. */
  get gradFn(): string | null {
    return this[GRAD_NODE]?.op ?? null;
  }
  /**
   * Back-propagates from this tensor: adds d(this)/d(leaf) times `seed` (default 1, which needs
   * a one-element tensor) into the `.grad` of every leaf it was computed from. The graph is
   * released afterwards unless `retainGraph` is set. Temporary gradients are freed (webgpu).
   *
   * @example
   * ```ts
   * import { tensor } from "./creation.ts";
   * const w = tensor([[1, 2], [3, 4]]).requiresGrad();
   * const y = tensor([1, 1]).matmul(w); // [4, 6]
   * y.backward(tensor([1, 0]));
   * console.log(await w.grad!.toArray()); // [[1, 0], [1, 0]]
   * ```
   */
  backward(seed?: TensorLike, opts: BackwardOptions = {}): void {
    if (seed !== undefined && typeof seed !== "number") seed = this.#onDevice(seed, "backward");
    runBackward(this, seed, opts);
  }
  /**
   * Runs `fn` on this tensor's gradient during `backward()`, once it is complete and before it
   * flows further (to the inputs, or into `.grad`). `fn` may read it, edit it in place, or
   * return a replacement of the same shape. On webgpu the gradient is freed after the pass:
   * `keep()` what a hook stores. Returns a handle whose `remove()` uninstalls the hook.
   *
   * @example
   * ```ts
   * import { tensor } from "./creation.ts";
   * const x = tensor([1, 2]).requiresGrad();
   * const h = x.mul(3);
   * h.registerHook((g) => g.mul(0.5)); // halves what reaches x
   * h.sum().backward();
   * console.log(await x.grad!.toArray()); // [1.5, 1.5]
   * ```
   */
  registerHook(fn: GradHook): { remove(): void } {
    return addHook(this, fn);
  }
  /** Also stores this non-leaf tensor's gradient in its `.grad` during `backward()`; returns it. */
  retainGrad(): this {
    retainGrad(this);
    return this;
  }
  /** The same data (shared storage) cut off the tape: gradients do not flow through it. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.strides, this.offset);
  }

  // ---- elementwise ---------------------------------------------------------------------

  #unary(op: UnaryOp): Tensor {
    const x = this.#cast("float32");
    const out = x.#alloc(x.shape, "float32");
    x.backend.kernels[op](out.asView(), x.asView());
    return record(op, out, [x]);
  }
  /** -x */
  neg(): Tensor {
    return this.dtype === "int32" ? this.mul(-1) : this.#unary("neg");
  }
  /** e^x */
  exp(): Tensor {
    return this.#unary("exp");
  }
  /** Natural logarithm. */
  log(): Tensor {
    return this.#unary("log");
  }
  /** Square root. */
  sqrt(): Tensor {
    return this.#unary("sqrt");
  }
  /** 1 / sqrt(x). */
  rsqrt(): Tensor {
    return this.#unary("rsqrt");
  }
  /** Hyperbolic tangent. */
  tanh(): Tensor {
    return this.#unary("tanh");
  }
  /** Absolute value. */
  abs(): Tensor {
    return this.#unary("abs");
  }
  /** max(x, 0). */
  relu(): Tensor {
    return this.#unary("relu");
  }
  /** 1 / (1 + e^-x). */
  sigmoid(): Tensor {
    return this.#unary("sigmoid");
  }
  /** GELU, tanh form: GPT-2's gelu_new, 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))). */
  gelu(): Tensor {
    return this.#unary("gelu");
  }

  #binary(op: BinaryOp, other: TensorLike): Tensor {
    let [a, b] = [this as Tensor, this.#onDevice(other, op)];
    const float = op === "div" || op === "pow" || a.dtype === "float32" || b.dtype === "float32";
    if (float) {
      a = a.#cast("float32");
      b = b.#cast("float32");
    }
    const shape = broadcastShapes(a.shape, b.shape, op);
    const compare = op === "eq" || op === "gt" || op === "lt";
    const out = this.#alloc(shape, compare ? "int32" : a.dtype);
    const av = { ...a.asView(), shape, strides: broadcastStrides(a.shape, a.strides, shape, op) };
    const bv = { ...b.asView(), shape, strides: broadcastStrides(b.shape, b.strides, shape, op) };
    this.backend.kernels[op](out.asView(), av, bv);
    return record(op, out, [a, b]);
  }
  /** a + b, broadcasting. */
  add(other: TensorLike): Tensor {
    return this.#binary("add", other);
  }
  /** a - b, broadcasting. */
  sub(other: TensorLike): Tensor {
    return this.#binary("sub", other);
  }
  /** a * b, broadcasting. */
  mul(other: TensorLike): Tensor {
    return this.#binary("mul", other);
  }
  /** a / b, broadcasting; always float32. */
  div(other: TensorLike): Tensor {
    return this.#binary("div", other);
  }
  /** a ** b, broadcasting; always float32. */
  pow(other: TensorLike): Tensor {
    return this.#binary("pow", other);
  }
  /** Elementwise maximum. */
  maximum(other: TensorLike): Tensor {
    return this.#binary("maximum", other);
  }
  /** Elementwise minimum. */
  minimum(other: TensorLike): Tensor {
    return this.#binary("minimum", other);
  }
  /** a == b as int32 0/1. */
  eq(other: TensorLike): Tensor {
    return this.#binary("eq", other);
  }
  /** a > b as int32 0/1. */
  gt(other: TensorLike): Tensor {
    return this.#binary("gt", other);
  }
  /** a < b as int32 0/1. */
  lt(other: TensorLike): Tensor {
    return this.#binary("lt", other);
  }
  /** Elements of this tensor where `cond` is non-zero, else of `other` (torch's `x.where(c, y)`). */
  where(cond: Tensor, other: TensorLike): Tensor {
    return where(cond, this, other);
  }

  // ---- reductions ----------------------------------------------------------------------

  /** Moves `dim` last (or flattens when dim is undefined) and runs a last-axis reduction. */
  #reduce(op: ReduceOp, dim: number | undefined, keepdim: boolean, dtype: DType): Tensor {
    const name = op;
    let x: Tensor = op === "argmax" || op === "argmin" ? this : this.#cast(dtype);
    let outShape: number[];
    if (dim === undefined) {
      x = x.reshape(1, -1);
      outShape = keepdim ? this.shape.map(() => 1) : [];
    } else {
      const a = normAxis(dim, this.ndim, name);
      // An empty sum is 0 (and its mean NaN), as in NumPy; max/min/arg* have no identity.
      if (this.shape[a] === 0 && op !== "sum") {
        throw new RangeError(
          `${name}: cannot reduce an empty axis ${dim} of shape ${fmtShape(this.shape)}`,
        );
      }
      const order = [...this.shape.keys()].filter((i) => i !== a).concat(a);
      x = x.permute(...order);
      outShape = keepdim
        ? this.shape.map((d, i) => (i === a ? 1 : d))
        : this.shape.filter((_, i) => i !== a);
    }
    const out = this.#alloc(x.shape.slice(0, -1), dtype);
    this.backend.kernels[op](out.asView(), x.asView());
    return record(op, out, [x]).reshape(...outShape);
  }
  /** Sum over `dim` (all elements when omitted). int32 stays int32. */
  sum(dim?: number, keepdim = false): Tensor {
    return this.#reduce("sum", dim, keepdim, this.dtype);
  }
  /** Mean over `dim` (all elements when omitted). */
  mean(dim?: number, keepdim = false): Tensor {
    const n = dim === undefined ? this.size : this.shape[normAxis(dim, this.ndim, "mean")];
    return this.#reduce("sum", dim, keepdim, "float32").div(n);
  }
  /** Maximum over `dim` (all elements when omitted). */
  max(dim?: number, keepdim = false): Tensor {
    return this.#reduce("max", dim, keepdim, this.dtype);
  }
  /** Minimum over `dim` (all elements when omitted). */
  min(dim?: number, keepdim = false): Tensor {
    return this.#reduce("min", dim, keepdim, this.dtype);
  }
  /** Index (int32) of the first maximum over `dim` (of the flattened tensor when omitted). */
  argmax(dim?: number, keepdim = false): Tensor {
    return this.#reduce("argmax", dim, keepdim, "int32");
  }
  /** Index (int32) of the first minimum over `dim` (of the flattened tensor when omitted). */
  argmin(dim?: number, keepdim = false): Tensor {
    return this.#reduce("argmin", dim, keepdim, "int32");
  }

  /** Runs a last-axis row kernel on `dim` by moving it last and back; `params` are recorded too. */
  #rowOp(
    dim: number,
    name: "softmax" | "logSoftmax" | "layerNorm" | "rmsNorm",
    run: (out: View, x: View) => void,
    params: Tensor[] = [],
    data?: unknown,
  ): Tensor {
    const a = normAxis(dim, this.ndim, name);
    const last = this.ndim - 1;
    const x = a === last ? this.#cast("float32") : this.#cast("float32").transpose(a, last);
    const out = this.#alloc(x.shape, "float32");
    run(out.asView(), x.asView());
    record(name, out, [x, ...params], data);
    return a === last ? out : out.transpose(a, last);
  }
  /** Softmax over `dim` (default last). */
  softmax(dim = -1): Tensor {
    return this.#rowOp(dim, "softmax", this.backend.kernels.softmax);
  }
  /** Log-softmax over `dim` (default last). */
  logSoftmax(dim = -1): Tensor {
    return this.#rowOp(dim, "logSoftmax", this.backend.kernels.logSoftmax);
  }
  /** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * weight + bias. */
  layerNorm(weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
    const C = this.shape[this.ndim - 1];
    for (const [name, p] of [["weight", weight], ["bias", bias]] as const) {
      if (p.ndim !== 1 || p.shape[0] !== C) {
        throw new RangeError(
          `layerNorm: ${name} has shape ${fmtShape(p.shape)}, expected [${C}] for input ${
            fmtShape(this.shape)
          }`,
        );
      }
    }
    const wt = this.#onDevice(weight, "layerNorm"), bt = this.#onDevice(bias, "layerNorm");
    const [w, b] = [wt.asView(), bt.asView()];
    return this.#rowOp(
      -1,
      "layerNorm",
      (out, x) => this.backend.kernels.layerNorm(out, x, w, b, eps),
      [wt, bt],
      { eps },
    );
  }

  /**
   * RMSNorm over the last axis in one fused pass: x / sqrt(mean(x^2) + eps) * (weight + offset).
   * `offset: 1` is Gemma's (1 + w) scale. weight [C] for input (..., C).
   *
   * @example
   * ```ts
   * import { tensor } from "./mod.ts";
   * const y = tensor([[3, 4]]).rmsNorm(tensor([1, 1]), { eps: 0 });
   * await y.data(); // ~[0.8485, 1.1314]
   * ```
   */
  rmsNorm(weight: Tensor, opts: { eps?: number; offset?: number } = {}): Tensor {
    const { eps = 1e-6, offset = 0 } = opts;
    const C = this.shape[this.ndim - 1];
    if (weight.ndim !== 1 || weight.shape[0] !== C) {
      throw new RangeError(
        `rmsNorm: weight has shape ${fmtShape(weight.shape)}, expected [${C}] for input ${
          fmtShape(this.shape)
        }`,
      );
    }
    const wt = this.#onDevice(weight, "rmsNorm").#cast("float32");
    const w = wt.asView();
    return this.#rowOp(
      -1,
      "rmsNorm",
      (out, x) => this.backend.kernels.rmsNorm(out, x, w, eps, offset),
      [wt],
      { eps, offset },
    );
  }
  /**
   * Rotary position embedding in one fused pass (HF's apply_rotary_pos_emb with rotate_half) on
   * the first R channels of the last axis; the rest pass through (partial rotary). x (..., D),
   * cos and sin (..., R) broadcastable to x's leading axes, R even and <= D -> (..., D).
   *
   * @example
   * ```ts
   * import { tensor } from "./mod.ts";
   * const x = tensor([[1, 0]]); // (1, 2)
   * await x.rotary(tensor([[0, 0]]), tensor([[1, 1]])).data(); // [0, 1]: a quarter turn
   * ```
   */
  rotary(cos: Tensor, sin: Tensor): Tensor {
    const D = this.shape[this.ndim - 1], R = cos.shape[cos.ndim - 1];
    if (
      this.ndim === 0 || cos.ndim === 0 || !(R > 0) || R % 2 !== 0 || R > D ||
      !cos.shape.every((d, i) => d === sin.shape[i]) || cos.ndim !== sin.ndim
    ) {
      throw new RangeError(
        `rotary: cos ${fmtShape(cos.shape)} and sin ${fmtShape(sin.shape)} must share a shape ` +
          `whose last axis is even and at most ${D} for input ${fmtShape(this.shape)}`,
      );
    }
    const target = [...this.shape.slice(0, -1), R];
    const [c, s] = [cos, sin].map((t) =>
      this.#onDevice(t, "rotary").#cast("float32").expand(target)
    );
    const x = this.#cast("float32");
    const out = this.#alloc(x.shape, "float32");
    this.backend.kernels.rotary(out.asView(), x.asView(), c.asView(), s.asView());
    return record("rotary", out, [x, c, s]);
  }

  // ---- matmul, gather, topk ------------------------------------------------------------

  /** Matrix product with NumPy semantics: 1-D operands are promoted, batch axes broadcast. */
  matmul(other: Tensor): Tensor {
    let a = this.#cast("float32");
    let b = this.#onDevice(other, "matmul").#cast("float32");
    if (a.ndim === 0 || b.ndim === 0) {
      throw new TypeError(
        `matmul: operands must have at least one axis, got shapes ${fmtShape(this.shape)} and ${
          fmtShape(other.shape)
        }: use mul() for scalars`,
      );
    }
    const aVec = a.ndim === 1, bVec = b.ndim === 1;
    if (aVec) a = a.unsqueeze(0);
    if (bVec) b = b.unsqueeze(1);
    const [M, K] = a.shape.slice(-2), [K2, N] = b.shape.slice(-2);
    if (K !== K2) {
      throw new RangeError(
        `matmul: shapes ${fmtShape(this.shape)} and ${
          fmtShape(other.shape)
        } do not match (${K} != ${K2})`,
      );
    }
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), "matmul");
    const aShape = [...batch, M, K], bShape = [...batch, K, N];
    const av = {
      ...a.asView(),
      shape: aShape,
      strides: broadcastStrides(a.shape, a.strides, aShape, "matmul"),
    };
    const bv = {
      ...b.asView(),
      shape: bShape,
      strides: broadcastStrides(b.shape, b.strides, bShape, "matmul"),
    };
    let out = this.#alloc([...batch, M, N], "float32");
    this.backend.kernels.matmul(out.asView(), av, bv);
    record("matmul", out, [a, b]);
    if (aVec) out = out.squeeze(-2);
    if (bVec) out = out.squeeze(-1);
    return out;
  }
  /** Rows of this tensor picked by int32 `ids` along `dim` (torch's index_select). */
  indexSelect(dim: number, ids: Tensor): Tensor {
    const a = normAxis(dim, this.ndim, "indexSelect");
    if (ids.dtype !== "int32" || ids.ndim !== 1) {
      throw new TypeError(
        `indexSelect: ids must be a 1-D int32 tensor, got ${ids.dtype} ${fmtShape(ids.shape)}`,
      );
    }
    const moved = a === 0 ? this : this.transpose(0, a);
    const table = moved.reshape(moved.shape[0], -1);
    const out = this.#alloc([ids.shape[0], table.shape[1]], this.dtype);
    const idv = this.#onDevice(ids, "indexSelect");
    this.backend.kernels.gatherRows(out.asView(), table.asView(), idv.asView());
    const res = record("gatherRows", out, [table, idv]).reshape(
      ids.shape[0],
      ...moved.shape.slice(1),
    );
    return a === 0 ? res : res.transpose(0, a);
  }
  /**
   * A copy of this tensor with the rows of `src` added at int32 `ids` along `dim`: for each n,
   * out[..., ids[n], ...] += src[..., n, ...]; repeated ids add up (torch's index_add).
   * The adjoint of `indexSelect`.
   */
  indexAdd(dim: number, ids: Tensor, src: Tensor): Tensor {
    const a = normAxis(dim, this.ndim, "indexAdd");
    if (ids.dtype !== "int32" || ids.ndim !== 1) {
      throw new TypeError(
        `indexAdd: ids must be a 1-D int32 tensor, got ${ids.dtype} ${fmtShape(ids.shape)}`,
      );
    }
    const want = this.shape.map((d, i) => (i === a ? ids.shape[0] : d));
    if (src.ndim !== want.length || src.shape.some((d, i) => d !== want[i])) {
      throw new RangeError(
        `indexAdd: src has shape ${fmtShape(src.shape)}, expected ${
          fmtShape(want)
        } (this tensor's shape with axis ${dim} the length of ids)`,
      );
    }
    const idv = this.#onDevice(ids, "indexAdd");
    const s = this.#onDevice(src, "indexAdd").#cast(this.dtype);
    const flat = (t: Tensor) => {
      const moved = a === 0 ? t : t.transpose(0, a);
      return moved.reshape(moved.shape[0], -1); // (rows, rest)
    };
    const table = flat(this), rows = flat(s);
    const out = table.clone();
    this.backend.kernels.scatterAddRows(out.asView(), idv.asView(), rows.asView());
    record("scatterAddRows", out, [table, idv, rows]);
    const moved = a === 0 ? this.shape : this.transpose(0, a).shape;
    const res = out.reshape(...moved);
    return a === 0 ? res : res.transpose(0, a);
  }
  /** The `k` largest values along `dim` (default last), sorted descending, with int32 indices. */
  topk(k: number, dim = -1): { values: Tensor; indices: Tensor } {
    const a = normAxis(dim, this.ndim, "topk");
    const n = this.shape[a];
    if (!Number.isInteger(k) || k < 0 || k > n) {
      throw new RangeError(`topk: k = ${k} is out of range for an axis of size ${n}`);
    }
    const last = this.ndim - 1;
    const x = a === last ? this : this.transpose(a, last);
    const shape = [...x.shape.slice(0, -1), k];
    const values = this.#alloc(shape, this.dtype);
    const indices = this.#alloc(shape, "int32");
    this.backend.kernels.topk(values.asView(), indices.asView(), x.asView(), k);
    record("topk", values, [x], { indices });
    return a === last
      ? { values, indices }
      : { values: values.transpose(a, last), indices: indices.transpose(a, last) };
  }

  // ---- helpers -------------------------------------------------------------------------

  #alloc(shape: readonly number[], dtype: DType): Tensor {
    return new Tensor(this.backend.alloc(numel(shape), dtype), shape);
  }
  #cast(dtype: DType): Tensor {
    if (this.dtype === dtype) return this;
    const out = this.#alloc(this.shape, dtype);
    this.backend.kernels.cast(out.asView(), this.asView());
    return out;
  }
  /** A number as a scalar of this dtype, or a tensor checked to be on this device. */
  #onDevice(other: TensorLike, op: string): Tensor {
    if (typeof other === "number") {
      const int = this.dtype === "int32" && Number.isInteger(other);
      const data = int ? Int32Array.of(other) : Float32Array.of(other);
      return new Tensor(this.backend.fromData(data, { adopt: true }), []);
    }
    if (!(other instanceof Tensor)) {
      throw new TypeError(`${op}: expected a Tensor or a number, got ${describe(other)}`);
    }
    if (other.device !== this.device) {
      throw new TypeError(
        `${op}: tensors are on different devices ("${this.device}" and "${other.device}"): move one with .to()`,
      );
    }
    return other;
  }
}

/** Picks `a` where `cond` is non-zero, else `b`; all three broadcast together. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : cond;
  const toT = (v: TensorLike) =>
    v instanceof Tensor
      ? v.astype("float32")
      : new Tensor(cond.backend.fromData(Float32Array.of(v)), []);
  const [ta, tb] = [toT(a), toT(b)];
  for (const t of [ta, tb]) {
    if (t.device !== cond.device) throw differentDevices("where", cond.device, t.device);
  }
  const shape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, "where"), tb.shape, "where");
  const bv = (t: Tensor): View => ({
    ...t.asView(),
    shape,
    strides: broadcastStrides(t.shape, t.strides, shape, "where"),
  });
  const out = new Tensor(like.backend.alloc(numel(shape), "float32"), shape);
  cond.backend.kernels.where(out.asView(), bv(cond), bv(ta), bv(tb));
  return record("where", out, [cond, ta, tb]);
}

/** Joins tensors of equal shape except along `dim`. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("cat: needs at least one tensor");
  const first = tensors[0];
  const a = normAxis(dim, first.ndim, "cat");
  for (const t of tensors) {
    const same = t.ndim === first.ndim && t.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!same) {
      throw new RangeError(
        `cat: shapes ${fmtShape(first.shape)} and ${fmtShape(t.shape)} differ outside axis ${dim}`,
      );
    }
    if (t.device !== first.device) throw differentDevices("cat", first.device, t.device);
  }
  const dtype = tensors.some((t) => t.dtype === "float32") ? "float32" : "int32";
  const shape = [...first.shape];
  shape[a] = tensors.reduce((s, t) => s + t.shape[a], 0);
  const out = new Tensor(first.backend.alloc(numel(shape), dtype), shape);
  let at = 0;
  const regions: IndexSpec[] = [];
  const parts = tensors.map((t) => t.astype(dtype));
  for (const t of parts) {
    const spec: IndexSpec = [...new Array(a).fill({ kind: "slice" }), {
      kind: "slice",
      start: at,
      stop: at + t.shape[a],
    }];
    regions.push(spec);
    first.backend.kernels.copy(out.get(spec).asView(), t.asView());
    at += t.shape[a];
  }
  return record("copy", out, parts, { base: false, regions });
}

/** Stacks tensors of equal shape along a new axis `dim`. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new RangeError("stack: needs at least one tensor");
  const a = normAxis(dim, tensors[0].ndim + 1, "stack");
  for (const t of tensors) {
    if (t.shape.join() !== tensors[0].shape.join()) {
      throw new RangeError(
        `stack: shapes ${fmtShape(tensors[0].shape)} and ${
          fmtShape(t.shape)
        } differ: stack needs equal shapes`,
      );
    }
  }
  return cat(tensors.map((t) => t.unsqueeze(a)), a);
}

function nest(data: TypedArray, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return data[0];
  const build = (axis: number, base: number): NestedArray[] => {
    const out: NestedArray[] = [];
    const stride = numel(shape.slice(axis + 1));
    for (let i = 0; i < shape[axis]; i++) {
      out.push(axis === shape.length - 1 ? data[base + i] : build(axis + 1, base + i * stride));
    }
    return out;
  };
  return build(0, 0);
}

function differentDevices(op: string, a: Device, b: Device): TypeError {
  return new TypeError(
    `${op}: tensors are on different devices ("${a}" and "${b}"): move one with .to()`,
  );
}

function metaHasNoData(op: string, shape: readonly number[]): TypeError {
  return new TypeError(
    `${op}: a tensor on the meta device has no data, only its shape ${
      fmtShape(shape)
    }: run on "cpu" or "webgpu" to get values`,
  );
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array (wrap it with tensor())";
  return typeof v === "object"
    ? (v.constructor?.name ?? "an object")
    : `${typeof v} ${JSON.stringify(v)}`;
}

/** Sizes or axes given as numbers (`reshape(2, 3)`) or as one array (`reshape([2, 3])`), as torch. */
function shapeArgs(args: readonly (number | readonly number[])[], op: string): number[] {
  const list = args.length === 1 && Array.isArray(args[0]) ? args[0] : args;
  const bad = list.find((d) => typeof d !== "number");
  if (bad !== undefined) {
    throw new TypeError(
      `${op} takes numbers or one array of numbers, got ${
        Array.isArray(bad)
          ? "an array among other arguments"
          : `${typeof bad} ${JSON.stringify(bad)}`
      }: write ${op}(2, 3) or ${op}([2, 3])`,
    );
  }
  return [...list] as number[];
}
