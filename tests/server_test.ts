// Integration tests of the server over real sockets on 127.0.0.1, with a raw
// client that writes exact bytes and parses exactly what comes back.

import assert from "node:assert/strict";
import type { RingRequest, RingResponse } from "../mod.ts";
import {
  bytes,
  encoder,
  exchange,
  get,
  IMF_FIXDATE,
  type RawResponse,
  sleep,
  withServer,
} from "./_helpers.ts";

const hello = (): RingResponse => ({ body: "hello" });

/** The request map without the hidden connection link, for comparison. */
function plain(req: RingRequest): Record<string, unknown> {
  return { ...req };
}

// ---------------------------------------------------------------------------
// The request map

Deno.test("runServer() builds the Ring request map from the wire", async () => {
  const seen: RingRequest[] = [];
  await withServer(
    (req) => {
      seen.push(req);
      return { body: "ok" };
    },
    {},
    async (t) => {
      const body = "a=1&b=é";
      const bodyBytes = encoder.encode(body);
      const res = await exchange(
        t,
        concat(
          bytes(
            "POST /a/b%20c?x=1&y=2 HTTP/1.1\r\n" +
              "Host: example.com:8080\r\n" +
              "X-Forwarded-For: 10.9.8.7\r\n" +
              "X-Multi: one\r\n" +
              "Cookie: a=1\r\n" +
              "x-multi: two\r\n" +
              "Cookie: b=2\r\n" +
              "Content-Type: Text/HTML ; Charset=utf-8\r\n" +
              `Content-Length: ${bodyBytes.length}\r\n` +
              "X-Case-Test: MiXeD Value\r\n\r\n",
          ),
          bodyBytes,
        ),
      );
      assert.equal(res.status, 200);
      assert.equal(seen.length, 1);
      const r = plain(seen[0]);
      assert.equal(r.serverPort, t.port);
      assert.equal(r.serverName, "example.com");
      assert.equal(r.remoteAddr, "127.0.0.1");
      assert.equal(r.uri, "/a/b%20c");
      assert.equal(r.queryString, "x=1&y=2");
      assert.equal(r.scheme, "http");
      assert.equal(r.requestMethod, "post");
      assert.equal(r.protocol, "HTTP/1.1");
      assert.equal(r.contentType, "text/html");
      assert.equal(r.characterEncoding, "utf-8");
      assert.equal(r.contentLength, bodyBytes.length);
      assert.ok(r.body instanceof Uint8Array);
      assert.deepEqual(r.body, bodyBytes);
      assert.equal(r.websocket, false);
      const h = r.headers as Record<string, string>;
      assert.equal(h["host"], "example.com:8080");
      assert.equal(h["x-forwarded-for"], "10.9.8.7");
      assert.equal(h["x-multi"], "one,two");
      assert.equal(h["cookie"], "a=1;b=2");
      assert.equal(h["x-case-test"], "MiXeD Value");
      for (const k of Object.keys(h)) assert.equal(k, k.toLowerCase());
      assert.equal(h["X-Multi"], undefined);
    },
  );
});

Deno.test("runServer() request map: no query, no body, HTTP/1.0, websocket", async () => {
  const seen: RingRequest[] = [];
  await withServer(
    (req) => {
      seen.push(req);
      return { body: "ok" };
    },
    {},
    async (t) => {
      await exchange(t, "GET /plain HTTP/1.1\r\nHost: [::1]:9\r\n\r\n");
      await exchange(t, "GET /empty-query? HTTP/1.1\r\nHost: h\r\n\r\n");
      await exchange(t, "DELETE /x HTTP/1.0\r\n\r\n");
      await exchange(
        t,
        "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
      );
      await exchange(
        t,
        "GET http://Other.example:81/abs?k=v HTTP/1.1\r\nHost: ignored\r\n\r\n",
      );
      assert.equal(seen.length, 5);
      const [a, b, c, d, e] = seen;
      assert.equal(e.serverName, "Other.example");
      assert.equal(e.uri, "/abs");
      assert.equal(e.queryString, "k=v");
      assert.equal(a.uri, "/plain");
      assert.equal(a.queryString, null);
      assert.equal(a.body, null);
      assert.equal(a.contentLength, null);
      assert.equal(a.contentType, null);
      assert.equal(a.characterEncoding, null);
      assert.equal(a.serverName, "[::1]");
      assert.equal(a.requestMethod, "get");
      assert.equal(a.websocket, false);
      assert.equal(b.uri, "/empty-query");
      assert.equal(b.queryString, "");
      assert.equal(c.protocol, "HTTP/1.0");
      assert.equal(c.requestMethod, "delete");
      assert.equal(c.serverName, "127.0.0.1", "HTTP/1.0 without Host");
      assert.equal(d.websocket, true);
    },
  );
});

// ---------------------------------------------------------------------------
// The response map

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

Deno.test("runServer() sends a string body as UTF-8 with its byte length", async () => {
  const text = "héllo ✓ wörld 😀";
  await withServer(() => ({ body: text }), {}, async (t) => {
    const res = await exchange(t, get("/"));
    assert.equal(res.status, 200);
    assert.equal(res.reason, "OK");
    assert.equal(res.version, "HTTP/1.1");
    assert.equal(
      res.header("content-length"),
      String(encoder.encode(text).length),
    );
    assert.equal(res.chunked, false);
    assert.equal(res.text, text);
  });
});

Deno.test("runServer() sends a long multi-byte string with the right length", async () => {
  const text = "日本語テキスト".repeat(2000) + "😀".repeat(1000);
  await withServer(() => ({ body: text }), {}, async (t) => {
    const c = await t.connect();
    await c.write(get("/") + get("/"));
    const [a, b] = await c.readResponses(2);
    assert.equal(
      a.header("content-length"),
      String(encoder.encode(text).length),
    );
    assert.equal(a.text, text);
    assert.equal(b.text, text);
  });
});

