// The WebSocket client's dialing and failures: wss: against Deno's own
// WebSocket server (TLS with our CA), through the Python forward proxy
// (CONNECT), over a Unix socket; and every failure code it rejects with,
// provoked on the wire: refused port, DNS, TLS to a plain port, a server that
// never answers the upgrade, one that closes, one that answers 403 (ours),
// one that answers a bad 101, an abort; bad arguments throw TypeError.

import assert from "node:assert/strict";
import {
  ClientError,
  type ClientErrorCode,
  runServer,
  websocket,
} from "../mod.ts";
import { makeCerts } from "./fixtures/certs.ts";
import { startPeer } from "./fixtures/peers.ts";

const certs = await makeCerts();
const wsPeer = await startPeer("ws_server.py");
const proxy = await startPeer("proxy.py");
const WS = `ws://127.0.0.1:${wsPeer.ports[0]}`;
const PROXY = `http://127.0.0.1:${proxy.ports[0]}`;

/** Awaits a rejection with a ClientError of `code`; returns it. */
async function rejects(
  p: Promise<unknown>,
  code: ClientErrorCode,
): Promise<ClientError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ClientError, `not a ClientError: ${e}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  throw new assert.AssertionError({ message: `expected ${code}` });
}

/** Echoes WebSocket messages with Deno's implementation (not ours). */
function echo(req: Request): Response {
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onmessage = (e) => socket.send(e.data);
  return response;
}

/** Deno.serve over TLS with the test certificate, echoing WebSockets. */
function tlsEcho(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: certs.cert,
    key: certs.key,
    onListen() {},
  }, echo);
}

/** Opens a channel, sends one message, checks the echo, closes. */
async function echoes(
  url: string,
  options: Parameters<typeof websocket>[2],
): Promise<void> {
  const got = Promise.withResolvers<string | Uint8Array>();
  const ch = await websocket(url, {
    onReceive: (_ch, m) => got.resolve(m),
  }, options);
  ch.send("through");
  assert.equal(await got.promise, "through");
  ch.close();
  await ch.closed;
}

/** A TCP listener that runs `onConn` for each connection it accepts. */
function rawServer(onConn: (c: Deno.Conn) => Promise<void>): {
  port: number;
  stop(): Promise<void>;
} {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const tasks: Promise<void>[] = [];
  const loop = (async () => {
    for await (const c of l) {
      conns.push(c);
      tasks.push(onConn(c).catch(() => {}));
    }
  })();
  return {
    port: l.addr.port,
    async stop(): Promise<void> {
      l.close();
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed by the handler
        }
      }
      await Promise.all(tasks);
    },
  };
}

/** Reads the upgrade request's head, as the bytes that came. */
async function readRequest(c: Deno.Conn): Promise<Uint8Array> {
  const buf = new Uint8Array(4096);
  let at = 0;
  const latin1 = new TextDecoder("latin1");
  while (!latin1.decode(buf.subarray(0, at)).includes("\r\n\r\n")) {
    const n = await c.read(buf.subarray(at));
    if (n === null) break;
    at += n;
  }
  return buf.slice(0, at);
}

Deno.test("websocket() over wss: trusts caCerts and refuses an unknown CA", async () => {
  const server = tlsEcho();
  try {
    const url = `wss://localhost:${server.addr.port}/`;
    await echoes(url, { caCerts: [certs.ca] });
    await rejects(websocket(url), "tls");
  } finally {
    await server.shutdown();
  }
});

