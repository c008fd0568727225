// Values inside graph arguments: Refs to earlier nodes, the object literals that are walked, and
// the tagged JSON of literals (tensors, undefined, non-finite numbers). Trusts its input: requests
// from elsewhere go through _validate.ts first.

import { Tensor, tensor } from "../engine/mod.ts";
import { forEachLeaf, isPlain, mapLeaves, type TreePath } from "./_tree.ts";

export { isPlain };

/** A reference to an earlier node inside a node's arguments. */
export class Ref {
  /** Refers to node `id`. */
  constructor(readonly id: number) {}
}

/** Pushes the ids of every Ref inside arrays and plain objects of `v` onto `out`. */
export function collectRefs(v: unknown, out: number[]): void {
  forEachLeaf(v, (x) => {
    if (x instanceof Ref) out.push(x.id);
  });
}

/** A value as JSON: Refs, tensors (cpu), undefined and non-finite numbers are tagged. */
export function encodeValue(v: unknown): unknown {
  return mapLeaves(v, encodeLeaf, {
    object: (o) => (Object.keys(o).some((k) => k.startsWith("$")) ? { $object: o } : o),
  });
}

function encodeLeaf(v: unknown): unknown {
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
  throw new TypeError(
    `A ${
      typeof v === "function" ? "function" : (v as object).constructor?.name ?? typeof v
    } cannot be serialised in a graph`,
  );
}

/**
 * True for the object a `{$object: ...}` wrapper holds: its keys are data, not tags. A node under
 * a run of `$object` keys alternates wrapper, escaped object, wrapper, ...: escaped when odd.
 */
function escaped(path: TreePath): boolean {
  let n = 0;
  for (let i = path.length - 1; i >= 0 && path[i] === "$object"; i--) n++;
  return n % 2 === 1;
}

/** Inverts {@link encodeValue}. */
export function decodeValue(v: unknown): unknown {
  return mapLeaves(v, decodeLeaf, {
    leaf: (x, path) =>
      !Array.isArray(x) && !escaped(path) &&
      Object.keys(x as object).some((k) => k.startsWith("$") && k !== "$object"),
    object: (o, path) => (!escaped(path) && "$object" in o ? o.$object : o),
  });
}

function decodeLeaf(v: unknown): unknown {
  if (!isPlain(v)) return v;
  if ("$ref" in v) return new Ref(v.$ref as number);
  if ("$undefined" in v) return undefined;
  if ("$number" in v) return Number(v.$number);
  if (!("$tensor" in v)) return v;
  const t = v.$tensor as { dtype: "float32" | "int32"; shape: number[]; data: number[] };
  return tensor(t.data, t.shape, { dtype: t.dtype });
}