Deno.test("runServer() sends Uint8Array, ArrayBuffer, Blob and null bodies with Content-Length", async () => {
  const bin = new Uint8Array(300).map((_, i) => i & 0xff);
  const routes: Record<string, RingResponse> = {
    "/u8": { body: bin },
    "/ab": { body: bin.slice().buffer },
    "/blob": { body: new Blob([bin.subarray(0, 100), "tail✓"]) },
    "/null": { status: 200, body: null },
    "/none": { status: 201 },
  };
  await withServer(
    (req) => {
      const r = routes[req.uri];
      // a Blob can be read once per response
      if (req.uri === "/blob") {
        return { body: new Blob([bin.subarray(0, 100), "tail✓"]) };
      }
      return r;
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(
        get("/u8") + get("/ab") + get("/blob") + get("/null") + get("/none"),
      );
      const [u8, ab, blob, nul, none] = await c.readResponses(5);
      assert.deepEqual(u8.body, bin);
      assert.equal(u8.header("content-length"), "300");
      assert.deepEqual(ab.body, bin);
      assert.equal(ab.header("content-length"), "300");
      const blobBytes = concat(bin.subarray(0, 100), encoder.encode("tail✓"));
      assert.equal(blob.header("content-length"), String(blobBytes.length));
      assert.equal(blob.chunked, false);
      assert.deepEqual(blob.body, blobBytes);
      assert.equal(nul.status, 200);
      assert.equal(nul.header("content-length"), "0");
      assert.equal(nul.body.length, 0);
      assert.equal(none.status, 201);
      assert.equal(none.header("content-length"), "0");
    },
  );
});

Deno.test("runServer() streams ReadableStream, iterable and async iterable bodies chunked", async () => {
  await withServer(
    (req) => {
      switch (req.uri) {
        case "/stream":
          return {
            body: new ReadableStream<Uint8Array | string>({
              start(ctl) {
                ctl.enqueue("one,");
                ctl.enqueue(encoder.encode("two,"));
                ctl.enqueue("");
                ctl.enqueue("three✓");
                ctl.close();
              },
            }),
          };
        case "/iter":
          return {
            body: (function* () {
              yield "a";
              yield encoder.encode("b");
              yield "ç";
            })(),
          };
        case "/array":
          return { body: ["x", "y", encoder.encode("z")] };
        case "/async":
          return {
            body: (async function* () {
              yield "1";
              await sleep(5);
              yield encoder.encode("2");
              await sleep(5);
              yield "3";
            })(),
          };
      }
      return null;
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(
        get("/stream") + get("/iter") + get("/array") + get("/async"),
      );
      const [s, i, a, as] = await c.readResponses(4);
      for (const r of [s, i, a, as]) {
        assert.equal(r.status, 200);
        assert.equal(r.chunked, true, r.head);
        assert.equal(r.header("content-length"), null);
      }
      assert.equal(s.text, "one,two,three✓");
      assert.equal(i.text, "abç");
      assert.equal(a.text, "xyz");
      assert.equal(as.text, "123");
    },
  );
});

