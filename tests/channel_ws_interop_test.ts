// WebSocket channels against independent clients: Python's `websockets`,
// aiohttp's ws_connect and npm `ws`, with and without permessage-deflate.

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import WebSocket from "npm:ws@8";
import {
  asChannel,
  type Channel,
  type ChannelOptions,
  type CloseStatus,
  runServer,
  type Server,
} from "../mod.ts";
import { until } from "./_helpers.ts";
import { needs, peerPath } from "./_peers.ts";

const websockets = needs("websockets");
const aiohttp = needs("aiohttp");
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

interface Log {
  opened: Channel[];
  received: (string | Uint8Array)[];
  pings: string[];
  pongs: string[];
  closes: { path: string; status: CloseStatus; code: number | undefined }[];
}

/**
 * Routes: `/echo` echoes, `/close` closes with 4002 when it receives
 * "close-me", `/small` has `maxWs: 1024`, `/ping` pings the client on open.
 */
async function withEchoServer(
  options: ChannelOptions,
  fn: (url: string, log: Log, server: Server) => Promise<void>,
): Promise<void> {
  const log: Log = {
    opened: [],
    received: [],
    pings: [],
    pongs: [],
    closes: [],
  };
  const errors: unknown[] = [];
  const text = new TextDecoder();
  const server = runServer((req) => {
    const path = req.uri;
    return asChannel(req, {
      onOpen(ch) {
        log.opened.push(ch);
        if (path === "/ping") ch.ping("srv-ping");
      },
      onReceive(ch, m) {
        log.received.push(m);
        if (path === "/close" && m === "close-me") {
          ch.close(4002, "server says bye");
        } else ch.send(m);
      },
      onPing(_ch, d) {
        log.pings.push(text.decode(d));
      },
      onPong(_ch, d) {
        log.pongs.push(text.decode(d));
      },
      onClose(_ch, status, code) {
        log.closes.push({ path, status, code });
      },
    }, {
      protocols: ["chat"],
      ...options,
      ...(path === "/small" ? { maxWs: 1024 } : {}),
    });
  }, {
    ip: "127.0.0.1",
    port: 0,
    errorLogger: (e) => errors.push(e),
    warnLogger: () => {},
  });
  try {
    await fn(`ws://127.0.0.1:${server.port}`, log, server);
    assert.deepEqual(errors, []);
  } finally {
    await server.stop();
  }
}

