// Autograd state shared by Tensor and the tape: the graph node type, the key under which a
// tensor holds its node, and whether recording is on. Imports no runtime module (loads first).

import type { Tensor } from "../tensor.ts";

/** Replaces or keeps a gradient; see `Tensor.registerHook`. */
export type GradHook = (grad: Tensor) => Tensor | void;

/**
 * One recorded step of the tape: `op` made `output` from `saved` (the inputs as they were
 * recorded). A leaf node (`op` "leaf") stands for a tensor that `requiresGrad()`.
 */
export interface GradNode {
  /** The primitive or layout op, or "leaf". */
  readonly op: string;
  /** The node of each input, or null where no gradient flows to that input. */
  inputs: (GradNode | null)[];
  /** The input tensors (kept for rules that read them; dropped when the graph is freed). */
  saved: Tensor[];
  /** The tensor this node made (for a leaf: the leaf itself). */
  output: Tensor | null;
  /** Storage versions of `saved` then `output` when recorded (in-place edits bump them). */
  versions: number[];
  /** Op-specific data (axes, index, eps, ...). */
  data: unknown;
  /** Hooks run on this node's gradient once it is complete. */
  hooks: GradHook[] | null;
  /** Store this non-leaf node's gradient in `output.grad` too (`retainGrad()`). */
  retain: boolean;
  /** Set once a backward pass without `retainGraph` has released the node. */
  freed: boolean;
}

/** The key of a tensor's node; a symbol keeps it out of the public surface. */
export const GRAD_NODE: unique symbol = Symbol("tsight.gradNode");

/** Whether ops record: `noGrad` turns it off. */
export const gradState: { enabled: boolean } = { enabled: true };