Deno.test("runServer() sends a Deno.FsFile with its size as Content-Length and closes it", async () => {
  const path = await Deno.makeTempFile({ prefix: "httpkit-test-" });
  const data = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  await Deno.writeFile(path, data);
  const files: Deno.FsFile[] = [];
  try {
    await withServer(
      async () => {
        const f = await Deno.open(path);
        files.push(f);
        return { body: f };
      },
      {},
      async (t) => {
        const c = await t.connect();
        await c.write(get("/file"));
        const res = await c.readResponse();
        assert.equal(res.header("content-length"), String(data.length));
        assert.equal(res.chunked, false);
        assert.deepEqual(res.body, data);
        // the server closes the file once its last read returns EOF
        const deadline = performance.now() + 1000;
        for (;;) {
          try {
            // a stat on a closed file fails with BadResource
            await files[0].stat();
          } catch (err) {
            assert.ok(err instanceof Deno.errors.BadResource, String(err));
            break;
          }
          assert.ok(performance.now() < deadline, "file was not closed");
          await sleep(10);
        }
        // a HEAD request also closes the file without sending it
        await c.write("HEAD /file HTTP/1.1\r\nHost: t\r\n\r\n");
        const head = await c.readResponse({ head: true });
        assert.equal(head.header("content-length"), String(data.length));
        assert.equal(c.available, 0);
        await sleep(50);
        await assert.rejects(() => files[1].stat(), Deno.errors.BadResource);
      },
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("runServer() answers 404 when the handler returns null or undefined", async () => {
  await withServer(
    async (req) => {
      if (req.uri === "/null") return null;
      if (req.uri === "/async-undefined") {
        await sleep(1);
        return undefined;
      }
      return undefined;
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/null") + get("/undefined") + get("/async-undefined"));
      const rs = await c.readResponses(3);
      for (const r of rs) {
        assert.equal(r.status, 404);
        assert.ok(r.body.length > 0);
      }
    },
  );
});

Deno.test("runServer() answers 500 when the handler throws and keeps the connection", async () => {
  await withServer(
    // not an async function: "/sync" throws synchronously
    (req) => {
      if (req.uri === "/sync") throw new Error("sync boom");
      if (req.uri === "/async") {
        return sleep(1).then(() => {
          throw new Error("async boom");
        });
      }
      if (req.uri === "/reject") return Promise.reject(new Error("rejected"));
      return { body: `fine ${req.uri}` };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/sync"));
      const a = await c.readResponse();
      assert.equal(a.status, 500);
      assert.equal(a.header("connection"), null);
      await c.write(get("/after-sync"));
      assert.equal((await c.readResponse()).text, "fine /after-sync");
      await c.write(get("/async"));
      assert.equal((await c.readResponse()).status, 500);
      await c.write(get("/after-async"));
      assert.equal((await c.readResponse()).text, "fine /after-async");
      // pipelined too
      await c.write(get("/reject") + get("/sync") + get("/last"));
      const rs = await c.readResponses(3);
      assert.deepEqual(rs.map((r) => r.status), [500, 500, 200]);
      assert.equal(rs[2].text, "fine /last");
      assert.equal(t.errors.length, 4);
      assert.match(String(t.errors[0]), /sync boom/);
      assert.match(String(t.errors[1]), /async boom/);
      // and the server still serves new connections
      assert.equal((await exchange(t, get("/new"))).text, "fine /new");
    },
  );
});

Deno.test("runServer() refuses a CR or LF in a response header value with 500", async () => {
  await withServer(
    (req) => {
      if (req.uri === "/lf") {
        return {
          headers: { "x-evil": "a\r\nX-Injected: yes" },
          body: "must not be sent",
        };
      }
      if (req.uri === "/cr") {
        return {
          headers: { "x-evil": ["ok", "b\rX-Injected: yes"] },
          body: "no",
        };
      }
      if (req.uri === "/name") {
        return { headers: { "x-evil\r\nX-Injected": "yes" }, body: "no" };
      }
      return { body: "fine" };
    },
    {},
    async (t) => {
      const c = await t.connect();
      for (const path of ["/lf", "/cr", "/name"]) {
        await c.write(get(path));
        const r = await c.readResponse();
        assert.equal(r.status, 500, path);
        assert.doesNotMatch(r.head, /x-injected|x-evil/i, path);
        assert.doesNotMatch(r.text, /must not be sent/);
      }
      await c.write(get("/ok"));
      assert.equal((await c.readResponse()).text, "fine");
      assert.equal(t.errors.length, 3);
    },
  );
});

Deno.test("runServer() writes array header values as repeated lines", async () => {
  await withServer(
    () => ({
      headers: {
        "Set-Cookie": ["a=1; Path=/", "b=2"],
        "X-Num": 42,
        "x-list": ["one", 2],
      },
      body: "ok",
    }),
    {},
    async (t) => {
      const r = await exchange(t, get("/"));
      assert.deepEqual(r.all("set-cookie"), ["a=1; Path=/", "b=2"]);
      assert.deepEqual(r.all("x-list"), ["one", "2"]);
      assert.equal(r.header("x-num"), "42");
      assert.match(
        r.head,
        /\r\nSet-Cookie: a=1; Path=\/\r\nSet-Cookie: b=2\r\n/,
      );
    },
  );
});

Deno.test("runServer() sends no body for HEAD, 204, 304 and 1xx", async () => {
  await withServer(
    (req) => {
      switch (req.uri) {
        case "/204":
          return { status: 204, body: "nope" };
        case "/304":
          return { status: 304, body: "nope" };
        case "/103":
          return { status: 103, headers: { link: "</a>" }, body: "nope" };
        case "/stream":
          return {
            body: new ReadableStream({
              pull(ctl) {
                ctl.enqueue(encoder.encode("streamed"));
                ctl.close();
              },
            }),
          };
      }
      return { body: "hello body" };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(
        "HEAD /text HTTP/1.1\r\nHost: t\r\n\r\n" + get("/after-head") +
          get("/204") + get("/after-204") + get("/304") + get("/after-304") +
          get("/103") + get("/after-103") +
          "HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n" + get("/after-stream"),
      );
      const head = await c.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.equal(head.header("content-length"), "10");
      const afterHead = await c.readResponse();
      assert.equal(afterHead.text, "hello body", "HEAD leaked body bytes");
      const r204 = await c.readResponse();
      assert.equal(r204.status, 204);
      assert.equal(r204.header("content-length"), null);
      assert.equal(r204.header("transfer-encoding"), null);
      assert.equal((await c.readResponse()).text, "hello body");
      const r304 = await c.readResponse();
      assert.equal(r304.status, 304);
      assert.equal(r304.header("transfer-encoding"), null);
      assert.equal((await c.readResponse()).text, "hello body");
      const r103 = await c.readResponse();
      assert.equal(r103.status, 103);
      assert.equal(r103.header("content-length"), null);
      assert.equal((await c.readResponse()).text, "hello body");
      const hs = await c.readResponse({ head: true });
      assert.equal(hs.header("transfer-encoding"), null);
      assert.equal((await c.readResponse()).text, "hello body");
      assert.equal(c.available, 0);
    },
  );
});

Deno.test("runServer() adds Date and Server unless the handler set them", async () => {
  await withServer(
    (req) => {
      if (req.uri === "/own") {
        return {
          headers: { date: "Sun, 06 Nov 1994 08:49:37 GMT", SERVER: "mine" },
          body: "x",
        };
      }
      return { body: "x" };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/") + get("/own"));
      const [a, b] = await c.readResponses(2);
      assert.equal(a.all("date").length, 1);
      assert.match(a.header("date")!, IMF_FIXDATE);
      const d = Date.parse(a.header("date")!);
      assert.ok(Math.abs(d - Date.now()) < 5000, a.header("date")!);
      assert.deepEqual(a.all("server"), ["http-kit"]);
      assert.deepEqual(b.all("date"), ["Sun, 06 Nov 1994 08:49:37 GMT"]);
      assert.deepEqual(b.all("server"), ["mine"]);
    },
  );
});

Deno.test("runServer() leaves Server out with serverHeader: null", async () => {
  await withServer(hello, { serverHeader: null }, async (t) => {
    const r = await exchange(t, get("/"));
    assert.equal(r.header("server"), null);
    assert.match(r.header("date")!, IMF_FIXDATE);
    // error responses too
    const bad = await exchange(t, "FOO / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert.equal(bad.status, 400);
    assert.equal(bad.header("server"), null);
  });
});

// ---------------------------------------------------------------------------
// Keep-alive

Deno.test("runServer() keeps HTTP/1.1 connections alive by default", async () => {
  let n = 0;
  await withServer(() => ({ body: `n${++n}` }), {}, async (t) => {
    const c = await t.connect();
    for (let i = 1; i <= 3; i++) {
      await c.write(get("/"));
      const r = await c.readResponse();
      assert.equal(r.text, `n${i}`);
      assert.equal(r.header("connection"), null);
    }
  });
});

Deno.test("runServer() closes after a Connection: close request and says so", async () => {
  await withServer(hello, {}, async (t) => {
    const c = await t.connect();
    await c.write(get("/", "Connection: close\r\n"));
    const r = await c.readResponse();
    assert.equal(r.text, "hello");
    assert.equal(r.header("connection")?.toLowerCase(), "close");
    await c.expectClose(1000);
    // a handler that sets Connection: close closes too
  });
  await withServer(
    () => ({ headers: { connection: "close" }, body: "bye" }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/") + get("/never"));
      const r = await c.readResponse();
      assert.equal(r.text, "bye");
      assert.deepEqual(r.all("connection"), ["close"]);
      await c.expectClose(1000);
    },
  );
});

Deno.test("runServer() closes HTTP/1.0 connections unless keep-alive is asked", async () => {
  let n = 0;
  await withServer(() => ({ body: `n${++n}` }), {}, async (t) => {
    const c = await t.connect();
    await c.write("GET / HTTP/1.0\r\n\r\n");
    const r = await c.readResponse();
    assert.equal(r.text, "n1");
    assert.equal(r.header("connection")?.toLowerCase(), "close");
    await c.expectClose(1000);

    const k = await t.connect();
    await k.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r1 = await k.readResponse();
    assert.equal(r1.text, "n2");
    assert.equal(r1.header("connection")?.toLowerCase(), "keep-alive");
    await k.write("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    const r2 = await k.readResponse();
    assert.equal(r2.text, "n3");
    assert.equal(r2.header("connection")?.toLowerCase(), "keep-alive");
    await k.write("GET / HTTP/1.0\r\n\r\n");
    assert.equal((await k.readResponse()).text, "n4");
    await k.expectClose(1000);
  });
});

// ---------------------------------------------------------------------------
// Pipelining

Deno.test("runServer() answers 32 pipelined requests in order, async handlers included", async () => {
  await withServer(
    async (req) => {
      const i = Number(req.queryString);
      if (i % 3 === 1) await sleep(((i * 7) % 5) + 1);
      if (i % 5 === 2) {
        return { body: [`stream `, `${i}`] };
      }
      if (i % 7 === 3) {
        return { body: req.body };
      }
      return { body: `resp ${i}` };
    },
    {},
    async (t) => {
      const c = await t.connect();
      let batch = "";
      for (let i = 0; i < 32; i++) {
        if (i % 7 === 3) {
          const b = `posted ${i}`;
          batch +=
            `POST /?${i} HTTP/1.1\r\nHost: t\r\nContent-Length: ${b.length}` +
            `\r\n\r\n${b}`;
        } else {
          batch += get(`/?${i}`);
        }
      }
      await c.write(batch);
      const rs = await c.readResponses(32);
      rs.forEach((r, i) => {
        const want = i % 5 === 2
          ? `stream ${i}`
          : i % 7 === 3
          ? `posted ${i}`
          : `resp ${i}`;
        assert.equal(r.status, 200);
        assert.equal(r.text, want, `response ${i}`);
      });
      await c.write(get("/?99"));
      assert.equal((await c.readResponse()).text, "resp 99");
    },
  );
});

Deno.test("runServer() sends earlier pipelined responses while a later handler waits", async () => {
  const gate = Promise.withResolvers<void>();
  await withServer(
    async (req) => {
      if (req.uri === "/wait") await gate.promise;
      return { body: `at ${req.uri}` };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/first") + get("/second") + get("/wait"));
      // /wait holds its answer until the first two are read off the socket
      assert.equal((await c.readResponse()).text, "at /first");
      assert.equal((await c.readResponse()).text, "at /second");
      gate.resolve();
      assert.equal((await c.readResponse()).text, "at /wait");
    },
  );
});

Deno.test("runServer() serves a client that writes one byte at a time", async () => {
  await withServer(
    (req) => ({
      body: `${req.requestMethod} ${req.uri} ${
        req.body && new TextDecoder().decode(req.body)
      }`,
    }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.writeSlowly(
        "POST /slow?q HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
      );
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.text, "post /slow hello");
      await c.writeSlowly(
        "\r\nPUT /chunky HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
      );
      const r2 = await c.readResponse();
      assert.equal(r2.text, "put /chunky abcde");
    },
  );
});

const SLOW_CHUNK = 64 * 1024;
const SLOW_TOTAL = 32 * 1024 * 1024;
/** Where the slow reader pauses: after this many bytes received. */
const SLOW_PAUSES = [256 * 1024, 2 * 1024 * 1024];
const SLOW_PAUSE_MS = 300;

/**
 * How far a writer with perfect backpressure (one awaited 64 KiB write at a
 * time on a plain Deno socket) gets ahead of the same slow reader: that much
 * is held by the kernel's socket buffers on loopback, not by the server.
 */
async function kernelBuffering(): Promise<number> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let written = 0;
  const writer = (async () => {
    const s = await l.accept();
    const chunk = new Uint8Array(SLOW_CHUNK);
    try {
      while (written < SLOW_TOTAL) {
        let off = 0;
        while (off < chunk.length) off += await s.write(chunk.subarray(off));
        written += SLOW_CHUNK;
      }
    } finally {
      s.close();
    }
  })();
  const c = await Deno.connect({
    hostname: "127.0.0.1",
    port: (l.addr as Deno.NetAddr).port,
  });
  const buf = new Uint8Array(SLOW_CHUNK);
  let got = 0;
  let ahead = 0;
  for (const target of SLOW_PAUSES) {
    while (got < target) got += (await c.read(buf))!;
    await sleep(SLOW_PAUSE_MS);
    ahead = Math.max(ahead, written - got);
  }
  for (;;) {
    const n = await c.read(buf);
    if (n === null) break;
    got += n;
  }
  c.close();
  await writer;
  l.close();
  return ahead;
}

Deno.test("runServer() holds a streamed body back for a slow reader", async () => {
  const kernel = await kernelBuffering();
  // The server may hold a chunk or two beyond what the kernel holds; the
  // kernel's buffers also grow with load (autotuning: up to ~10 MB here), so
  // the bound is loose but far below the 32 MiB that a server reading the
  // stream ahead would show.
  const allowed = Math.max(kernel + 4 * 1024 * 1024, 14 * 1024 * 1024);
  let pulled = 0;
  await withServer(
    () => ({
      body: new ReadableStream<Uint8Array>({
        pull(ctl) {
          if (pulled >= SLOW_TOTAL) {
            ctl.close();
            return;
          }
          const chunk = new Uint8Array(SLOW_CHUNK).fill(
            (pulled / SLOW_CHUNK) & 0xff,
          );
          pulled += SLOW_CHUNK;
          ctl.enqueue(chunk);
        },
      }),
    }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/big"));
      // read a little, then stop reading for a while, twice
      for (const target of SLOW_PAUSES) {
        while (c.received < target) assert.ok(await c.fill());
        await sleep(SLOW_PAUSE_MS);
        const ahead = pulled - c.received;
        assert.ok(
          ahead <= allowed,
          `the producer ran ${ahead} bytes ahead of the reader (kernel ` +
            `buffers hold ${kernel}, allowed ${allowed})`,
        );
      }
      assert.ok(pulled < SLOW_TOTAL);
      const r = await c.readResponse();
      assert.equal(r.chunked, true);
      assert.equal(r.body.length, SLOW_TOTAL);
      for (let i = 0; i < SLOW_TOTAL / SLOW_CHUNK; i++) {
        assert.equal(r.body[i * SLOW_CHUNK], i & 0xff);
        assert.equal(r.body[i * SLOW_CHUNK + SLOW_CHUNK - 1], i & 0xff);
      }
      assert.equal(pulled, SLOW_TOTAL);
    },
  );
});

// ---------------------------------------------------------------------------
// Expect: 100-continue and chunked request bodies

Deno.test("runServer() sends 100 Continue before an expected body", async () => {
  await withServer(
    (req) => ({ body: `got ${new TextDecoder().decode(req.body!)}` }),
    { maxBody: 1000 },
    async (t) => {
      const c = await t.connect();
      await c.write(
        "POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n" +
          "Content-Length: 11\r\n\r\n",
      );
      const cont = await c.readResponse();
      assert.equal(cont.head, "HTTP/1.1 100 Continue\r\n\r\n");
      assert.equal(c.available, 0);
      await c.write("hello world");
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.text, "got hello world");
      // chunked with Expect as well
      await c.write(
        "POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\n" +
          "Transfer-Encoding: chunked\r\n\r\n",
      );
      assert.equal((await c.readResponse()).status, 100);
      await c.write("2\r\nab\r\n0\r\n\r\n");
      assert.equal((await c.readResponse()).text, "got ab");
    },
  );
});

Deno.test("runServer() answers 413 without 100 Continue when Content-Length is over maxBody", async () => {
  let called = 0;
  await withServer(
    () => {
      called++;
      return hello();
    },
    { maxBody: 1000 },
    async (t) => {
      const c = await t.connect();
      await c.write(
        "POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n" +
          "Content-Length: 1001\r\n\r\n",
      );
      const r = await c.readResponse();
      assert.equal(r.status, 413);
      assert.equal(r.header("connection")?.toLowerCase(), "close");
      await c.expectClose(1000);
      assert.equal(called, 0);
    },
  );
});

Deno.test("runServer() decodes chunked request bodies with extensions and trailers", async () => {
  const bodies: (string | null)[] = [];
  await withServer(
    (req) => {
      bodies.push(req.body && new TextDecoder().decode(req.body));
      return { body: `len ${req.body?.length}` };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(encoder.encode(
        "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "5;foo=bar\r\nhello\r\n" +
          '1 ; a="q;x" ;b\r\n \r\n' +
          "8\r\nwörld!!\r\n" + // 8 bytes in UTF-8
          "0;last\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n" +
          get("/next"),
      ));
      const [a, b] = await c.readResponses(2);
      assert.equal(bodies[0], "hello wörld!!");
      assert.equal(a.text, `len ${encoder.encode("hello wörld!!").length}`);
      assert.equal(bodies[1], null);
      assert.equal(b.text, "len undefined");
      // split across writes
      await c.write(
        "POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab",
      );
      await sleep(20);
      await c.write("cd\r\n0\r\nT: v\r\n");
      await sleep(20);
      await c.write("\r\n");
      await c.readResponse();
      assert.equal(bodies[2], "abcd");
    },
  );
});

// ---------------------------------------------------------------------------
// Bad input

interface BadCase {
  name: string;
  request: string;
  status: number;
  options?: Record<string, number>;
}

const BIG = "x".repeat(200);

const BAD: BadCase[] = [
  { name: "a malformed request line", request: "GARBAGE\r\n\r\n", status: 400 },
  {
    name: "a request line without a version",
    request: "GET /\r\nHost: t\r\n\r\n",
    status: 400,
  },
  {
    name: "an unknown method",
    request: "FOO / HTTP/1.1\r\nHost: t\r\n\r\n",
    status: 400,
  },
  {
    name: "HTTP/2.0",
    request: "GET / HTTP/2.0\r\nHost: t\r\n\r\n",
    status: 400,
  },
  {
    name: "HTTP/1.2",
    request: "GET / HTTP/1.2\r\nHost: t\r\n\r\n",
    status: 400,
  },
  {
    name: "a missing Host on HTTP/1.1",
    request: "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n",
    status: 400,
  },
  {
    name: "a blank Host",
    request: "GET / HTTP/1.1\r\nHost: \r\n\r\n",
    status: 400,
  },
  {
    name: "an invalid Host",
    request: "GET / HTTP/1.1\r\nHost: bad/host\r\n\r\n",
    status: 400,
  },
  {
    name: "an invalid Host port",
    request: "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n",
    status: 400,
  },
  {
    name: "two Host headers",
    request: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
    status: 400,
  },
  {
    name: "bad header name bytes",
    request: "GET / HTTP/1.1\r\nHost: t\r\nBad(Name): x\r\n\r\n",
    status: 400,
  },
  {
    name: "a non-ASCII header name",
    request: "GET / HTTP/1.1\r\nHost: t\r\nX-\xe9: x\r\n\r\n",
    status: 400,
  },
  {
    name: "a NUL byte in a header value",
    request: "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
    status: 400,
  },
  {
    name: "a control byte in a header value",
    request: "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n",
    status: 400,
  },
  {
    name: "a bare CR in a header value",
    request: "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\rb\r\n\r\n",
    status: 400,
  },
  {
    name: "whitespace before the colon",
    request: "GET / HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n",
    status: 400,
  },
  {
    name: "whitespace before the Host colon",
    request: "GET / HTTP/1.1\r\nHost : t\r\n\r\n",
    status: 400,
  },
  {
    name: "obs-fold",
    request: "GET / HTTP/1.1\r\nHost: t\r\nX-A: a\r\n  b\r\n\r\n",
    status: 400,
  },
  {
    name: "bare LF line endings",
    request: "GET / HTTP/1.1\nHost: t\n\n",
    status: 400,
  },
  {
    name: "a bare LF inside the head",
    request: "GET / HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n",
    status: 400,
  },
  {
    name: "Transfer-Encoding with Content-Length",
    request: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n" +
      "Content-Length: 5\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "Content-Length: abc",
    request: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
    status: 400,
  },
  {
    name: "Content-Length: -1",
    request: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n",
    status: 400,
  },
  {
    name: "Content-Length: 1 2",
    request: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1 2\r\n\r\nab",
    status: 400,
  },
  {
    name: "Content-Length: 1,1",
    request: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1,1\r\n\r\na",
    status: 400,
  },
  {
    name: "a duplicate identical Content-Length",
    request: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n" +
      "Content-Length: 1\r\n\r\na",
    status: 400,
  },
  {
    name: "a duplicate different Content-Length",
    request: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n" +
      "Content-Length: 2\r\n\r\nab",
    status: 400,
  },
  {
    name: "a bad chunk size",
    request:
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "zz\r\nhello\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "a negative chunk size",
    request:
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "-5\r\nhello\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "chunk data longer than its size",
    request:
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "2\r\nhello\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "Transfer-Encoding in an HTTP/1.0 request",
    request: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    status: 400,
  },
  {
    name: "Transfer-Encoding: gzip",
    request: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
    status: 501,
  },
  {
    name: "Transfer-Encoding: gzip, chunked",
    request: "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked" +
      "\r\n\r\n0\r\n\r\n",
    status: 501,
  },
  {
    name: "a Content-Length body over maxBody",
    request: "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n" +
      "y".repeat(101),
    status: 413,
    options: { maxBody: 100 },
  },
  {
    name: "a chunked body over maxBody",
    request:
      "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "40\r\n" + "y".repeat(64) + "\r\n40\r\n" + "y".repeat(64) +
      "\r\n0\r\n\r\n",
    status: 413,
    options: { maxBody: 100 },
  },
  {
    name: "a request line over maxLine",
    request: `GET /${BIG} HTTP/1.1\r\nHost: t\r\n\r\n`,
    status: 414,
    options: { maxLine: 100 },
  },
  {
    name: "a partial request line over maxLine",
    request: `GET /${BIG}`,
    status: 414,
    options: { maxLine: 100 },
  },
  {
    name: "a head over maxHeaderBytes",
    request: "GET / HTTP/1.1\r\nHost: t\r\n" +
      Array.from({ length: 10 }, (_, i) => `X-H${i}: ${"v".repeat(40)}\r\n`)
        .join("") +
      "\r\n",
    status: 431,
    options: { maxHeaderBytes: 300 },
  },
  {
    name: "a partial head over maxHeaderBytes",
    request: "GET / HTTP/1.1\r\nHost: t\r\n" +
      Array.from({ length: 10 }, (_, i) => `X-H${i}: ${"v".repeat(40)}\r\n`)
        .join(""),
    status: 431,
    options: { maxHeaderBytes: 300 },
  },
];

for (const bc of BAD) {
  Deno.test(`runServer() answers ${bc.status} to ${bc.name} and keeps serving`, async () => {
    let called = 0;
    await withServer(
      () => {
        called++;
        return hello();
      },
      bc.options ?? {},
      async (t) => {
        const c = await t.connect();
        await c.write(bc.request);
        let r: RawResponse;
        try {
          r = await c.readResponse({ timeout: 2000 });
        } catch (err) {
          throw new Error(
            `No ${bc.status} response to ${JSON.stringify(bc.request)}: ${err}`,
          );
        }
        assert.equal(
          r.status,
          bc.status,
          `${JSON.stringify(bc.request)} -> ${r.head}`,
        );
        assert.equal(r.header("connection")?.toLowerCase(), "close");
        assert.ok(r.text.trim().length > 0, "no reason in the body");
        assert.ok(r.text.length < 200, `long reason: ${r.text}`);
        await c.expectClose(1000);
        assert.equal(called, 0, "the handler ran for a bad request");
        // other connections are still served
        const ok = await exchange(t, get("/ok"));
        assert.equal(ok.status, 200);
        assert.equal(ok.text, "hello");
        assert.equal(called, 1);
      },
    );
  });
}

Deno.test("runServer() answers earlier pipelined requests before refusing a bad one", async () => {
  await withServer((req) => ({ body: `ok ${req.uri}` }), {}, async (t) => {
    const c = await t.connect();
    await c.write(
      get("/one") + "FOO / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/never"),
    );
    const a = await c.readResponse();
    assert.equal(a.text, "ok /one");
    const b = await c.readResponse();
    assert.equal(b.status, 400);
    await c.expectClose(1000);
  });
});

// ---------------------------------------------------------------------------
// Timeouts

Deno.test("runServer() answers 408 to a slow-loris head and closes (headerTimeout)", async () => {
  await withServer(hello, { headerTimeout: 300 }, async (t) => {
    const c = await t.connect();
    const t0 = performance.now();
    await c.write("GET / HTTP/1.1\r\nHost: t\r\n");
    // trickle a byte now and then: that must not extend the deadline
    const trickle = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(60);
        if (c.closed || c.eof) return;
        try {
          await c.write("X");
        } catch {
          return;
        }
      }
    })();
    const r = await c.readResponse({ timeout: 2000 });
    const took = performance.now() - t0;
    await trickle;
    assert.equal(r.status, 408);
    assert.equal(r.header("connection")?.toLowerCase(), "close");
    await c.expectClose(1000);
    assert.ok(took >= 250, `408 after only ${took} ms`);
    assert.ok(took < 900, `408 after ${took} ms`);
    // a connection that sends nothing is just closed
    const quiet = await t.connect();
    const t1 = performance.now();
    await quiet.expectClose(2000);
    const quietTook = performance.now() - t1;
    assert.ok(
      quietTook < 900,
      `silent connection closed after ${quietTook} ms`,
    );
    assert.equal((await exchange(t, get("/"))).text, "hello");
  });
});

