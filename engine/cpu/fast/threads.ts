// Worker pool over the shared wasm memory: task records in the heap's reserved bytes, units of
// them claimed by compare-exchange, sleep and wake with Atomics.wait/notify. No matmul layout.

import { Worker } from "node:worker_threads";
import { EXPORT_NAMES, RESERVED_BYTES, type WasmHeap } from "./wasm_heap.ts";
import { ROW_EXPORTS } from "./row_kernels.ts";

/** Ints per task record: driver index then the 11 driver arguments (row kernels take fewer). */
export const RECORD_INTS = 12;
// Control words. Units are claimed by CAS on NEXT, which only ever grows, so a claim from a
// stale round cannot succeed: a round owns the indices [BASE, END).
// EPOCH names the live pool; a worker leaves when it changes (terminate() alone does not
// interrupt a worker blocked in Atomics.wait).
// FAILED is set when a unit threw (a wasm trap): the unit still counts as finished so no
// thread waits forever, and the caller throws after the round.
const GEN = 0, NEXT = 1, BASE = 2, END = 3, FINISHED = 4, STEPS = 5, EPOCH = 6, FAILED = 7;
const FIRST_RECORD = 16;
const MAX_RECORDS = Math.floor((RESERVED_BYTES / 4 - FIRST_RECORD) / RECORD_INTS);
/** How long an idle thread spins before sleeping: covers the gaps between a model's matmuls. */
const SPIN_MS = 1;

// Claims units until the round is exhausted; shared by the caller's thread and the workers.
const CLAIM_SOURCE = `(ctrl, run) => {
  for (;;) {
    const v = Atomics.load(ctrl, ${NEXT});
    const end = Atomics.load(ctrl, ${END});
    const base = Atomics.load(ctrl, ${BASE});
    const unit = (v - base) | 0;
    if (unit < 0 || ((end - v) | 0) <= 0) return;
    if (Atomics.compareExchange(ctrl, ${NEXT}, v, (v + 1) | 0) !== v) continue;
    const steps = ctrl[${STEPS}];
    try {
      for (let s = 0; s < steps; s++) run(${FIRST_RECORD} + (unit * steps + s) * ${RECORD_INTS});
    } catch {
      Atomics.store(ctrl, ${FAILED}, 1);
    }
    Atomics.add(ctrl, ${FINISHED}, 1);
    Atomics.notify(ctrl, ${FINISHED});
  }
}`;
const claim = new Function(`return ${CLAIM_SOURCE}`)() as (
  ctrl: Int32Array,
  run: (record: number) => void,
) => void;

// Node's worker_threads (not the web Worker) because its workers can be unref'd: an idle pool
// must not keep the process alive. A data: URL works from a checkout and from a remote import.
const WORKER_SOURCE = `
import { parentPort } from "node:worker_threads";
const claim = ${CLAIM_SOURCE};
parentPort.once("message", ({ module, rowModule, memory, names, rowNames, epoch }) => {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const rows = new WebAssembly.Instance(rowModule, { env: { memory } }).exports;
  const fns = [...names.map((n) => exports[n]), ...rowNames.map((n) => rows[n])];
  const ctrl = new Int32Array(memory.buffer, 0, ${RESERVED_BYTES / 4});
  const run = (r) => fns[ctrl[r]](ctrl[r + 1], ctrl[r + 2], ctrl[r + 3], ctrl[r + 4],
    ctrl[r + 5], ctrl[r + 6], ctrl[r + 7], ctrl[r + 8], ctrl[r + 9], ctrl[r + 10], ctrl[r + 11]);
  parentPort.postMessage("ready");
  let n = 0, t0 = 0;
  while (Atomics.load(ctrl, ${EPOCH}) === epoch) {
    const gen = Atomics.load(ctrl, ${GEN});
    if (((Atomics.load(ctrl, ${END}) - Atomics.load(ctrl, ${NEXT})) | 0) > 0) {
      claim(ctrl, run);
      n = 0, t0 = 0;
    } else if ((++n & 255) === 0) {
      const now = performance.now();
      if (t0 === 0) t0 = now;
      else if (now - t0 > ${SPIN_MS}) Atomics.wait(ctrl, ${GEN}, gen);
    }
  }
});
`;

interface Pool {
  heap: WasmHeap;
  ctrl: Int32Array;
  workers: Worker[];
  ready: boolean;
  started: Promise<void>;
}
let pool: Pool | undefined;

