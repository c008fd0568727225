// A toy module tree for the tracing tests: blocks with tuple outputs in a ModuleList, a head,
// and a multi-step runner that calls the model once per step (like generate with a cache).

import { cat, type Tensor, tensor } from "../../engine/mod.ts";
import { Module, ModuleList } from "../../model/module.ts";
import type { Envoy } from "../../trace/envoy.ts";
import type { InvokeRows } from "../../trace/interleaver.ts";
import { NNsight, type RunMode } from "../../trace/nnsight.ts";
import type { Resolved, RunPlan, Tracer } from "../../trace/tracer.ts";

/** x -> k * x. */
export class Scale extends Module {
  constructor(readonly k: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.mul(this.k);
  }
}

/** x -> max(x, 0). */
export class Relu extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** x -> [x + relu(k x), x]: a tuple whose element 0 is the hidden state, like GPT-2's blocks. */
export class Block extends Module {
  readonly fc: Scale;
  readonly act: Relu;
  constructor(k: number) {
    super();
    this.fc = this.addModule("fc", new Scale(k));
    this.act = this.addModule("act", new Relu());
  }
  forward(x: Tensor): [Tensor, Tensor] {
    const h = this.act.call(this.fc.call(x)) as Tensor;
    return [x.add(h), x];
  }
}

/** Identity, called once per run at the end (like generator). */
export class Tap extends Module {
  forward<T>(x: T): T {
    return x;
  }
}

/** Three blocks (k = 1, 2, 3) then a head that scales by 10. */
export class Toy extends Module {
  readonly layers: ModuleList<Block>;
  readonly head: Scale;
  readonly tap: Tap;
  constructor() {
    super();
    this.layers = this.addModule(
      "layers",
      new ModuleList([new Block(1), new Block(2), new Block(3)]),
    );
    this.head = this.addModule("head", new Scale(10));
    this.tap = this.addModule("tap", new Tap());
  }
  forward(x: Tensor): Tensor {
    for (const b of this.layers) x = (b.call(x) as [Tensor, Tensor])[0];
    return this.head.call(x) as Tensor;
  }
}

/** The toy's envoys, typed for the tests. */
export interface ToyEnvoys {
  layers: Envoy & { [i: number]: Envoy & { fc: Envoy; act: Envoy } };
  head: Envoy;
  tap: Envoy;
}

/**
 * The toy wrapped for tracing. `mode: { kind: "generate", options: { steps } }` calls the model
 * `steps` times, feeding each output back scaled by 0.01, then calls `tap` with the last output.
 */
export class ToyModel extends NNsight<Toy> {
  constructor() {
    super(new Toy(), { meta: () => new Toy() });
  }
  /** Runs `steps` forward passes with the recorded interventions. */
  steps<R>(input: Tensor, steps: number, fn: (t: Tracer) => R): Promise<Resolved<R>> {
    const run = this.execute({ kind: "generate", options: { steps } }, [input], fn as never);
    return run as Promise<Resolved<R>>;
  }
  protected override plan(inputs: unknown[], mode: RunMode, root: Toy, meta: boolean): RunPlan {
    const base = super.plan(inputs, { kind: "trace" }, root, meta);
    if (mode.kind === "trace") return base;
    const steps = mode.options.steps as number;
    let ran = 0;
    const invokes: InvokeRows[] = base.invokes as InvokeRows[];
    return {
      ...base,
      invokes,
      body: () => {
        let x = cat(inputs as Tensor[], 0);
        if (meta) x = x.to("meta");
        let out = x;
        for (let i = 0; i < steps; i++, ran++) {
          out = root.call(x) as Tensor;
          x = out.mul(0.01);
        }
        return Promise.resolve(root.tap.call(out));
      },
      summary: () => `generation ran ${ran} steps`,
    };
  }
}

/** A new toy model with typed envoys. */
export function toy(): ToyModel & ToyEnvoys {
  return new ToyModel() as ToyModel & ToyEnvoys;
}

/** A [rows, 2] float tensor. */
export function x2(rows: number[][]): Tensor {
  return tensor(rows);
}