Deno.test("runServer() closes an idle keep-alive connection (idleTimeout)", async () => {
  await withServer(hello, { idleTimeout: 300 }, async (t) => {
    const c = await t.connect();
    await c.write(get("/"));
    assert.equal((await c.readResponse()).text, "hello");
    const t0 = performance.now();
    await c.expectClose(2000);
    const took = performance.now() - t0;
    assert.ok(took >= 250, `closed after only ${took} ms`);
    assert.ok(took < 900, `closed after ${took} ms`);
    // a busy connection is not idle
    const b = await t.connect();
    for (let i = 0; i < 5; i++) {
      await b.write(get("/"));
      assert.equal((await b.readResponse()).text, "hello");
      await sleep(150);
    }
  });
});

// ---------------------------------------------------------------------------
// Graceful stop

Deno.test("Server.stop() closes idle keep-alive connections at once", async () => {
  await withServer(hello, {}, async (t) => {
    const idle = await t.connect();
    await idle.write(get("/"));
    await idle.readResponse();
    const fresh = await t.connect();
    await sleep(20);
    const t0 = performance.now();
    const stopping = t.server.stop({ timeout: 3000 });
    assert.equal(t.server.status, "stopping");
    await idle.expectClose(1000);
    await fresh.expectClose(1000);
    await stopping;
    const took = performance.now() - t0;
    assert.ok(took < 500, `stop took ${took} ms with only idle connections`);
    assert.equal(t.server.status, "stopped");
    await t.server.finished;
  });
});

