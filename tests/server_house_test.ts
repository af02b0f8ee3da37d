// What the server's house refactor added or had to keep, over real sockets:
// timeouts that never fire early, handler results that are not response maps,
// maxWs as a server option, `await using` a server, WebSocket send() of
// anything but text or bytes, channel callbacks that throw, and HTTP channel
// streams on HTTP/1.0 keep-alive and HEAD.

import assert from "node:assert/strict";
import {
  asChannel,
  type Channel,
  type ChannelData,
  type ChannelHandlers,
  type ChannelOptions,
  type CloseStatus,
  type Handler,
  type RingResponse,
  runServer,
  type Server,
} from "../mod.ts";
import {
  decoder,
  encoder,
  exchange,
  get,
  type RawClient,
  type RawResponse,
  readWsFrame,
  sleep,
  type TestServer,
  until,
  withServer,
  WS_OP,
  wsCloseCode,
  wsFrame,
  wsUpgrade,
} from "./_helpers.ts";

const hello = (): RingResponse => ({ body: "hello" });

/** How long after `t0` something happened, in ms. */
function since(t0: number): number {
  return performance.now() - t0;
}

// ---------------------------------------------------------------------------
// Timeouts never fire early (and do fire)

Deno.test("runServer() headerTimeout: a half-sent head gets its 408 no sooner than the timeout", async () => {
  const timeout = 500;
  await withServer(hello, { headerTimeout: timeout }, async (t) => {
    // A new connection's head timer starts when it is accepted, which is
    // after the client started connecting.
    const t0 = performance.now();
    const c = await t.connect();
    await c.write("GET / HTTP/1.1\r\nHost: t\r\n");
    const r = await c.readResponse({ timeout: 3000 });
    const took = since(t0);
    assert.equal(r.status, 408);
    assert.ok(took >= timeout, `408 after only ${took} ms`);
    assert.ok(took < 3000, `408 after ${took} ms`);
    await c.expectClose(3000);
  });
});

Deno.test("runServer() headerTimeout: a kept-alive connection's next head is timed from its first byte", async () => {
  const timeout = 500;
  await withServer(hello, { headerTimeout: timeout }, async (t) => {
    const c = await t.connect();
    await c.write(get("/"));
    assert.equal((await c.readResponse()).text, "hello");
    // idle for a while: that time does not count against the next head
    await sleep(300);
    const t0 = performance.now();
    await c.write("GET /next HTTP/1.1\r\n");
    const r = await c.readResponse({ timeout: 3000 });
    const took = since(t0);
    assert.equal(r.status, 408);
    assert.equal(r.header("connection")?.toLowerCase(), "close");
    assert.ok(took >= timeout, `408 after only ${took} ms`);
    assert.ok(took < 3000, `408 after ${took} ms`);
    await c.expectClose(3000);
  });
});

Deno.test("runServer() idleTimeout: a kept-alive connection is closed no sooner than the timeout after its last response", async () => {
  const timeout = 500;
  await withServer(hello, { idleTimeout: timeout }, async (t) => {
    const c = await t.connect();
    await c.write(get("/a"));
    await c.readResponse();
    await sleep(200);
    await c.write(get("/b"));
    await c.readResponse();
    const t0 = performance.now();
    const waited = await c.expectClose(3000);
    const took = since(t0);
    assert.ok(took >= timeout, `closed after only ${took} ms`);
    assert.ok(waited < 3000, `closed after ${waited} ms`);
  });
});

Deno.test({
  name:
    "runServer() idleTimeout: never fires early after a handler that blocked the event loop",
  async fn() {
    const timeout = 500;
    const handler: Handler = (req) => {
      if (req.uri === "/block") {
        const end = performance.now() + 800;
        while (performance.now() < end) {
          // CPU-bound work in a synchronous handler
        }
      }
      return hello();
    };
    await withServer(handler, { idleTimeout: timeout }, async (t) => {
      const c = await t.connect();
      await c.write(get("/block"));
      assert.equal((await c.readResponse()).text, "hello");
      const t0 = performance.now();
      await c.expectClose(3000);
      const took = since(t0);
      assert.ok(took >= timeout, `closed after only ${took} ms`);
    });
  },
});

