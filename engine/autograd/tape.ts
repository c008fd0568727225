// The tape: records a node per op when an input needs a gradient (nothing otherwise), and runs
// the backward pass over the recorded graph in reverse topological order, inside a `tidy` scope
// that frees every temporary gradient. Knows no op's math: that is rules.ts.

import { keep, tidy } from "../scope.ts";
import { Tensor } from "../tensor.ts";
import { fmtShape } from "../layout.ts";
import { BACKWARD, type GradOp } from "./rules.ts";
import { GRAD_NODE, type GradHook, type GradNode, gradState } from "./state.ts";

/** Records `op` as the maker of `out` when gradients are on and an input needs one. */
export function record(op: GradOp, out: Tensor, inputs: readonly Tensor[], data?: unknown): Tensor {
  if (!gradState.enabled || out.dtype !== "float32" || out === inputs[0]) return out;
  let any = false;
  for (const t of inputs) if (t[GRAD_NODE] !== null) any = true;
  if (!any || BACKWARD[op] === null) return out;
  out[GRAD_NODE] = makeNode(op, inputs, out, data);
  return out;
}

/**
 * Records an in-place write into `target` (`set`, `fill`): the target's node becomes one whose
 * input 0 is the target as it was. Refuses to overwrite a leaf that requires a gradient.
 */
export function recordInPlace(
  op: "copy" | "fill",
  target: Tensor,
  inputs: readonly Tensor[],
  data: unknown,
): void {
  if (!gradState.enabled) return;
  const old = target[GRAD_NODE];
  if (old === null && inputs.every((t) => t[GRAD_NODE] === null)) return;
  checkInPlace(op, target);
  target[GRAD_NODE] = makeNode(op, [target, ...inputs], target, data, old);
}

/**
 * Refuses an in-place write into `target` (call it before writing, so nothing changes): into a
 * leaf that requires a gradient, or through a view of one (torch refuses both).
 */
export function checkInPlace(op: "copy" | "fill", target: Tensor): void {
  const old = target[GRAD_NODE];
  if (!gradState.enabled || old === null) return;
  const what = op === "fill" ? "fill/set" : "set";
  if (old.op === "leaf") {
    throw new TypeError(
      `${what}: cannot write in place into a tensor that requires a gradient (a leaf): clone() it first, or write inside noGrad()`,
    );
  }
  if (viewsLeaf(old, target)) {
    throw new TypeError(
      `${what}: cannot write in place through a view (${old.op}) of a tensor that requires a gradient (a leaf): clone() the leaf first, or write inside noGrad()`,
    );
  }
}

/** Layout edits whose output may share its input's storage (a view). */
const VIEW_OPS = new Set(["expand", "reshape", "permute", "index"]);

/** True when `node` made `target` as a view of a leaf's storage (torch refuses those edits too). */
function viewsLeaf(node: GradNode | null, target: Tensor): boolean {
  while (node !== null && VIEW_OPS.has(node.op)) node = node.inputs[0] ?? null;
  return node !== null && node.op === "leaf" && node.output?.storage === target.storage;
}

function makeNode(
  op: string,
  inputs: readonly Tensor[],
  out: Tensor,
  data: unknown,
  firstNode?: GradNode | null,
): GradNode {
  const nodes = inputs.map((t) => t[GRAD_NODE]);
  if (firstNode !== undefined) nodes[0] = firstNode;
  return {
    op,
    inputs: nodes,
    saved: [...inputs],
    output: out,
    versions: [...inputs.map((t) => t.storage.version), out.storage.version],
    data,
    hooks: null,
    retain: false,
    freed: false,
  };
}

