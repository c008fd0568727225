// The tiny-gpt2 model and the expected values real nnsight 0.4.11 gave for the flow, spelling and
// defaults tests (tests/fixtures/_make/nnsight_0_4_flow.py wrote them).

import type { Device } from "../../engine/mod.ts";
import { type GPT2LanguageModel, LanguageModel } from "../../trace/language_model.ts";
import { FIXTURE, type Json } from "../model/_tiny_gpt2.ts";

/** The prompt every oracle case uses. */
export const PROMPT = "The Eiffel Tower is in the city of";
/** nnsight's logits and activations agree with ours within this (float32, other op order). */
export const TOL = { atol: 1e-4, rtol: 1e-4 };

const models = new Map<Device, Promise<GPT2LanguageModel>>();
/** The fixture model on `device`, loaded once per device. */
export function tiny(device: Device = "cpu"): Promise<GPT2LanguageModel> {
  let m = models.get(device);
  if (!m) models.set(device, m = LanguageModel.load(FIXTURE.pathname, { device }));
  return m;
}

let oracle: Promise<Json> | undefined;
/** tests/fixtures/tiny-gpt2/nnsight_0_4_flow.json. */
export function nnsight(): Promise<Json> {
  return oracle ??= Deno.readTextFile(new URL("nnsight_0_4_flow.json", FIXTURE)).then(JSON.parse);
}
