// tracer.log at run time: prints values (cpu tensors with their first elements); a webgpu value
// cannot be read while the model runs, so from the first one on, snapshots wait for the run's end.

import { Tensor } from "../engine/mod.ts";
import { mapLeaves, someLeaf } from "./_tree.ts";
import type { TraceMemory } from "./_memory.ts";

/**
 * The `tracer.log` calls of one run: printed at once, or held (in recording order) from the first
 * call that holds a webgpu value, for the tracer to print after one read at the end of the run.
 *
 * @example
 * ```ts ignore
 * const logs = new HeldLogs(mem);
 * logs.log(["h", h]); // prints now on the cpu; held on webgpu
 * await printHeld(logs.pending, mem); // after a failure (a success reads them with the values)
 * ```
 */
export class HeldLogs {
  /** Snapshots of the calls held back, in recording order. */
  readonly pending: unknown[][] = [];
  readonly #mem: TraceMemory;

  /** Holds snapshots in `mem`, which keeps them alive until the run ends. */
  constructor(mem: TraceMemory) {
    this.#mem = mem;
  }

  /** Prints `args`, or holds a snapshot of them (later in-place edits do not show). */
  log(args: readonly unknown[]): void {
    if (this.pending.length === 0 && !hasDeviceTensor(args)) return printLog(args);
    const snapshot = args.map((
      a,
    ) => (a instanceof Tensor && a.device === "webgpu" ? a.clone() : a));
    this.#mem.own(snapshot);
    this.pending.push(snapshot);
  }
}

/** Prints held-back `tracer.log` arguments after reading their device values (one read). */
export async function printHeld(logs: readonly unknown[][], mem: TraceMemory): Promise<void> {
  for (const args of await mem.toHost([...logs])) printLog(args as unknown[]);
}

/** Prints `tracer.log` arguments: tensors with their first values (cpu), others as they are. */
export function printLog(args: readonly unknown[]): void {
  console.log(...args.map(fmtLog));
}

/** True when `v` holds a webgpu tensor (in tuples and arrays), whose values need an async read. */
function hasDeviceTensor(v: unknown): boolean {
  return someLeaf(v, (x) => x instanceof Tensor && x.device === "webgpu");
}

function fmtLog(v: unknown): unknown {
  return mapLeaves(v, (x) => {
    if (!(x instanceof Tensor)) return x;
    if (x.device !== "cpu") return String(x);
    const data = x.dataSync();
    const head = [...data.subarray(0, 8)].map((y) => +y.toPrecision(5)).join(", ");
    return `${x} [${head}${data.length > 8 ? ", ..." : ""}]`;
  });
}
