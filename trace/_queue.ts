// The run queue of the interleaver: a min-heap of node ids, so nodes that became ready run in
// recording order (in-place edits before later reads); each id is queued once per round.

/**
 * A min-heap of node ids with once-per-round deduplication.
 *
 * @example
 * ```ts
 * import { NodeQueue } from "./_queue.ts";
 * const q = new NodeQueue(8);
 * q.push(5); q.push(2); q.push(5);
 * [q.pop(), q.pop(), q.size]; // [2, 5, 0]
 * ```
 */
export class NodeQueue {
  readonly #heap: number[] = [];
  readonly #queued: Uint32Array;
  #round = 1;

  /** A queue for ids in [0, n). */
  constructor(n: number) {
    this.#queued = new Uint32Array(n);
  }

  /** Ids waiting. */
  get size(): number {
    return this.#heap.length;
  }

  /** Queues `id` unless it was already queued this round. */
  push(id: number): void {
    if (this.#queued[id] === this.#round) return;
    this.#queued[id] = this.#round;
    const h = this.#heap;
    h.push(id);
    for (let i = h.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (h[p] <= h[i]) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
  }

  /** Removes and returns the smallest id. */
  pop(): number {
    const h = this.#heap, top = h[0], last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      for (let i = 0;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && h[l] < h[m]) m = l;
        if (r < h.length && h[r] < h[m]) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }

  /** Starts a new round: every id may be queued again. */
  nextRound(): void {
    this.#round++;
  }
}
