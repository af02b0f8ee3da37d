// HTTP channels (asChannel on a plain request) over real sockets: long-poll,
// chunked streaming, HTTP/1.0 close-delimited streams, close statuses,
// keep-alive with pipelined requests, and server stop. The client is a raw
// socket that checks the exact bytes on the wire.

import assert from "node:assert/strict";
import {
  asChannel,
  type Channel,
  type ChannelHandlers,
  type CloseStatus,
  type RingRequest,
  type RingResponse,
  runServer,
} from "../mod.ts";
import {
  get,
  RawClient,
  sleep,
  type TestServer,
  until,
  withServer,
} from "./_helpers.ts";

/** What the channels of one server did. */
interface Log {
  opened: Channel[];
  closes: { ch: Channel; status: CloseStatus }[];
  order: string[];
}

/**
 * Runs a server where `/ch*` paths become channels driven by `handlers` and
 * any other path answers `plain <uri>`.
 */
async function withChannels(
  handlers: (req: RingRequest, log: Log) => ChannelHandlers,
  fn: (t: TestServer, log: Log) => Promise<void>,
): Promise<void> {
  const log: Log = { opened: [], closes: [], order: [] };
  await withServer(
    (req): RingResponse => {
      log.order.push(`handler ${req.uri}`);
      if (!req.uri.startsWith("/ch")) return { body: `plain ${req.uri}` };
      const h = handlers(req, log);
      return asChannel(req, {
        ...h,
        onOpen(ch) {
          log.opened.push(ch);
          h.onOpen?.(ch);
        },
        onClose(ch, status, code) {
          log.closes.push({ ch, status });
          log.order.push(`close ${req.uri} ${status}`);
          h.onClose?.(ch, status, code);
        },
      });
    },
    {},
    (t) => fn(t, log),
  );
}

/** Reads the raw bytes of a head plus exactly `n` more bytes, as text. */
async function readExactly(c: RawClient, n: number): Promise<string> {
  while (c.available < n) {
    if (!(await c.fill())) {
      throw new Error(`EOF after ${c.available} of ${n} bytes: ${c.peek()}`);
    }
  }
  const s = c.peek().slice(0, n);
  c.consume(n);
  return s;
}

// ---------------------------------------------------------------------------
// Long-polling

Deno.test("asChannel() send(x) defaults to closeAfterSend: one response with Content-Length", async () => {
  const results: unknown[] = [];
  await withChannels(
    () => ({
      onOpen(ch) {
        assert.equal(ch.isWebSocket, false);
        assert.equal(ch.remoteAddr, "127.0.0.1");
        assert.equal(ch.ping("x"), false);
        results.push(ch.send("hello"));
        results.push(ch.isOpen);
        results.push(ch.send("again"));
        results.push(ch.close());
      },
    }),
    async (t, log) => {
      const c = await t.connect();
      await c.write(get("/ch") + get("/next"));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(res.header("content-length"), "5");
      assert.equal(res.header("transfer-encoding"), null);
      assert.equal(res.header("content-type"), "text/html; charset=utf-8");
      assert.equal(res.text, "hello");
      // keep-alive: the connection goes on
      const next = await c.readResponse();
      assert.equal(next.text, "plain /next");
      assert.deepEqual(results, [true, false, false, false]);
      await until(() => log.closes.length === 1, "onClose");
      assert.equal(log.closes[0].status, "server-close");
    },
  );
});

Deno.test("asChannel() long-poll: send(map, true) from a timer gives status, headers and Content-Length", async () => {
  let sentAt = 0;
  await withChannels(
    () => ({
      onOpen(ch) {
        setTimeout(() => {
          sentAt = performance.now();
          ch.send({
            status: 202,
            headers: { "content-type": "application/json", "x-poll": "1" },
            body: '{"ok":true}',
          }, true);
        }, 80);
      },
    }),
    async (t, log) => {
      const c = await t.connect();
      await c.write(get("/ch/poll"));
      const res = await c.readResponse();
      assert.ok(sentAt > 0, "response arrived before the timer sent it");
      assert.equal(res.status, 202);
      assert.equal(res.header("content-type"), "application/json");
      assert.equal(res.header("x-poll"), "1");
      assert.equal(res.header("content-length"), "11");
      assert.equal(res.header("transfer-encoding"), null);
      assert.equal(res.text, '{"ok":true}');
      await until(() => log.closes.length === 1, "onClose");
      assert.equal(log.closes[0].status, "server-close");
      // the connection is still usable
      await c.write(get("/after"));
      assert.equal((await c.readResponse()).text, "plain /after");
    },
  );
});

