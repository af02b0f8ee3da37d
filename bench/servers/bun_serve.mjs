// Peer for bench/load.ts: Bun.serve, run by the bun binary that load.ts
// installs from npm (@oven/bun-linux-x64). It uses the `fetch` handler with
// the same hand-written router as deno_serve.ts rather than Bun's static
// `routes`, which would skip the JavaScript handler altogether.
// Protocol and routes: see ours.ts.
import process from "node:process";

const port = Number(process.env.PORT ?? "0");
const bodyBytes = process.env.BODY;
const body = bodyBytes === undefined
  ? "Hello, World!"
  : "x".repeat(Number(bodyBytes));
const big = new Uint8Array(1 << 20).fill(0x78);

const TEXT = { "content-type": "text/plain" };
const OCTETS = { "content-type": "application/octet-stream" };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function pathOf(url) {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

async function handle(req) {
  switch (pathOf(req.url)) {
    case "/":
      return new Response(body, { headers: TEXT });
    case "/async":
      await sleep(1);
      return new Response(body, { headers: TEXT });
    case "/big":
      return new Response(big, { headers: OCTETS });
    case "/echo":
      return new Response(await req.arrayBuffer(), { headers: OCTETS });
  }
  return new Response("not found", { status: 404, headers: TEXT });
}

const server = globalThis.Bun.serve({
  port,
  hostname: "127.0.0.1",
  fetch: handle,
});
console.log(`LISTENING ${server.port}`);

process.on("SIGTERM", () => process.exit(0));
process.on("SIGINT", () => process.exit(0));