Deno.test("runServer() bodyTimeout: a stalled body gets its 408 no sooner than the timeout after its last byte", async () => {
  const timeout = 500;
  await withServer(hello, { bodyTimeout: timeout }, async (t) => {
    const c = await t.connect();
    await c.write("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nab");
    // bytes keep coming for a while: each one restarts the wait
    for (const b of ["c", "d", "e"]) {
      await sleep(150);
      await c.write(b);
    }
    await sleep(150);
    const t0 = performance.now();
    await c.write("f");
    const r = await c.readResponse({ timeout: 3000 });
    const took = since(t0);
    assert.equal(r.status, 408);
    assert.ok(took >= timeout, `408 after only ${took} ms`);
    assert.ok(took < 3000, `408 after ${took} ms`);
    await c.expectClose(3000);
  });
});

Deno.test("runServer() bodyTimeout: a stalled chunked body gets its 408 no sooner than the timeout", async () => {
  const timeout = 500;
  await withServer(hello, { bodyTimeout: timeout }, async (t) => {
    const c = await t.connect();
    await c.write(
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
    );
    await sleep(200);
    const t0 = performance.now();
    await c.write("c\r\n");
    const r = await c.readResponse({ timeout: 3000 });
    const took = since(t0);
    assert.equal(r.status, 408);
    assert.ok(took >= timeout, `408 after only ${took} ms`);
    assert.ok(took < 3000, `408 after ${took} ms`);
  });
});

// ---------------------------------------------------------------------------
// Handler results that are not response maps

interface BadResult {
  name: string;
  value: unknown;
  /** What the logged TypeError's message must contain. */
  says: string[];
}

const BAD_RESULTS: BadResult[] = [
  { name: "a number", value: 42, says: ["number", "42"] },
  { name: "a string", value: "hello", says: ["string", '"hello"'] },
  { name: "a boolean", value: true, says: ["boolean", "true"] },
  { name: "a map with a number body", value: { body: 42 }, says: ["number"] },
  {
    name: "a map with an object body",
    value: { body: { a: 1 } },
    says: ["object", '{"a":1}'],
  },
  {
    name: "a map whose headers are a string",
    value: { headers: "x-a: 1", body: "hi" },
    says: ["headers", "string"],
  },
];

for (const bad of BAD_RESULTS) {
  for (const mode of ["sync", "async"]) {
    Deno.test(`runServer() answers 500 and logs a TypeError naming it when ${mode === "async" ? "an async" : "a sync"} handler returns ${bad.name}`, async () => {
      const handler = (req: { uri: string }) => {
        const v = req.uri === "/bad" ? bad.value : hello();
        return mode === "async" ? Promise.resolve(v) : v;
      };
      await withServer(handler as Handler, {}, async (t) => {
        const c = await t.connect();
        await c.write(get("/bad") + get("/after"));
        const [r, after] = await c.readResponses(2);
        assert.equal(r.status, 500);
        assert.equal(after.text, "hello", "the connection goes on");
        assert.equal(t.errors.length, 1, String(t.errors));
        const err = t.errors[0];
        assert.ok(err instanceof TypeError, String(err));
        for (const word of bad.says) {
          assert.ok(
            err.message.includes(word),
            `${JSON.stringify(err.message)} should name ${word}`,
          );
        }
      });
    });
  }
}

Deno.test("runServer() still answers 404 without a log line for null and undefined", async () => {
  await withServer(
    (req) => (req.uri === "/null" ? null : undefined),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/null") + get("/undefined"));
      const rs = await c.readResponses(2);
      assert.deepEqual(rs.map((r) => r.status), [404, 404]);
      assert.deepEqual(t.errors, []);
    },
  );
});

