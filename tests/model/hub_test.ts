// Tests model/hub.ts against a local fake Hub: cache layout, offline reuse, redirects, tokens,
// interrupted downloads and error messages. No real network.

import assert from "node:assert/strict";
import {
  HubAuthError,
  hubCacheDir,
  HubError,
  HubNotFoundError,
  HubOfflineError,
  repoCacheDir,
  resolveModelDir,
} from "../../model/hub.ts";
import { writeSafetensors } from "../../model/safetensors.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const ID = "tiny-org/tiny-gpt2";

async function read(path: string): Promise<Uint8Array<ArrayBuffer>> {
  return await Deno.readFile(new URL(path, FIXTURES));
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...hash].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const shard = (name: string) =>
  writeSafetensors({ [name]: { dtype: "F32", shape: [2], data: [1, 2] } });

/** Repositories served: id -> file -> bytes. Large (LFS) files are the *.safetensors. */
async function repos(): Promise<Record<string, Record<string, Uint8Array<ArrayBuffer>>>> {
  const config = await read("tiny-gpt2/config.json");
  const tokenizer = await read("gpt2-tokenizer/tokenizer.json");
  const index = { weight_map: { a: "model-1.safetensors", b: "model-2.safetensors" } };
  return {
    [ID]: {
      "config.json": config,
      "tokenizer.json": tokenizer,
      "tokenizer_config.json": await read("gpt2-tokenizer/tokenizer_config.json"),
      "model.safetensors": await read("tiny-gpt2/model.safetensors"),
    },
    "tiny-org/sharded": {
      "config.json": config,
      "tokenizer.json": tokenizer,
      "model.safetensors.index.json": new TextEncoder().encode(JSON.stringify(index)),
      "model-1.safetensors": shard("a"),
      "model-2.safetensors": shard("b"),
    },
    "tiny-org/empty": {},
  };
}

interface FakeHub {
  endpoint: string;
  requests: { path: string; auth: string | null }[];
  close(): Promise<void>;
}

/** A Hub look-alike: /{id}/resolve/{rev}/{file}, LFS files 302 to /cdn/{sha256}. */
async function startHub(opts: { cut?: boolean } = {}): Promise<FakeHub> {
  const data = await repos();
  const blobs = new Map<string, Uint8Array<ArrayBuffer>>();
  const requests: FakeHub["requests"] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    requests.push({ path, auth: req.headers.get("authorization") });
    const cdn = path.match(/^\/cdn\/(\w+)$/);
    if (cdn && blobs.has(cdn[1])) {
      const body = blobs.get(cdn[1])!;
      const length = { "content-length": String(body.length) };
      if (!opts.cut) return new Response(body, { headers: length });
      const stream = new ReadableStream({
        start: (c) => c.enqueue(body.subarray(0, 1000)),
        pull: (c) => new Promise((r) => setTimeout(() => r(c.close()), 10)),
      });
      return new Response(stream, { headers: length });
    }
    const m = path.match(/^\/(.+)\/resolve\/([^/]+)\/(.+)$/);
    const repo = m && data[m[1]];
    if (!m || !repo) {
      return new Response("Repository not found", {
        status: 401,
        headers: { "x-error-code": "RepositoryNotFound" },
      });
    }
    const file = repo[m[3]];
    const headers: Record<string, string> = { "x-repo-commit": COMMIT };
    if (!file) {
      return new Response("Entry not found", {
        status: 404,
        headers: { ...headers, "x-error-code": "EntryNotFound" },
      });
    }
    const sha = await sha256(file);
    if (m[3].endsWith(".safetensors")) {
      blobs.set(sha, file);
      const lfs = {
        ...headers,
        location: `/cdn/${sha}`,
        "x-linked-etag": `"${sha}"`,
        etag: '"redirect"',
      };
      return new Response(null, { status: 302, headers: lfs });
    }
    return new Response(file, {
      headers: {
        ...headers,
        etag: `W/"${sha.slice(0, 40)}"`,
        "content-length": String(file.length),
      },
    });
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}

