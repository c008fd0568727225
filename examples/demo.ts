// `deno task demo`: the tutorial "Multiple Token Generation" on GPT-2 small from the Hugging
// Face cache when present, else on a seeded random GPT-2 (it says which, why, and how to get the
// real one with `hf download`). Downloads nothing.

import { exampleModel } from "./_model.ts";
import { multipleTokenGeneration } from "./multiple_token_generation.ts";

await multipleTokenGeneration(await exampleModel());
