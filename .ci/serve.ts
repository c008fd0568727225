// A static file server for .ci/outside_import.sh: serves the clone over http on 127.0.0.1 with
// the content types Deno needs to import TypeScript and JSON modules. Not part of the package.

const [root, port] = [Deno.args[0], Number(Deno.args[1])];
const TYPES: Record<string, string> = {
  ts: "application/typescript",
  js: "application/javascript",
  json: "application/json",
};
Deno.serve(
  { hostname: "127.0.0.1", port, onListen: () => console.log("listening") },
  async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path.includes("..")) return new Response("bad path", { status: 400 });
    try {
      const body = await Deno.readFile(root + path);
      const type = TYPES[path.slice(path.lastIndexOf(".") + 1)] ?? "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  },
);
