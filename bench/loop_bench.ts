// The server's JavaScript per request, without the kernel: one connection's
// request loop driven by a socket stand-in that hands out the same request
// on every read and takes every write at once. What it measures is ours
// alone (parsing, the request map, the handler call, the response, the
// Fetch adapter), which wrk runs cannot separate from the kernel's 70%.
//
//   deno bench -A bench/loop_bench.ts

import { coreOf } from "../server/_settings.ts";
import { Connection } from "../server/connection.ts";
import type { AnyHandler } from "../server/types.ts";
import { fetchRingHandler } from "../adapter/serve.ts";
import type { FetchHandler } from "../adapter/convert.ts";
import { Hono } from "npm:hono@4";

const REQUEST = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n",
);
const REQUESTS = 1000;

/** A socket that reads `REQUESTS` copies of one request, then EOF. */
function fakeConn(): Deno.Conn {
  let left = REQUESTS;
  const addr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };
  return {
    remoteAddr: addr,
    localAddr: addr,
    read(buf: Uint8Array): Promise<number | null> {
      if (left-- <= 0) return Promise.resolve(null);
      buf.set(REQUEST);
      return Promise.resolve(REQUEST.length);
    },
    write(b: Uint8Array): Promise<number> {
      return Promise.resolve(b.length);
    },
    close(): void {},
    setNoDelay(): void {},
  } as unknown as Deno.Conn;
}

function loop(handler: AnyHandler, streamBody = false): () => Promise<void> {
  const core = coreOf(handler, { streamBody });
  core.port = 8080;
  core.hostname = "127.0.0.1";
  return async () => {
    core.loops++;
    const c = new Connection(fakeConn(), core);
    core.conns.add(c);
    await c.run();
  };
}

const TEXT = { "content-type": "text/plain" };
const body = "Hello, World!";

const ring = loop(() => ({ status: 200, headers: TEXT, body }));
const fetchApp: FetchHandler = (req) => {
  const url = req.url;
  return url.endsWith("/")
    ? new Response(body, { headers: TEXT })
    : new Response("no", { status: 404 });
};
const fetchLoop = loop(fetchRingHandler(fetchApp) as AnyHandler, true);
const asyncFetch = loop(
  fetchRingHandler(async (req) => {
    await null;
    return new Response(req.url.endsWith("/") ? body : "no", { headers: TEXT });
  }) as AnyHandler,
  true,
);
const app = new Hono();
app.get("/", (c) => c.body(body, 200, TEXT));
const honoLoop = loop(
  fetchRingHandler(app.fetch as FetchHandler) as AnyHandler,
  true,
);

Deno.bench({
  name: `Ring handler, ${REQUESTS} requests`,
  group: "loop",
  baseline: true,
  fn: ring,
});
Deno.bench({
  name: `fetch handler on serve(), ${REQUESTS} requests`,
  group: "loop",
  fn: fetchLoop,
});
Deno.bench({
  name: `async fetch handler on serve(), ${REQUESTS} requests`,
  group: "loop",
  fn: asyncFetch,
});
Deno.bench({
  name: `Hono app on serve(), ${REQUESTS} requests`,
  group: "loop",
  fn: honoLoop,
});
