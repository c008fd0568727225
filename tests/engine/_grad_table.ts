// The gradient-check table helper: for each case, backward() with a random seed R against
// central finite differences of sum(R * f(x)) accumulated in float64 on the host, on every
// device of tests/_devices.ts. Also collects which tape ops each case exercised. No cases here.

import { type Device, noGrad, Rng, type Tensor, tensor, tidy } from "../../engine/mod.ts";
import { GRAD_NODE, type GradNode } from "../../engine/autograd/state.ts";
import { deviceTest } from "../_devices.ts";

/** How an input is drawn: float normal, away from zero, positive, or fixed int32 data. */
export type InputSpec =
  | number[]
  | { shape: number[]; draw: "normal" | "positive" | "awayFromZero" }
  | { int: number[]; shape?: number[] };

/** One line of the table. */
export interface GradCase {
  label: string;
  fn: (...xs: Tensor[]) => Tensor;
  inputs: InputSpec[];
  /** Tolerance |analytic - fd| <= atol + rtol * |fd| (defaults below). */
  atol?: number;
  rtol?: number;
}

/** Finite-difference step: large enough that float32 rounding of f stays well below atol. */
export const EPS = 1e-2;
/** Default tolerance; central differences err by O(EPS^2 f''') plus float32 noise / EPS. */
export const ATOL = 2e-3, RTOL = 1e-2;

/** A case (inputs: float shapes by default). */
export const gc = (
  label: string,
  fn: GradCase["fn"],
  inputs: InputSpec[],
  tol: { atol?: number; rtol?: number } = {},
): GradCase => ({ label, fn, inputs, ...tol });

/** A float input drawn away from the kinks at 0 (|x| in [0.2, 1.7]). */
export const away = (...shape: number[]): InputSpec => ({ shape, draw: "awayFromZero" });
/** A positive float input (in [0.3, 2]). */
export const pos = (...shape: number[]): InputSpec => ({ shape, draw: "positive" });
/** Fixed int32 data (never differentiated). */
export const ints = (int: number[], shape?: number[]): InputSpec => ({ int, shape });

interface HostInput {
  data: Float32Array | Int32Array;
  shape: number[];
  diff: boolean;
}

function draw(spec: InputSpec, rng: Rng): HostInput {
  if (Array.isArray(spec)) spec = { shape: spec, draw: "normal" };
  if ("int" in spec) {
    return { data: Int32Array.from(spec.int), shape: spec.shape ?? [spec.int.length], diff: false };
  }
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    data[i] = spec.draw === "normal"
      ? rng.normal()
      : spec.draw === "positive"
      ? 0.3 + 1.7 * u
      : (u < 0.5 ? -1 : 1) * (0.2 + 1.5 * rng.uniform());
  }
  return { data, shape: spec.shape, diff: true };
}

/** The ops on the tape below `t`. */
export function tapeOps(t: Tensor): Set<string> {
  const ops = new Set<string>();
  const seen = new Set<GradNode>();
  const stack = t[GRAD_NODE] ? [t[GRAD_NODE]] : [];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (seen.has(n)) continue;
    seen.add(n);
    ops.add(n.op);
    for (const i of n.inputs) if (i) stack.push(i);
  }
  return ops;
}

function seedOf(label: string): number {
  let h = 17;
  for (const ch of label) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

/**
 * Checks one case on `device`; returns the ops it exercised and the worst error seen.
 * Throws with every failing element listed.
 */
export async function gradcheck(
  c: GradCase,
  device: Device,
): Promise<{ ops: Set<string>; worst: number }> {
  const rng = new Rng(seedOf(c.label));
  const host = c.inputs.map((s) => draw(s, rng));
  const make = (h: HostInput, data = h.data) => tensor(data, h.shape, { device });
  const xs = host.map((h) => (h.diff ? make(h).requiresGrad() : make(h)));
  const out = c.fn(...xs);
  const ops = tapeOps(out);
  const r = new Float32Array(out.size);
  for (let i = 0; i < r.length; i++) r[i] = rng.normal();
  const loss = async (args: Tensor[]) => {
    const y = await noGrad(() => c.fn(...args)).data();
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * r[i];
    return s;
  };
  out.backward(tensor(r, out.shape, { device }));
  const { atol = ATOL, rtol = RTOL } = c;
  const bad: string[] = [];
  let worst = 0;
  for (const [i, h] of host.entries()) {
    if (!h.diff) continue;
    const g = xs[i].grad; // null: nothing flowed to it, so the finite differences must be 0
    const analytic = g === null ? new Float32Array(h.data.length) : await g.data();
    for (let j = 0; j < h.data.length; j++) {
      const at = (delta: number) => {
        const d = Float32Array.from(h.data);
        d[j] += delta;
        return host.map((o, k) => (k === i ? make(o, d) : make(o)));
      };
      const fd = await tidy(async () =>
        ((await loss(at(EPS))) - (await loss(at(-EPS)))) / (2 * EPS)
      );
      const err = Math.abs(analytic[j] - fd);
      worst = Math.max(worst, err / (atol + rtol * Math.abs(fd)));
      if (err > atol + rtol * Math.abs(fd)) {
        bad.push(`input ${i}[${j}]: backward ${analytic[j]}, finite difference ${fd}`);
      }
    }
  }
  if (bad.length > 0) {
    throw new Error(
      `${c.label}: ${bad.length} gradients differ:\n  ${bad.slice(0, 8).join("\n  ")}`,
    );
  }
  return { ops, worst };
}

/**
 * Registers one test per device that checks every case of a group and reports all failures.
 *
 * @example
 * ```ts
 * import { gc, gradTable } from "./_grad_table.ts";
 * gradTable("unary", [gc("exp", (x) => x.exp(), [[2, 3]])]);
 * ```
 */
export function gradTable(group: string, cases: GradCase[], covered?: Set<string>): void {
  deviceTest(`backward matches finite differences: ${group}`, async (device) => {
    const failures: string[] = [];
    for (const c of cases) {
      try {
        const { ops } = await gradcheck(c, device);
        for (const op of ops) covered?.add(op);
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    if (failures.length > 0) throw new Error(failures.join("\n"));
  });
}