/** Marks a float32 tensor as a leaf that requires (or, with false, no longer requires) a gradient. */
export function setRequiresGrad(t: Tensor, on: boolean): void {
  const node = t[GRAD_NODE];
  if (node !== null && node.op !== "leaf") {
    throw new TypeError(
      `requiresGrad: ${t} was computed by "${node.op}" from tensors that require gradients, so it already has one: call it on the inputs, or on detach()`,
    );
  }
  if (!on) {
    t[GRAD_NODE] = null;
    return;
  }
  if (t.dtype !== "float32") {
    throw new TypeError(
      `requiresGrad: only float32 tensors can have gradients, got ${t.dtype}: convert with astype("float32")`,
    );
  }
  if (node === null) {
    t[GRAD_NODE] = {
      op: "leaf",
      inputs: [],
      saved: [],
      output: t,
      versions: [],
      data: null,
      hooks: null,
      retain: false,
      freed: false,
    };
  }
}

/** Adds a gradient hook to a tensor that needs a gradient; returns its remover. */
export function addHook(t: Tensor, fn: GradHook): { remove(): void } {
  const node = needNode(t, "registerHook");
  (node.hooks ??= []).push(fn);
  return {
    remove: () => {
      const i = node.hooks?.indexOf(fn) ?? -1;
      if (i >= 0) node.hooks!.splice(i, 1);
    },
  };
}

/** Asks for a non-leaf tensor's gradient to be stored in its `.grad` too. */
export function retainGrad(t: Tensor): void {
  needNode(t, "retainGrad").retain = true;
}

function needNode(t: Tensor, what: string): GradNode {
  const node = t[GRAD_NODE];
  if (node === null) {
    throw new TypeError(
      `${what}: ${t} does not require a gradient: call requiresGrad() on an input it is computed from (outside noGrad)`,
    );
  }
  return node;
}

/** Options of `backward`. */
export interface BackwardOptions {
  /** Keep the graph so backward can run through it again (default false: it is released). */
  retainGraph?: boolean;
}

/**
 * Runs the backward pass from `root` with `seed` (default 1 for a one-element tensor) and
 * accumulates into the `.grad` of every leaf reached, or, given `wrt`, returns the gradients
 * of those tensors without touching any `.grad`.
 */
export function runBackward(
  root: Tensor,
  seed: Tensor | number | undefined,
  opts: BackwardOptions,
  wrt?: readonly Tensor[],
): (Tensor | null)[] {
  const rootNode = needNode(root, "backward");
  if (seed === undefined && root.size !== 1) {
    throw new TypeError(
      `backward: a seed is needed for a tensor of shape ${
        fmtShape(root.shape)
      }: pass a gradient of that shape, or reduce it to one element first (e.g. sum())`,
    );
  }
  if (seed instanceof Object && !sameShape(seed.shape, root.shape)) {
    throw new RangeError(
      `backward: the seed has shape ${fmtShape(seed.shape)}, expected ${
        fmtShape(root.shape)
      } (the tensor's shape)`,
    );
  }
  const order = topoOrder(rootNode);
  const targets = wrt ? new Map(wrt.map((t, i) => [needNode(t, "grad"), i])) : null;
  const prev = gradState.enabled;
  gradState.enabled = false;
  try {
    return tidy(() => {
      const results: (Tensor | null)[] = wrt ? wrt.map(() => null) : [];
      const created: Tensor[] = []; // new .grad tensors: returned, so the scope keeps them
      const grads = new Map<GradNode, Tensor>();
      grads.set(
        rootNode,
        typeof seed === "object" ? seed.astype("float32") : new Tensor(
          root.backend.fromData(new Float32Array(root.size).fill(seed ?? 1), { adopt: true }),
          root.shape,
        ),
      );
      for (const node of order) {
        let g = grads.get(node);
        if (g === undefined) continue;
        grads.delete(node);
        if (node.hooks) g = runHooks(node, g);
        if (targets?.has(node)) results[targets.get(node)!] = g;
        if (node.op === "leaf") {
          if (!targets) accumulate(node.output!, g, created);
          continue;
        }
        if (node.retain && !targets) accumulate(node.output!, g, created);
        for (const [i, gi] of applyRule(node, g).entries()) {
          const into = node.inputs[i];
          if (into === null || gi === null) continue;
          const had = grads.get(into);
          grads.set(into, had ? had.add(gi) : gi);
        }
        if (!opts.retainGraph) free(node);
      }
      const owned = results.map((r) => (r === null ? r : r.clone()));
      void created;
      return { owned, created };
    }).owned;
  } finally {
    gradState.enabled = prev;
  }
}