/** Runs `fn` with environment variables set, restoring the old values after. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
}

async function list(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("a download fills Python's cache layout and loads offline afterwards", async () => {
  const cache = await Deno.makeTempDir();
  const hub = await startHub();
  try {
    const progress: { file: string; loaded: number; total?: number }[] = [];
    const dir = await withEnv(
      { HF_TOKEN: "hf_secret", HF_HUB_CACHE: cache },
      () => resolveModelDir(ID, { endpoint: hub.endpoint, onProgress: (p) => progress.push(p) }),
    );
    const repoDir = `${cache}/models--tiny-org--tiny-gpt2`;
    assert.equal(dir, `${repoDir}/snapshots/${COMMIT}`);
    assert.equal(await Deno.readTextFile(`${repoDir}/refs/main`), COMMIT);
    const files = await repos();
    const shas = await Promise.all(Object.values(files[ID]).map(sha256));
    const etags = [shas[0].slice(0, 40), shas[1].slice(0, 40), shas[2].slice(0, 40), shas[3]];
    assert.deepEqual(await list(`${repoDir}/blobs`), [...etags].sort());
    assert.deepEqual(await list(dir), Object.keys(files[ID]).sort());
    for (const [i, name] of Object.keys(files[ID]).entries()) {
      assert.ok((await Deno.lstat(`${dir}/${name}`)).isSymlink);
      assert.equal(await Deno.readLink(`${dir}/${name}`), `../../blobs/${etags[i]}`);
      assert.deepEqual(await Deno.readFile(`${dir}/${name}`), files[ID][name]);
    }
    const size = files[ID]["model.safetensors"].length;
    assert.deepEqual(progress.at(-1), { file: "model.safetensors", loaded: size, total: size });
    assert.ok(hub.requests.some((r) => r.path.startsWith("/cdn/")));
    assert.ok(hub.requests.every((r) => r.auth === "Bearer hf_secret"));
    // Later files are asked for at the commit the first answer named.
    assert.ok(hub.requests.some((r) => r.path === `/${ID}/resolve/${COMMIT}/model.safetensors`));

    await hub.close();
    assert.equal(await resolveModelDir(ID, { cacheDir: cache, offline: true }), dir);
    // Online but complete: the cache answers and the dead endpoint is never tried.
    assert.equal(await resolveModelDir(ID, { cacheDir: cache, endpoint: hub.endpoint }), dir);
    await withEnv({ HF_HUB_OFFLINE: "1" }, async () => {
      assert.equal(await resolveModelDir(ID, { cacheDir: cache }), dir);
      await assert.rejects(resolveModelDir("tiny-org/other", { cacheDir: cache }), (e: Error) => {
        assert.ok(e instanceof HubOfflineError);
        assert.match(e.message, /"tiny-org\/other".*models--tiny-org--other.*offline/);
        assert.match(e.message, /huggingface-cli download tiny-org\/other/);
        return true;
      });
    });
  } finally {
    await hub.close().catch(() => {});
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("sharded checkpoints download the index and every shard", async () => {
  const cache = await Deno.makeTempDir();
  const hub = await startHub();
  try {
    const dir = await resolveModelDir("tiny-org/sharded", {
      endpoint: hub.endpoint,
      cacheDir: cache,
      token: "t",
    });
    assert.deepEqual(await list(dir), [
      "config.json",
      "model-1.safetensors",
      "model-2.safetensors",
      "model.safetensors.index.json",
      "tokenizer.json",
    ]);
    const repoDir = `${cache}/models--tiny-org--sharded`;
    assert.deepEqual(await list(`${repoDir}/.no_exist/${COMMIT}`), [
      "model.safetensors",
      "tokenizer_config.json",
    ]);
    await hub.close();
    assert.equal(
      await resolveModelDir("tiny-org/sharded", { cacheDir: cache, offline: true }),
      dir,
    );
  } finally {
    await hub.close().catch(() => {});
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("an interrupted download leaves no blob and a rerun completes", async () => {
  const cache = await Deno.makeTempDir();
  let hub = await startHub({ cut: true });
  try {
    const opts = { endpoint: hub.endpoint, cacheDir: cache, onProgress: () => {} };
    await assert.rejects(resolveModelDir(ID, opts), (e: Error) => {
      assert.ok(e instanceof HubError);
      assert.match(e.message, /"model.safetensors".*stopped after 1000 of \d+ bytes.*run again/);
      return true;
    });
    const repoDir = `${cache}/models--tiny-org--tiny-gpt2`;
    const sha = await sha256((await repos())[ID]["model.safetensors"]);
    const blobs = await list(`${repoDir}/blobs`);
    assert.ok(!blobs.includes(sha), "no finished blob");
    assert.ok(blobs.every((b) => b.length === 40 || b.endsWith(".incomplete")));
    assert.ok(!(await list(`${repoDir}/snapshots/${COMMIT}`)).includes("model.safetensors"));
    await assert.rejects(Deno.stat(`${repoDir}/refs/main`), Deno.errors.NotFound);
    await hub.close();
    hub = await startHub();
    const dir = await resolveModelDir(ID, { ...opts, endpoint: hub.endpoint });
    assert.equal(
      (await Deno.stat(`${dir}/model.safetensors`)).size,
      (await repos())[ID]["model.safetensors"].length,
    );
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("401 and 404 name the repository, the URL and the fix", async () => {
  const cache = await Deno.makeTempDir();
  const hub = await startHub();
  try {
    const opts = { endpoint: hub.endpoint, cacheDir: cache };
    await assert.rejects(resolveModelDir("nobody/missing", opts), (e: Error) => {
      assert.ok(e instanceof HubAuthError);
      assert.equal(e.status, 401);
      assert.match(
        e.message,
        /"nobody\/missing".*\/nobody\/missing\/resolve\/main\/config.json.*HF_TOKEN/,
      );
      return true;
    });
    await assert.rejects(resolveModelDir("tiny-org/empty", opts), (e: Error) => {
      assert.ok(e instanceof HubNotFoundError);
      assert.match(e.message, /"config.json" of repository "tiny-org\/empty" at revision "main"/);
      assert.match(e.message, /check the model id and revision/);
      return true;
    });
    await assert.rejects(
      resolveModelDir("./no/such/dir", opts),
      /neither a directory nor a Hub id/,
    );
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("an existing local directory is used as is", async () => {
  const dir = new URL("tiny-gpt2", FIXTURES).pathname;
  assert.equal(await resolveModelDir(dir, { offline: true }), dir);
});

Deno.test("the cache root follows HF_HUB_CACHE, then HF_HOME, then ~/.cache", async () => {
  const unset = { HF_HUB_CACHE: "", HF_HOME: "", XDG_CACHE_HOME: "", HOME: "/home/u" };
  await withEnv(unset, () => {
    assert.equal(hubCacheDir(), "/home/u/.cache/huggingface/hub");
    return Promise.resolve();
  });
  await withEnv({ ...unset, HF_HOME: "~/hf" }, () => {
    assert.equal(hubCacheDir(), "/home/u/hf/hub");
    return Promise.resolve();
  });
  await withEnv({ ...unset, HF_HOME: "/x", HF_HUB_CACHE: "/y" }, () => {
    assert.equal(hubCacheDir(), "/y");
    return Promise.resolve();
  });
  assert.equal(repoCacheDir("gpt2", "/c"), "/c/models--gpt2");
  assert.equal(repoCacheDir("openai-community/gpt2", "/c"), "/c/models--openai-community--gpt2");
});
