// Attaching a new module (an SAE, a probe) under an envoy, as nnsight's `envoy.name = module`:
// it joins the model tree at `<envoy path>.<name>`, so the graph can call it with its hooks
// firing (`envoy.name.call(x)`), and its `.output`/`.input` can be read, edited and saved.

import { Module } from "../model/module.ts";
import type { Envoy } from "./envoy.ts";

const ATTACHED = new WeakSet<Module>();

/** True for a module attached by {@link attachModule}: a graph call to it fires its hooks. */
export function isAttached(m: Module): boolean {
  return ATTACHED.has(m);
}

/**
 * Adds `module` as child `name` of `envoy`'s module. Unlike the model's own modules, a call
 * of it from the graph (`envoy.name.call(x)`) fires its hooks and counts as its iteration, since
 * that is the only way it runs (nnsight's `hook=True`).
 *
 * @example
 * ```ts
 * import { attachModule, LanguageModel, type Tensor } from "../mod.ts";
 * import { Module } from "../model/mod.ts";
 * class Double extends Module { forward(x: Tensor) { return x.mul(2); } }
 * const model = await LanguageModel.random({ n_layer: 1, n_embd: 8, n_head: 2 }, { seed: 0 });
 * const mlp = model.transformer.h[0].mlp;
 * attachModule(mlp, "double", new Double()); // or mlp.attach("double", ...), or mlp.double = ...
 * const out = await model.trace("Hello", () => {
 *   mlp.output = mlp.child("double").call(mlp.output);
 *   return mlp.child("double").output; // its hooks fired
 * });
 * out.shape; // [1, 1, 8]
 * ```
 */
export function attachModule(envoy: Envoy, name: string, module: Module): void {
  if (!(module instanceof Module)) {
    throw new TypeError(`Only a Module can be attached to ${envoy}, got ${typeof module}`);
  }
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    throw new TypeError(
      `Cannot attach a module as ${
        JSON.stringify(name)
      } on ${envoy}: use an identifier-like name (letters, digits, _)`,
    );
  }
  const old = envoy.module.child(name);
  if (old && !ATTACHED.has(old)) {
    throw new TypeError(
      `${envoy} already has a module "${name}" of its own: attach the new module under another name`,
    );
  }
  if (module.path !== "" || module.name !== "") {
    throw new TypeError(
      `The module is already in a tree at "${module.path}": attach a module that has no parent`,
    );
  }
  envoy.module.addModule(name, module);
  ATTACHED.add(module);
}
