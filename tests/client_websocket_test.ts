import assert from "node:assert/strict";
import { asChannel, ClientError, runServer, websocket } from "../mod.ts";
import type { CloseStatus } from "../channel.ts";
import { startPeer } from "./fixtures/peers.ts";
import { needs } from "./_peers.ts";

const websockets = needs("websockets");
// Started at load time, when Python websockets is there to start.
const peer = websockets.missing.length === 0
  ? await startPeer("ws_server.py")
  : null;
const base = `ws://127.0.0.1:${peer?.ports[0] ?? 0}`;

/** Collects messages and the close of one client channel. */
function collector() {
  const messages: (string | Uint8Array)[] = [];
  const waiters: (() => void)[] = [];
  const closed = Promise.withResolvers<
    { status: CloseStatus; code?: number }
  >();
  return {
    messages,
    closed: closed.promise,
    handlers: {
      onReceive(_ch: unknown, m: string | Uint8Array) {
        messages.push(m);
        for (const w of waiters.splice(0)) w();
      },
      onClose(_ch: unknown, status: CloseStatus, code?: number) {
        closed.resolve({ status, code });
      },
    },
    async until(n: number): Promise<void> {
      while (messages.length < n) {
        await new Promise<void>((r) => waiters.push(r));
      }
    },
  };
}

websockets.test("websocket() echoes text, binary and a 1 MiB message with Python websockets", async () => {
  const c = collector();
  const ch = await websocket(`${base}/echo`, c.handlers);
  assert.equal(ch.isWebSocket, true);
  const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
  ch.send("héllo");
  ch.send(new Uint8Array([0, 1, 2, 255]));
  ch.send(big);
  await c.until(3);
  assert.equal(c.messages[0], "héllo");
  assert.deepEqual(c.messages[1], new Uint8Array([0, 1, 2, 255]));
  assert.deepEqual(c.messages[2], big);
  assert.equal(ch.close(), true);
  assert.equal(ch.close(), false);
  assert.deepEqual(await c.closed, { status: "client-close", code: 1000 });
  await ch.closed;
});

websockets.test("websocket() negotiates a subprotocol and permessage-deflate", async () => {
  const c = collector();
  const ch = await websocket(`${base}/echo`, c.handlers, {
    protocols: ["superchat", "other"],
  });
  assert.equal(ch.protocol, "superchat");
  const text = "compress me ".repeat(5000);
  ch.send(text);
  await c.until(1);
  assert.equal(c.messages[0], text);
  ch.close();
  await ch.closed;
});

websockets.test("websocket() reports the server's close code and reason status", async () => {
  const c = collector();
  const ch = await websocket(`${base}/close4000`, c.handlers);
  assert.deepEqual(await c.closed, { status: "unknown", code: 4000 });
  assert.equal(ch.isOpen, false);
  assert.equal(ch.send("late"), false);
  await ch.closed;
});

websockets.test("websocket() sends extra headers and keeps message order", async () => {
  const c = collector();
  const ch = await websocket(`${base}/headers`, c.handlers, {
    headers: { "X-Token": "t-42" },
  });
  await c.until(1);
  assert.equal(c.messages[0], "t-42");
  ch.close();
  await ch.closed;
  const b = collector();
  const ch2 = await websocket(`${base}/burst`, b.handlers, {
    deflate: false,
  });
  await b.until(100);
  assert.deepEqual(
    b.messages,
    Array.from({ length: 100 }, (_, i) => String(i)),
  );
  ch2.close();
  await ch2.closed;
});

websockets.test("websocket() pings and gets the pong payload", async () => {
  const pong = Promise.withResolvers<Uint8Array>();
  const ch = await websocket(`${base}/echo`, {
    onPong: (_ch, d) => pong.resolve(d),
  });
  assert.equal(ch.ping("abc"), true);
  assert.deepEqual(await pong.promise, new TextEncoder().encode("abc"));
  ch.close();
  await ch.closed;
});

Deno.test("websocket() rejects a refused handshake and a bad URL with ClientErrors", async () => {
  const server = runServer(() => ({ status: 404, body: "no" }), {
    ip: "127.0.0.1",
    port: 0,
  });
  try {
    await assert.rejects(
      websocket(`ws://127.0.0.1:${server.port}/`),
      (e) =>
        e instanceof ClientError && e.code === "handshake" &&
        /404/.test(e.message),
    );
    await assert.rejects(
      websocket("http://127.0.0.1:1/"),
      (e) => e instanceof ClientError && e.code === "bad-url",
    );
  } finally {
    await server.stop();
  }
});

Deno.test("websocket() talks to our own server: server close gives client onClose normal", async () => {
  const server = runServer((req) =>
    asChannel(req, {
      onReceive(ch, m) {
        if (m === "bye") ch.close(1000);
        else ch.send(m);
      },
    }), { ip: "127.0.0.1", port: 0 });
  try {
    const c = collector();
    const ch = await websocket(`ws://127.0.0.1:${server.port}/`, c.handlers);
    ch.send("one");
    await c.until(1);
    ch.send("bye");
    assert.deepEqual(await c.closed, { status: "normal", code: 1000 });
    await ch.closed;
  } finally {
    await server.stop();
  }
});

Deno.test({
  name: "websocket fixture stops",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await peer?.stop();
  },
});