Deno.test("asChannel() long-poll: a Uint8Array body and a HEAD request", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send({ body: new Uint8Array([0, 1, 2, 255]) });
      },
    }),
    async (t) => {
      const c = await t.connect();
      await c.write(get("/ch/bytes"));
      const res = await c.readResponse();
      assert.equal(res.header("content-length"), "4");
      assert.deepEqual([...res.body], [0, 1, 2, 255]);
      await c.write("HEAD /ch/head HTTP/1.1\r\nHost: t\r\n\r\n" + get("/x"));
      const head = await c.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.equal(head.header("content-length"), "4");
      // no body bytes: the next response follows the head directly
      assert.equal((await c.readResponse()).text, "plain /x");
    },
  );
});

// ---------------------------------------------------------------------------
// Chunked streaming

Deno.test("asChannel() send(x, false) streams chunks; status and headers only from the first send", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send({
          status: 201,
          headers: { "content-type": "text/plain", "x-first": "1" },
          body: "a",
        }, false);
      },
    }),
    async (t, log) => {
      const c = await t.connect();
      await c.write(get("/ch/stream"));
      const head = await c.readHead();
      assert.match(head, /^HTTP\/1\.1 201 /);
      assert.match(head, /\r\nTransfer-Encoding: chunked\r\n/i);
      assert.match(head, /\r\ncontent-type: text\/plain\r\n/i);
      assert.match(head, /\r\nx-first: 1\r\n/i);
      assert.doesNotMatch(head, /content-length/i);
      // the first chunk arrives before any later send
      assert.equal(await readExactly(c, 6), "1\r\na\r\n");
      const ch = log.opened[0];
      assert.equal(ch.isOpen, true);
      assert.equal(
        ch.send(
          { status: 500, headers: { "x-later": "2" }, body: "bb" },
          false,
        ),
        true,
      );
      assert.equal(await readExactly(c, 7), "2\r\nbb\r\n");
      assert.equal(ch.send(new Uint8Array([0x63, 0x63, 0x63]), false), true);
      assert.equal(await readExactly(c, 8), "3\r\nccc\r\n");
      // an empty send is not the end of the stream
      assert.equal(ch.send("", false), true);
      assert.equal(ch.send("dddd", true), true);
      assert.equal(await readExactly(c, 14), "4\r\ndddd\r\n0\r\n\r\n");
      assert.equal(ch.isOpen, false);
      assert.equal(ch.send("more", false), false);
      await until(() => log.closes.length === 1, "onClose");
      assert.equal(log.closes[0].status, "server-close");
      // keep-alive after a finished stream
      await c.write(get("/after"));
      const next = await c.readResponse();
      assert.equal(next.text, "plain /after");
      assert.doesNotMatch(next.head, /x-later/i);
    },
  );
});

Deno.test("asChannel() stream: first send without headers defaults the content type", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send("x", false);
        ch.send("y");
      },
    }),
    async (t) => {
      const c = await t.connect();
      await c.write(get("/ch/default"));
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(res.chunked, true);
      assert.equal(res.header("content-type"), "text/html; charset=utf-8");
      assert.equal(res.text, "xy");
    },
  );
});

Deno.test("asChannel() stream: close() ends the chunked body, reports server-close and keeps the connection", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send("part", false);
      },
    }),
    async (t, log) => {
      const c = await t.connect();
      await c.write(get("/ch/s"));
      await c.readHead();
      assert.equal(await readExactly(c, 9), "4\r\npart\r\n");
      const ch = log.opened[0];
      assert.equal(ch.close(), true);
      assert.equal(ch.close(), false, "second close() must return false");
      assert.equal(ch.send("late", false), false);
      assert.equal(await readExactly(c, 5), "0\r\n\r\n");
      await until(() => log.closes.length === 1, "onClose");
      assert.equal(log.closes[0].status, "server-close");
      await sleep(20);
      assert.equal(log.closes.length, 1, "onClose must be called once");
      await c.write(get("/after"));
      assert.equal((await c.readResponse()).text, "plain /after");
    },
  );
});

Deno.test("asChannel() close() before any send closes the connection with server-close", async () => {
  await withChannels(
    () => ({}),
    async (t, log) => {
      const c = await t.connect();
      await c.write(get("/ch/x"));
      await until(() => log.opened.length === 1, "onOpen");
      const ch = log.opened[0];
      assert.equal(ch.close(), true);
      assert.equal(ch.close(), false);
      assert.equal(ch.send("x"), false);
      await c.expectClose();
      await until(() => log.closes.length === 1, "onClose");
      assert.equal(log.closes[0].status, "server-close");
    },
  );
});