async function python(
  script: string,
  args: string[],
): Promise<Record<string, unknown>> {
  const out = await new Deno.Command(peerPath("python3"), {
    args: [FIXTURES + script, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `${script} ${args.join(" ")} failed:\n${stderr}`);
  return JSON.parse(stdout);
}

// ---------------------------------------------------------------------------
// Python websockets

for (const compression of ["deflate", "none"] as const) {
  websockets.test(`asChannel() interop: Python websockets echo, 1 MiB messages, ping, close (compression ${compression})`, async () => {
    await withEchoServer({}, async (url, log) => {
      const r = await python("ws_websockets_client.py", [
        `${url}/echo`,
        "echo",
        compression,
      ]);
      assert.equal(r.subprotocol, "chat");
      if (compression === "deflate") {
        assert.match(String(r.extensions), /^permessage-deflate/);
      } else {
        assert.equal(r.extensions, null);
      }
      assert.equal(r.echoed, 302);
      assert.equal(r.mismatches, 0);
      assert.equal(r.pong, true);
      assert.equal(r.close_code, 4001);
      assert.equal(log.received.length, 302);
      assert.equal(log.received[300], "t".repeat(2 ** 20));
      assert.equal((log.received[301] as Uint8Array).length, 2 ** 20);
      assert.deepEqual(log.pings, ["ping-payload"]);
      await until(() => log.closes.length === 1, "onClose");
      assert.deepEqual(log.closes[0], {
        path: "/echo",
        status: "unknown",
        code: 4001,
      });
    });
  });
}

websockets.test("asChannel() interop: Python websockets with deflate: false on the server", async () => {
  await withEchoServer({ deflate: false }, async (url) => {
    const r = await python("ws_websockets_client.py", [
      `${url}/echo`,
      "echo",
      "deflate",
    ]);
    assert.equal(r.extensions, null);
    assert.equal(r.mismatches, 0);
    assert.equal(r.close_code, 4001);
  });
});

websockets.test("asChannel() interop: Python websockets sees the server's close code, 1009 and a dropped client", async () => {
  await withEchoServer({}, async (url, log) => {
    const closed = await python("ws_websockets_client.py", [
      `${url}/close`,
      "server-close",
    ]);
    assert.equal(closed.close_code, 4002);
    assert.equal(closed.close_reason, "server says bye");
    const big = await python("ws_websockets_client.py", [
      `${url}/small`,
      "too-big",
      "none",
    ]);
    assert.equal(big.close_code, 1009);
    const bigDeflate = await python("ws_websockets_client.py", [
      `${url}/small`,
      "too-big",
      "deflate",
    ]);
    assert.equal(bigDeflate.close_code, 1009);
    await python("ws_websockets_client.py", [`${url}/echo`, "drop"]);
    await until(() => log.closes.length === 4, "onClose");
    assert.deepEqual(log.closes.map((c) => [c.path, c.status]), [
      ["/close", "server-close"],
      ["/small", "message-too-big"],
      ["/small", "message-too-big"],
      ["/echo", "going-away"],
    ]);
  });
});

// ---------------------------------------------------------------------------
// aiohttp

for (const compression of ["deflate", "none"] as const) {
  aiohttp.test(`asChannel() interop: aiohttp ws_connect echo and close (compression ${compression})`, async () => {
    await withEchoServer({}, async (url, log) => {
      const r = await python("ws_aiohttp_client.py", [
        `${url}/echo`,
        "echo",
        compression,
      ]);
      assert.equal(r.protocol, "chat");
      assert.equal(r.compress, compression === "deflate" ? 15 : 0);
      assert.equal(r.echoed, 101);
      assert.equal(r.mismatches, 0);
      assert.equal(r.close_code, 4003);
      await until(() => log.closes.length === 1, "onClose");
      assert.deepEqual(log.closes[0], {
        path: "/echo",
        status: "unknown",
        code: 4003,
      });
    });
  });
}

aiohttp.test("asChannel() interop: aiohttp sees the server's close code and reason", async () => {
  await withEchoServer({}, async (url, log) => {
    const r = await python("ws_aiohttp_client.py", [
      `${url}/close`,
      "server-close",
    ]);
    assert.equal(r.close_code, 4002);
    assert.equal(r.close_data, 4002);
    assert.equal(r.close_extra, "server says bye");
    await until(() => log.closes.length === 1, "onClose");
    assert.equal(log.closes[0].status, "server-close");
  });
});

// ---------------------------------------------------------------------------
// npm ws

interface WsEvents {
  messages: { data: Buffer; binary: boolean }[];
  pongs: string[];
  pings: string[];
  close: Promise<{ code: number; reason: string }>;
}

async function openWs(
  url: string,
  opts: { perMessageDeflate: boolean; protocols?: string[] },
): Promise<{ ws: WebSocket; ev: WsEvents }> {
  const ws = new WebSocket(url, opts.protocols ?? [], {
    perMessageDeflate: opts.perMessageDeflate,
  });
  const ev: WsEvents = {
    messages: [],
    pongs: [],
    pings: [],
    close: new Promise((resolve) =>
      ws.on(
        "close",
        (code: number, reason: Buffer) =>
          resolve({ code, reason: reason.toString() }),
      )
    ),
  };
  ws.on("message", (data: Buffer, binary: boolean) => {
    ev.messages.push({ data, binary });
  });
  ws.on("pong", (d: Buffer) => ev.pongs.push(d.toString()));
  ws.on("ping", (d: Buffer) => ev.pings.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, ev };
}

for (const perMessageDeflate of [true, false]) {
  Deno.test(`asChannel() interop: npm ws echo, fragments, ping/pong and close (perMessageDeflate ${perMessageDeflate})`, async () => {
    await withEchoServer({}, async (url, log) => {
      const { ws, ev } = await openWs(`${url}/ping`, {
        perMessageDeflate,
        protocols: ["chat", "other"],
      });
      assert.equal(ws.protocol, "chat");
      if (perMessageDeflate) assert.match(ws.extensions, /permessage-deflate/);
      else assert.equal(ws.extensions, "");
      // the server pinged on open; ws answers by itself
      await until(() => ev.pings.length === 1, "server ping");
      assert.deepEqual(ev.pings, ["srv-ping"]);
      await until(() => log.pongs.length === 1, "onPong");
      assert.deepEqual(log.pongs, ["srv-ping"]);

      ws.send("text one");
      ws.send(new Uint8Array([1, 2, 3]));
      ws.send("Hel", { fin: false });
      ws.send("lo ", { fin: false });
      ws.send("wörld", { fin: true });
      ws.send(Buffer.from([9, 8]), { fin: false, binary: true });
      ws.send(Buffer.from([7]), { fin: true, binary: true });
      const big = "compress me ".repeat(20_000);
      ws.send(big);
      ws.ping(Buffer.from("client-ping"));
      await until(() => ev.messages.length === 5, "five echoes");
      assert.deepEqual(
        ev.messages.map((m) => m.binary ? [...m.data] : m.data.toString()),
        ["text one", [1, 2, 3], "Hello wörld", [9, 8, 7], big],
      );
      await until(() => ev.pongs.length === 1, "pong");
      assert.deepEqual(ev.pongs, ["client-ping"]);
      assert.deepEqual(log.pings, ["client-ping"]);
      assert.equal(log.received[2], "Hello wörld");
      assert.deepEqual(log.received[3], new Uint8Array([9, 8, 7]));

      ws.close(4005, "ws done");
      const c = await ev.close;
      assert.equal(c.code, 4005);
      await until(() => log.closes.length === 1, "onClose");
      assert.deepEqual(log.closes[0], {
        path: "/ping",
        status: "unknown",
        code: 4005,
      });
    });
  });
}

Deno.test("asChannel() interop: npm ws sees server close, and 1009 for an inflated message over maxWs", async () => {
  await withEchoServer({}, async (url, log) => {
    const a = await openWs(`${url}/close`, { perMessageDeflate: true });
    a.ws.send("close-me");
    const ca = await a.ev.close;
    assert.deepEqual(ca, { code: 4002, reason: "server says bye" });

    // 64 KiB of zeros compresses to a few bytes; inflated it is over 1024
    const b = await openWs(`${url}/small`, { perMessageDeflate: true });
    assert.match(b.ws.extensions, /permessage-deflate/);
    b.ws.send(new Uint8Array(64 * 1024));
    const cb = await b.ev.close;
    assert.equal(cb.code, 1009);
    await until(() => log.closes.length === 2, "onClose");
    assert.deepEqual(log.closes.map((c) => c.status), [
      "server-close",
      "message-too-big",
    ]);
  });
});
