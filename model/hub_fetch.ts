// Downloads one repository file into huggingface_hub's cache layout and verifies what arrives:
// http(s) redirects only, the token only to the Hub's origin, every header that names a path
// validated, length and hash checked while streaming. Keeps nothing partial or mismatched.

import { createHash } from "node:crypto";
import {
  HubAuthError,
  HubError,
  HubIntegrityError,
  HubNotFoundError,
  HubResponseError,
} from "./errors.ts";
import {
  checkCommit,
  checkEtag,
  checkInside,
  checkRepoFile,
  type EtagKind,
  quote,
} from "./hub_check.ts";
import { permissionError } from "./hub_env.ts";
import type { ProgressSink } from "./hub_progress.ts";

/** Largest JSON file read from the Hub: tokenizer.json of large vocabularies is ~20 MB. */
export const MAX_TOKENIZER_JSON_BYTES = 64 * 2 ** 20;
/** Largest other JSON file (config, tokenizer_config, index); real ones are kilobytes. */
export const MAX_JSON_BYTES = 16 * 2 ** 20;
/** Largest non-LFS blob: the Hub stores files over 10 MB in LFS, and these are hashed in memory. */
const MAX_GIT_BLOB_BYTES = 64 * 2 ** 20;
const MAX_REDIRECTS = 10;

/** One repository download in progress: where from, where to, and what is known so far. */
export interface Download {
  /** Repository id as asked, e.g. `gpt2`. */
  id: string;
  /** Revision as asked. */
  revision: string;
  /** Hub URL without trailing slash. */
  endpoint: string;
  /** Bearer token, sent only to the endpoint's origin. */
  token?: string;
  /** The cache root; nothing is written outside it. */
  cacheRoot: string;
  /** `models--...` folder inside the cache root. */
  repoDir: string;
  /** The commit the first answer named; later requests ask for it. */
  commit?: string;
  /** Receives download progress. */
  progress: ProgressSink;
  /** Cap on every JSON file, overriding the defaults above. */
  maxJsonBytes?: number;
}

function capOf(d: Download, file: string, kind: EtagKind): number {
  if (file.endsWith(".json")) {
    return d.maxJsonBytes ??
      (file === "tokenizer.json" ? MAX_TOKENIZER_JSON_BYTES : MAX_JSON_BYTES);
  }
  return kind === "git-sha1" ? MAX_GIT_BLOB_BYTES : Infinity;
}

/** What the Hub said about a file: its commit, blob ETag and, for LFS files, its size. */
interface Meta {
  res: Response;
  url: string;
  commit?: string;
  etag?: string | null;
  linkedSize?: string | null;
}

/** Follows redirects by hand: http(s) only, the token only to the Hub's origin. */
async function request(d: Download, file: string, url: string): Promise<Meta> {
  const hubOrigin = new URL(d.endpoint).origin;
  const meta: Partial<Meta> = {};
  let current = url;
  for (let hop = 0;; hop++) {
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (d.token && new URL(current).origin === hubOrigin) {
      headers.authorization = `Bearer ${d.token}`;
    }
    let res: Response;
    try {
      res = await fetch(current, { headers, redirect: "manual" });
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        throw permissionError(
          e,
          `Downloading "${file}" of "${d.id}" from "${current}"`,
          `run with --allow-net, or download the model once (e.g. "hf download ${d.id}") and load it with offline: true`,
        );
      }
      throw new HubError(
        `Cannot reach "${current}" (${
          (e as Error).message
        }): check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use cached files only`,
        { status: 0, url: current, cause: e },
      );
    }
    // Metadata comes from the Hub's own answer (often a redirect), not from the CDN's.
    if (meta.commit === undefined && res.headers.has("x-repo-commit")) {
      meta.commit = checkCommit(res.headers.get("x-repo-commit"), current, res.status);
      meta.etag = res.headers.get("x-linked-etag") ?? res.headers.get("etag");
      meta.linkedSize = res.headers.get("x-linked-size");
    }
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || !location) return { ...meta, res, url: current };
    await res.body?.cancel();
    if (hop === MAX_REDIRECTS) {
      throw new HubError(`Too many redirects from "${url}"`, { status: res.status, url });
    }
    let next: URL;
    try {
      next = new URL(location, current);
    } catch {
      next = new URL("invalid:");
    }
    if (next.protocol !== "https:" && next.protocol !== "http:") {
      throw new HubResponseError(
        `Answer for "${current}" redirects to ${
          quote(location)
        }, not an http(s) URL: only http and https redirects are followed; check HF_ENDPOINT`,
        { status: res.status, url: current },
      );
    }
    current = next.href;
  }
}

