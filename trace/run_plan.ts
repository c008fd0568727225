// RunPlan: what a model wrapper (NNsight, LanguageModel) hands the tracer to run one trace: the
// batch's rows per invoke, the device and the model call. Types only; runs nothing.

import type { Device } from "../engine/mod.ts";

/** The rows of one invoke in the batch. */
export interface InvokeRows {
  /** First row. */
  start: number;
  /** Number of rows. */
  size: number;
}

/** How to run one trace: the batch layout and the model call. */
export interface RunPlan {
  /** Rows of each invoke; node.invoke indexes this. */
  invokes: readonly InvokeRows[];
  /** Rows in the batch. */
  batchSize: number;
  /** Device model values live on: literal tensors in the graph are moved there. */
  device?: Device;
  /** Runs the model; resolves to its final output. */
  body(): Promise<unknown>;
  /** Describes the run for messages ("generation ran 3 steps"). */
  summary(): string;
}
