// Optimizers for probes and steering vectors: SGD (momentum, Nesterov, weight decay), Adam and
// AdamW, with torch's update rules. They update parameters in place from `.grad` under noGrad;
// state tensors are kept (webgpu) and every temporary of a step is freed.

import { noGrad, zeroGrad } from "./autograd/tape.ts";
import { zeros } from "./creation.ts";
import { keep, tidy } from "./scope.ts";
import type { Tensor } from "./tensor.ts";

/** What every optimizer offers. */
export interface Optimizer {
  /** The parameters it updates. */
  readonly params: readonly Tensor[];
  /** One update of every parameter that has a `.grad` (others are skipped). */
  step(): void;
  /** Clears (and frees) the parameters' gradients. */
  zeroGrad(): void;
}

function checkParams(params: Iterable<Tensor>, who: string): Tensor[] {
  const list = [...new Set(params)];
  for (const p of list) {
    if (!p.needsGrad || !p.isLeaf) {
      throw new TypeError(
        `${who}: every parameter must be a leaf that requires a gradient, got ${p}: call requiresGrad() on it`,
      );
    }
  }
  return list;
}

function checkRate(v: number, name: string, who: string): void {
  if (!Number.isFinite(v) || v < 0) {
    throw new RangeError(`${who}: ${name} must be a finite number >= 0, got ${v}`);
  }
}

/** Writes `value` into `p` in place (optimizers update parameters where they are). */
function assign(p: Tensor, value: Tensor): void {
  p.set("...", value);
}

/** Options of `SGD`. */
export interface SGDOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (default 0: plain SGD). */
  momentum?: number;
  /** Dampening of the momentum's new gradient (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false). */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with torch's momentum rule: buf = momentum * buf + (1 -
 * dampening) * g (buf = g on the first step), p -= lr * (nesterov ? g + momentum * buf : buf).
 *
 * @example
 * ```ts
 * import { SGD, tensor } from "./mod.ts";
 * const w = tensor([1, 2]).requiresGrad();
 * const opt = new SGD([w], { lr: 0.1, momentum: 0.9 });
 * w.mul(w).sum().backward(); // grad 2w
 * opt.step();
 * console.log(await w.toArray()); // [0.8, 1.6]
 * ```
 */
export class SGD implements Optimizer {
  /** The parameters it updates. */
  readonly params: readonly Tensor[];
  readonly #o: Required<SGDOptions>;
  readonly #buf = new Map<Tensor, Tensor>();

  /** An optimizer over `params` (duplicates, such as tied weights, count once). */
  constructor(params: Iterable<Tensor>, opts: SGDOptions) {
    this.params = checkParams(params, "SGD");
    this.#o = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...opts };
    for (const k of ["lr", "momentum", "dampening", "weightDecay"] as const) {
      checkRate(this.#o[k], k, "SGD");
    }
    if (this.#o.nesterov && (this.#o.momentum === 0 || this.#o.dampening !== 0)) {
      throw new RangeError("SGD: nesterov needs a momentum > 0 and dampening 0");
    }
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = this.#o;
    noGrad(() =>
      tidy(() => {
        for (const p of this.params) {
          if (p.grad === null) continue;
          let g = weightDecay !== 0 ? p.grad.add(p.mul(weightDecay)) : p.grad;
          if (momentum !== 0) {
            const buf = this.#buf.get(p);
            if (buf === undefined) this.#buf.set(p, keep(g.clone()));
            else assign(buf, buf.mul(momentum).add(g.mul(1 - dampening)));
            const b = this.#buf.get(p)!;
            g = nesterov ? g.add(b.mul(momentum)) : b;
          }
          assign(p, p.sub(g.mul(lr)));
        }
      })
    );
  }

  /** Clears (and frees) the parameters' gradients. */
  zeroGrad(): void {
    zeroGrad(this.params);
  }
}

/** Options of `Adam` and `AdamW`. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Adam: L2 penalty added to the gradient; AdamW: decoupled decay (default 0; AdamW 1e-2). */
  weightDecay?: number;
}

