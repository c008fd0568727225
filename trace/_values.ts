// Values inside graph arguments: Refs to earlier nodes, the object literals that are walked, and
// the tagged JSON of literals (tensors, undefined, non-finite numbers). Trusts its input: requests
// from elsewhere go through _validate.ts first.

import { Tensor, tensor } from "../engine/mod.ts";

/** A reference to an earlier node inside a node's arguments. */
export class Ref {
  /** Refers to node `id`. */
  constructor(readonly id: number) {}
}

/** Pushes the ids of every Ref inside arrays and plain objects of `v` onto `out`. */
export function collectRefs(v: unknown, out: number[]): void {
  if (v instanceof Ref) out.push(v.id);
  else if (Array.isArray(v)) { for (const x of v) collectRefs(x, out); }
  else if (isPlain(v)) { for (const x of Object.values(v)) collectRefs(x, out); }
}

/** True for arrays' siblings that are walked: object literals (not class instances). */
export function isPlain(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** A value as JSON: Refs, tensors (cpu), undefined and non-finite numbers are tagged. */
export function encodeValue(v: unknown): unknown {
  if (v instanceof Ref) return { $ref: v.id };
  if (v === undefined) return { $undefined: true };
  if (typeof v === "number") return Number.isFinite(v) ? v : { $number: String(v) };
  if (v === null || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Tensor) {
    if (v.device !== "cpu") {
      throw new TypeError(
        `A ${v.device} tensor cannot be serialised: move it to the cpu first (await t.toDevice("cpu"))`,
      );
    }
    return { $tensor: { dtype: v.dtype, shape: [...v.shape], data: [...v.dataSync()] } };
  }
  if (Array.isArray(v)) return v.map(encodeValue);
  if (isPlain(v)) {
    const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeValue(x)]));
    return Object.keys(o).some((k) => k.startsWith("$")) ? { $object: o } : o;
  }
  throw new TypeError(
    `A ${
      typeof v === "function" ? "function" : (v as object).constructor?.name ?? typeof v
    } cannot be serialised in a graph`,
  );
}

/** Inverts {@link encodeValue}. */
export function decodeValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeValue);
  if (!isPlain(v)) return v;
  if ("$ref" in v) return new Ref(v.$ref as number);
  if ("$undefined" in v) return undefined;
  if ("$number" in v) return Number(v.$number);
  if ("$tensor" in v) {
    const t = v.$tensor as { dtype: "float32" | "int32"; shape: number[]; data: number[] };
    return tensor(t.data, t.shape, { dtype: t.dtype });
  }
  const o = ("$object" in v ? v.$object : v) as Record<string, unknown>;
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeValue(x)]));
}