// ---------------------------------------------------------------------------
// HTTP/1.0

Deno.test("asChannel() HTTP/1.0 stream is close-delimited, without chunked coding", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send(
          { headers: { "content-type": "text/plain" }, body: "a" },
          false,
        );
        setTimeout(() => {
          ch.send("b", false);
          ch.send("c", true);
        }, 20);
      },
    }),
    async (t, log) => {
      for (const extra of ["", "Connection: keep-alive\r\n"]) {
        const c = await t.connect();
        await c.write(`GET /ch/10 HTTP/1.0\r\nHost: t\r\n${extra}\r\n`);
        const res = await c.readResponse();
        assert.equal(res.status, 200);
        assert.equal(res.header("transfer-encoding"), null);
        assert.equal(res.header("content-length"), null);
        assert.equal(res.header("connection")?.toLowerCase(), "close");
        assert.equal(res.text, "abc");
        assert.equal(c.eof, true);
      }
      await until(() => log.closes.length === 2, "onClose");
      assert.deepEqual(log.closes.map((x) => x.status), [
        "server-close",
        "server-close",
      ]);
    },
  );
});

Deno.test("asChannel() HTTP/1.0 stream ended by close() still delivers every byte sent", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send(
          { headers: { "content-type": "text/plain" }, body: "a" },
          false,
        );
        ch.send("b".repeat(100_000), false);
        ch.close();
      },
    }),
    async (t, log) => {
      const c = await t.connect();
      await c.write("GET /ch/10 HTTP/1.0\r\nHost: t\r\n\r\n");
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 100_001);
      await until(() => log.closes.length === 1, "onClose");
      assert.equal(log.closes[0].status, "server-close");
    },
  );
});

Deno.test("asChannel() HTTP/1.0 long-poll answers with Content-Length", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send("done");
      },
    }),
    async (t) => {
      const c = await t.connect();
      await c.write("GET /ch/10 HTTP/1.0\r\nHost: t\r\n\r\n");
      const res = await c.readResponse();
      assert.equal(res.header("content-length"), "4");
      assert.equal(res.text, "done");
      await c.expectClose();
    },
  );
});

// ---------------------------------------------------------------------------
// The client goes away

Deno.test("asChannel() a client that leaves fires onClose client-close (before and during a stream)", async () => {
  for (const started of [false, true]) {
    await withChannels(
      () => ({
        onOpen(ch) {
          if (started) ch.send("first", false);
        },
      }),
      async (t, log) => {
        const c = await t.connect();
        await c.write(get("/ch/leave"));
        if (started) await c.readHead();
        await until(() => log.opened.length === 1, "onOpen");
        c.close();
        await until(() => log.closes.length === 1, "onClose client-close");
        const ch = log.opened[0];
        assert.equal(log.closes[0].status, "client-close");
        assert.equal(ch.isOpen, false);
        assert.equal(ch.send("x", false), false);
        assert.equal(ch.close(), false);
      },
    );
  }
});

// ---------------------------------------------------------------------------
// Keep-alive and pipelining

Deno.test("asChannel() a pipelined request is answered after the channel's stream, in order, on the same socket", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send("s1", false);
      },
    }),
    async (t, log) => {
      const c = await t.connect();
      // both requests in one write
      await c.write(get("/ch/stream") + get("/second"));
      await c.readHead();
      assert.equal(await readExactly(c, 7), "2\r\ns1\r\n");
      await sleep(50);
      assert.equal(c.available, 0, "nothing may follow until the stream ends");
      const ch = log.opened[0];
      ch.send("s2", false);
      assert.equal(await readExactly(c, 7), "2\r\ns2\r\n");
      ch.send("s3", true);
      assert.equal(await readExactly(c, 12), "2\r\ns3\r\n0\r\n\r\n");
      const second = await c.readResponse();
      assert.equal(second.text, "plain /second");
      assert.deepEqual(log.order, [
        "handler /ch/stream",
        "close /ch/stream server-close",
        "handler /second",
      ]);
    },
  );
});