/** Nodes reachable from `root`, each after every node that consumes it. */
function topoOrder(root: GradNode): GradNode[] {
  const post: GradNode[] = [];
  const seen = new Set<GradNode>([root]);
  const stack: [GradNode, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (node.freed) {
      throw new TypeError(
        `backward: the graph through "${node.op}" was already released by an earlier backward(): pass { retainGraph: true } to the earlier call to run backward through it again`,
      );
    }
    if (i < node.inputs.length) {
      top[1]++;
      const next = node.inputs[i];
      if (next !== null && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      post.push(node);
    }
  }
  return post.reverse();
}

function runHooks(node: GradNode, g: Tensor): Tensor {
  g = g.clone(); // a hook may edit its gradient in place: never a tensor another branch shares
  for (const hook of [...node.hooks!]) {
    const r = hook(g);
    if (r === undefined) continue;
    if (!sameShape(r.shape, g.shape)) {
      throw new RangeError(
        `backward: a gradient hook returned shape ${fmtShape(r.shape)}, expected ${
          fmtShape(g.shape)
        } (the tensor's shape)`,
      );
    }
    g = r.astype("float32");
  }
  return g;
}

function applyRule(node: GradNode, g: Tensor): (Tensor | null)[] {
  const rule = BACKWARD[node.op as GradOp]!;
  const n = node.saved.length;
  const check = (i: number, t: Tensor) => {
    if (t.storage.version !== node.versions[i]) {
      throw new TypeError(
        `backward: a tensor ${t} that "${node.op}" needs for its gradient was modified in place (set or fill) after it was used: clone() it before editing`,
      );
    }
  };
  if (rule.reads === "inputs" || rule.reads === "both") node.saved.forEach((t, i) => check(i, t));
  if (rule.reads === "output" || rule.reads === "both") check(n, node.output!);
  const grads = rule.grads({
    g,
    x: node.saved,
    y: node.output!,
    needs: node.inputs.map((x) => x !== null),
    data: node.data,
  });
  grads.forEach((gi, i) => {
    if (gi !== null && !sameShape(gi.shape, node.saved[i].shape)) {
      throw new Error(
        `backward: the rule of "${node.op}" gave input ${i} a gradient of shape ${
          fmtShape(gi.shape)
        }, expected ${fmtShape(node.saved[i].shape)} (a bug in engine/autograd/rules.ts)`,
      );
    }
  });
  return grads;
}

/**
 * Adds `g` into `t.grad` in place, or stores an owned copy as the first gradient: kept, so no
 * enclosing `tidy` frees it (it belongs to `t`; `zeroGrad` frees it).
 */
function accumulate(t: Tensor, g: Tensor, created: Tensor[]): void {
  if (t.grad === null) {
    t.grad = keep(g.clone());
    created.push(t.grad);
  } else {
    t.grad.set("...", t.grad.add(g));
  }
}

function free(node: GradNode): void {
  node.freed = true;
  node.saved = [];
  node.inputs = [];
  node.data = null;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Clears `.grad` of each tensor and frees its device memory (webgpu). */
export function zeroGrad(tensors: Iterable<Tensor>): void {
  for (const t of tensors) {
    if (t.grad !== null) t.grad.dispose();
    t.grad = null;
  }
}

/**
 * Runs `fn` with recording off: nothing computed inside records a gradient, so inference
 * keeps no intermediates. An async `fn` is awaited before recording resumes.
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradState.enabled;
  gradState.enabled = false;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    gradState.enabled = prev;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => (gradState.enabled = prev)) as T;
  }
  gradState.enabled = prev;
  return result;
}