Deno.test('runServer() answers 500 and logs once for { status: "ok" }', async () => {
  await withServer(
    (req) =>
      req.uri === "/bad"
        ? { status: "ok" } as unknown as RingResponse
        : hello(),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/bad") + get("/after"));
      const [r, after] = await c.readResponses(2);
      assert.equal(r.status, 500);
      assert.equal(after.text, "hello");
      assert.equal(t.errors.length, 1);
      assert.ok(String(t.errors[0]).includes("ok"), String(t.errors[0]));
    },
  );
});

Deno.test({
  name:
    "runServer() answers 500 and logs a TypeError when the handler returns an array",
  async fn() {
    await withServer(
      () => [200, "ok"] as unknown as RingResponse,
      {},
      async (t) => {
        const r = await exchange(t, get("/"));
        assert.equal(r.status, 500);
        assert.equal(t.errors.length, 1);
        assert.ok(t.errors[0] instanceof TypeError);
        assert.ok(String(t.errors[0]).includes("array"));
      },
    );
  },
});

// ---------------------------------------------------------------------------
// WebSocket: maxWs as a server option

/** Connects, upgrades and checks the 101. */
async function openWs(t: TestServer, path = "/"): Promise<RawClient> {
  const c = await t.connect();
  await c.write(wsUpgrade(path));
  const head = await c.readHead();
  assert.ok(head.startsWith("HTTP/1.1 101 "), head);
  return c;
}

/** Expects a close frame with `code`, then the TCP close. */
async function expectWsClose(c: RawClient, code: number): Promise<void> {
  const f = await readWsFrame(c, 3000);
  assert.ok(f !== null, `expected a close frame ${code}, got EOF`);
  assert.equal(f.op, WS_OP.close, `expected a close frame, got op ${f.op}`);
  assert.equal(wsCloseCode(f), code);
  assert.equal(await readWsFrame(c, 3000), null, "expected the TCP close");
}

const echo: ChannelHandlers = {
  onReceive(ch, m) {
    ch.send(m);
  },
};

function wsServer(
  handlers: ChannelHandlers,
  options: ChannelOptions = {},
): Handler {
  return (req) => asChannel(req, handlers, options);
}

Deno.test("runServer() maxWs: a message over the server's limit closes with 1009", async () => {
  await withServer(wsServer(echo), { maxWs: 1024 }, async (t) => {
    const ok = await openWs(t);
    await ok.write(wsFrame(WS_OP.binary, new Uint8Array(1024)));
    const back = await readWsFrame(ok);
    assert.equal(back?.payload.length, 1024, "exactly maxWs passes");

    const big = await openWs(t);
    await big.write(wsFrame(WS_OP.text, "x".repeat(2048)));
    await expectWsClose(big, 1009);
  });
});

Deno.test("runServer() maxWs: a channel's own maxWs wins over the server's, larger or smaller", async () => {
  // larger: the server says 1 KiB, the channel 4 KiB
  await withServer(
    wsServer(echo, { maxWs: 4096 }),
    { maxWs: 1024 },
    async (t) => {
      const c = await openWs(t);
      await c.write(wsFrame(WS_OP.text, "y".repeat(2048)));
      const back = await readWsFrame(c);
      assert.equal(back?.op, WS_OP.text);
      assert.equal(decoder.decode(back?.payload), "y".repeat(2048));
      await c.write(wsFrame(WS_OP.text, "y".repeat(4097)));
      await expectWsClose(c, 1009);
    },
  );
  // smaller: the server says 8 KiB, the channel 1 KiB
  await withServer(
    wsServer(echo, { maxWs: 1024 }),
    { maxWs: 8192 },
    async (t) => {
      const c = await openWs(t);
      await c.write(wsFrame(WS_OP.text, "z".repeat(2048)));
      await expectWsClose(c, 1009);
    },
  );
});

Deno.test("runServer() refuses a maxWs that is not a positive number", () => {
  for (const maxWs of [0, -1, NaN]) {
    assert.throws(
      () => runServer(hello, { ip: "127.0.0.1", port: 0, maxWs }),
      RangeError,
      String(maxWs),
    );
  }
});