/**
 * Downloads `file` into `blobs/{etag}` and links it from `snapshots/{commit}/{file}`; false for
 * an optional file the Hub does not have.
 */
export async function fetchFile(d: Download, file: string, optional: boolean): Promise<boolean> {
  checkRepoFile(file, `Repository "${d.id}"`);
  const rev = encodeURIComponent(d.commit ?? d.revision);
  const path = file.split("/").map(encodeURIComponent).join("/");
  const url = `${d.endpoint}/${d.id}/resolve/${rev}/${path}`;
  const { res, ...meta } = await request(d, file, url);
  if (
    res.status === 404 && optional &&
    !/^(Repository|Revision)NotFound$/.test(res.headers.get("x-error-code") ?? "")
  ) {
    await res.body?.cancel();
    if (d.commit) await writeInside(d, `${d.repoDir}/.no_exist/${d.commit}/${file}`, "");
    return false;
  }
  if (!res.ok) throw await httpError(d, file, url, res);
  try {
    const commit = checkCommit(meta.commit ?? null, url, res.status);
    if (d.commit !== undefined && commit !== d.commit) {
      throw new HubResponseError(
        `Answer for "${url}" names commit "${commit}" but "${d.commit}" was asked for: the server is inconsistent; check HF_ENDPOINT`,
        { status: res.status, url },
      );
    }
    const { etag, kind } = checkEtag(meta.etag ?? res.headers.get("etag"), url, res.status);
    d.commit = commit;
    const blob = `${d.repoDir}/blobs/${etag}`;
    await checkInside(d.cacheRoot, blob);
    if (await isFile(blob)) await res.body?.cancel();
    else await saveBody(d, { file, url: meta.url, res, blob, etag, kind, linked: meta.linkedSize });
    await link(d, blob, `${d.repoDir}/snapshots/${d.commit}/${file}`, file);
    return true;
  } finally {
    await res.body?.cancel().catch(() => {});
  }
}

async function httpError(d: Download, file: string, url: string, res: Response): Promise<Error> {
  await res.body?.cancel();
  const at = `"${file}" of repository "${d.id}" at revision "${d.revision}" (${url})`;
  if (res.status === 401 || res.status === 403) {
    const fix = d.token
      ? "the token sent lacks access: accept the model's terms on its Hub page or use another token"
      : 'check the id; a private or gated model needs a token ("hf auth login", HF_TOKEN or the token option)';
    return new HubAuthError(`HTTP ${res.status} for ${at}: ${fix}`, { status: res.status, url });
  }
  if (res.status === 404) {
    return new HubNotFoundError(
      `Not found (HTTP 404): ${at}: check the model id and revision on the Hub`,
      { status: 404, url },
    );
  }
  return new HubError(`HTTP ${res.status} for ${at}: try again later`, { status: res.status, url });
}

interface Body {
  file: string;
  url: string;
  res: Response;
  blob: string;
  etag: string;
  kind: EtagKind;
  linked?: string | null;
}

/** The size the answer promises: Content-Length (when not re-encoded), else X-Linked-Size. */
function promisedSize(b: Body): number | undefined {
  const length = b.res.headers.has("content-encoding") ? null : b.res.headers.get("content-length");
  for (const v of [length, b.linked]) {
    if (v !== null && v !== undefined && /^\d{1,15}$/.test(v)) return Number(v);
  }
  return undefined;
}

/**
 * Streams into `{blob}.incomplete`, hashing as it goes, and renames it only once every byte has
 * arrived and the hash equals the ETag; on any failure the partial file is deleted.
 */
