// A Hugging Face Hub look-alike on 127.0.0.1 for the hub tests: honest answers by default, and
// hooks to make any answer hostile (headers, bodies, redirects, broken framing). No real network.

import { createHash } from "node:crypto";
import { writeSafetensors } from "../../model/safetensors.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
export const COMMIT = "0123456789abcdef0123456789abcdef01234567";
export const ID = "tiny-org/tiny-gpt2";

export type Bytes = Uint8Array<ArrayBuffer>;

export async function read(path: string): Promise<Bytes> {
  return await Deno.readFile(new URL(path, FIXTURES));
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** git's blob id, the Hub's ETag of a regular (non-LFS) file. */
export function gitSha1(bytes: Uint8Array): string {
  return createHash("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

const shard = (name: string) =>
  writeSafetensors({ [name]: { dtype: "F32", shape: [2], data: [1, 2] } }) as Bytes;

const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));

/** Repositories served: id -> file -> bytes. Large (LFS) files are the *.safetensors. */
export async function repos(): Promise<Record<string, Record<string, Bytes>>> {
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
      "model.safetensors.index.json": json(index),
      "model-1.safetensors": shard("a"),
      "model-2.safetensors": shard("b"),
    },
    "tiny-org/empty": {},
    // The canonical home of the legacy id "gpt2" (the hub redirects /gpt2/... here).
    "openai-community/gpt2": {
      "config.json": config,
      "tokenizer.json": tokenizer,
      "model.safetensors": shard("w"),
    },
  };
}

/** An answer about to be sent: editable by a test to make it hostile. */
export interface Answer {
  /** Repository file asked for. */
  file: string;
  /** `resolve` (the Hub's answer) or `cdn` (an LFS body). */
  kind: "resolve" | "cdn";
  status: number;
  headers: Record<string, string>;
  body: Bytes | ReadableStream<Uint8Array> | null;
}

export interface FakeHubOptions {
  /** Cut every LFS body after 1000 bytes while promising the full Content-Length. */
  cut?: boolean;
  /** Edits any answer before it is sent. */
  edit?: (answer: Answer) => void;
  /** Replaces files of a repository (e.g. a hostile index). */
  files?: Record<string, Record<string, Bytes>>;
  /** Serve LFS bodies from a second server (another origin), as the real Hub's CDN. */
  otherCdn?: boolean;
}

export interface FakeHub {
  endpoint: string;
  requests: { path: string; auth: string | null; origin: string }[];
  close(): Promise<void>;
}

/** A Hub look-alike: /{id}/resolve/{rev}/{file}, LFS files 302 to /cdn/{sha256}. */
export async function startHub(opts: FakeHubOptions = {}): Promise<FakeHub> {
  const data = await repos();
  for (const [id, files] of Object.entries(opts.files ?? {})) data[id] = { ...data[id], ...files };
  const blobs = new Map<string, { file: string; body: Bytes }>();
  const requests: FakeHub["requests"] = [];
  const send = (a: Answer) => {
    opts.edit?.(a);
    return new Response(a.body, { status: a.status, headers: a.headers });
  };
  const cdnHandler = (req: Request) => {
    const url = new URL(req.url);
    requests.push({
      path: url.pathname,
      auth: req.headers.get("authorization"),
      origin: url.origin,
    });
    const blob = blobs.get(url.pathname.match(/^\/cdn\/(\w+)$/)?.[1] ?? "");
    if (!blob) return new Response("no such blob", { status: 404 });
    const { file, body } = blob;
    const headers = { "content-length": String(body.length) };
    if (!opts.cut) return send({ file, kind: "cdn", status: 200, headers, body });
    const stream = new ReadableStream<Uint8Array>({
      start: (c) => c.enqueue(body.subarray(0, 1000)),
      pull: (c) => new Promise((r) => setTimeout(() => r(c.close()), 10)),
    });
    return send({ file, kind: "cdn", status: 200, headers, body: stream });
  };
  const quiet = { hostname: "127.0.0.1", port: 0, onListen() {} };
  const cdn = opts.otherCdn ? Deno.serve(quiet, cdnHandler) : undefined;
  const server = Deno.serve(quiet, async (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    if (path.startsWith("/cdn/")) return cdnHandler(req);
    requests.push({ path, auth: req.headers.get("authorization"), origin: url.origin });
    const legacy = path.match(/^\/gpt2\/(resolve\/.*)$/);
    if (legacy) {
      await req.body?.cancel();
      return new Response(null, {
        status: 307,
        headers: { location: `/openai-community/gpt2/${legacy[1]}` },
      });
    }
    const m = path.match(/^\/(.+)\/resolve\/([^/]+)\/(.+)$/);
    const repo = m && data[m[1]];
    if (!m || !repo) {
      return new Response("Repository not found", {
        status: 401,
        headers: { "x-error-code": "RepositoryNotFound" },
      });
    }
    const name = decodeURIComponent(m[3]);
    const file = repo[name];
    const headers: Record<string, string> = { "x-repo-commit": COMMIT };
    if (!file) {
      return send({
        file: name,
        kind: "resolve",
        status: 404,
        headers: { ...headers, "x-error-code": "EntryNotFound" },
        body: json("Entry not found"),
      });
    }
    if (name.endsWith(".safetensors")) {
      const sha = sha256(file);
      blobs.set(sha, { file: name, body: file });
      const base = cdn ? `http://127.0.0.1:${cdn.addr.port}` : "";
      return send({
        file: name,
        kind: "resolve",
        status: 302,
        headers: {
          ...headers,
          location: `${base}/cdn/${sha}`,
          "x-linked-etag": `"${sha}"`,
          "x-linked-size": String(file.length),
          etag: '"redirect"',
        },
        body: null,
      });
    }
    return send({
      file: name,
      kind: "resolve",
      status: 200,
      headers: { ...headers, etag: `"${gitSha1(file)}"`, "content-length": String(file.length) },
      body: file,
    });
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    requests,
    close: async () => {
      await server.shutdown();
      await cdn?.shutdown();
    },
  };
}

/**
 * A server that answers each request with `answer(path)` as raw bytes and closes the
 * connection: for framings Deno.serve will not produce (cut chunked bodies, no length at all).
 */
export function startRawHub(answer: (path: string) => string): FakeHub & { endpoint: string } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: FakeHub["requests"] = [];
  const conns = new Set<Deno.Conn>();
  const done = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      (async () => {
        const buf = new Uint8Array(8192);
        const n = await conn.read(buf).catch(() => null);
        const head = new TextDecoder().decode(buf.subarray(0, n ?? 0));
        const path = head.split(" ")[1] ?? "/";
        requests.push({ path, auth: null, origin: "raw" });
        await conn.write(new TextEncoder().encode(answer(path))).catch(() => {});
        conn.close();
        conns.delete(conn);
      })();
    }
  })().catch(() => {});
  return {
    endpoint: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    requests,
    close: async () => {
      listener.close();
      for (const c of conns) c.close();
      await done;
    },
  };
}

/** Runs `fn` with environment variables set ("" unsets), restoring the old values after. */
export async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const old = Object.fromEntries(Object.keys(vars).map((k) => [k, Deno.env.get(k)]));
  for (const [k, v] of Object.entries(vars)) v === "" ? Deno.env.delete(k) : Deno.env.set(k, v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(old)) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
}

export async function list(dir: string): Promise<string[]> {
  const names = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** Every path under `root` (relative, sorted), links not followed. */
export async function tree(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(`${root}/${prefix}`)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    out.push(rel);
    if (e.isDirectory) out.push(...await tree(root, rel));
  }
  return out.sort();
}
