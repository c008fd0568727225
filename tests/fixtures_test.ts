// The fixtures are what their SHA256SUMS say: a fixture edited by accident (or a regenerated one
// whose sums were not updated) fails here instead of as a puzzling numeric mismatch.

import assert from "node:assert/strict";

const ROOT = new URL("./fixtures/", import.meta.url);

async function sha256(path: URL): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

for (const entry of Deno.readDirSync(ROOT)) {
  const sums = new URL(`${entry.name}/SHA256SUMS`, ROOT);
  let text: string;
  try {
    text = Deno.readTextFileSync(sums);
  } catch {
    continue;
  }
  Deno.test(`fixture ${entry.name}: every file matches SHA256SUMS`, async () => {
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    assert.ok(lines.length > 0, "SHA256SUMS lists files");
    for (const line of lines) {
      const [want, name] = line.split(/\s+\*?/);
      assert.equal(await sha256(new URL(`${entry.name}/${name}`, ROOT)), want, name);
    }
  });
}