Deno.test("Server.stop() lets an in-flight request finish within the timeout", async () => {
  await withServer(
    async () => {
      await sleep(200);
      return { body: "finished" };
    },
    {},
    async (t) => {
      assert.equal(t.server.status, "running");
      const c = await t.connect();
      await c.write(get("/slow"));
      await sleep(50);
      const stopping = t.server.stop({ timeout: 1000 });
      assert.equal(t.server.status, "stopping");
      const r = await c.readResponse();
      assert.equal(r.status, 200);
      assert.equal(r.text, "finished");
      assert.equal(r.header("connection")?.toLowerCase(), "close");
      await c.expectClose(1000);
      await stopping;
      assert.equal(t.server.status, "stopped");
      // the port is free again
      const l = Deno.listen({ hostname: "127.0.0.1", port: t.port });
      l.close();
      // and new connections are refused meanwhile
      await assert.rejects(() =>
        Deno.connect({ hostname: "127.0.0.1", port: t.port })
      );
    },
  );
});

Deno.test("Server.stop() closes a connection whose request outlives the timeout", async () => {
  const { promise: release, resolve } = Promise.withResolvers<void>();
  let finished = false;
  await withServer(
    async () => {
      await release;
      finished = true;
      return { body: "too late" };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/stuck"));
      await sleep(30);
      const t0 = performance.now();
      await t.server.stop({ timeout: 150 });
      const took = performance.now() - t0;
      assert.equal(t.server.status, "stopped");
      assert.ok(took >= 140, `stop returned after ${took} ms`);
      assert.ok(took < 1000, `stop took ${took} ms`);
      const rest = await c.readToEnd(1000);
      assert.equal(rest.length, 0, `got ${new TextDecoder().decode(rest)}`);
      assert.equal(finished, false);
      const l = Deno.listen({ hostname: "127.0.0.1", port: t.port });
      l.close();
    },
  );
  resolve();
  await sleep(20);
  assert.equal(finished, true);
});

