// Finds a model's files: a local directory, or a Hub download cached in huggingface_hub's layout
// (blobs/, snapshots/, refs/) so Python and tsight share one cache. Parses none of the files.

import { HubAuthError, HubError, HubNotFoundError, HubOfflineError } from "./errors.ts";

export { HubAuthError, HubError, HubNotFoundError, HubOfflineError } from "./errors.ts";

/** How far one file's download has come; `total` is undefined when the server sends no length. */
export interface DownloadProgress {
  /** Path of the file in the repository, e.g. `model.safetensors`. */
  file: string;
  /** Bytes received so far. */
  loaded: number;
  /** Bytes expected, from Content-Length. */
  total?: number;
}

/** Options of {@link resolveModelDir}; each falls back to its environment variable. */
export interface ResolveModelOptions {
  /** Branch, tag or commit hash; default "main". */
  revision?: string;
  /** Hub URL; default `$HF_ENDPOINT`, else "https://huggingface.co". */
  endpoint?: string;
  /** Cache root; default `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub`. */
  cacheDir?: string;
  /** Access token sent as `Authorization: Bearer`; default `$HF_TOKEN`. */
  token?: string;
  /** Never use the network; default `$HF_HUB_OFFLINE`. */
  offline?: boolean;
  /** Called as bytes arrive; without it a bar is drawn when stderr is a terminal. */
  onProgress?: (progress: DownloadProgress) => void;
}

const WEIGHTS = "model.safetensors";
const INDEX = "model.safetensors.index.json";
const encoder = new TextEncoder();

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: behave as if unset
  }
}

function expandHome(path: string): string {
  return path.startsWith("~") ? (env("HOME") ?? env("USERPROFILE") ?? "~") + path.slice(1) : path;
}

/**
 * The Hub cache root, resolved as huggingface_hub does.
 *
 * @example
 * ```ts ignore
 * import { hubCacheDir } from "./hub.ts";
 * console.log(hubCacheDir()); // e.g. "/home/me/.cache/huggingface/hub"
 * ```
 */
export function hubCacheDir(): string {
  const cache = env("HF_HUB_CACHE");
  if (cache) return expandHome(cache);
  const xdg = env("XDG_CACHE_HOME") ?? "~/.cache";
  return `${expandHome(env("HF_HOME") ?? `${xdg}/huggingface`)}/hub`;
}

/**
 * The directory of a model id inside a cache root: `models--{org}--{name}`.
 *
 * @example
 * ```ts
 * import { repoCacheDir } from "./hub.ts";
 * console.log(repoCacheDir("openai-community/gpt2", "/c")); // "/c/models--openai-community--gpt2"
 * ```
 */
export function repoCacheDir(id: string, cacheDir: string = hubCacheDir()): string {
  return `${cacheDir}/models--${id.replaceAll("/", "--")}`;
}

/**
 * A directory holding `config.json`, `tokenizer.json` and safetensors weights. An existing local
 * directory is returned as is; otherwise `idOrDir` is a Hub id whose files come from the cache
 * (no request when the snapshot of `refs/{revision}` is complete) or are downloaded into it.
 *
 * @example
 * ```ts ignore
 * import { resolveModelDir } from "./hub.ts";
 * const dir = await resolveModelDir("openai-community/gpt2");
 * console.log(dir); // ".../models--openai-community--gpt2/snapshots/<commit>"
 * ```
 */
export async function resolveModelDir(
  idOrDir: string,
  opts: ResolveModelOptions = {},
): Promise<string> {
  if (await isDir(idOrDir)) return idOrDir;
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(idOrDir) || /--|\.\./.test(idOrDir)) {
    throw new Deno.errors.NotFound(
      `Model "${idOrDir}" is neither a directory nor a Hub id: pass an existing directory or an id like "openai-community/gpt2"`,
    );
  }
  const revision = opts.revision ?? "main";
  if (!/^[\w./-]+$/.test(revision) || revision.includes("..")) {
    throw new RangeError(
      `Revision "${revision}" is not a branch, tag or commit hash: use e.g. "main"`,
    );
  }
  const repoDir = repoCacheDir(idOrDir, opts.cacheDir ?? hubCacheDir());
  const commit = /^[0-9a-f]{40}$/.test(revision)
    ? revision
    : await readText(`${repoDir}/refs/${revision}`);
  const snapshot = `${repoDir}/snapshots/${commit?.trim()}`;
  const missing = commit
    ? await missingFiles(snapshot)
    : ["config.json", "tokenizer.json", WEIGHTS];
  if (missing.length === 0) return snapshot;
  const offline = opts.offline ?? /^(1|on|yes|true)$/i.test(env("HF_HUB_OFFLINE") ?? "");
  if (offline) {
    throw new HubOfflineError(
      `Model "${idOrDir}" (revision "${revision}") is not fully cached in "${repoDir}" (missing ${
        missing.join(", ")
      }) and offline mode is on: download it once online (unset HF_HUB_OFFLINE), e.g. with "huggingface-cli download ${idOrDir}"`,
      { status: 0 },
    );
  }
  return await download(idOrDir, repoDir, revision, opts);
}

