// Elementwise WGSL kernels: unary, binary (broadcast through 0 strides), cast, where, copy (to a
// strided destination) and fill, all from one strided "map" generator. No reductions here.

import type { BinaryOp, Kernels, UnaryOp, View } from "../../backend.ts";
import { contiguousStrides, numel } from "../../layout.ts";
import {
  type Binding,
  coversStorage,
  declare,
  EXP,
  grid,
  type Host,
  LOG,
  main1d,
  p,
  Params,
  pf,
  pushWalk,
  walkCode,
  wtype,
} from "./_common.ts";

const WG = 64;

/** WGSL helpers some expressions call; included (with their dependencies) only when used. */
export const HELPERS: Record<string, string> = {
  exp_: EXP,
  log_: LOG,
  // The builtin tanh loses relative precision near 0 and returns -1 for NaN on llvmpipe.
  tanh_: `fn tanh_(x: f32) -> f32 {
  let a = abs(x);
  if (a < 0.3) {
    let y = x * x;
    return x * (1.0 + y * (-0.33333333 + y * (0.13333333 + y * (-0.053968254 + y * 0.021869489))));
  }
  let e = exp_(-2.0 * a);
  let t = (1.0 - e) / (1.0 + e);
  return select(-t, t, x >= 0.0);
}`,
  // 0.5x(1 + tanh(u)) = x / (1 + e^-2u): no cancellation for large negative x.
  gelu_: `fn gelu_(x: f32) -> f32 {
  let u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp_(-2.0 * u));
}`,
  // Math.pow semantics: negative bases allow integer exponents only; small integer exponents
  // multiply exactly instead of going through exp and log.
  pow_: `fn pow_(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (b == floor(b) && abs(b) <= 16.0) {
    var n = i32(abs(b));
    var base = a;
    var r = 1.0;
    loop {
      if ((n & 1) == 1) { r *= base; }
      n = n >> 1;
      if (n == 0) { break; }
      base *= base;
    }
    return select(r, 1.0 / r, b < 0.0);
  }
  if (b == 0.5) { return sqrt(a); }
  let r = exp_(b * log_(abs(a)));
  if (a >= 0.0 || a != a) { return r; }
  if (b != floor(b)) { return bitcast<f32>(0x7fc00000u); }
  return select(r, -r, floor(b * 0.5) != b * 0.5);
}`,
};

const UNARY: Record<UnaryOp, string> = {
  neg: "-x",
  exp: "exp_(x)",
  log: "log_(x)",
  sqrt: "sqrt(x)",
  rsqrt: "1.0 / sqrt(x)",
  tanh: "tanh_(x)",
  abs: "abs(x)",
  relu: "select(0.0, x, x > 0.0)",
  gelu: "gelu_(x)",
  sigmoid: "1.0 / (1.0 + exp_(-x))",
};

const BINARY: Record<BinaryOp, string> = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  pow: "pow_(a, b)",
  // The first operand wins ties and NaN, as in the cpu reference.
  maximum: "select(b, a, a >= b || a != a)",
  minimum: "select(b, a, a <= b || a != a)",
  eq: "select(0, 1, a == b)",
  gt: "select(0, 1, a > b)",
  lt: "select(0, 1, a < b)",
};

/** The helper functions `code` calls, with the helpers those call. */
function helpersFor(code: string): string {
  let all = code;
  for (let grew = true; grew;) {
    grew = false;
    for (const [name, fn] of Object.entries(HELPERS)) {
      if (all.includes(`${name}(`) && !all.includes(fn)) [all, grew] = [`${all}\n${fn}`, true];
    }
  }
  return all.slice(code.length);
}

/**
 * out[idx] = expr(ins[idx]...) over out's shape; `out` and every input may have any strides.
 * `expr` gets the WGSL names of the loaded inputs and of the extra params; `fns` is WGSL
 * the expression calls.
 */