Deno.test("Server stops when its signal is aborted", async () => {
  const ac = new AbortController();
  await withServer(hello, { signal: ac.signal }, async (t) => {
    const c = await t.connect();
    await c.write(get("/"));
    assert.equal((await c.readResponse()).text, "hello");
    ac.abort();
    await c.expectClose(1000);
    await t.server.finished;
    assert.equal(t.server.status, "stopped");
  });
});

// ---------------------------------------------------------------------------
// More response framing

Deno.test("runServer() keeps and enforces a Content-Length given with a stream body", async () => {
  await withServer(
    (req) => {
      const parts = req.uri === "/short" ? ["abc"] : ["abc", "def"];
      return {
        headers: { "Content-Length": "6" },
        body: new ReadableStream({
          start(ctl) {
            for (const p of parts) ctl.enqueue(p);
            ctl.close();
          },
        }),
      };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/exact"));
      const r = await c.readResponse();
      assert.equal(r.chunked, false);
      assert.deepEqual(r.all("content-length"), ["6"]);
      assert.equal(r.text, "abcdef");
      // a stream shorter than its Content-Length: the connection is cut
      await c.write(get("/short"));
      const head = await c.readHead();
      assert.match(head, /\r\nContent-Length: 6\r\n/);
      const rest = await c.readToEnd(1000);
      assert.equal(new TextDecoder().decode(rest), "abc");
      assert.equal(t.errors.length, 1);
    },
  );
});