/**
 * Adam (torch's rule): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, p -= lr * m^ / (sqrt(v^)
 * + eps) with bias-corrected m^ = m / (1 - b1^t), v^ = v / (1 - b2^t); weightDecay adds
 * weightDecay * p to g.
 *
 * @example
 * ```ts
 * import { Adam, tensor } from "./mod.ts";
 * const w = tensor([1, -2]).requiresGrad();
 * const opt = new Adam([w], { lr: 0.1 });
 * w.mul(w).sum().backward();
 * opt.step(); // the first step moves each weight by lr against its gradient's sign
 * console.log(await w.toArray()); // [0.9, -1.9]
 * ```
 */
export class Adam implements Optimizer {
  /** The parameters it updates. */
  readonly params: readonly Tensor[];
  /** Steps taken so far. */
  steps = 0;
  readonly #lr: number;
  readonly #b1: number;
  readonly #b2: number;
  readonly #eps: number;
  readonly #wd: number;
  readonly #decoupled: boolean;
  readonly #m = new Map<Tensor, Tensor>();
  readonly #v = new Map<Tensor, Tensor>();

  /**
   * An optimizer over `params` (duplicates, such as tied weights, count once); `decoupled`
   * makes it AdamW (use the AdamW class instead).
   */
  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}, decoupled = false) {
    const who = decoupled ? "AdamW" : "Adam";
    this.params = checkParams(params, who);
    const [b1, b2] = opts.betas ?? [0.9, 0.999];
    this.#lr = opts.lr ?? 1e-3;
    this.#b1 = b1;
    this.#b2 = b2;
    this.#eps = opts.eps ?? 1e-8;
    this.#wd = opts.weightDecay ?? (decoupled ? 1e-2 : 0);
    this.#decoupled = decoupled;
    checkRate(this.#lr, "lr", who);
    checkRate(this.#eps, "eps", who);
    checkRate(this.#wd, "weightDecay", who);
    for (const b of [b1, b2]) {
      if (!(b >= 0 && b < 1)) throw new RangeError(`${who}: betas must be in [0, 1), got ${b}`);
    }
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.steps++;
    const t = this.steps, b1 = this.#b1, b2 = this.#b2;
    const bc1 = 1 - b1 ** t, bc2 = 1 - b2 ** t;
    noGrad(() =>
      tidy(() => {
        for (const p of this.params) {
          if (p.grad === null) continue;
          let g = p.grad;
          if (this.#wd !== 0 && !this.#decoupled) g = g.add(p.mul(this.#wd));
          if (this.#wd !== 0 && this.#decoupled) assign(p, p.mul(1 - this.#lr * this.#wd));
          const m = this.#state(this.#m, p), v = this.#state(this.#v, p);
          assign(m, m.mul(b1).add(g.mul(1 - b1)));
          assign(v, v.mul(b2).add(g.mul(g).mul(1 - b2)));
          const update = m.div(bc1).div(v.div(bc2).sqrt().add(this.#eps)).mul(this.#lr);
          assign(p, p.sub(update));
        }
      })
    );
  }

  #state(map: Map<Tensor, Tensor>, p: Tensor): Tensor {
    let s = map.get(p);
    if (s === undefined) map.set(p, s = keep(zeros(p.shape, { device: p.device })));
    return s;
  }

  /** Clears (and frees) the parameters' gradients. */
  zeroGrad(): void {
    zeroGrad(this.params);
  }
}

/**
 * AdamW: Adam with decoupled weight decay (p -= lr * weightDecay * p before the Adam update;
 * default weightDecay 1e-2), as torch.optim.AdamW.
 *
 * @example
 * ```ts
 * import { AdamW, tensor } from "./mod.ts";
 * const w = tensor([1, -2]).requiresGrad();
 * const opt = new AdamW([w], { lr: 0.1, weightDecay: 0.5 });
 * w.sum().backward();
 * opt.step();
 * console.log(await w.toArray()); // [0.85, -2.0]: decay 0.95 then -0.1
 * ```
 */
export class AdamW extends Adam {
  /** An optimizer over `params` (duplicates, such as tied weights, count once). */
  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}) {
    super(params, opts, true);
  }
}
