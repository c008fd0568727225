// Tests model/hub.ts against a local fake Hub (tests/model/_fake_hub.ts): cache layout, offline
// reuse, redirects, tokens, legacy ids, progress, permissions and error messages. No real network.
// Hostile answers are in hub_hostile_test.ts.

import assert from "node:assert/strict";
import {
  cacheAliases,
  HubAuthError,
  hubCacheDir,
  HubIntegrityError,
  HubNotFoundError,
  HubOfflineError,
  hubToken,
  repoCacheDir,
  resolveModelDir,
} from "../../model/hub.ts";
import { formatBytes, progressSink } from "../../model/hub_progress.ts";
import { COMMIT, gitSha1, ID, list, repos, sha256, startHub, withEnv } from "./_fake_hub.ts";

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
    const [config, tok, tokConfig, weights] = Object.values(files[ID]);
    const etags = [gitSha1(config), gitSha1(tok), gitSha1(tokConfig), sha256(weights)];
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
        assert.match(e.message, /"tiny-org\/other".*not in the Hugging Face cache/);
        assert.match(e.message, /models--tiny-org--other.*HF_HUB_OFFLINE is set/);
        assert.match(
          e.message,
          /get it once with "hf download tiny-org\/other" with HF_HUB_OFFLINE unset$/,
        );
        return true;
      });
    });
    // Offline because the caller asked, not the environment: the message says so.
    await withEnv({ HF_HUB_OFFLINE: "" }, async () => {
      await assert.rejects(
        resolveModelDir("tiny-org/other", { cacheDir: cache, offline: true }),
        (e: Error) => {
          assert.ok(e instanceof HubOfflineError);
          assert.doesNotMatch(e.message, /HF_HUB_OFFLINE/);
          assert.match(
            e.message,
            /does not download \(offline: true\): get it once with "hf download tiny-org\/other"/,
          );
          return true;
        },
      );
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
      onProgress: () => {},
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
      assert.ok(e instanceof HubIntegrityError);
      assert.match(e.message, /"model.safetensors".*stopped after 1000 of \d+ bytes.*run again/);
      return true;
    });
    const repoDir = `${cache}/models--tiny-org--tiny-gpt2`;
    const sha = sha256((await repos())[ID]["model.safetensors"]);
    const blobs = await list(`${repoDir}/blobs`);
    assert.ok(!blobs.includes(sha), "no finished blob");
    assert.ok(blobs.every((b) => b.length === 40), "only the small files' blobs, no .incomplete");
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
  const dir = new URL("../fixtures/tiny-gpt2", import.meta.url).pathname;
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

