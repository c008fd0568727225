// Finds a model's files: a local directory, or a Hub download cached in huggingface_hub's layout
// (blobs/, snapshots/, refs/) so Python and tsight share one cache. Parses none of the weights;
// HTTP and verification live in hub_fetch.ts, path and header checks in hub_check.ts.

import { HubNotFoundError, HubOfflineError, HubResponseError } from "./errors.ts";
import { checkRepoFile, COMMIT_RE } from "./hub_check.ts";
import { type Download, fetchFile, writeInside } from "./hub_fetch.ts";
import { env, hubCacheDir, hubToken, offlineFromEnv, permissionError } from "./hub_env.ts";
import { type ProgressSink, stderrProgress } from "./hub_progress.ts";

export {
  HubAuthError,
  HubError,
  HubIntegrityError,
  HubNotFoundError,
  HubOfflineError,
  HubResponseError,
} from "./errors.ts";
export { hubCacheDir, hubToken } from "./hub_env.ts";
export { MAX_JSON_BYTES, MAX_TOKENIZER_JSON_BYTES } from "./hub_fetch.ts";

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
  /** Access token sent as `Authorization: Bearer`; default as {@link hubToken} finds it. */
  token?: string;
  /** Never use the network; default `$HF_HUB_OFFLINE`. */
  offline?: boolean;
  /**
   * Called as bytes arrive (first with `loaded: 0`); without it progress goes to stderr: a bar
   * with speed and ETA on a terminal, else a line when each file starts and ends.
   */
  onProgress?: (progress: DownloadProgress) => void;
  /** Size cap on each JSON file downloaded; default 64 MiB for tokenizer.json, else 16 MiB. */
  maxJsonBytes?: number;
}

const WEIGHTS = "model.safetensors";
const INDEX = "model.safetensors.index.json";
const REQUIRED = ["config.json", "tokenizer.json"];

/**
 * Canonical models the Hub moved into organisations (2024). The Hub redirects the old ids, and
 * huggingface_hub caches each id under its own name (`models--gpt2`), so both are looked up.
 */
const LEGACY_IDS = new Map([
  ["gpt2", "openai-community/gpt2"],
  ["gpt2-medium", "openai-community/gpt2-medium"],
  ["gpt2-large", "openai-community/gpt2-large"],
  ["gpt2-xl", "openai-community/gpt2-xl"],
  ["openai-gpt", "openai-community/openai-gpt"],
  ["distilgpt2", "distilbert/distilgpt2"],
]);

/**
 * The ids whose cache entries hold the same model: `id` itself first, then its legacy twin
 * (`gpt2` and `openai-community/gpt2`).
 *
 * @example
 * ```ts
 * import { cacheAliases } from "./hub.ts";
 * console.log(cacheAliases("openai-community/gpt2")); // ["openai-community/gpt2", "gpt2"]
 * ```
 */
export function cacheAliases(id: string): string[] {
  const twin = LEGACY_IDS.get(id) ?? [...LEGACY_IDS].find(([, canon]) => canon === id)?.[0];
  return twin ? [id, twin] : [id];
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

const HUB_ID = /^[\w.-]+(\/[\w.-]+)?$/;

/**
 * A directory holding `config.json`, `tokenizer.json` and safetensors weights. An existing local
 * directory is returned as is; otherwise `idOrDir` is a Hub id whose files come from the cache
 * (no request when the snapshot of `refs/{revision}` is complete; a legacy id such as `gpt2`
 * also finds `openai-community/gpt2`'s entry and back) or are downloaded into it. Every answer
 * is checked before it names a path, and what arrives is checked against its length and hash.
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
  if (await isLocalDir(idOrDir)) return idOrDir;
  if (!HUB_ID.test(idOrDir) || /--|\.\./.test(idOrDir)) {
    throw new Deno.errors.NotFound(
      `Model "${idOrDir}" is neither a directory nor a Hub id: pass an existing directory or an id like "openai-community/gpt2"`,
    );
  }
  const revision = opts.revision ?? "main";
  if (!/^[\w./-]+$/.test(revision) || revision.includes("..") || revision.length > 255) {
    throw new RangeError(
      `Revision "${revision}" is not a branch, tag or commit hash: use e.g. "main"`,
    );
  }
  const cacheRoot = opts.cacheDir ?? hubCacheDir();
  const looked: string[] = [];
  for (const id of cacheAliases(idOrDir)) {
    const repoDir = repoCacheDir(id, cacheRoot);
    const commit = COMMIT_RE.test(revision) ? revision : await readRef(repoDir, revision);
    const missing = commit ? await missingFiles(`${repoDir}/snapshots/${commit}`) : ["all files"];
    if (missing.length === 0) return `${repoDir}/snapshots/${commit}`;
    looked.push(`"${repoDir}" (missing ${missing.join(", ")})`);
  }
  const offline = opts.offline ?? offlineFromEnv();
  if (offline) {
    const why = opts.offline
      ? "this load does not download (offline: true)"
      : "HF_HUB_OFFLINE is set, so nothing is downloaded";
    throw new HubOfflineError(
      `Model "${idOrDir}" (revision "${revision}") is not in the Hugging Face cache: looked in ${
        looked.join(" and ")
      }, and ${why}: get it once with "hf download ${idOrDir}"${
        opts.offline ? ", or load it without offline: true" : " with HF_HUB_OFFLINE unset"
      }`,
      { status: 0 },
    );
  }
  return await download(idOrDir, cacheRoot, revision, opts);
}

/** The commit `refs/{revision}` names; absent or not a commit hash counts as not cached. */
async function readRef(repoDir: string, revision: string): Promise<string | undefined> {
  const text = (await readText(`${repoDir}/refs/${revision}`))?.trim();
  return text !== undefined && COMMIT_RE.test(text) ? text : undefined;
}

/** Files of a snapshot the loader needs that are absent (dangling links count as absent). */
async function missingFiles(snapshot: string): Promise<string[]> {
  const missing = [];
  for (const f of REQUIRED) {
    if (!(await isFile(`${snapshot}/${f}`))) missing.push(f);
  }
  if (await isFile(`${snapshot}/${WEIGHTS}`)) return missing;
  const index = await readText(`${snapshot}/${INDEX}`);
  if (index === undefined) return [...missing, WEIGHTS];
  for (const shard of shardsOf(index, `Cached index "${snapshot}/${INDEX}"`)) {
    if (!(await isFile(`${snapshot}/${shard}`))) missing.push(shard);
  }
  return missing;
}

/** The shard files an index names, each a plain `.safetensors` name inside the repository. */
function shardsOf(indexText: string, where: string): string[] {
  let map: unknown;
  try {
    map = JSON.parse(indexText)?.weight_map;
  } catch (e) {
    throw new HubResponseError(`${where} is not JSON (${(e as Error).message}): delete it`, {
      status: 0,
    });
  }
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    throw new HubResponseError(
      `${where} has no "weight_map" object: the download is corrupt; delete it`,
      { status: 0 },
    );
  }
  const shards = new Set(Object.values(map));
  return [...shards].map((s) => checkRepoFile(s, where, ".safetensors"));
}