// ---------------------------------------------------------------------------
// await using

Deno.test("Server[Symbol.asyncDispose]() stops the server at the end of an await using block", async () => {
  let server: Server | undefined;
  let port = 0;
  let idle: Deno.TcpConn | undefined;
  {
    await using s = runServer(hello, { ip: "127.0.0.1", port: 0 });
    server = s;
    port = s.port;
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    idle = c;
    await c.write(encoder.encode(get("/")));
    const buf = new Uint8Array(1024);
    const n = await c.read(buf);
    assert.ok(decoder.decode(buf.subarray(0, n!)).startsWith("HTTP/1.1 200"));
    assert.equal(s.status, "running");
  }
  try {
    assert.equal(server.status, "stopped");
    // the idle keep-alive connection was closed
    assert.equal(await idle.read(new Uint8Array(16)), null);
    await assert.rejects(
      () => Deno.connect({ hostname: "127.0.0.1", port }),
      Deno.errors.ConnectionRefused,
    );
  } finally {
    idle.close();
  }
});

Deno.test("Server[Symbol.asyncDispose]() stops the server when the block throws", async () => {
  let server: Server | undefined;
  await assert.rejects(async () => {
    await using s = runServer(hello, { ip: "127.0.0.1", port: 0 });
    server = s;
    throw new Error("inside");
  }, /inside/);
  assert.equal(server?.status, "stopped");
  await server?.finished;
});

// ---------------------------------------------------------------------------
// WebSocket send(): text or bytes only

Deno.test("asChannel() WebSocket send() throws a TypeError naming anything but text or bytes", async () => {
  const opened: Channel[] = [];
  await withServer(
    wsServer({ onOpen: (ch) => void opened.push(ch) }),
    {},
    async (t) => {
      const c = await openWs(t);
      await until(() => opened.length === 1, "onOpen");
      const ch = opened[0];
      const cases: [unknown, RegExp][] = [
        [{ type: "hello" }, /map whose body is undefined/],
        [42, /number/],
        [null, /null/],
        [{ body: 42 }, /map whose body is number/],
        [{ a: 1 } as unknown, /map/],
        [undefined, /undefined/],
      ];
      for (const [data, says] of cases) {
        assert.throws(
          () => ch.send(data as ChannelData),
          (err: unknown) => {
            assert.ok(err instanceof TypeError, String(err));
            assert.match(err.message, says);
            return true;
          },
          String(data),
        );
      }
      // nothing went out for them, and the channel still works
      assert.equal(ch.isOpen, true);
      assert.equal(ch.send({ body: "x" }), true);
      const text = await readWsFrame(c);
      assert.equal(text?.op, WS_OP.text);
      assert.equal(decoder.decode(text?.payload), "x");
      assert.equal(ch.send({ body: new Uint8Array([1, 2]) }), true);
      const bin = await readWsFrame(c);
      assert.equal(bin?.op, WS_OP.binary);
      assert.deepEqual([...bin!.payload], [1, 2]);
      assert.equal(ch.send("plain"), true);
      assert.equal(decoder.decode((await readWsFrame(c))?.payload), "plain");
      assert.deepEqual(t.errors, []);
    },
  );
});

Deno.test({
  name:
    "asChannel() WebSocket send() names an ArrayBuffer or another typed array as what it is",
  async fn() {
    const opened: Channel[] = [];
    await withServer(
      wsServer({ onOpen: (ch) => void opened.push(ch) }),
      {},
      async (t) => {
        await openWs(t);
        await until(() => opened.length === 1, "onOpen");
        const cases: [unknown, RegExp][] = [
          [new ArrayBuffer(4), /ArrayBuffer/],
          [new Uint16Array(2), /Uint16Array/],
          [new Blob(["x"]), /Blob/],
        ];
        for (const [data, says] of cases) {
          assert.throws(
            () => opened[0].send(data as ChannelData),
            (err: unknown) => {
              assert.ok(err instanceof TypeError, String(err));
              assert.match(err.message, says);
              return true;
            },
          );
        }
      },
    );
  },
});

