// The device matrix for engine tests: `deviceTest` registers one Deno.test per device entry, so
// each test is written once and runs on every device. An unavailable device is ignored, never
// dropped. Meta is not an entry here: it has its own shape-only tests (tests/engine/meta_test.ts).

import type { Device } from "../engine/mod.ts";
import { hasBackend, setCpuTier } from "../engine/mod.ts";

/** One column of the device matrix. Adding a device is adding one of these to `DEVICES`. */
export interface DeviceEntry {
  /** Shown in test names, e.g. `cpu/reference`; also what `TSIGHT_TEST_DEVICES` filters on. */
  readonly label: string;
  /** The device tensors are created on. */
  readonly device: Device;
  /** Runs once when this file loads: `null` when the device is usable, else why it is not. */
  probe(): Promise<string | null>;
  /** Runs before each test; returns what undoes it (run in a `finally`). */
  enter?(): (() => void) | Promise<() => void>;
  /** Extra Deno.test options for this device (e.g. sanitizers a GPU runtime trips). */
  readonly options?: Omit<Deno.TestDefinition, "name" | "fn" | "ignore">;
}

/** A cpu entry that runs with the given kernel tier and restores the previous tier after. */
function cpuEntry(tier: "reference" | "fast"): DeviceEntry {
  return {
    label: `cpu/${tier}`,
    device: "cpu",
    probe: () => Promise.resolve(null),
    enter: () => {
      const prev = setCpuTier(tier);
      return () => void setCpuTier(prev);
    },
  };
}

const WEBGPU_MOD = new URL("../engine/webgpu/mod.ts", import.meta.url);

/** webgpu: needs engine/webgpu/mod.ts, `navigator.gpu` and an adapter; runs its init if any. */
async function probeWebGPU(): Promise<string | null> {
  try {
    await Deno.stat(WEBGPU_MOD);
  } catch {
    return "engine/webgpu/mod.ts does not exist yet";
  }
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
  if (!gpu) return "navigator.gpu is missing (run with --unstable-webgpu)";
  if (!(await gpu.requestAdapter())) return "no WebGPU adapter";
  // A non-literal specifier keeps the type checker from requiring the module to exist.
  const mod = await import(WEBGPU_MOD.href) as { initWebGPU?: () => Promise<unknown> };
  if (typeof mod.initWebGPU === "function") await mod.initWebGPU();
  return hasBackend("webgpu") ? null : "engine/webgpu/mod.ts did not register a backend";
}

/**
 * Every device the engine tests run on, in order.
 *
 * @example
 * ```ts
 * import { DEVICES } from "./_devices.ts";
 * console.log(DEVICES.map((d) => d.label)); // ["cpu/reference", "cpu/fast", "webgpu"]
 * ```
 */
export const DEVICES: readonly DeviceEntry[] = [
  cpuEntry("reference"),
  cpuEntry("fast"),
  { label: "webgpu", device: "webgpu", probe: probeWebGPU },
];

/** `TSIGHT_TEST_DEVICES=cpu/reference,webgpu` restricts the matrix (unset: every device). */
function selected(label: string): boolean {
  const only = Deno.env.get("TSIGHT_TEST_DEVICES");
  return !only || only.split(",").map((s) => s.trim()).includes(label);
}

/** Why each entry is skipped, or null; probed once, when this module loads. */
const SKIP: ReadonlyMap<string, string | null> = new Map(
  await Promise.all(DEVICES.map(async (d): Promise<[string, string | null]> => {
    if (!selected(d.label)) return [d.label, "not in TSIGHT_TEST_DEVICES"];
    try {
      return [d.label, await d.probe()];
    } catch (e) {
      return [d.label, `probe failed: ${(e as Error).message}`];
    }
  })),
);

/** Why a device entry is skipped in this run, or null when it runs. */
export function skipReason(label: string): string | null {
  return SKIP.get(label) ?? null;
}

/**
 * Registers `fn` once per device as `"<name> [<label>]"`; an unavailable device's test is
 * registered with `ignore: true` so it shows as ignored rather than vanishing.
 *
 * @example
 * ```ts
 * import { deviceTest } from "./_devices.ts";
 * import { tensor } from "../engine/mod.ts";
 * deviceTest("add", async (device) => {
 *   const y = tensor([1, 2], undefined, { device }).add(1);
 *   console.log(await y.toArray()); // [2, 3]
 * });
 * ```
 */
export function deviceTest(
  name: string,
  fn: (device: Device, entry: DeviceEntry) => Promise<void> | void,
): void {
  for (const entry of DEVICES) {
    Deno.test({
      ...entry.options,
      name: `${name} [${entry.label}]`,
      ignore: skipReason(entry.label) !== null,
      fn: async () => {
        const exit = await entry.enter?.();
        try {
          await fn(entry.device, entry);
        } finally {
          exit?.();
        }
      },
    });
  }
}

/** Runs `f` under a cpu tier and restores the previous one. */
export function withTier<T>(tier: "reference" | "fast", f: () => T): T {
  const prev = setCpuTier(tier);
  try {
    return f();
  } finally {
    setCpuTier(prev);
  }
}