Deno.test("runServer() cuts the connection when a streamed body fails midway", async () => {
  await withServer(
    (req) => {
      if (req.uri === "/fail") {
        return {
          body: (async function* () {
            yield "partial";
            await sleep(5);
            throw new Error("producer failed");
          })(),
        };
      }
      return hello();
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/fail"));
      const head = await c.readHead();
      assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head, /Transfer-Encoding: chunked/);
      const rest = new TextDecoder().decode(await c.readToEnd(1000));
      assert.match(rest, /partial/);
      assert.doesNotMatch(rest, /(^|\r\n)0\r\n\r\n$/, "truncation was hidden");
      assert.equal(t.errors.length, 1);
      assert.match(String(t.errors[0]), /producer failed/);
      assert.equal((await exchange(t, get("/"))).text, "hello");
    },
  );
});

Deno.test("runServer() ends an HTTP/1.0 streamed body with the connection", async () => {
  await withServer(() => ({ body: ["one ", "two"] }), {}, async (t) => {
    const c = await t.connect();
    await c.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r = await c.readResponse();
    assert.equal(r.chunked, false);
    assert.equal(r.header("transfer-encoding"), null);
    assert.equal(r.header("connection")?.toLowerCase(), "close");
    assert.equal(r.text, "one two");
    assert.ok(c.eof);
  });
});