// ---------------------------------------------------------------------------
// Channel callbacks that throw go to the error logger

/** Runs `fn` with console.error captured; returns what it printed. */
async function quietConsole(fn: () => Promise<void>): Promise<unknown[][]> {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return printed;
}

Deno.test("asChannel() WebSocket: a throwing onReceive goes to errorLogger and the channel keeps working", async () => {
  const printed = await quietConsole(async () => {
    await withServer(
      wsServer({
        onReceive(ch, m) {
          if (m === "boom") throw new Error("receive boom");
          ch.send(m);
        },
      }),
      {},
      async (t) => {
        const c = await openWs(t);
        await c.write(wsFrame(WS_OP.text, "boom"));
        await until(() => t.errors.length === 1, "the error logged");
        assert.match(String(t.errors[0]), /receive boom/);
        await c.write(wsFrame(WS_OP.text, "still here"));
        const back = await readWsFrame(c);
        assert.equal(decoder.decode(back?.payload), "still here");
        // twice more, for good measure
        await c.write(wsFrame(WS_OP.text, "boom"));
        await c.write(wsFrame(WS_OP.text, "again"));
        assert.equal(decoder.decode((await readWsFrame(c))?.payload), "again");
        assert.equal(t.errors.length, 2);
      },
    );
  });
  assert.deepEqual(printed, []);
});

Deno.test("asChannel() WebSocket: throwing onOpen and onClose go to errorLogger, not console.error", async () => {
  const closes: CloseStatus[] = [];
  const printed = await quietConsole(async () => {
    await withServer(
      wsServer({
        onOpen() {
          throw new Error("open boom");
        },
        onReceive(ch, m) {
          ch.send(m);
        },
        onClose(_ch, status) {
          closes.push(status);
          throw new Error("close boom");
        },
      }),
      {},
      async (t) => {
        const c = await openWs(t);
        await until(() => t.errors.length === 1, "onOpen's error");
        assert.match(String(t.errors[0]), /open boom/);
        // open despite the throw
        await c.write(wsFrame(WS_OP.text, "hi"));
        assert.equal(decoder.decode((await readWsFrame(c))?.payload), "hi");
        // the client closes: the echo, then onClose throws
        await c.write(wsFrame(WS_OP.close, new Uint8Array([0x03, 0xe8])));
        await expectWsClose(c, 1000);
        await until(() => t.errors.length === 2, "onClose's error");
        assert.match(String(t.errors[1]), /close boom/);
        assert.deepEqual(closes, ["normal"]);
      },
    );
  });
  assert.deepEqual(printed, []);
});

Deno.test("asChannel() HTTP channel: throwing onOpen and onClose go to errorLogger and the response still completes", async () => {
  const opened: Channel[] = [];
  const printed = await quietConsole(async () => {
    await withServer(
      (req) =>
        req.uri.startsWith("/ch")
          ? asChannel(req, {
            onOpen(ch) {
              opened.push(ch);
              throw new Error("open boom");
            },
            onClose() {
              throw new Error("close boom");
            },
          })
          : hello(),
      {},
      async (t) => {
        const c = await t.connect();
        await c.write(get("/ch"));
        await until(() => opened.length === 1, "onOpen");
        assert.equal(opened[0].isOpen, true);
        assert.equal(opened[0].send("long-polled"), true);
        const r = await c.readResponse();
        assert.equal(r.text, "long-polled");
        await until(() => t.errors.length === 2, "both errors");
        assert.match(String(t.errors[0]), /open boom/);
        assert.match(String(t.errors[1]), /close boom/);
        // the connection goes on
        await c.write(get("/after"));
        assert.equal((await c.readResponse()).text, "hello");
      },
    );
  });
  assert.deepEqual(printed, []);
});

// ---------------------------------------------------------------------------
// HTTP channel streams: HTTP/1.0 keep-alive, HTTP/1.1, HEAD

