// Validates every value a Hub answer (or a cached index) contributes to a cache path: commits,
// ETags, repository file names, and that a path to be written lies inside the cache root.
// Builds no paths from unchecked values and does no I/O except resolving links for the check.

import { HubResponseError } from "./errors.ts";

/** A commit hash as the Hub names it (refs and snapshots/ folder names). */
export const COMMIT_RE = /^[0-9a-f]{40}$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
/** Longest repository file name accepted, and longest single segment (most file systems' 255). */
const MAX_NAME = 1024;
const MAX_SEGMENT = 255;

/** How a blob's ETag is checked: sha256 of the content (LFS) or git's blob sha1 (regular). */
export type EtagKind = "sha256" | "git-sha1";

/** Shortens a hostile value for a message; a 5000-character header stays readable. */
export function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(shown);
}

/**
 * The commit an answer names (X-Repo-Commit), accepted only as 40 lowercase hex digits.
 *
 * @param value header value; null when absent
 * @param url the request, for the message
 */
export function checkCommit(value: string | null, url: string, status: number): string {
  if (value !== null && COMMIT_RE.test(value)) return value;
  const found = value === null ? "no X-Repo-Commit header" : `X-Repo-Commit ${quote(value)}`;
  throw new HubResponseError(
    `Answer for "${url}" has ${found}, not a 40-hex-digit commit: the server does not behave like the Hugging Face Hub; check HF_ENDPOINT`,
    { status, url },
  );
}

/**
 * A blob's ETag, normalised as huggingface_hub does (`W/` and quotes dropped), accepted only in
 * the Hub's two forms: 64 hex digits (sha256 of an LFS file) or 40 (git blob sha1).
 */
export function checkEtag(
  value: string | null,
  url: string,
  status: number,
): { etag: string; kind: EtagKind } {
  const etag = value?.replace(/^W\//, "").replaceAll('"', "");
  if (etag !== undefined && SHA256_RE.test(etag)) return { etag, kind: "sha256" };
  if (etag !== undefined && COMMIT_RE.test(etag)) return { etag, kind: "git-sha1" };
  const found = value === null ? "no ETag header" : `ETag ${quote(value)}`;
  throw new HubResponseError(
    `Answer for "${url}" has ${found}, not a sha256 (64 hex digits) or git sha1 (40): the server does not behave like the Hugging Face Hub; check HF_ENDPOINT`,
    { status, url },
  );
}

/**
 * A file name inside a repository: `/`-separated plain segments, no `.` or `..`, not absolute,
 * no backslash, NUL or control character, at most 1024 characters (255 per segment).
 *
 * @param name the name, e.g. `model-00001-of-00002.safetensors`
 * @param where what named it, e.g. `Index "model.safetensors.index.json"`
 * @param suffix a required ending, e.g. `.safetensors` for shards
 */
export function checkRepoFile(name: unknown, where: string, suffix = ""): string {
  const why = whyBadName(name, suffix);
  if (why === undefined) return name as string;
  const shown = typeof name === "string" ? quote(name) : JSON.stringify(name) ?? String(name);
  throw new HubResponseError(
    `${where} names file ${shown}, which ${why}: only plain relative names inside the repository are allowed; the repository or server is broken or hostile`,
    { status: 0 },
  );
}

/**
 * Why `name` is not a plain relative file name ending in `suffix`, or undefined when it is;
 * shared with the local-directory loader so both refuse the same names.
 */
export function whyBadName(name: unknown, suffix = ""): string | undefined {
  if (typeof name !== "string") return "is not a string";
  if (name.length === 0 || name.length > MAX_NAME) return `has ${name.length} characters`;
  // deno-lint-ignore no-control-regex
  if (/[\\\x00-\x1f\x7f]/.test(name)) return "contains a backslash or control character";
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) return "is absolute";
  const segments = name.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) {
    return "has an empty, '.' or '..' segment";
  }
  if (segments.some((s) => s.length > MAX_SEGMENT)) return "has a segment over 255 characters";
  if (!name.endsWith(suffix)) return `does not end in "${suffix}"`;
  return undefined;
}

/**
 * Throws unless `path` lies inside `root`, both lexically and after resolving the links of its
 * deepest existing folder (so a linked folder cannot lead out). `root` must exist.
 */
export async function checkInside(root: string, path: string): Promise<void> {
  const real = async (p: string) => (await Deno.realPath(p)).replaceAll("\\", "/"); // Windows
  const rootReal = await real(root);
  const lexical = normalize(path);
  let ok = lexical.startsWith(normalize(root) + "/");
  if (ok) {
    let dir = lexical.slice(0, lexical.lastIndexOf("/"));
    while (!(await Deno.lstat(dir).catch(() => null))) dir = dir.slice(0, dir.lastIndexOf("/"));
    const resolved = await real(dir);
    ok = resolved === rootReal || resolved.startsWith(rootReal + "/");
  }
  if (!ok) {
    throw new HubResponseError(
      `Path "${path}" lies outside the cache "${root}": refusing to write it; the server or cache is hostile or broken`,
      { status: 0 },
    );
  }
}

/** Lexical normalisation of an absolute or relative POSIX path (`.`, `..`, repeated `/`). */
function normalize(path: string): string {
  const abs = path.startsWith("/") ? path : `${Deno.cwd().replaceAll("\\", "/")}/${path}`;
  const out: string[] = [];
  for (const s of abs.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") out.pop();
    else out.push(s);
  }
  return "/" + out.join("/");
}
