// Every decoder family's fixture through the table-driven checks of _family_fixture.ts, on
// every device. Adding a family's fixture is one line here.

import { familyFixtureTests } from "./_family_fixture.ts";

familyFixtureTests({ name: "tiny-llama", layerTuple: false });
familyFixtureTests({ name: "tiny-qwen2", layerTuple: false });
familyFixtureTests({ name: "tiny-qwen3", layerTuple: false });
familyFixtureTests({ name: "tiny-mistral", layerTuple: false });
familyFixtureTests({ name: "tiny-gemma2", layerTuple: true });
familyFixtureTests({ name: "tiny-gemma3", layerTuple: true });
familyFixtureTests({ name: "tiny-gpt-neox", layerTuple: true });
familyFixtureTests({ name: "tiny-gpt-neox-serial", layerTuple: true });
familyFixtureTests({ name: "tiny-olmo2", layerTuple: false });
familyFixtureTests({ name: "tiny-phi3", layerTuple: false });