async function saveBody(d: Download, b: Body) {
  const { file, url, res } = b;
  const total = promisedSize(b);
  const cap = capOf(d, file, b.kind);
  const tooBig = (n: number) =>
    new HubResponseError(
      `File "${file}" from "${url}" is ${n} bytes or more, over the ${cap}-byte cap for such files: the server is broken or hostile; nothing was kept`,
      { status: res.status, url },
    );
  if (total !== undefined && total > cap) throw tooBig(total);
  await mkdirInside(d, b.blob.slice(0, b.blob.lastIndexOf("/")));
  const tmp = `${b.blob}.incomplete`;
  await checkInside(d.cacheRoot, tmp);
  const hash = createHash(b.kind === "sha256" ? "sha256" : "sha1");
  const held: Uint8Array[] = []; // git's sha1 needs the length first: small blobs are held
  let loaded = 0;
  d.progress.start(file, total);
  const out = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    try {
      for await (const chunk of res.body ?? []) {
        loaded += chunk.length;
        if (loaded > cap) throw tooBig(loaded);
        for (let off = 0; off < chunk.length;) off += await out.write(chunk.subarray(off));
        if (b.kind === "sha256") hash.update(chunk);
        else held.push(chunk);
        d.progress.update(file, loaded, total);
      }
    } catch (e) {
      if (e instanceof HubError) throw e;
      throw new HubIntegrityError(
        `Download of "${file}" from "${url}" stopped after ${loaded} of ${total ?? "?"} bytes (${
          (e as Error).message
        }): nothing was kept; run again to restart it`,
        { status: res.status, url, cause: e },
      );
    } finally {
      out.close();
    }
    if (total !== undefined && loaded !== total) {
      throw new HubIntegrityError(
        `Download of "${file}" from "${url}" stopped after ${loaded} of ${total} bytes (the body ended early): nothing was kept; run again to restart it`,
        { status: res.status, url },
      );
    }
    if (b.kind === "git-sha1") {
      hash.update(`blob ${loaded}\0`);
      for (const chunk of held) hash.update(chunk);
    }
    const got = hash.digest("hex");
    if (got !== b.etag) {
      const framing = total === undefined && res.headers.get("transfer-encoding") !== "chunked"
        ? ` (the answer had neither Content-Length nor chunked encoding, so a closed connection may have cut it after ${loaded} bytes)`
        : "";
      throw new HubIntegrityError(
        `Content of "${file}" from "${url}" has ${b.kind} "${got}" but its ETag is "${b.etag}"${framing}: the download was cut short or altered; nothing was kept; run again, and if it repeats check HF_ENDPOINT or any proxy`,
        { status: res.status, url },
      );
    }
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  d.progress.done(file, loaded);
  await Deno.rename(tmp, b.blob);
}

/** A relative symlink `snapshots/{commit}/{file}` -> `../../blobs/{etag}`, as Python makes. */
async function link(d: Download, blob: string, pointer: string, file: string) {
  await mkdirInside(d, pointer.slice(0, pointer.lastIndexOf("/")));
  await checkInside(d.cacheRoot, pointer);
  await Deno.remove(pointer).catch(() => {});
  const up = "../".repeat(2 + file.split("/").length - 1);
  try {
    await Deno.symlink(`${up}blobs/${blob.slice(blob.lastIndexOf("/") + 1)}`, pointer);
  } catch {
    await Deno.copyFile(blob, pointer); // e.g. Windows without symlink rights
  }
}

/** Creates `dir` (inside the cache) and checks again once it exists, links resolved. */
async function mkdirInside(d: Download, dir: string): Promise<void> {
  await checkInside(d.cacheRoot, `${dir}/x`);
  await Deno.mkdir(dir, { recursive: true });
  await checkInside(d.cacheRoot, `${dir}/x`);
}

/** Writes a small text file inside the cache (refs, `.no_exist` markers). */
export async function writeInside(d: Download, path: string, text: string): Promise<void> {
  await mkdirInside(d, path.slice(0, path.lastIndexOf("/")));
  await checkInside(d.cacheRoot, path);
  await Deno.writeTextFile(path, text);
}

async function isFile(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isFile ?? false;
}