/** Files of a snapshot the loader needs that are absent (dangling links count as absent). */
async function missingFiles(snapshot: string): Promise<string[]> {
  const missing = [];
  for (const f of ["config.json", "tokenizer.json"]) {
    if (!(await isFile(`${snapshot}/${f}`))) missing.push(f);
  }
  if (await isFile(`${snapshot}/${WEIGHTS}`)) return missing;
  const index = await readText(`${snapshot}/${INDEX}`);
  if (index === undefined) return [...missing, WEIGHTS];
  for (const shard of shardsOf(index)) {
    if (!(await isFile(`${snapshot}/${shard}`))) missing.push(shard);
  }
  return missing;
}

function shardsOf(indexText: string): string[] {
  const map = JSON.parse(indexText)?.weight_map;
  if (map === null || typeof map !== "object") {
    throw new SyntaxError(
      `File "${INDEX}" has no "weight_map" object: the download is corrupt; delete it`,
    );
  }
  return [...new Set(Object.values(map as Record<string, string>))];
}

interface Download {
  id: string;
  repoDir: string;
  endpoint: string;
  revision: string;
  commit?: string;
  token?: string;
  progress?: (p: DownloadProgress, done: boolean) => void;
}

async function download(id: string, repoDir: string, revision: string, opts: ResolveModelOptions) {
  const onProgress = opts.onProgress;
  const d: Download = {
    id,
    repoDir,
    revision,
    endpoint: (opts.endpoint ?? env("HF_ENDPOINT") ?? "https://huggingface.co").replace(/\/+$/, ""),
    token: opts.token ?? env("HF_TOKEN"),
    progress: onProgress ? (p) => onProgress(p) : terminalBar(),
  };
  await fetchFile(d, "config.json", false);
  await fetchFile(d, "tokenizer.json", false);
  await fetchFile(d, "tokenizer_config.json", true);
  if (!(await fetchFile(d, WEIGHTS, true))) {
    if (!(await fetchFile(d, INDEX, true))) {
      throw new HubNotFoundError(
        `Repository "${id}" has neither "${WEIGHTS}" nor "${INDEX}" at revision "${revision}": tsight reads safetensors weights only; pick a repository that has them`,
        { status: 404 },
      );
    }
    const snapshotIndex = await Deno.readTextFile(`${repoDir}/snapshots/${d.commit}/${INDEX}`);
    for (const shard of shardsOf(snapshotIndex)) await fetchFile(d, shard, false);
  }
  if (d.commit !== revision) {
    await Deno.mkdir(dirname(`${repoDir}/refs/${revision}`), { recursive: true });
    await Deno.writeTextFile(`${repoDir}/refs/${revision}`, d.commit!);
  }
  return `${repoDir}/snapshots/${d.commit}`;
}

/** Downloads one file into blobs/ and links it from the snapshot; false for an optional 404. */
async function fetchFile(d: Download, file: string, optional: boolean): Promise<boolean> {
  const rev = encodeURIComponent(d.commit ?? d.revision);
  const url = `${d.endpoint}/${d.id}/resolve/${rev}/${file}`;
  let current = url;
  let res: Response;
  let commit: string | undefined;
  let etag: string | undefined;
  for (let hop = 0;; hop++) {
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (d.token && new URL(current).origin === new URL(d.endpoint).origin) {
      headers.authorization = `Bearer ${d.token}`;
    }
    try {
      res = await fetch(current, { headers, redirect: "manual" });
    } catch (e) {
      throw new HubError(
        `Cannot reach "${current}" (${
          (e as Error).message
        }): check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use cached files only`,
        { status: 0, url: current, cause: e },
      );
    }
    // Metadata comes from the Hub's own answer (often a redirect), not from the CDN's.
    if (commit === undefined && res.headers.has("x-repo-commit")) {
      commit = res.headers.get("x-repo-commit")!;
      etag = normalizeEtag(res.headers.get("x-linked-etag") ?? res.headers.get("etag"));
    }
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || !location) break;
    await res.body?.cancel();
    if (hop === 10) {
      throw new HubError(`Too many redirects from "${url}"`, { status: res.status, url });
    }
    current = new URL(location, current).href;
  }
  if (
    res.status === 404 && optional &&
    !/^(Repository|Revision)NotFound$/.test(res.headers.get("x-error-code") ?? "")
  ) {
    await res.body?.cancel();
    if (d.commit) await touch(`${d.repoDir}/.no_exist/${d.commit}/${file}`);
    return false;
  }
  if (!res.ok) throw await httpError(d, file, url, res);
  etag ??= normalizeEtag(res.headers.get("etag"));
  if (!commit || !etag) {
    await res.body?.cancel();
    throw new HubError(
      `Response for "${url}" lacks the X-Repo-Commit or ETag header: "${d.endpoint}" does not behave like the Hugging Face Hub; check HF_ENDPOINT`,
      { status: res.status, url },
    );
  }
  d.commit ??= commit;
  const blob = `${d.repoDir}/blobs/${etag}`;
  if (await isFile(blob)) await res.body?.cancel();
  else await saveBody(d, file, url, res, blob);
  await link(blob, `${d.repoDir}/snapshots/${d.commit}/${file}`, file);
  return true;
}