/** A server whose `/ch*` requests become channels put into `opened`. */
function channelServer(opened: Channel[], first: ChannelData): Handler {
  return (req) =>
    req.uri.startsWith("/ch")
      ? asChannel(req, {
        onOpen(ch) {
          opened.push(ch);
          ch.send(first, false);
        },
      })
      : { body: `plain ${req.uri}` };
}

Deno.test("asChannel() send(x, false) on HTTP/1.0 keep-alive says Connection: close and ends the body with the socket", async () => {
  const opened: Channel[] = [];
  await withServer(
    channelServer(opened, {
      headers: { "content-type": "text/plain" },
      body: "first ",
    }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write("GET /ch HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      const head = await c.readHead();
      assert.match(head, /^HTTP\/1\.1 200 /);
      const conn = head.split("\r\n").filter((l) => /^connection:/i.test(l));
      assert.deepEqual(conn, ["Connection: close"]);
      assert.ok(!/keep-alive/i.test(head), head);
      assert.ok(!/transfer-encoding/i.test(head), head);
      assert.ok(!/content-length/i.test(head), head);
      await until(() => opened.length === 1, "onOpen");
      opened[0].send("second ", false);
      opened[0].send("last", false);
      opened[0].close();
      const rest = await c.readToEnd(3000);
      assert.equal(decoder.decode(rest), "first second last");
      assert.equal(c.eof, true);
    },
  );
});

Deno.test("asChannel() send(x, false) on HTTP/1.1 streams chunks and keeps the connection", async () => {
  const opened: Channel[] = [];
  await withServer(channelServer(opened, "first "), {}, async (t) => {
    const c = await t.connect();
    await c.write(get("/ch"));
    await until(() => opened.length === 1, "onOpen");
    opened[0].send("second", false);
    opened[0].close();
    const r = await c.readResponse();
    assert.equal(r.chunked, true);
    assert.equal(r.header("content-length"), null);
    assert.equal(r.header("connection"), null);
    assert.equal(r.text, "first second");
    await c.write(get("/after"));
    assert.equal((await c.readResponse()).text, "plain /after");
  });
});

Deno.test("asChannel() HEAD to a streaming channel: the head only, and the connection goes on after close()", async () => {
  const opened: Channel[] = [];
  await withServer(channelServer(opened, "first "), {}, async (t) => {
    const c = await t.connect();
    await c.write("HEAD /ch HTTP/1.1\r\nHost: t\r\n\r\n");
    const r: RawResponse = await c.readResponse({ head: true });
    assert.equal(r.status, 200);
    assert.equal(r.header("transfer-encoding"), null, r.head);
    assert.equal(r.header("connection"), null, r.head);
    await until(() => opened.length === 1, "onOpen");
    assert.equal(opened[0].send("more", false), true);
    assert.equal(opened[0].close(), true);
    await sleep(50);
    assert.equal(c.available, 0, `stray bytes: ${JSON.stringify(c.peek())}`);
    await c.write(get("/after"));
    const after = await c.readResponse();
    assert.equal(after.text, "plain /after");
    assert.equal(c.available, 0);
  });
});

Deno.test("asChannel() HEAD to a long-poll channel on HTTP/1.0 keep-alive: the head only, kept alive", async () => {
  const opened: Channel[] = [];
  await withServer(
    (req) =>
      req.uri.startsWith("/ch")
        ? asChannel(req, { onOpen: (ch) => void opened.push(ch) })
        : { body: `plain ${req.uri}` },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write("HEAD /ch HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
      await until(() => opened.length === 1, "onOpen");
      opened[0].send("12345", true);
      const r = await c.readResponse({ head: true });
      assert.equal(r.header("content-length"), "5");
      assert.equal(r.header("connection")?.toLowerCase(), "keep-alive");
      await c.write("GET /after HTTP/1.0\r\n\r\n");
      const after = await c.readResponse();
      assert.equal(after.text, "plain /after");
      await c.expectClose();
    },
  );
});