/** A sink that forwards `{file, loaded, total}` events to `onProgress`. */
function eventSink(onProgress: (p: DownloadProgress) => void): ProgressSink {
  return {
    start: (file, total) => onProgress({ file, loaded: 0, total }),
    update: (file, loaded, total) => onProgress({ file, loaded, total }),
    done: (file, loaded) => onProgress({ file, loaded, total: loaded }),
  };
}

async function download(
  id: string,
  cacheRoot: string,
  revision: string,
  opts: ResolveModelOptions,
): Promise<string> {
  const endpoint = (opts.endpoint ?? env("HF_ENDPOINT") ?? "https://huggingface.co")
    .replace(/\/+$/, "");
  if (!/^https?:\/\/[^/]/.test(endpoint) || !URL.canParse(endpoint)) {
    throw new RangeError(
      `Hub endpoint "${endpoint}" is not an http(s) URL: pass e.g. "https://huggingface.co" (option endpoint or HF_ENDPOINT)`,
    );
  }
  const d: Download = {
    id,
    revision,
    endpoint,
    token: opts.token ?? await hubToken(),
    cacheRoot,
    repoDir: repoCacheDir(id, cacheRoot),
    progress: opts.onProgress ? eventSink(opts.onProgress) : stderrProgress(),
    maxJsonBytes: opts.maxJsonBytes,
  };
  try {
    await Deno.mkdir(cacheRoot, { recursive: true });
    await fetchFile(d, "config.json", false);
    await fetchFile(d, "tokenizer.json", false);
    await fetchFile(d, "tokenizer_config.json", true);
    if (!(await fetchFile(d, WEIGHTS, true))) await fetchShards(d);
    if (d.commit !== revision) await writeInside(d, `${d.repoDir}/refs/${revision}`, d.commit!);
  } catch (e) {
    throw permissionError(
      e,
      `Downloading "${id}" into the Hub cache "${cacheRoot}"`,
      "run with --allow-read --allow-write (for the cache) and --allow-net, or pass cacheDir",
    );
  }
  return `${d.repoDir}/snapshots/${d.commit}`;
}

async function fetchShards(d: Download): Promise<void> {
  if (!(await fetchFile(d, INDEX, true))) {
    throw new HubNotFoundError(
      `Repository "${d.id}" has neither "${WEIGHTS}" nor "${INDEX}" at revision "${d.revision}": tsight reads safetensors weights only; pick a repository that has them`,
      { status: 404 },
    );
  }
  const indexPath = `${d.repoDir}/snapshots/${d.commit}/${INDEX}`;
  const shards = shardsOf(await Deno.readTextFile(indexPath), `Index "${INDEX}" of "${d.id}"`);
  for (const shard of shards) await fetchFile(d, shard, false);
}

/** `stat`, null when absent; a missing --allow-read names the flag. */
async function stat(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable) {
      throw permissionError(e, `Reading "${path}"`, "run with --allow-read");
    }
    return null;
  }
}

/** Whether `idOrDir` is a local directory; an unreadable Hub-id-shaped path is taken as an id. */
async function isLocalDir(idOrDir: string): Promise<boolean> {
  try {
    return (await Deno.stat(idOrDir)).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotCapable && !HUB_ID.test(idOrDir)) {
      throw permissionError(e, `Reading the model directory "${idOrDir}"`, "run with --allow-read");
    }
    return false;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path))?.isFile ?? false;
}

async function readText(path: string): Promise<string | undefined> {
  if (!(await isFile(path))) return undefined;
  return await Deno.readTextFile(path);
}