async function httpError(d: Download, file: string, url: string, res: Response): Promise<Error> {
  await res.body?.cancel();
  const at = `"${file}" of repository "${d.id}" at revision "${d.revision}" (${url})`;
  if (res.status === 401 || res.status === 403) {
    const fix = d.token
      ? "the token sent lacks access: accept the model's terms on its Hub page or use another token"
      : "check the id; a private or gated model needs HF_TOKEN (or the token option) set";
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

/** Streams into `{blob}.incomplete` and renames it only once every byte has arrived. */
async function saveBody(d: Download, file: string, url: string, res: Response, blob: string) {
  await Deno.mkdir(dirname(blob), { recursive: true });
  const tmp = `${blob}.incomplete`;
  const length = res.headers.get("content-length");
  const total = length !== null && !res.headers.has("content-encoding")
    ? Number(length)
    : undefined;
  let loaded = 0;
  const out = await Deno.open(tmp, { write: true, create: true, truncate: true });
  try {
    try {
      for await (const chunk of res.body ?? []) {
        for (let off = 0; off < chunk.length;) off += await out.write(chunk.subarray(off));
        loaded += chunk.length;
        d.progress?.({ file, loaded, total }, false);
      }
    } finally {
      out.close();
    }
    if (total !== undefined && loaded !== total) throw new Error("the body ended early");
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new HubError(
      `Download of "${file}" from "${url}" stopped after ${loaded} of ${total ?? "?"} bytes (${
        (e as Error).message
      }): run again to restart it`,
      { status: res.status, url, cause: e },
    );
  }
  d.progress?.({ file, loaded, total }, true);
  await Deno.rename(tmp, blob);
}

/** A relative symlink `snapshots/{commit}/{file}` -> `../../blobs/{etag}`, as Python makes. */
async function link(blob: string, pointer: string, file: string) {
  await Deno.mkdir(dirname(pointer), { recursive: true });
  await Deno.remove(pointer).catch(() => {});
  const up = "../".repeat(2 + file.split("/").length - 1);
  try {
    await Deno.symlink(`${up}blobs/${blob.slice(blob.lastIndexOf("/") + 1)}`, pointer);
  } catch {
    await Deno.copyFile(blob, pointer); // e.g. Windows without symlink rights
  }
}

function terminalBar(): ((p: DownloadProgress, done: boolean) => void) | undefined {
  if (!Deno.stderr.isTerminal()) return undefined;
  let last = 0;
  return ({ file, loaded, total }, done) => {
    const now = Date.now();
    if (!done && now - last < 100) return;
    last = now;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const frac = total ? loaded / total : 0;
    const bar = total
      ? ` [${"#".repeat(Math.round(frac * 30)).padEnd(30)}] ${Math.floor(frac * 100)}%`
      : "";
    const size = total ? `${mb(loaded)}/${mb(total)} MB` : `${mb(loaded)} MB`;
    Deno.stderr.writeSync(encoder.encode(`\r${file}${bar} ${size}${done ? "\n" : ""}`));
  };
}

function normalizeEtag(etag: string | null): string | undefined {
  return etag?.replace(/^W\//, "").replaceAll('"', "") || undefined;
}

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf("/"));
}

async function touch(path: string) {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeFile(path, new Uint8Array());
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isFile ?? false;
}

async function isDir(path: string): Promise<boolean> {
  return (await Deno.stat(path).catch(() => null))?.isDirectory ?? false;
}
