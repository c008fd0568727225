// One lock per model: runs that drive a model (generate(), a trace) wait their turn instead of
// interleaving at their awaits, and hooks can tell the holder's own calls from anyone else's.

import type { Module } from "./module.ts";

/**
 * A first-come, first-served lock of one model. A run `acquire`s it for its whole duration and
 * wraps its synchronous model calls in `enter`; while the lock is held, a trace's hooks act
 * only inside `enter` (`ownsCalls`), so a `module.call` made by other code between the
 * holder's awaits runs the plain forward, never the trace's interventions.
 *
 * @example
 * ```ts
 * import { tensor } from "../engine/mod.ts";
 * import { lockOf } from "./lock.ts";
 * import { Streamer } from "./generator.ts";
 * const model = new Streamer();
 * const release = await lockOf(model).acquire();
 * try {
 *   lockOf(model).enter(() => model.call(tensor([1])));
 * } finally {
 *   release();
 * }
 * ```
 */
export class ModelLock {
  #tail: Promise<void> = Promise.resolve();
  #held = false;
  #depth = 0;

  /** True while a run holds the lock. */
  get held(): boolean {
    return this.#held;
  }

  /**
   * True when hooks may act: the lock is free (a caller driving hooks by hand), or its holder
   * is inside `enter`.
   */
  get ownsCalls(): boolean {
    return !this.#held || this.#depth > 0;
  }

  /** Waits for every earlier holder; resolves to the function that releases (idempotent). */
  acquire(): Promise<() => void> {
    let open!: () => void;
    const mine = new Promise<void>((resolve) => (open = resolve));
    const before = this.#tail;
    this.#tail = before.then(() => mine);
    return before.then(() => {
      this.#held = true;
      let done = false;
      return () => {
        if (done) return;
        done = true;
        this.#held = false;
        open();
      };
    });
  }

  /** Runs the holder's synchronous model call `fn`; hooks act inside it. */
  enter<T>(fn: () => T): T {
    this.#depth++;
    try {
      return fn();
    } finally {
      this.#depth--;
    }
  }
}

const LOCKS = new WeakMap<Module, ModelLock>();

/**
 * The lock of `model` (the root module a run drives), made on first use.
 *
 * @example
 * ```ts
 * import { lockOf } from "./lock.ts";
 * import { Streamer } from "./generator.ts";
 * const m = new Streamer();
 * lockOf(m) === lockOf(m); // true
 * ```
 */
export function lockOf(model: Module): ModelLock {
  let lock = LOCKS.get(model);
  if (!lock) LOCKS.set(model, lock = new ModelLock());
  return lock;
}

/**
 * Runs `fn` holding `model`'s lock: waits for earlier runs, releases after `fn` settles.
 *
 * @example
 * ```ts
 * import { tensor } from "../engine/mod.ts";
 * import { withLock } from "./lock.ts";
 * import { Streamer } from "./generator.ts";
 * const m = new Streamer();
 * await withLock(m, () => Promise.resolve(m.call(tensor([1])))); // the same tensor
 * ```
 */
export async function withLock<T>(model: Module, fn: () => Promise<T>): Promise<T> {
  const release = await lockOf(model).acquire();
  try {
    return await fn();
  } finally {
    release();
  }
}
