// Loads the model a command names (Hub id or directory) on the chosen device, and turns the
// model's input ids back into one label per position. Draws and writes nothing.

import { LanguageModel, type Tensor } from "../mod.ts";
import { deviceOption, type Values } from "./_command.ts";

/** MODEL (a Hub id or a directory) on `--device`. */
export function loadModel(id: string, values: Values): Promise<LanguageModel> {
  return LanguageModel.load(id, { device: deviceOption(values) });
}

/** One decoded label per id of row 0 of `ids` (B, T). */
export async function tokenLabels(model: LanguageModel, ids: Tensor): Promise<string[]> {
  const row = [...(await ids.get("0").data())];
  return row.map((id) => model.tokenizer.decode([id]));
}