Deno.test("websocket() tunnels ws: and wss: through a proxy's CONNECT", async () => {
  await echoes(`${WS}/echo`, { proxyUrl: PROXY });
  const server = tlsEcho();
  try {
    await echoes(`wss://localhost:${server.addr.port}/`, {
      proxyUrl: PROXY,
      caCerts: [certs.ca],
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("websocket() connects over a Unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "httpkit_ws_unix_" });
  const path = `${dir}/ws.sock`;
  const server = Deno.serve({ path, onListen() {} }, echo);
  try {
    await echoes("ws://app.local/chat", { unixSocket: path });
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("websocket() rejects connection-refused, dns, proxy and tls", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  const refused = await rejects(
    websocket(`ws://127.0.0.1:${port}/`),
    "connection-refused",
  );
  assert.match(refused.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  await rejects(websocket("ws://nosuch.invalid/"), "dns");
  const noProxy = await rejects(
    websocket(`${WS}/echo`, {}, { proxyUrl: `http://127.0.0.1:${port}` }),
    "proxy",
  );
  assert.match(noProxy.message, /cannot reach proxy/);
  // A plain WebSocket server does not speak TLS.
  await rejects(websocket(`wss://127.0.0.1:${wsPeer.ports[0]}/echo`), "tls");
});

Deno.test("websocket() rejects connect-timeout when the upgrade is never answered", async () => {
  const quiet = rawServer(async (c) => {
    await readRequest(c);
    // ...and say nothing.
  });
  try {
    const e = await rejects(
      websocket(`ws://127.0.0.1:${quiet.port}/`, {}, { connectTimeout: 200 }),
      "connect-timeout",
    );
    assert.equal(e.message, "connect timeout: 200 ms");
  } finally {
    await quiet.stop();
  }
});

Deno.test("websocket() rejects aborted when the signal fires, before or during", async () => {
  const quiet = rawServer(async (c) => {
    await readRequest(c);
  });
  try {
    const url = `ws://127.0.0.1:${quiet.port}/`;
    const ac = new AbortController();
    const p = websocket(url, {}, { signal: ac.signal });
    // Abort once the server holds the upgrade request.
    setTimeout(() => ac.abort(new Error("user left")), 50);
    const e = await rejects(p, "aborted");
    assert.match(e.message, /user left/);
    await rejects(
      websocket(url, {}, { signal: AbortSignal.abort() }),
      "aborted",
    );
  } finally {
    await quiet.stop();
  }
});

Deno.test("websocket() rejects handshake with the status of a refused upgrade", async () => {
  const server = runServer(() => ({ status: 403, body: "no" }), {
    ip: "127.0.0.1",
    port: 0,
  });
  try {
    const e = await rejects(
      websocket(`ws://127.0.0.1:${server.port}/`),
      "handshake",
    );
    assert.match(e.message, /403 Forbidden/);
  } finally {
    await server.stop();
  }
});

Deno.test("websocket() rejects connection-closed and protocol for broken answers", async () => {
  const closing = rawServer(async (c) => {
    await readRequest(c);
    c.close();
  });
  const badAccept = rawServer(async (c) => {
    await readRequest(c);
    await c.write(
      new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Accept: bm9wZQ==\r\n\r\n",
      ),
    );
  });
  const garbage = rawServer(async (c) => {
    await readRequest(c);
    await c.write(new TextEncoder().encode("HTTP/1.1 1O1 Huh\r\n\r\n"));
  });
  try {
    await rejects(
      websocket(`ws://127.0.0.1:${closing.port}/`),
      "connection-closed",
    );
    const accept = await rejects(
      websocket(`ws://127.0.0.1:${badAccept.port}/`),
      "protocol",
    );
    assert.match(accept.message, /Sec-WebSocket-Accept/);
    await rejects(websocket(`ws://127.0.0.1:${garbage.port}/`), "protocol");
  } finally {
    await Promise.all([closing.stop(), badAccept.stop(), garbage.stop()]);
  }
});

Deno.test("websocket() sends header values as latin1 bytes, as the HTTP client does", async () => {
  const head = Promise.withResolvers<Uint8Array>();
  const server = rawServer(async (c) => {
    head.resolve(await readRequest(c));
    c.close();
  });
  try {
    await rejects(
      websocket(`ws://127.0.0.1:${server.port}/`, {}, {
        headers: { "x-name": "caf\u00e9" },
      }),
      "connection-closed",
    );
    const bytes = await head.promise;
    const line = [..."x-name: caf"].map((ch) => ch.charCodeAt(0)).concat(0xe9);
    const at = bytes.findIndex((_, i) =>
      line.every((b, j) => bytes[i + j] === b)
    );
    assert.ok(at >= 0, "the value goes out as one latin1 byte per char");
    assert.equal(bytes[at + line.length], 0x0d);
  } finally {
    await server.stop();
  }
});

Deno.test("websocket() rejects bad-url; bad option values throw TypeError", async () => {
  await rejects(websocket("http://127.0.0.1:1/"), "bad-url");
  await rejects(websocket("not a url"), "bad-url");
  await rejects(websocket(`${WS}/`, {}, { proxyUrl: "socks5://x" }), "bad-url");
  await assert.rejects(
    websocket(`${WS}/`, {}, { protocols: ["two words"] }),
    TypeError,
  );
  await assert.rejects(
    websocket(`${WS}/`, {}, { headers: { "x-a": "1\r\nx-b: 2" } }),
    TypeError,
  );
  await assert.rejects(
    websocket(`${WS}/`, {}, { connectTimeout: -1 }),
    TypeError,
  );
  await assert.rejects(
    websocket("wss://localhost/", {}, { unixSocket: "/tmp/x.sock" }),
    TypeError,
  );
});

Deno.test("websocket() hands errors thrown by callbacks to errorLogger", async () => {
  const logged: unknown[] = [];
  const seen = Promise.withResolvers<void>();
  const ch = await websocket(`${WS}/echo`, {
    onReceive() {
      throw new Error("handler bug");
    },
  }, {
    errorLogger: (err) => {
      logged.push(err);
      seen.resolve();
    },
  });
  ch.send("x");
  await seen.promise;
  assert.equal((logged[0] as Error).message, "handler bug");
  // The channel still works after a callback threw.
  assert.equal(ch.isOpen, true);
  ch.close();
  await ch.closed;
});

Deno.test({
  name: "websocket dial fixtures stop",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await wsPeer.stop();
    await proxy.stop();
  },
});
