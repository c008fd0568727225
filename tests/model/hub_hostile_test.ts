// Hostile Hub answers (issue 8): traversal in every header and in shard names, truncations of
// each kind, content that does not match its hash, a file:// redirect, oversize JSON, a huge
// commit. Each must end in a named error, with nothing written outside the cache and nothing
// partial or mismatched kept inside it (asserted on the file system).

import assert from "node:assert/strict";
import { HubIntegrityError, HubResponseError, resolveModelDir } from "../../model/hub.ts";
import {
  type Answer,
  COMMIT,
  type FakeHub,
  type FakeHubOptions,
  gitSha1,
  ID,
  sha256,
  startHub,
  startRawHub,
  tree,
} from "./_fake_hub.ts";

const CANARY = new TextEncoder().encode("canary: must never change");
const SHARDED = "tiny-org/sharded";

/**
 * Runs one download against `hub` in a sandbox `{root}/cache` next to `{root}/outside/` (which
 * holds a canary) and checks the error, then that nothing changed outside the cache, no partial
 * file is left, and every kept blob's content matches its name.
 */
async function expectRefused(
  hub: FakeHub,
  id: string,
  error: new (...args: never[]) => Error,
  message: RegExp,
  opts: { maxJsonBytes?: number; setup?: (root: string) => Promise<void> } = {},
) {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/outside/blobs`, { recursive: true });
    await Deno.writeFile(`${root}/outside/canary.safetensors`, CANARY);
    await opts.setup?.(root);
    const before = await tree(`${root}/outside`);
    await assert.rejects(
      resolveModelDir(id, {
        endpoint: hub.endpoint,
        cacheDir: `${root}/cache`,
        onProgress: () => {},
        maxJsonBytes: opts.maxJsonBytes,
      }),
      (e: Error) => {
        assert.ok(e instanceof error, `${e.name}: ${e.message}`);
        assert.match(e.message, message);
        assert.ok(e.message.length < 800, "a hostile value is shortened in the message");
        return true;
      },
    );
    assert.deepEqual(await tree(root).then((t) => t.filter((p) => !p.startsWith("cache"))), [
      "outside",
      ...before.map((p) => `outside/${p}`),
    ]);
    assert.deepEqual(await Deno.readFile(`${root}/outside/canary.safetensors`), CANARY);
    const cache = await tree(`${root}/cache`).catch(() => []);
    assert.deepEqual(cache.filter((p) => p.endsWith(".incomplete")), [], "no partial file kept");
    assert.ok(!cache.some((p) => p.includes("/refs/")), "no ref written for a failed download");
    for (const p of cache.filter((p) => /\/blobs\/[0-9a-f]+$/.test(p))) {
      const bytes = await Deno.readFile(`${root}/cache/${p}`);
      const name = p.slice(p.lastIndexOf("/") + 1);
      assert.equal(name.length === 64 ? sha256(bytes) : gitSha1(bytes), name, `blob ${p} verified`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

/** Edits the answers for `file` of one kind (the Hub's resolve answer, or the CDN body). */
function on(file: string, kind: Answer["kind"], edit: (a: Answer) => void): FakeHubOptions {
  return { edit: (a) => a.file === file && a.kind === kind && edit(a) };
}

/** Starts a fake hub with `hub` options and expects the download of `id` to be refused. */
async function refused(
  hub: FakeHubOptions,
  id: string,
  error: new (...args: never[]) => Error,
  message: RegExp,
  opts: { maxJsonBytes?: number } = {},
) {
  const server = await startHub(hub);
  try {
    await expectRefused(server, id, error, message, opts);
  } finally {
    await server.close();
  }
}

const TRAVERSALS = [
  "../../../outside/pwned",
  "../../outside/canary.safetensors",
  "/tmp/absolute",
  "..",
  "a/../../b",
  "x\\..\\y",
  "e".repeat(5000),
];

Deno.test("traversal in ETag, X-Linked-Etag or X-Repo-Commit is refused before any write", async () => {
  let cases = 0;
  for (const bad of TRAVERSALS) {
    const etag = /has ETag ".*", not a sha256/;
    await refused(
      on("config.json", "resolve", (a) => a.headers.etag = `W/"${bad}"`),
      ID,
      HubResponseError,
      etag,
    );
    await refused(
      on("model.safetensors", "resolve", (a) => a.headers["x-linked-etag"] = `"${bad}"`),
      ID,
      HubResponseError,
      etag,
    );
    const commit = /X-Repo-Commit ".*", not a 40-hex-digit commit/;
    await refused(
      on("config.json", "resolve", (a) => a.headers["x-repo-commit"] = bad),
      ID,
      HubResponseError,
      commit,
    );
    // A later file (already asked at the first answer's commit) naming a hostile commit.
    await refused(
      on("tokenizer.json", "resolve", (a) => a.headers["x-repo-commit"] = bad),
      ID,
      HubResponseError,
      commit,
    );
    cases += 4;
  }
  // A well-formed but different commit on a later answer is inconsistent.
  await refused(
    on("tokenizer.json", "resolve", (a) => a.headers["x-repo-commit"] = "f".repeat(40)),
    ID,
    HubResponseError,
    /names commit "f{40}" but "0123456789abcdef0123456789abcdef01234567" was asked for/,
  );
  console.log(`${cases + 1} hostile header cases refused`);
});

Deno.test("shard names that leave the repository or point at other files are refused", async () => {
  const names: unknown[] = [
    "../../../../outside/canary.safetensors", // an existing file outside the cache
    "../../blobs/x.safetensors",
    "/etc/passwd.safetensors",
    "a\\b.safetensors",
    "x\u0000.safetensors",
    "ok/./model.safetensors",
    "config.json", // an existing file of the snapshot, not a shard
    "model.safetensors.index.json",
    `${"s".repeat(300)}.safetensors`,
    `${"d/".repeat(600)}x.safetensors`,
    "",
    42,
    null,
  ];
  for (const name of names) {
    const index = { weight_map: { a: "model-1.safetensors", b: name } };
    const files = {
      [SHARDED]: {
        "model.safetensors.index.json": new TextEncoder().encode(JSON.stringify(index)),
      },
    };
    await refused(
      { files },
      SHARDED,
      HubResponseError,
      /^Index "model.safetensors.index.json" of "tiny-org\/sharded" names file .* only plain relative names/,
    );
  }
  console.log(`${names.length} hostile shard names refused`);
});

/** One raw HTTP answer for config.json (by framing), honest answers for nothing else. */
function rawConfig(body: string, framing: "length" | "chunked" | "close"): string {
  const full = new TextEncoder().encode(body);
  const cut = body.slice(0, body.length >> 1);
  const head = `HTTP/1.1 200 OK\r\nx-repo-commit: ${COMMIT}\r\netag: "${gitSha1(full)}"\r\n`;
  if (framing === "length") return `${head}content-length: ${full.length}\r\n\r\n${cut}`;
  if (framing === "chunked") {
    return `${head}transfer-encoding: chunked\r\n\r\n${cut.length.toString(16)}\r\n${cut}\r\n`;
  }
  return `${head}connection: close\r\n\r\n${cut}`;
}

Deno.test("a body cut short is an error of every framing, and nothing is kept", async () => {
  const config = JSON.stringify({ n_layer: 1, pad: "x".repeat(4000) });
  const expected = {
    length: /stopped after \d+ of \d+ bytes/,
    chunked: /stopped after \d+ of \? bytes/,
    close: /neither Content-Length nor chunked encoding.*cut short or altered/,
  };
  for (const framing of ["length", "chunked", "close"] as const) {
    const raw = startRawHub(() => rawConfig(config, framing));
    try {
      await expectRefused(raw, ID, HubIntegrityError, expected[framing]);
    } finally {
      await raw.close();
    }
  }
  // An LFS body shorter than its Content-Length (the connection stays open, then ends).
  await refused({ cut: true }, ID, HubIntegrityError, /"model.safetensors".*stopped after 1000 of/);
});

Deno.test("content that does not match its ETag's hash is refused and not kept", async () => {
  const flip = (a: Answer) => {
    const body = (a.body as Uint8Array<ArrayBuffer>).slice();
    body[body.length >> 1] ^= 1;
    a.body = body;
  };
  await refused(
    on("model.safetensors", "cdn", flip),
    ID,
    HubIntegrityError,
    /"model.safetensors".* has sha256 "[0-9a-f]{64}" but its ETag is/,
  );
  await refused(
    on("tokenizer.json", "resolve", flip),
    ID,
    HubIntegrityError,
    /"tokenizer.json".* has git-sha1 "[0-9a-f]{40}" but its ETag is/,
  );
  await refused(
    on("model-2.safetensors", "cdn", flip),
    SHARDED,
    HubIntegrityError,
    /"model-2.safetensors".*sha256/,
  );
});

Deno.test("redirects other than http(s) are refused: no local file is copied in", async () => {
  for (
    const location of [
      "file:///etc/passwd",
      "file:../../outside/canary.safetensors",
      "data:,hi",
      "javascript:alert(1)",
    ]
  ) {
    await refused(
      on("model.safetensors", "resolve", (a) => a.headers.location = location),
      ID,
      HubResponseError,
      /redirects to ".*", not an http\(s\) URL/,
    );
  }
});

Deno.test("oversize JSON is refused by its Content-Length or while streaming", async () => {
  // Announced: refused before reading.
  await refused(
    on("config.json", "resolve", (a) => {
      a.headers["content-length"] = String(2 ** 30);
      a.body = new ReadableStream({ start: (c) => c.enqueue(new Uint8Array(10)) });
    }),
    ID,
    HubResponseError,
    /"config.json".* is 1073741824 bytes or more, over the 16777216-byte cap/,
  );
  // Chunked and endless: refused once the cap is passed.
  await refused(
    on("config.json", "resolve", (a) => {
      delete a.headers["content-length"];
      const chunk = new Uint8Array(1 << 20).fill(0x20);
      a.body = new ReadableStream({ pull: (c) => c.enqueue(chunk) });
    }),
    ID,
    HubResponseError,
    /"config.json".* is \d+ bytes or more, over the 16777216-byte cap/,
  );
  // The cap is an option, and applies to every JSON file (tokenizer, index).
  await refused({}, ID, HubResponseError, /"tokenizer.json".* over the 100000-byte cap/, {
    maxJsonBytes: 100_000,
  });
});

Deno.test("a linked folder inside the cache cannot lead a write outside it", async () => {
  const hub = await startHub();
  try {
    // e.g. left by another tool: blobs/ is a link to a folder outside the cache.
    const setup = async (root: string) => {
      await Deno.mkdir(`${root}/cache/models--tiny-org--tiny-gpt2`, { recursive: true });
      await Deno.symlink(
        `${root}/outside/blobs`,
        `${root}/cache/models--tiny-org--tiny-gpt2/blobs`,
      );
    };
    await expectRefused(
      hub,
      ID,
      HubResponseError,
      /^Path ".*\/blobs\/[0-9a-f]{40}" lies outside the cache/,
      {
        setup,
      },
    );
  } finally {
    await hub.close();
  }
});
