// What huggingface_hub reads from the machine, read the same way: cache root, token (HF_TOKEN or
// the file `hf auth login` writes), offline flag, endpoint. A missing Deno permission is an error
// naming the flag, never a silent default. Touches no network and writes nothing.

/** Environment variables the Hub loader reads (for messages and `--allow-env=` lists). */
export const HUB_ENV_VARS = [
  "HF_HUB_CACHE",
  "HUGGINGFACE_HUB_CACHE",
  "HF_HOME",
  "XDG_CACHE_HOME",
  "HOME",
  "USERPROFILE",
  "HF_TOKEN",
  "HUGGING_FACE_HUB_TOKEN",
  "HF_TOKEN_PATH",
  "HF_HUB_DISABLE_IMPLICIT_TOKEN",
  "HF_HUB_OFFLINE",
  "TRANSFORMERS_OFFLINE",
  "HF_ENDPOINT",
];

/**
 * `err` as a `Deno.errors.NotCapable` that says what tsight was doing and which flag grants it;
 * any other error is returned unchanged.
 */
export function permissionError(err: unknown, doing: string, fix: string): unknown {
  if (!(err instanceof Deno.errors.NotCapable) || err.cause instanceof Deno.errors.NotCapable) {
    return err; // not a permission error, or one already explained
  }
  const flag = err.message.match(/--allow-[a-z]+/)?.[0] ?? "a --allow-* flag";
  return new Deno.errors.NotCapable(
    `${doing} needs ${flag} (${err.message.replace(/\.$/, "")}): ${fix}`,
    { cause: err },
  );
}

/** An environment variable, `undefined` when unset or empty; no permission is an error. */
export function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch (e) {
    throw permissionError(
      e,
      `Reading the environment variable "${name}"`,
      `run with --allow-env (tsight reads ${
        HUB_ENV_VARS.join(", ")
      } as huggingface_hub does), or pass the cacheDir, token and offline options`,
    );
  }
}

function expandHome(path: string): string {
  if (!path.startsWith("~")) return path;
  return (env("HOME") ?? env("USERPROFILE") ?? "~") + path.slice(1);
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hfHome(): string {
  return expandHome(env("HF_HOME") ?? `${env("XDG_CACHE_HOME") ?? "~/.cache"}/huggingface`);
}

/**
 * The Hub cache root, resolved as huggingface_hub does: `$HF_HUB_CACHE`, the legacy
 * `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub` (`~/.cache/huggingface/hub` by default).
 *
 * @example
 * ```ts
 * import { hubCacheDir } from "./hub.ts";
 * console.log(hubCacheDir().endsWith("hub") || Deno.env.has("HF_HUB_CACHE")); // true
 * ```
 */
export function hubCacheDir(): string {
  const cache = env("HF_HUB_CACHE") ?? env("HUGGINGFACE_HUB_CACHE");
  return cache ? expandHome(cache) : `${hfHome()}/hub`;
}

/** huggingface_hub's `_clean_token`: CR/LF removed, trimmed, empty is none. */
function cleanToken(token: string | undefined): string | undefined {
  return token?.replaceAll("\r", "").replaceAll("\n", "").trim() || undefined;
}

/**
 * The token huggingface_hub would send: `$HF_TOKEN` (or the legacy `$HUGGING_FACE_HUB_TOKEN`),
 * else the file `hf auth login` writes (`$HF_TOKEN_PATH`, default `$HF_HOME/token`); none when
 * `$HF_HUB_DISABLE_IMPLICIT_TOKEN` is set or nothing is found.
 *
 * @example
 * ```ts
 * import { hubToken } from "./hub.ts";
 * const token = await hubToken();
 * console.log(token === undefined || token.length > 0); // true
 * ```
 */
export async function hubToken(): Promise<string | undefined> {
  if (isTrue(env("HF_HUB_DISABLE_IMPLICIT_TOKEN"))) return undefined;
  const fromEnv = cleanToken(env("HF_TOKEN") ?? env("HUGGING_FACE_HUB_TOKEN"));
  if (fromEnv) return fromEnv;
  const path = expandHome(env("HF_TOKEN_PATH") ?? `${hfHome()}/token`);
  try {
    return cleanToken(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw permissionError(
      e,
      `Reading the Hub token file "${path}"`,
      "run with --allow-read, or pass the token option (or set HF_TOKEN)",
    );
  }
}

/** huggingface_hub's `_is_true`: 1, on, yes, true in any case. */
export function isTrue(value: string | undefined): boolean {
  return /^(1|on|yes|true)$/i.test(value ?? "");
}

/** Whether `$HF_HUB_OFFLINE` (or `$TRANSFORMERS_OFFLINE`) turns downloads off. */
export function offlineFromEnv(): boolean {
  return isTrue(env("HF_HUB_OFFLINE") ?? env("TRANSFORMERS_OFFLINE"));
}