/** Threads that run kernels now, the caller's included (1 until the pool is ready). */
export function poolThreads(): number {
  return pool?.ready ? pool.workers.length + 1 : 1;
}

/**
 * Starts `count - 1` workers (the caller's thread is the count-th); resolves when ready.
 * Asking again for the same count returns the pending or running pool.
 */
export function startPool(heap: WasmHeap, count: number): Promise<void> {
  if (!Number.isInteger(count) || count < 1) {
    throw new RangeError(`startThreads: count must be a positive integer, got ${count}`);
  }
  if (pool?.heap === heap && pool.workers.length === count - 1) return pool.started;
  stopPool();
  const url = new URL(`data:text/javascript;base64,${btoa(WORKER_SOURCE)}`);
  const ctrl = new Int32Array(heap.memory.buffer, 0, RESERVED_BYTES / 4);
  const epoch = Atomics.add(ctrl, EPOCH, 1) + 1;
  const workers = Array.from({ length: count - 1 }, () => new Worker(url));
  const mine: Pool = { heap, ctrl, workers, ready: false, started: Promise.resolve() };
  pool = mine;
  const started = mine.workers.map((w) =>
    new Promise<void>((resolve, reject) => {
      w.once("message", () => resolve());
      w.once("error", reject);
      w.postMessage({
        module: heap.module,
        rowModule: heap.rowModule,
        memory: heap.memory,
        names: EXPORT_NAMES,
        rowNames: ROW_EXPORTS,
        epoch,
      });
    })
  );
  mine.started = Promise.all(started).then(
    () => {
      for (const w of workers) w.unref();
      if (pool === mine) mine.ready = true; // else stopped or restarted meanwhile
    },
    (e) => {
      if (pool === mine) stopPool();
      for (const w of workers) w.unref();
      throw e;
    },
  );
  return mine.started;
}

/** Stops the workers; later kernels run on the caller's thread. */
export function stopPool(): void {
  if (!pool) return;
  const { ctrl, workers } = pool;
  pool = undefined;
  Atomics.add(ctrl, EPOCH, 1);
  Atomics.add(ctrl, GEN, 1);
  Atomics.notify(ctrl, GEN);
  for (const w of workers) w.terminate();
}

/**
 * Runs `units` units of `steps` task records each (unit u owns records u * steps ...) on the
 * pool, or inline when `threads` is 1: a unit runs its records in order on one thread.
 */
export function runUnits(
  heap: WasmHeap,
  records: Int32Array,
  units: number,
  opts: { steps: number; threads: number },
): void {
  const { steps, threads } = opts;
  const p = pool;
  if (!p?.ready || p.heap !== heap || threads === 1 || units === 1 || steps > MAX_RECORDS) {
    for (let i = 0; i < units * steps; i++) call(heap, records, i * RECORD_INTS);
    return;
  }
  const { ctrl } = p;
  const perRound = Math.floor(MAX_RECORDS / steps);
  const run = (r: number) => call(heap, ctrl, r);
  for (let u0 = 0; u0 < units; u0 += perRound) {
    const n = Math.min(perRound, units - u0);
    ctrl.set(
      records.subarray(u0 * steps * RECORD_INTS, (u0 + n) * steps * RECORD_INTS),
      FIRST_RECORD,
    );
    ctrl[STEPS] = steps;
    Atomics.store(ctrl, FINISHED, 0);
    const base = Atomics.load(ctrl, NEXT);
    Atomics.store(ctrl, BASE, base);
    Atomics.store(ctrl, END, (base + n) | 0); // publishes the round: workers may claim now
    Atomics.add(ctrl, GEN, 1);
    Atomics.notify(ctrl, GEN);
    claim(ctrl, run);
    let spins = 0;
    for (let d = Atomics.load(ctrl, FINISHED); d < n; d = Atomics.load(ctrl, FINISHED)) {
      if (++spins > 10000) Atomics.wait(ctrl, FINISHED, d, 1);
    }
    if (Atomics.exchange(ctrl, FAILED, 0) !== 0) {
      throw new Error(`fastMatmul: a kernel trapped in a worker; the output is incomplete`);
    }
  }
}

function call(heap: WasmHeap, r: Int32Array, i: number): void {
  heap.drivers[r[i]](
    r[i + 1],
    r[i + 2],
    r[i + 3],
    r[i + 4],
    r[i + 5],
    r[i + 6],
    r[i + 7],
    r[i + 8],
    r[i + 9],
    r[i + 10],
    r[i + 11],
  );
}
