#!/usr/bin/env bash
# Imports mod.ts from a temporary folder outside the clone that has no deno.json (by absolute
# path, file URL and http URL), loads tests/fixtures/tiny-gpt2 with only --allow-read --allow-env
# (plus --allow-import for the local http server), generates and checks the tokens.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

write_check() { # $1: how mod.ts is imported, $2: file name
  cat > "$TMP/$2" <<EOF
import { LanguageModel } from "$1";
const fixture = "$ROOT/tests/fixtures/tiny-gpt2";
const ref = JSON.parse(await Deno.readTextFile(fixture + "/reference.json")).cases.eiffel;
const model = await LanguageModel.load(fixture, { device: "cpu" });
const ids = model.tokenizer.encode("The Eiffel Tower is in the city of");
const out = await model.generate(ids, { maxNewTokens: 5 });
const got = [...(await out.get("0, -5:").data())];
const want = ref.generate_greedy.new_tokens;
if (JSON.stringify(ids) !== JSON.stringify(ref.input_ids[0]) || JSON.stringify(got) !== JSON.stringify(want)) {
  throw new Error("tokens " + JSON.stringify(got) + " differ from the fixture's " + JSON.stringify(want));
}
console.log("import $1: greedy tokens " + JSON.stringify(got) + " match the fixture");
EOF
}

cd "$TMP" # no deno.json here or above: nothing resolves through the repository's import map
write_check "$ROOT/mod.ts" path.ts
write_check "file://$ROOT/mod.ts" file_url.ts
deno run --allow-read --allow-env path.ts
deno run --allow-read --allow-env file_url.ts

PORT=$((20000 + RANDOM % 20000))
deno run --allow-net=127.0.0.1:$PORT --allow-read="$ROOT" "$ROOT/.ci/serve.ts" "$ROOT" "$PORT" > "$TMP/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 50); do grep -q listening "$TMP/server.log" 2>/dev/null && break; sleep 0.2; done
write_check "http://127.0.0.1:$PORT/mod.ts" http_url.ts
DENO_DIR="$TMP/deno_dir" deno run --allow-read --allow-env --allow-import=127.0.0.1:$PORT http_url.ts