Deno.test("runServer() answers 500 to an invalid response status", async () => {
  await withServer(
    (req) => {
      if (req.uri === "/bad") return { status: 42, body: "no" };
      return hello();
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/bad") + get("/"));
      const [a, b] = await c.readResponses(2);
      assert.equal(a.status, 500);
      assert.equal(b.text, "hello");
      assert.equal(t.errors.length, 1);
    },
  );
});

Deno.test("runServer() accepts a Headers object in the response map", async () => {
  await withServer(
    () => {
      const h = new Headers({ "x-one": "1" });
      h.append("set-cookie", "a=1");
      h.append("set-cookie", "b=2");
      return { headers: h, body: "ok" };
    },
    {},
    async (t) => {
      const r = await exchange(t, get("/"));
      assert.equal(r.header("x-one"), "1");
      assert.deepEqual(r.all("set-cookie"), ["a=1", "b=2"]);
    },
  );
});

Deno.test("runServer() pipelines responses larger than one merged write", async () => {
  const big = (i: number) => `${i}:` + "x".repeat(3000 + i * 500);
  await withServer(
    async (req) => {
      const i = Number(req.queryString);
      if (i % 4 === 0) await sleep(1);
      return { body: big(i) };
    },
    {},
    async (t) => {
      const c = await t.connect();
      let batch = "";
      for (let i = 0; i < 32; i++) batch += get(`/?${i}`);
      await c.write(batch);
      const rs = await c.readResponses(32);
      rs.forEach((r, i) => assert.equal(r.text, big(i), `response ${i}`));
    },
  );
});

Deno.test("runServer() answers 408 to a request body that stalls (bodyTimeout)", async () => {
  await withServer(hello, { bodyTimeout: 300 }, async (t) => {
    const c = await t.connect();
    await c.write(
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",
    );
    const t0 = performance.now();
    const r = await c.readResponse({ timeout: 2000 });
    const took = performance.now() - t0;
    assert.equal(r.status, 408);
    assert.equal(r.header("connection")?.toLowerCase(), "close");
    await c.expectClose(1000);
    assert.ok(took >= 250 && took < 900, `408 after ${took} ms`);
  });
});

Deno.test("runServer() request map headers named like Object.prototype members are plain fields", async () => {
  const seen: RingRequest[] = [];
  await withServer(
    (req) => {
      seen.push(req);
      return hello();
    },
    {},
    async (t) => {
      const r = await exchange(
        t,
        get(
          "/",
          "Constructor: x\r\n__proto__: z\r\nHasOwnProperty: w\r\n" +
            "toString: y\r\n",
        ),
      );
      assert.equal(r.status, 200);
      const h = seen[0].headers;
      assert.equal(h["constructor"], "x");
      assert.equal(Object.getOwnPropertyDescriptor(h, "__proto__")?.value, "z");
      assert.equal(h["hasownproperty"], "w");
      assert.equal(h["tostring"], "y");
      // nothing leaked into Object.prototype
      assert.equal(({} as Record<string, unknown>)["z"], undefined);
    },
  );
});

Deno.test("runServer() closes HTTP/1.0 and 1.1 connections when Connection lists close with keep-alive", async () => {
  await withServer(hello, {}, async (t) => {
    for (
      const req of [
        "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
        get("/", "Connection: keep-alive, Close\r\n"),
      ]
    ) {
      const c = await t.connect();
      await c.write(req);
      const r = await c.readResponse();
      assert.equal(r.text, "hello");
      assert.equal(
        r.header("connection")?.toLowerCase(),
        "close",
        `${JSON.stringify(req)} -> ${JSON.stringify(r.head)}`,
      );
      await c.expectClose(1000);
    }
  });
});
