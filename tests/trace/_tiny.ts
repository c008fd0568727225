// The tiny-gpt2 fixture as a traceable model, loaded once per device, for the session, edit and
// cache tests, plus the nnsight 0.4.11 numbers of tests/fixtures/tiny-gpt2/nnsight_session.json.

import type { Device, Tensor } from "../../engine/mod.ts";
import { type GPT2LanguageModel, LanguageModel } from "../../trace/language_model.ts";
import { FIXTURE, type Json } from "../model/_tiny_gpt2.ts";

export type { InterventionProxy } from "../../trace/proxy.ts";
export { FIXTURE };

/** The prompt of the fixture's cases. */
export const PROMPT = "The Eiffel Tower is in the city of";

const cached = new Map<Device, Promise<GPT2LanguageModel>>();

/** The fixture model on `device`, loaded once per device and test file. */
export function tiny(device: Device = "cpu"): Promise<GPT2LanguageModel> {
  let m = cached.get(device);
  if (!m) cached.set(device, m = LanguageModel.load(FIXTURE.pathname, { device }));
  return m;
}

/** The numbers nnsight 0.4.11 gave on the fixture (tests/fixtures/_make/nnsight_0_4_session.py). */
export async function nnsightCases(): Promise<Json> {
  return JSON.parse(await Deno.readTextFile(new URL("nnsight_session.json", FIXTURE)));
}

/** Every value of a tensor as a flat array. */
export async function flat(t: Tensor): Promise<number[]> {
  return [...(await t.data())];
}
