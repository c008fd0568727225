// The functional face of autodiff, as tfjs and jax offer it: `grad(fn)` and `valueAndGrad(fn)`
// differentiate a function of tensors without touching any `.grad`. Everything the function
// and its backward pass allocate is freed except the value and the gradients (a tidy scope).

import { tidy } from "../scope.ts";
import { Tensor } from "../tensor.ts";
import { runBackward } from "./tape.ts";
import { gradState } from "./state.ts";

/** Options of `grad` and `valueAndGrad`. */
export interface GradOptions {
  /** Which arguments to differentiate with respect to (default 0, the first). */
  argnums?: number | readonly number[];
}

/** A function's value and its gradients. */
export interface ValueAndGrad<G> {
  /** fn(...args), cut off the tape. */
  value: Tensor;
  /** d value / d args[argnums]: one tensor, or an array when argnums is an array. */
  grad: G;
}

/** What `grad` returns for options `O`: an array of gradients when argnums is an array. */
export type Grads<O extends GradOptions> = O["argnums"] extends readonly number[] ? Tensor[]
  : Tensor;

/**
 * The value of `fn` (which must return a one-element tensor) and its gradient with respect
 * to the arguments named by `argnums`. No `.grad` is written: other tensors that require
 * gradients inside `fn` are left alone.
 *
 * @example
 * ```ts
 * import { tensor, valueAndGrad } from "../mod.ts";
 * const f = valueAndGrad((x: Tensor) => x.mul(x).sum());
 * const { value, grad } = f(tensor([1, 2, 3]));
 * console.log(await value.item(), await grad.toArray()); // 14 [2, 4, 6]
 * import type { Tensor } from "../mod.ts";
 * ```
 */
export function valueAndGrad<A extends Tensor[], O extends GradOptions = Record<never, never>>(
  fn: (...args: A) => Tensor,
  opts?: O,
): (...args: A) => ValueAndGrad<Grads<O>> {
  return (...args: A) => differentiate(fn, opts, args, true) as ValueAndGrad<Grads<O>>;
}

/** Runs fn and its backward pass in one scope; keeps the value only when asked. */
function differentiate<A extends Tensor[], O extends GradOptions>(
  fn: (...args: A) => Tensor,
  opts: O | undefined,
  args: A,
  withValue: boolean,
): { value: Tensor | null; grad: Grads<O> } {
  const many = Array.isArray(opts?.argnums);
  const nums: readonly number[] = many
    ? opts!.argnums as readonly number[]
    : [(opts?.argnums as number | undefined) ?? 0];
  for (const i of nums) {
    if (!Number.isInteger(i) || i < 0 || i >= args.length) {
      throw new RangeError(
        `grad: argnums names argument ${i}, but the function got ${args.length} arguments`,
      );
    }
  }
  {
    const prev = gradState.enabled;
    gradState.enabled = true;
    try {
      return tidy(() => {
        const inputs = args.map((a, i) => nums.includes(i) ? a.detach().requiresGrad() : a) as A;
        const value = fn(...inputs);
        if (value.size !== 1) {
          throw new TypeError(
            `grad: the function must return a one-element tensor, got shape [${value.shape}]: reduce it (e.g. sum()) or call backward() with a seed`,
          );
        }
        const grads = value.needsGrad
          ? runBackward(value, undefined, {}, nums.map((i) => inputs[i]))
          : nums.map(() => null);
        const full = grads.map((g, k) => {
          const x = inputs[nums[k]]; // an argument the value does not depend on: zeros
          return g ?? new Tensor(x.backend.alloc(x.size, "float32"), x.shape);
        });
        return {
          value: withValue ? value.detach() : null,
          grad: (many ? full : full[0]) as Grads<O>,
        };
      });
    } finally {
      gradState.enabled = prev;
    }
  }
}

/**
 * A function computing the gradient of `fn` (which must return a one-element tensor) with
 * respect to the arguments named by `argnums` (default the first).
 *
 * @example
 * ```ts
 * import { grad, tensor } from "../mod.ts";
 * import type { Tensor } from "../mod.ts";
 * const dLoss = grad((w: Tensor, x: Tensor) => x.matmul(w).sum(), { argnums: [0, 1] });
 * const [dw, dx] = dLoss(tensor([[1], [2]]), tensor([[3, 4]]));
 * console.log(await dw.toArray(), await dx.toArray()); // [[3], [4]] [[1, 2]]
 * ```
 */
export function grad<A extends Tensor[], O extends GradOptions = Record<never, never>>(
  fn: (...args: A) => Tensor,
  opts?: O,
): (...args: A) => Grads<O> {
  return (...args: A) => differentiate(fn, opts, args, false).grad;
}