function map(
  host: Host,
  op: string,
  out: View,
  ins: readonly View[],
  expr: (v: string[], extra: string[]) => string,
  opts: { fns?: string; floats?: readonly number[]; ints?: readonly number[] } = {},
): void {
  const n = numel(out.shape);
  if (n === 0) return;
  const names = ["out", ...ins.map((_, j) => `x${j}`)];
  const params = new Params();
  const totalAt = params.int(n);
  const views = [out, ...ins];
  const walk = pushWalk(
    params,
    out.shape,
    views.map((v) => v.strides),
    views.map((v) => v.offset),
    op,
  );
  const extra = [
    ...(opts.floats ?? []).map((f) => pf(params.float(f))),
    ...(opts.ints ?? []).map((v) => p(params.int(v))),
  ];
  const bindings: Binding[] = [
    { name: "out", storage: out.storage, write: true, full: coversStorage(out) },
    ...ins.map((v, j) => ({ name: `x${j}`, storage: v.storage })),
  ];
  const decl = declare(host, bindings);
  const body = expr(ins.map((_, j) => `v${j}`), extra);
  const fns = opts.fns ?? "";
  host.run({
    key: `map:${op}:${decl.key}:r${walk.rank}`,
    bindings,
    params: params.words(),
    groups: grid(n, WG),
    code: () =>
      [
        decl.code,
        helpersFor(fns),
        fns,
        main1d(
          WG,
          p(totalAt),
          `${walkCode(walk, "i", names)}
  ${ins.map((_, j) => `let v${j} = ld_x${j}(o_x${j});`).join(" ")}
  st_out(o_out, ${body});`,
        ),
      ].join("\n"),
  });
}

/** The elementwise part of the kernel table.
 *
 * @example
 * ```ts ignore
 * const { add } = elementwiseKernels(host);
 * add(out, a, b); // one dispatch: out = a + b over any strides
 * ```
 */
export function elementwiseKernels(host: Host): Pick<
  Kernels,
  UnaryOp | BinaryOp | "cast" | "copy" | "fill" | "where"
> {
  // Unary ops compute in f32 whatever the input type, as the frontend casts first anyway.
  const unary = (op: UnaryOp) => (out: View, x: View) => {
    const fns = `fn op_(x: f32) -> f32 { return ${UNARY[op]}; }`;
    map(host, op, out, [x], ([v]) => `${wtype(out.storage.dtype)}(op_(f32(${v})))`, { fns });
  };
  const binary = (op: BinaryOp) => (out: View, a: View, b: View) => {
    const t = wtype(a.storage.dtype), r = wtype(out.storage.dtype);
    const fns = `fn op_(a: ${t}, b: ${t}) -> ${r} { return ${r}(${BINARY[op]}); }`;
    map(host, op, out, [a, b], ([va, vb]) => `op_(${va}, ${vb})`, { fns });
  };
  const table = {} as Record<UnaryOp | BinaryOp, (...v: View[]) => void>;
  for (const op of Object.keys(UNARY) as UnaryOp[]) table[op] = unary(op);
  for (const op of Object.keys(BINARY) as BinaryOp[]) table[op] = binary(op);
  return {
    ...(table as Pick<Kernels, UnaryOp | BinaryOp>),
    cast: (out, x) => map(host, "cast", out, [x], ([v]) => `${wtype(out.storage.dtype)}(${v})`),
    copy: (dst, src) => {
      if (src.storage !== dst.storage) return map(host, "copy", dst, [src], ([v]) => v);
      // Same storage: go through a temporary so no element is read after it is overwritten.
      const tmp = host.alloc(numel(src.shape), src.storage.dtype);
      const tv = {
        storage: tmp,
        shape: src.shape,
        strides: contiguousStrides(src.shape),
        offset: 0,
      };
      map(host, "copy", tv, [src], ([v]) => v);
      map(host, "copy", dst, [tv], ([v]) => v);
      host.release(tmp);
    },
    fill: (dst, value) =>
      dst.storage.dtype === "int32"
        ? map(host, "fill", dst, [], (_, [v]) => v, { ints: [value | 0] })
        : map(host, "fill", dst, [], (_, [v]) => v, { floats: [value] }),
    where: (out, cond, a, b) =>
      map(host, "where", out, [cond, a, b], ([c, va, vb]) => {
        const zero = cond.storage.dtype === "float32" ? "0.0" : "0";
        return `select(${vb}, ${va}, ${c} != ${zero})`;
      }),
  };
}
