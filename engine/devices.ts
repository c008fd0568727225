// Maps device names to backends. cpu and meta are always present; webgpu registers itself
// once an adapter has been acquired (see engine/webgpu), so cpu-only programs never touch it.

import type { Backend, Device } from "./backend.ts";
import { cpuBackend } from "./cpu/backend.ts";
import { metaBackend } from "./meta/backend.ts";

const backends = new Map<Device, Backend>([
  ["cpu", cpuBackend],
  ["meta", metaBackend],
]);

/** The backend of a device, or a clear error when it is not initialised. */
export function getBackend(device: Device): Backend {
  const b = backends.get(device);
  if (b) return b;
  if (device === "webgpu") {
    throw new Error(
      'Device "webgpu" is not initialised: call `await initWebGPU()` first (or load the model with { device: "webgpu" })',
    );
  }
  throw new TypeError(`Unknown device "${device}": use "cpu", "webgpu" or "meta"`);
}

/** Registers a backend for its device (used by the webgpu module). */
export function registerBackend(backend: Backend): void {
  backends.set(backend.device, backend);
}

/** True when a device has a backend now. */
export function hasBackend(device: Device): boolean {
  return backends.has(device);
}