Deno.test("the token goes to the Hub's origin only, never to another origin's CDN", async () => {
  const cache = await Deno.makeTempDir();
  const hub = await startHub({ otherCdn: true });
  try {
    await resolveModelDir(ID, {
      endpoint: hub.endpoint,
      cacheDir: cache,
      token: "hf_secret",
      onProgress: () => {},
    });
    const hubOrigin = new URL(hub.endpoint).origin;
    const cdn = hub.requests.filter((r) => r.origin !== hubOrigin);
    assert.ok(cdn.length > 0, "the weights came from the other origin");
    assert.ok(cdn.every((r) => r.auth === null), "no token to the CDN");
    assert.ok(
      hub.requests.filter((r) => r.origin === hubOrigin).every((r) =>
        r.auth === "Bearer hf_secret"
      ),
    );
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("legacy ids: gpt2 and openai-community/gpt2 find each other's cache entry", async () => {
  assert.deepEqual(cacheAliases("gpt2"), ["gpt2", "openai-community/gpt2"]);
  assert.deepEqual(cacheAliases("openai-community/gpt2"), ["openai-community/gpt2", "gpt2"]);
  assert.deepEqual(cacheAliases("someone/gpt2"), ["someone/gpt2"]);
  assert.deepEqual(cacheAliases("constructor"), ["constructor"]);
  const cache = await Deno.makeTempDir();
  const hub = await startHub();
  try {
    // As from_pretrained("gpt2") does: the Hub redirects to the new id, the cache keeps the old.
    const dir = await resolveModelDir("gpt2", {
      endpoint: hub.endpoint,
      cacheDir: cache,
      onProgress: () => {},
    });
    assert.equal(dir, `${cache}/models--gpt2/snapshots/${COMMIT}`);
    assert.ok(
      hub.requests.some((r) => r.path === "/openai-community/gpt2/resolve/main/config.json"),
    );
    await hub.close();
    const offline = { cacheDir: cache, offline: true };
    assert.equal(await resolveModelDir("openai-community/gpt2", offline), dir);
    assert.equal(await resolveModelDir("gpt2", offline), dir);
    // And the other way: an entry under the new id serves the legacy one.
    await Deno.rename(`${cache}/models--gpt2`, `${cache}/models--openai-community--gpt2`);
    assert.equal(
      await resolveModelDir("gpt2", offline),
      `${cache}/models--openai-community--gpt2/snapshots/${COMMIT}`,
    );
    await assert.rejects(resolveModelDir("someone/gpt2", offline), HubOfflineError);
  } finally {
    await hub.close().catch(() => {});
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test("the token is found as huggingface_hub finds it: HF_TOKEN, then the login file", async () => {
  const home = await Deno.makeTempDir();
  const clear = {
    HF_TOKEN: "",
    HUGGING_FACE_HUB_TOKEN: "",
    HF_TOKEN_PATH: "",
    HF_HUB_DISABLE_IMPLICIT_TOKEN: "",
    HF_HOME: home,
  };
  try {
    await withEnv(clear, async () => {
      assert.equal(await hubToken(), undefined);
      await Deno.writeTextFile(`${home}/token`, "  hf_from_login\r\n"); // as `hf auth login`
      assert.equal(await hubToken(), "hf_from_login");
      await Deno.writeTextFile(`${home}/other`, "hf_from_path\n");
      await withEnv({ HF_TOKEN_PATH: `${home}/other` }, async () => {
        assert.equal(await hubToken(), "hf_from_path");
      });
      await withEnv({ HUGGING_FACE_HUB_TOKEN: "hf_legacy" }, async () => {
        assert.equal(await hubToken(), "hf_legacy");
      });
      await withEnv({ HF_TOKEN: "hf_env", HUGGING_FACE_HUB_TOKEN: "hf_legacy" }, async () => {
        assert.equal(await hubToken(), "hf_env");
      });
      await withEnv({ HF_HUB_DISABLE_IMPLICIT_TOKEN: "1" }, async () => {
        assert.equal(await hubToken(), undefined);
      });
      await Deno.writeTextFile(`${home}/token`, " \n");
      assert.equal(await hubToken(), undefined, "an empty file is no token");
      // The file's token is what a download sends.
      await Deno.writeTextFile(`${home}/token`, "hf_from_login\n");
      const hub = await startHub();
      const cache = `${home}/hub`;
      try {
        await resolveModelDir(ID, {
          endpoint: hub.endpoint,
          cacheDir: cache,
          onProgress: () => {},
        });
        assert.ok(hub.requests.every((r) => r.auth === "Bearer hf_from_login"));
      } finally {
        await hub.close();
      }
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("progress: events from 0 to the size, a bar on a terminal, lines elsewhere", async () => {
  const cache = await Deno.makeTempDir();
  const hub = await startHub();
  try {
    const events: { file: string; loaded: number; total?: number }[] = [];
    await resolveModelDir(ID, {
      endpoint: hub.endpoint,
      cacheDir: cache,
      onProgress: (p) => events.push(p),
    });
    const files = await repos();
    for (const [file, bytes] of Object.entries(files[ID])) {
      const mine = events.filter((e) => e.file === file);
      assert.deepEqual(mine[0], { file, loaded: 0, total: bytes.length });
      assert.deepEqual(mine.at(-1), { file, loaded: bytes.length, total: bytes.length });
      assert.ok(mine.every((e, i) => i === 0 || e.loaded >= mine[i - 1].loaded));
    }
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }

  let t = 0;
  let text = "";
  const lines = progressSink({ terminal: false, write: (s) => text += s, now: () => t });
  lines.start("model.safetensors", 548_105_171);
  t = 500;
  lines.update("model.safetensors", 1e8, 548_105_171);
  t = 2000;
  lines.done("model.safetensors", 548_105_171);
  assert.equal(
    text,
    "Downloading model.safetensors (548.1 MB)\nDownloaded model.safetensors: 548.1 MB in 2.0s (274.1 MB/s)\n",
  );

  t = 0;
  text = "";
  const bar = progressSink({ terminal: true, write: (s) => text += s, now: () => t });
  bar.start("model.safetensors", 2e8);
  t = 1000;
  bar.update("model.safetensors", 5e7, 2e8);
  t = 1050;
  bar.update("model.safetensors", 6e7, 2e8); // within 100 ms: not redrawn
  t = 4000;
  bar.done("model.safetensors", 2e8);
  assert.equal(
    text,
    "\rmodel.safetensors [######                  ] 25% 50.0 MB/200.0 MB 50.0 MB/s ETA 3.0s\x1b[K" +
      "\rmodel.safetensors: 200.0 MB in 4.0s (50.0 MB/s)\x1b[K\n",
  );
  assert.deepEqual([formatBytes(532), formatBytes(1500), formatBytes(2.5e9)], [
    "532 B",
    "1.5 kB",
    "2.5 GB",
  ]);
});

Deno.test({
  name: "without --allow-env the error names the flag instead of ignoring HF_HOME",
  permissions: { env: false, read: true, write: true, net: ["127.0.0.1"] },
  async fn() {
    await assert.rejects(resolveModelDir("tiny-org/x"), (e: Error) => {
      assert.ok(e instanceof Deno.errors.NotCapable);
      assert.match(e.message, /^Reading the environment variable "HF_HUB_CACHE" needs --allow-env/);
      assert.match(e.message, /HF_HOME/);
      return true;
    });
    assert.throws(() => hubCacheDir(), /needs --allow-env/);
  },
});

Deno.test({
  name: "without --allow-net the error names the flag, not the network",
  permissions: { env: true, read: true, write: true, net: false },
  async fn() {
    const cache = await Deno.makeTempDir();
    try {
      const opts = {
        endpoint: "http://127.0.0.1:59999",
        cacheDir: cache,
        token: "t",
        offline: false,
      };
      await assert.rejects(resolveModelDir(ID, opts), (e: Error) => {
        assert.ok(e instanceof Deno.errors.NotCapable);
        assert.match(
          e.message,
          /^Downloading "config.json" of "tiny-org\/tiny-gpt2".*needs --allow-net/,
        );
        assert.match(e.message, /hf download tiny-org\/tiny-gpt2/);
        return true;
      });
    } finally {
      await Deno.remove(cache, { recursive: true });
    }
  },
});

Deno.test({
  name: "without --allow-read the cache lookup names the flag",
  permissions: { env: true, read: false, write: false, net: false },
  async fn() {
    await assert.rejects(
      resolveModelDir(ID, { cacheDir: "/nonexistent-cache", offline: true }),
      (e: Error) => {
        assert.ok(e instanceof Deno.errors.NotCapable);
        assert.match(
          e.message,
          /^Reading "\/nonexistent-cache\/models--tiny-org--tiny-gpt2\/refs\/main" needs --allow-read/,
        );
        return true;
      },
    );
    await assert.rejects(
      resolveModelDir("./some/dir"),
      /Reading the model directory ".\/some\/dir" needs --allow-read/,
    );
  },
});
