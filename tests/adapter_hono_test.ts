// A Hono app (routing, middleware, JSON, streaming, WebSocket) running
// unchanged on serve(): the adapter as a drop-in for the Deno ecosystem.

import assert from "node:assert/strict";
import { Hono } from "npm:hono@4";
import { stream } from "npm:hono@4/streaming";
import { serve } from "../adapter/serve.ts";
import { upgradeWebSocket } from "../adapter/websocket.ts";
import { ringToFetch } from "../adapter/convert.ts";

function app(): Hono {
  const app = new Hono();
  // A middleware that reads c.res before the route runs, so Hono re-creates
  // the route's Response afterwards (the case that loses object identity).
  app.use("*", async (c, next) => {
    c.header("x-powered-by", "httpkit");
    await next();
    c.header("x-after", "yes");
  });
  app.get("/", (c) => c.text("home"));
  app.get(
    "/users/:id",
    (c) => c.json({ id: c.req.param("id"), q: c.req.query("q") }),
  );
  app.post("/echo", async (c) => c.json(await c.req.json()));
  app.get("/stream", (c) =>
    stream(c, async (s) => {
      for (let i = 0; i < 3; i++) {
        await s.write(`part ${i}\n`);
        await s.sleep(10);
      }
    }));
  app.get("/ws", (c) => {
    const { socket, response } = upgradeWebSocket(c.req.raw);
    socket.onmessage = (e) => socket.send(`hono echo: ${e.data}`);
    return response;
  });
  app.route(
    "/ring",
    new Hono().all(
      "*",
      (c) =>
        ringToFetch((req) => ({
          body: `ring ${req.requestMethod} ${req.uri}`,
        }))(
          c.req.raw,
        ),
    ),
  );
  return app;
}

Deno.test("serve() runs a Hono app: routing, middleware, JSON, streaming, WebSocket", async () => {
  const server = serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    app().fetch,
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const home = await fetch(base);
    assert.equal(await home.text(), "home");
    assert.equal(home.headers.get("x-powered-by"), "httpkit");
    assert.equal(home.headers.get("x-after"), "yes");
    assert.equal(home.headers.get("content-length"), "4");

    const user = await fetch(`${base}/users/42?q=x`);
    assert.deepEqual(await user.json(), { id: "42", q: "x" });
    assert.match(user.headers.get("content-type")!, /application\/json/);

    const echo = await fetch(`${base}/echo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ a: [1, 2] }),
    });
    assert.deepEqual(await echo.json(), { a: [1, 2] });

    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    const streamed = await fetch(`${base}/stream`);
    assert.equal(streamed.headers.get("transfer-encoding"), "chunked");
    assert.equal(await streamed.text(), "part 0\npart 1\npart 2\n");

    const ring = await fetch(`${base}/ring/x`, { method: "DELETE" });
    assert.equal(await ring.text(), "ring delete /ring/x");

    const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/ws`);
    await new Promise((r, j) => {
      ws.onopen = r;
      ws.onerror = j;
    });
    ws.send("hello");
    const reply = await new Promise((r) => (ws.onmessage = (e) => r(e.data)));
    assert.equal(reply, "hono echo: hello");
    ws.close();
    await new Promise((r) => (ws.onclose = r));
  } finally {
    await server.shutdown();
  }
});
