// The registry of decoder families and the lookup from a config.json object to its family.
// Adding a family is one line in FAMILIES; nothing else here names a family.

import type { Family } from "./family.ts";
import { GPT2_FAMILY } from "./gpt2/family.ts";
import { GEMMA2_FAMILY } from "./gemma2/family.ts";
import { GEMMA3_FAMILY } from "./gemma3/family.ts";
import { GPT_NEOX_FAMILY } from "./gpt_neox/family.ts";
import { LLAMA_FAMILY } from "./llama/family.ts";
import { OLMO2_FAMILY } from "./olmo2/family.ts";
import { PHI3_FAMILY } from "./phi3/family.ts";

/**
 * Every family tsight builds, in lookup order.
 *
 * @example
 * ```ts
 * import { FAMILIES } from "./families.ts";
 * FAMILIES.flatMap((f) => f.modelTypes).includes("llama"); // true
 * ```
 */
export const FAMILIES: readonly Family[] = [
  GPT2_FAMILY,
  LLAMA_FAMILY,
  GEMMA2_FAMILY,
  GEMMA3_FAMILY,
  GPT_NEOX_FAMILY,
  OLMO2_FAMILY,
  PHI3_FAMILY,
];

/**
 * The family of a config.json object: by `model_type`, else by `architectures`. Throws a
 * RangeError naming what was found and every supported model_type, or a family's own message
 * for a model_type it refuses (Gemma 3's multimodal "gemma3").
 *
 * @example
 * ```ts
 * import { familyOf } from "./families.ts";
 * familyOf({ model_type: "qwen2" }).name; // "Llama"
 * ```
 */
export function familyOf(config: Record<string, unknown>): Family {
  const type = config.model_type;
  if (typeof type === "string") {
    const f = FAMILIES.find((f) => f.modelTypes.includes(type));
    if (f) return f;
    // Own keys only: a hostile model_type such as "constructor" must not find Object's members.
    const refusing = FAMILIES.find((f) =>
      f.refusedModelTypes && Object.hasOwn(f.refusedModelTypes, type)
    );
    if (refusing) throw new RangeError(refusing.refusedModelTypes![type]);
  }
  const archs = Array.isArray(config.architectures) ? config.architectures : [];
  if (type === undefined) {
    const f = FAMILIES.find((f) => archs.some((a) => f.architectures.includes(a)));
    if (f) return f;
  }
  const all = FAMILIES.flatMap((f) => f.modelTypes).map((t) => `"${t}"`).join(", ");
  throw new RangeError(
    `Unsupported model_type "${type}"${
      archs.length ? ` (architectures ${JSON.stringify(archs)})` : ""
    }: tsight loads model_type ${all}`,
  );
}