Deno.test("asChannel() pipelined long-polls are answered in request order", async () => {
  await withChannels(
    (req) => ({
      onOpen(ch) {
        // the first channel answers last
        const wait = req.uri === "/ch/1" ? 60 : 5;
        setTimeout(() => ch.send(`answer ${req.uri}`), wait);
      },
    }),
    async (t, log) => {
      const c = await t.connect();
      await c.write(get("/ch/1") + get("/ch/2") + get("/three"));
      const res = await c.readResponses(3);
      assert.deepEqual(res.map((r) => r.text), [
        "answer /ch/1",
        "answer /ch/2",
        "plain /three",
      ]);
      assert.equal(log.opened.length, 2);
    },
  );
});

// ---------------------------------------------------------------------------
// Server stop

Deno.test("asChannel() server.stop() closes open channels with server-close", async () => {
  const log: Log = { opened: [], closes: [], order: [] };
  const server = runServer((req) =>
    asChannel(req, {
      onOpen(ch) {
        log.opened.push(ch);
        if (req.uri === "/stream") ch.send("s", false);
      },
      onClose(ch, status) {
        log.closes.push({ ch, status });
      },
    }), { ip: "127.0.0.1", port: 0 });
  const a = await RawClient.connect(server.port);
  const b = await RawClient.connect(server.port);
  try {
    await a.write(get("/stream"));
    await b.write(get("/poll"));
    await a.readHead();
    assert.equal(await readExactly(a, 6), "1\r\ns\r\n");
    await until(() => log.opened.length === 2, "two channels open");
    await server.stop();
    assert.equal(log.closes.length, 2);
    assert.deepEqual(log.closes.map((x) => x.status), [
      "server-close",
      "server-close",
    ]);
    // the stream was ended properly, then the connection closed
    assert.equal(await readExactly(a, 5), "0\r\n\r\n");
    await a.expectClose();
    await b.expectClose();
  } finally {
    a.close();
    b.close();
    await server.stop();
  }
});

// ---------------------------------------------------------------------------
// Backpressure

Deno.test("asChannel() stream: bufferedAmount grows for a client that does not read; drained() and onDrain once it reads", async () => {
  const maxQueue = 2 * 1024 * 1024;
  const chunk = "z".repeat(64 * 1024);
  let sent = 0;
  let peak = 0;
  let drainedAt = 0;
  let drains = 0;
  let refused = false;
  await withServer(
    (req) =>
      asChannel(req, {
        async onOpen(ch) {
          ch.send({ headers: { "content-type": "text/plain" } }, false);
          while (ch.bufferedAmount <= maxQueue * 0.6 && sent < 1000) {
            if (!ch.send(chunk, false)) {
              refused = true;
              return;
            }
            sent++;
            peak = Math.max(peak, ch.bufferedAmount);
            await sleep(0);
          }
          await ch.drained();
          drainedAt = performance.now();
          ch.send("end", true);
        },
        onDrain() {
          drains++;
        },
      }, { maxQueue }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/big"));
      await until(() => peak > maxQueue * 0.6, "the queue to fill", 8000);
      await sleep(50);
      assert.equal(drainedAt, 0, "drained() resolved before the client read");
      const readingAt = performance.now();
      const res = await c.readResponse();
      assert.equal(refused, false);
      assert.equal(res.body.length, sent * chunk.length + 3);
      assert.ok(res.text.endsWith("zend"));
      assert.ok(drainedAt >= readingAt);
      assert.equal(drains, 1);
    },
  );
});

Deno.test("asChannel() long-poll honours Connection: close from the client", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        setTimeout(() => ch.send("bye"), 10);
      },
    }),
    async (t) => {
      const c = await t.connect();
      await c.write(get("/ch", "Connection: close\r\n"));
      const res = await c.readResponse();
      assert.equal(res.header("connection")?.toLowerCase(), "close");
      assert.equal(res.text, "bye");
      await c.expectClose();
    },
  );
});

Deno.test("asChannel() a request that arrives while a stream is open is answered after it", async () => {
  await withChannels(
    () => ({
      onOpen(ch) {
        ch.send("s1", false);
      },
    }),
    async (t, log) => {
      const c = await t.connect();
      await c.write(get("/ch/stream"));
      await c.readHead();
      assert.equal(await readExactly(c, 7), "2\r\ns1\r\n");
      // the next request comes in a later write, while the stream is open
      await c.write(get("/later"));
      await sleep(50);
      assert.equal(c.available, 0);
      assert.equal(log.closes.length, 0, "a pipelined request is no close");
      log.opened[0].send("s2", true);
      assert.equal(await readExactly(c, 12), "2\r\ns2\r\n0\r\n\r\n");
      assert.equal((await c.readResponse()).text, "plain /later");
    },
  );
});
