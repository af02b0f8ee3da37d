// streamBody: request bodies handed to Ring handlers as streams pulled from
// the socket. Real peers (curl, aiohttp, our client in a subprocess, raw
// sockets) against limits, 100-continue, unread bodies, pipelining, aborts
// and backpressure.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { ProtocolError } from "../mod.ts";
import type { Handler, RingRequest } from "../mod.ts";
import type { StreamingRequest } from "../server/types.ts";
import {
  bytes,
  decoder,
  peakRss,
  resetPeakRss,
  runCommand,
  sha256,
  sleep,
  Tap,
  until,
  withServer,
  withStreamServer,
} from "./_helpers.ts";

const CURL = "/usr/bin/curl";
const PYTHON = "/usr/bin/python3";
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
/** The server's read size while a body streams. */
const READ_SIZE = 64 * 1024;
/** Most unread body bytes the server drops to keep a connection. */
const DISCARD_LIMIT = 256 * 1024;

function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
} {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Fails when `p` has not settled within `ms` (the test must not hang). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    id = setTimeout(
      () => reject(new Error(`Still waiting after ${ms} ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(id);
  }
}

/** What a handler saw of a streamed body. */
interface Digest {
  n: number;
  chunks: number;
  max: number;
  sha: string;
}

async function digest(
  body: ReadableStream<Uint8Array> | null,
): Promise<Digest> {
  const h = createHash("sha256");
  let n = 0, chunks = 0, max = 0;
  if (body !== null) {
    for await (const c of body) {
      h.update(c);
      n += c.length;
      chunks++;
      if (c.length > max) max = c.length;
    }
  }
  return { n, chunks, max, sha: h.digest("hex") };
}

/** Reproducible pseudo-random bytes (xorshift32 from `seed`). */
function pattern(n: number, seed = 1): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, n);
}

/** `data` as chunked coding, in chunks of `size` bytes, with the last chunk. */
function chunked(data: Uint8Array, size: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let off = 0; off < data.length; off += size) {
    const piece = data.subarray(off, Math.min(data.length, off + size));
    parts.push(bytes(`${piece.length.toString(16)}\r\n`), piece, bytes("\r\n"));
  }
  parts.push(bytes("0\r\n\r\n"));
  return join(parts);
}

function join(parts: (string | Uint8Array)[]): Uint8Array {
  const bs = parts.map((p) => typeof p === "string" ? bytes(p) : p);
  const out = new Uint8Array(bs.reduce((a, b) => a + b.length, 0));
  let off = 0;
  for (const b of bs) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

function post(path: string, extra: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
}

const GET_NEXT = "GET /next HTTP/1.1\r\nHost: t\r\n\r\n";

/** Answers GET /next with "next" and gives bodies to `up`. */
function withNext(up: Handler<StreamingRequest>): Handler<StreamingRequest> {
  return (req) => req.uri === "/next" ? { body: "next" } : up(req);
}

// --- 1. curl uploads, with and without Expect: 100-continue ---------------

for (const te of [false, true]) {
  for (const expect of [false, true]) {
    const framing = te ? "chunked" : "Content-Length";
    const ex = expect ? "with" : "without";
    Deno.test(`streamBody takes a curl upload (${framing}, ${ex} Expect: 100-continue) whole`, async () => {
      const dir = await Deno.makeTempDir({ prefix: "httpkit_stream_" });
      const file = `${dir}/up.bin`;
      const data = pattern(3 * 1024 * 1024 + 123, 7);
      await Deno.writeFile(file, data);
      try {
        await withStreamServer(
          async (req) => {
            const d = await digest(req.body);
            return {
              headers: { "content-type": "application/json" },
              body: JSON.stringify({
                ...d,
                expect: req.headers["expect"] ?? null,
                te: req.headers["transfer-encoding"] ?? null,
                cl: req.contentLength,
              }),
            };
          },
          {},
          async (t) => {
            const args = [
              "-sS",
              "-v",
              "--max-time",
              "20",
              "--data-binary",
              `@${file}`,
              "-H",
              "Content-Type: application/octet-stream",
              // curl adds Expect: 100-continue on its own past 1 MiB
              "-H",
              expect ? "Expect: 100-continue" : "Expect:",
            ];
            if (te) args.push("-H", "Transfer-Encoding: chunked");
            args.push(`http://127.0.0.1:${t.port}/up`);
            const out = await runCommand(CURL, args);
            assert.equal(out.code, 0, out.stderr);
            const got = JSON.parse(out.stdout);
            assert.equal(got.n, data.length);
            assert.equal(got.sha, await sha256(data));
            assert.ok(got.max <= READ_SIZE, `chunk of ${got.max} bytes`);
            assert.equal(got.expect, expect ? "100-continue" : null);
            assert.equal(got.te, te ? "chunked" : null);
            assert.equal(got.cl, te ? null : data.length);
            if (expect) {
              assert.match(out.stderr, /< HTTP\/1\.1 100 Continue/);
              // curl gives up waiting after a second and sends anyway
              assert.doesNotMatch(out.stderr, /Done waiting for 100-continue/);
            } else {
              assert.doesNotMatch(out.stderr, /100 Continue/);
            }
            assert.match(out.stderr, /< HTTP\/1\.1 200 OK/);
            assert.deepEqual(t.errors, []);
          },
        );
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
}

for (const te of [false, true]) {
  const framing = te ? "chunked" : "Content-Length";
  Deno.test(`streamBody sends 100 Continue only once the handler reads (${framing})`, async () => {
    const started = deferred();
    const release = deferred();
    await withStreamServer(
      async (req) => {
        started.resolve();
        await release.promise;
        return { body: `got ${await new Response(req.body).text()}` };
      },
      {},
      async (t) => {
        const tap = await Tap.connect(t.port);
        try {
          await tap.write(post(
            "/up",
            "Expect: 100-continue\r\n" +
              (te
                ? "Transfer-Encoding: chunked\r\n"
                : "Content-Length: 11\r\n"),
          ));
          await within(started.promise, 5000, "the handler to be called");
          await sleep(200);
          assert.equal(
            tap.text,
            "",
            "nothing goes out before the handler reads",
          );
          release.resolve();
          await tap.waitFor("\r\n\r\n");
          assert.equal(tap.text, "HTTP/1.1 100 Continue\r\n\r\n");
          await tap.write(
            te ? "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n" : "hello world",
          );
          const [cont, res] = await tap.waitResponses(2);
          assert.equal(cont.status, 100);
          assert.equal(res.status, 200);
          assert.equal(res.text, "got hello world");
          assert.equal(res.header("connection"), null);
          // the connection stays open
          await tap.write(GET_NEXT);
          const all = await tap.waitResponses(3);
          assert.equal(all[2].status, 200);
          assert.deepEqual(t.errors, []);
        } finally {
          await tap.close();
        }
      },
    );
  });
}

Deno.test("streamBody sends no 100 Continue when the body came with the head", async () => {
  await withStreamServer(
    async (req) => ({
      body: `got ${await new Response(req.body).text()}`,
    }),
    {},
    async (t) => {
      const tap = await Tap.connect(t.port);
      try {
        await tap.write(
          post("/up", "Expect: 100-continue\r\nContent-Length: 5\r\n") +
            "hello",
        );
        const [res] = await tap.waitResponses(1);
        assert.equal(res.status, 200);
        assert.equal(res.text, "got hello");
        assert.ok(tap.text.startsWith("HTTP/1.1 200 OK\r\n"), tap.text);
      } finally {
        await tap.close();
      }
    },
  );
});

// --- 2. aiohttp streaming upload ----------------------------------------

for (const expect of [false, true]) {
  Deno.test(`streamBody takes an aiohttp async-generator upload${expect ? " with Expect: 100-continue" : ""} and counts it right`, async () => {
    const size = 20 * 1024 * 1024 + 17;
    await withStreamServer(
      async (req) => {
        const d = await digest(req.body);
        return {
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            ...d,
            te: req.headers["transfer-encoding"] ?? null,
            expect: req.headers["expect"] ?? null,
          }),
        };
      },
      { maxBody: 64 * 1024 * 1024 },
      async (t) => {
        const out = await runCommand(PYTHON, [
          FIXTURES + "aiohttp_stream_upload.py",
          `http://127.0.0.1:${t.port}/up`,
          String(size),
          "42",
          expect ? "expect100" : "plain",
        ]);
        assert.equal(out.code, 0, out.stderr);
        const res = JSON.parse(out.stdout);
        assert.equal(res.status, 200, out.stdout);
        assert.equal(res.sent, size);
        const seen = JSON.parse(res.body);
        assert.equal(seen.n, size);
        assert.equal(seen.sha, res.sha);
        assert.equal(seen.te, "chunked");
        assert.equal(seen.expect, expect ? "100-continue" : null);
        assert.ok(seen.max <= READ_SIZE, `chunk of ${seen.max} bytes`);
        assert.deepEqual(t.errors, []);
      },
    );
  });
}

// --- 3. one byte per write ------------------------------------------------

for (const te of [true, false]) {
  const framing = te ? "chunked" : "Content-Length";
  Deno.test(`streamBody puts a ${framing} body sent one byte per write together whole`, async () => {
    const seen: number[] = [];
    await withStreamServer(
      withNext(async (req) => {
        let text = "";
        for await (const c of req.body!) {
          seen.push(c.length);
          text += decoder.decode(c);
        }
        return { body: `got ${text}` };
      }),
      {},
      async (t) => {
        const c = await t.connect();
        if (te) {
          await c.write(post("/up", "Transfer-Encoding: chunked\r\n"));
          await c.writeSlowly(
            "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n" +
              "0\r\nX-Trailer: yes\r\n\r\n",
            1,
          );
        } else {
          await c.write(post("/up", "Content-Length: 12\r\n"));
          await c.writeSlowly("hello world!", 1);
        }
        const res = await c.readResponse();
        assert.equal(res.status, 200);
        assert.equal(res.text, "got hello world!");
        assert.equal(seen.reduce((a, b) => a + b, 0), 12);
        assert.ok(seen.length > 1, "the bytes came as they arrived");
        assert.ok(seen.every((n) => n > 0), "no empty chunks");
        await c.write(GET_NEXT);
        assert.equal((await c.readResponse()).text, "next");
        assert.deepEqual(t.errors, []);
      },
    );
  });
}

// --- 4. a client that stalls mid-body ----------------------------------------

for (const te of [false, true]) {
  const framing = te ? "chunked" : "Content-Length";
  Deno.test(`streamBody errors the stream of a client that stalls mid-body (${framing}) and answers 408`, async () => {
    const failed: unknown[] = [];
    let got = 0;
    await withStreamServer(
      withNext(async (req) => {
        try {
          for await (const c of req.body!) got += c.length;
        } catch (err) {
          failed.push(err);
          throw err;
        }
        return { body: "read it all" };
      }),
      { bodyTimeout: 300 },
      async (t) => {
        const other = await t.connect();
        const c = await t.connect();
        await c.write(
          te
            ? post("/up", "Transfer-Encoding: chunked\r\n") +
              `3e8\r\n${"x".repeat(500)}`
            : post("/up", "Content-Length: 100000\r\n") + "x".repeat(500),
        );
        // another connection is served meanwhile
        await other.write(GET_NEXT);
        assert.equal((await other.readResponse()).text, "next");
        const res = await c.readResponse();
        assert.equal(res.status, 408);
        assert.equal(res.header("connection"), "close");
        await c.expectClose();
        await until(() => failed.length === 1, "the handler's read to fail");
        assert.ok(failed[0] instanceof Error, String(failed[0]));
        assert.equal(got, 500);
        // not a handler bug: nothing for the error logger
        assert.deepEqual(t.errors, []);
        // and the server goes on
        await other.write(GET_NEXT);
        assert.equal((await other.readResponse()).text, "next");
        const fresh = await t.connect();
        await fresh.write(GET_NEXT);
        assert.equal((await fresh.readResponse()).text, "next");
      },
    );
  });
}

Deno.test("streamBody applies bodyTimeout between reads only: a steady slow client and a slow handler get no 408", async () => {
  await withStreamServer(
    async (req) => {
      const r = req.body!.getReader();
      let n = 0;
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        n += value.length;
        // a handler slower than bodyTimeout between its reads
        if (req.uri === "/slow-handler") await sleep(700);
      }
      return { body: `read ${n}` };
    },
    { bodyTimeout: 300 },
    async (t) => {
      // the client sends a piece every 100 ms, 1.2 s in all
      const c = await t.connect();
      await c.write(post("/slow-client", "Content-Length: 12\r\n"));
      for (let i = 0; i < 12; i++) {
        await sleep(100);
        await c.write("x");
      }
      const res = await c.readResponse();
      assert.equal(res.status, 200);
      assert.equal(res.text, "read 12");
      // the whole body is there at once; the handler takes its time
      const d = await t.connect();
      await d.write(join([
        post("/slow-handler", "Content-Length: 100000\r\n"),
        pattern(100_000, 8),
      ]));
      const slow = await d.readResponse();
      assert.equal(slow.status, 200);
      assert.equal(slow.text, "read 100000");
      assert.deepEqual(t.errors, []);
    },
  );
});

// --- 5. a client that leaves mid-body ------------------------------------

type Reader = (body: ReadableStream<Uint8Array>) => Promise<number>;
const READERS: [string, Reader][] = [
  ["for await", async (body) => {
    let n = 0;
    for await (const c of body) n += c.length;
    return n;
  }],
  ["new Response().arrayBuffer()", async (body) => {
    return (await new Response(body).arrayBuffer()).byteLength;
  }],
  ["getReader()", async (body) => {
    const r = body.getReader();
    let n = 0;
    for (;;) {
      const { done, value } = await r.read();
      if (done) return n;
      n += value.length;
    }
  }],
];

for (const [how, read] of READERS) {
  for (const te of [false, true]) {
    const framing = te ? "chunked" : "Content-Length";
    Deno.test(`streamBody errors the stream (${how}, ${framing}) when the client leaves mid-body, logs nothing and keeps serving`, async () => {
      const outcome = deferred<unknown>();
      await withStreamServer(
        withNext(async (req) => {
          try {
            const n = await read(req.body!);
            outcome.resolve(`read ${n} bytes without an error`);
            return { body: "done" };
          } catch (err) {
            outcome.resolve(err);
            throw err;
          }
        }),
        {},
        async (t) => {
          const data = pattern(100_000, 3);
          const c = await t.connect();
          await c.write(join(
            te
              ? [
                post("/up", "Transfer-Encoding: chunked\r\n"),
                chunked(data, 10_000).subarray(0, 60_000),
              ]
              : [post("/up", "Content-Length: 200000\r\n"), data],
          ));
          await sleep(50);
          c.close();
          const err = await within(
            outcome.promise,
            5000,
            "the handler's read to fail",
          );
          assert.ok(err instanceof Error, String(err));
          // the handler rethrew: the body's own error, not a handler bug
          assert.deepEqual(t.errors, []);
          const fresh = await t.connect();
          await fresh.write(GET_NEXT);
          assert.equal((await fresh.readResponse()).text, "next");
        },
      );
    });
  }
}

Deno.test("streamBody errors the stream on the next read when the client left while the handler waited", async () => {
  const release = deferred();
  const outcome = deferred<unknown>();
  let first = 0;
  await withStreamServer(
    withNext(async (req) => {
      const reader = req.body!.getReader();
      try {
        first = (await reader.read()).value?.length ?? 0;
        await release.promise;
        for (;;) if ((await reader.read()).done) break;
        outcome.resolve("no error");
      } catch (err) {
        outcome.resolve(err);
      }
      return { body: "x" };
    }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(
        post("/up", "Content-Length: 100000\r\n") + "y".repeat(300),
      );
      await until(() => first > 0, "the first chunk");
      c.close();
      await sleep(100);
      release.resolve();
      const err = await within(outcome.promise, 5000, "the read to fail");
      assert.ok(err instanceof Error, String(err));
      assert.deepEqual(t.errors, []);
      const fresh = await t.connect();
      await fresh.write(GET_NEXT);
      assert.equal((await fresh.readResponse()).text, "next");
    },
  );
});

// --- 6. maxBody -------------------------------------------------------------

for (const rethrow of [false, true]) {
  Deno.test(`streamBody errors a chunked stream that crosses maxBody with a 413 ProtocolError and answers 413 (handler ${rethrow ? "rethrows" : "answers 200"})`, async () => {
    const failed: unknown[] = [];
    let got = 0;
    await withStreamServer(
      async (req) => {
        try {
          for await (const c of req.body!) got += c.length;
        } catch (err) {
          failed.push(err);
          if (rethrow) throw err;
        }
        return { body: "fine" };
      },
      { maxBody: 100_000 },
      async (t) => {
        const c = await t.connect();
        // five chunks of 20 000 fit; the sixth's size line crosses the limit
        const five = chunked(pattern(100_000, 5), 20_000);
        await c.write(join([
          post("/up", "Transfer-Encoding: chunked\r\n"),
          five.subarray(0, five.length - 5),
          "4e20\r\n",
        ]));
        const res = await c.readResponse();
        assert.equal(res.status, 413);
        assert.equal(res.header("connection"), "close");
        await c.expectClose();
        assert.equal(failed.length, 1);
        const err = failed[0];
        assert.ok(err instanceof ProtocolError, String(err));
        assert.equal(err.status, 413);
        assert.ok(got <= 100_000, `${got} bytes handed out`);
        assert.deepEqual(t.errors, []);
        const fresh = await t.connect();
        await fresh.write(post("/up", "Content-Length: 3\r\n") + "abc");
        assert.equal((await fresh.readResponse()).text, "fine");
      },
    );
  });
}

Deno.test("streamBody answers 413 to a Content-Length over maxBody before the handler or a 100 Continue", async () => {
  let called = 0;
  await withStreamServer(
    () => {
      called++;
      return { body: "no" };
    },
    { maxBody: 1000 },
    async (t) => {
      const tap = await Tap.connect(t.port);
      try {
        await tap.write(
          post("/up", "Expect: 100-continue\r\nContent-Length: 1001\r\n"),
        );
        const [res] = await tap.waitResponses(1);
        assert.equal(res.status, 413);
        assert.ok(tap.text.startsWith("HTTP/1.1 413"), tap.text);
        await tap.waitClose();
        assert.equal(called, 0);
      } finally {
        await tap.close();
      }
    },
  );
});

// --- 7. a handler that never reads -------------------------------------------

for (const te of [false, true]) {
  const framing = te ? "chunked" : "Content-Length";
  Deno.test(`streamBody keeps the connection when the handler leaves a small ${framing} body unread`, async () => {
    let calls = 0;
    await withStreamServer(
      withNext(() => {
        calls++;
        return { body: "early" };
      }),
      {},
      async (t) => {
        const data = pattern(200 * 1024, 9);
        const c = await t.connect();
        await c.write(join([
          post(
            "/up",
            te
              ? "Transfer-Encoding: chunked\r\n"
              : `Content-Length: ${data.length}\r\n`,
          ),
          te ? chunked(data, 30_000) : data,
          GET_NEXT,
        ]));
        const [first, second] = await c.readResponses(2);
        assert.equal(first.status, 200);
        assert.equal(first.text, "early");
        assert.equal(first.header("connection"), null);
        assert.equal(second.text, "next");
        // still open
        await c.write(GET_NEXT);
        assert.equal((await c.readResponse()).text, "next");
        assert.equal(calls, 1);
      },
    );
  });
}

Deno.test("streamBody says Connection: close and closes when an unread Content-Length body is large", async () => {
  await withStreamServer(withNext(() => ({ body: "early" })), {
    maxBody: 64 * 1024 * 1024,
  }, async (t) => {
    const c = await t.connect();
    await c.write(join([
      post("/up", "Content-Length: 10000000\r\n"),
      pattern(100_000, 2),
    ]));
    const res = await c.readResponse();
    assert.equal(res.status, 200);
    assert.equal(res.text, "early");
    assert.equal(res.header("connection"), "close");
    await c.expectClose();
    assert.deepEqual(t.errors, []);
  });
});

Deno.test("streamBody closes after the response when an unread chunked body runs past the drop bound", async () => {
  await withStreamServer(withNext(() => ({ body: "early" })), {
    maxBody: 64 * 1024 * 1024,
  }, async (t) => {
    const c = await t.connect();
    const body = chunked(pattern(4 * DISCARD_LIMIT, 4), 16 * 1024);
    // the server stops reading: the write may never finish
    const writing = c.write(join([
      post("/up", "Transfer-Encoding: chunked\r\n"),
      body,
      GET_NEXT,
    ])).catch(() => {});
    const res = await c.readResponse();
    assert.equal(res.status, 200);
    assert.equal(res.text, "early");
    // the length was not known before the head: no Connection: close in it,
    // but the connection closes and the request behind is not answered
    await c.expectClose();
    c.close();
    await writing;
    assert.deepEqual(t.errors, []);
  });
});

for (const te of [false, true]) {
  const framing = te ? "chunked" : "Content-Length";
  Deno.test(`streamBody sends no 100 Continue and closes when the handler never reads a body that expects one (${framing})`, async () => {
    await withStreamServer(
      withNext(() => ({ body: "not now" })),
      {},
      async (t) => {
        const tap = await Tap.connect(t.port);
        try {
          await tap.write(post(
            "/up",
            "Expect: 100-continue\r\n" +
              (te
                ? "Transfer-Encoding: chunked\r\n"
                : "Content-Length: 1000\r\n"),
          ));
          const [res] = await tap.waitResponses(1);
          assert.ok(tap.text.startsWith("HTTP/1.1 200 OK\r\n"), tap.text);
          assert.equal(res.text, "not now");
          assert.equal(res.header("connection"), "close");
          await tap.waitClose();
          assert.ok(!tap.text.includes("100 Continue"), tap.text);
          assert.deepEqual(t.errors, []);
        } finally {
          await tap.close();
        }
      },
    );
  });
}

// --- 8. pipelining behind streamed bodies --------------------------------

type Consume = (body: ReadableStream<Uint8Array>) => Promise<number>;
const CONSUMERS: [string, boolean, Consume][] = [
  ["a fully read Content-Length body", false, async (b) => (await digest(b)).n],
  ["a fully read chunked body", true, async (b) => (await digest(b)).n],
  [
    "a body read through new Response().arrayBuffer()",
    true,
    async (b) => (await new Response(b).arrayBuffer()).byteLength,
  ],
  ["a partly read Content-Length body", false, async (b) => {
    const r = b.getReader();
    const { value } = await r.read();
    r.releaseLock();
    return value?.length ?? 0;
  }],
  ["a partly read chunked body", true, async (b) => {
    const r = b.getReader();
    const { value } = await r.read();
    r.releaseLock();
    return value?.length ?? 0;
  }],
  ["a cancelled body", false, async (b) => {
    await b.cancel();
    return 0;
  }],
];

for (const [what, te, consume] of CONSUMERS) {
  Deno.test(`streamBody answers pipelined requests behind ${what}`, async () => {
    const counts: number[] = [];
    await withStreamServer(
      withNext(async (req) => {
        const n = await consume(req.body!);
        counts.push(n);
        return { body: `read ${n}` };
      }),
      {},
      async (t) => {
        const data = pattern(150_000, 11);
        const up = join([
          post(
            "/up",
            te
              ? "Transfer-Encoding: chunked\r\n"
              : `Content-Length: ${data.length}\r\n`,
          ),
          te ? chunked(data, 7000) : data,
        ]);
        const c = await t.connect();
        await c.write(join([up, GET_NEXT, up, GET_NEXT]));
        const rs = await c.readResponses(4);
        assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200]);
        assert.equal(rs[1].text, "next");
        assert.equal(rs[3].text, "next");
        assert.equal(rs[0].text, `read ${counts[0]}`);
        for (const r of rs) assert.equal(r.header("connection"), null);
        assert.equal(counts.length, 2);
        if (what.includes("fully") || what.includes("Response")) {
          assert.deepEqual(counts, [data.length, data.length]);
        }
        await c.write(GET_NEXT);
        assert.equal((await c.readResponse()).text, "next");
        assert.deepEqual(t.errors, []);
      },
    );
  });
}

// --- more: echo, late reads, stop ---------------------------------------

Deno.test("streamBody lets a handler answer with its request body as the response body (echo)", async () => {
  const data = pattern(3 * 1024 * 1024, 31);
  const file = await Deno.makeTempFile({ prefix: "httpkit_echo_" });
  await Deno.writeFile(file, data);
  try {
    await withStreamServer((req) => ({ body: req.body }), {
      maxBody: 16 * 1024 * 1024,
    }, async (t) => {
      const out = await runCommand(PYTHON, [
        "-c",
        `
import sys, urllib.request, hashlib
data = open(sys.argv[2], "rb").read()
req = urllib.request.Request(sys.argv[1], data=data, method="POST")
with urllib.request.urlopen(req, timeout=20) as r:
    body = r.read()
print(len(body), hashlib.sha256(body).hexdigest())
`,
        `http://127.0.0.1:${t.port}/echo`,
        file,
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout.trim(), `${data.length} ${await sha256(data)}`);
      assert.deepEqual(t.errors, []);
    });
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("streamBody errors a stream read after the response instead of taking the next request's bytes", async () => {
  const kept: ReadableStream<Uint8Array>[] = [];
  const uris: string[] = [];
  await withStreamServer(
    (req) => {
      uris.push(req.uri);
      if (req.body !== null) kept.push(req.body);
      return { body: `at ${req.uri}` };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(post("/up", "Content-Length: 5\r\n") + "hello" + GET_NEXT);
      const rs = await c.readResponses(2);
      assert.deepEqual(rs.map((r) => r.text), ["at /up", "at /next"]);
      // the first body was dropped to reach /next: reading it now fails
      await assert.rejects(
        within(new Response(kept[0]).text(), 5000, "the late read"),
        TypeError,
      );
      await c.write(GET_NEXT);
      assert.equal((await c.readResponse()).text, "at /next");
      assert.deepEqual(uris, ["/up", "/next", "/next"]);
    },
  );
});

Deno.test("streamBody: stop() while a handler reads a streamed body errors its read and ends", async () => {
  const outcome = deferred<unknown>();
  const reading = deferred();
  await withStreamServer(
    async (req) => {
      try {
        for await (const _ of req.body!) reading.resolve();
        outcome.resolve("no error");
      } catch (err) {
        outcome.resolve(err);
      }
      return { body: "x" };
    },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(
        post("/up", "Content-Length: 100000\r\n") + "z".repeat(1000),
      );
      await within(reading.promise, 5000, "the handler to read");
      await within(t.server.stop(), 5000, "stop()");
      const err = await within(outcome.promise, 5000, "the read to fail");
      assert.ok(err instanceof Error, String(err));
      assert.equal(t.server.status, "stopped");
    },
  );
});

// --- 9. the stream, and backpressure -----------------------------------------

Deno.test("streamBody gives a ReadableStream that is async-iterable and reads through new Response()", async () => {
  const seen: Record<string, unknown>[] = [];
  await withStreamServer(
    async (req) => {
      const body = req.body!;
      const text = await new Response(body).text();
      seen.push({
        stream: body instanceof ReadableStream,
        iterable: typeof body[Symbol.asyncIterator] === "function",
        text,
      });
      return { body: text.toUpperCase() };
    },
    {},
    async (t) => {
      const res = await fetch(`http://127.0.0.1:${t.port}/up`, {
        method: "POST",
        body: "a streamed body",
      });
      assert.equal(await res.text(), "A STREAMED BODY");
      assert.deepEqual(seen, [{
        stream: true,
        iterable: true,
        text: "a streamed body",
      }]);
    },
  );
});

Deno.test("streamBody gives null for a request without a body and calls no predicate for it", async () => {
  const bodies: unknown[] = [];
  let asked = 0;
  await withServer(
    ((req: RingRequest<unknown>) => {
      bodies.push(req.body);
      return { body: "ok" };
    }) as Handler,
    {
      streamBody: () => {
        asked++;
        return true;
      },
    },
    async (t) => {
      const c = await t.connect();
      await c.write(
        "GET / HTTP/1.1\r\nHost: t\r\n\r\n" +
          post("/", "Content-Length: 0\r\n"),
      );
      await c.readResponses(2);
      assert.deepEqual(bodies, [null, null]);
      assert.equal(asked, 0);
    },
  );
});

/** Receive queue of the server's socket and send queue of the client's. */
async function socketQueues(
  port: number,
): Promise<{ serverRecv: number; clientSend: number }> {
  const out = await new Deno.Command("ss", {
    args: ["-Htn", "state", "established"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  let serverRecv = -1, clientSend = -1;
  for (const line of decoder.decode(out.stdout).trim().split("\n")) {
    const [recv, send, local, peer] = line.trim().split(/\s+/);
    if (local === `127.0.0.1:${port}`) serverRecv = Number(recv);
    if (peer === `127.0.0.1:${port}`) clientSend = Number(send);
  }
  if (serverRecv < 0 || clientSend < 0) {
    throw new Error(`No connection to port ${port} in ss output`);
  }
  return { serverRecv, clientSend };
}

Deno.test("streamBody reads no more than one buffer ahead of a handler that waits (backpressure)", async () => {
  const size = 48 * 1024 * 1024;
  const data = pattern(size, 13);
  const firstSeen = deferred();
  const release = deferred();
  let consumed = 0;
  let max = 0;
  await withStreamServer(
    async (req) => {
      const r = req.body!.getReader();
      const h = createHash("sha256");
      const first = await r.read();
      consumed += first.value!.length;
      h.update(first.value!);
      firstSeen.resolve();
      await release.promise;
      for (;;) {
        const { done, value } = await r.read();
        if (done) break;
        consumed += value.length;
        if (value.length > max) max = value.length;
        h.update(value);
      }
      return { body: `${consumed} ${h.digest("hex")}` };
    },
    { maxBody: 64 * 1024 * 1024 },
    async (t) => {
      const c = await t.connect();
      const head = post("/up", `Content-Length: ${size}\r\n`);
      await c.write(head);
      let written = 0;
      // settles with the error, if any: the test may end while it waits
      const writing = (async () => {
        // every byte the kernel took, counted as soon as it took it
        while (written < size) {
          const end = Math.min(size, written + READ_SIZE);
          written += await c.conn.write(data.subarray(written, end));
        }
      })().then(() => null, (err) => err);
      await within(firstSeen.promise, 5000, "the first chunk");
      // wait until the client's writes stall
      let last = -1;
      let still = 0;
      await until(
        () => {
          if (written === last) still++;
          else {
            still = 0;
            last = written;
          }
          return still >= 40; // 200 ms without progress
        },
        "the client's writes to stall",
        20_000,
      );
      assert.ok(written < size, "the client is held back");
      const q = await socketQueues(t.port);
      // what the server took off its socket: sent, less what the kernels hold
      const serverRead = head.length + written - q.clientSend - q.serverRecv;
      const ahead = serverRead - head.length - consumed;
      assert.ok(
        ahead >= 0 && ahead <= READ_SIZE,
        `server read ${ahead} bytes ahead of the handler (written ${written}, ` +
          `client send queue ${q.clientSend}, server receive queue ${q.serverRecv})`,
      );
      release.resolve();
      assert.equal(await writing, null);
      const res = await c.readResponse({ timeout: 20_000 });
      assert.equal(res.text, `${size} ${await sha256(data)}`);
      assert.ok(max <= READ_SIZE, `chunk of ${max} bytes`);
    },
  );
});

// --- 10. a 1 GB upload from our client into a file -----------------------------

/** Bytes free on the file system of `dir`. */
async function freeBytes(dir: string): Promise<number> {
  const out = await runCommand("df", ["-Pk", dir]);
  const fields = out.stdout.trim().split("\n").pop()!.trim().split(/\s+/);
  return Number(fields[3]) * 1024;
}

const BIG = 1024 * 1024 * 1024;
const bigSkip = Deno.env.get("HTTPKIT_SKIP_BIG") === "1";

Deno.test({
  name:
    "streamBody takes a 1 GB upload from our client into a file without buffering it",
  ignore: bigSkip,
  async fn() {
    const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
    const free = await freeBytes(tmp);
    if (free < 3 * BIG) {
      console.log(
        `skipped: ${(free / BIG).toFixed(1)} GB free on ${tmp}, 3 GB needed`,
      );
      return;
    }
    const dir = await Deno.makeTempDir({ prefix: "httpkit_big_" });
    const file = `${dir}/upload.bin`;
    const server = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", FIXTURES + "stream_upload_server.ts", file],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const stdin = server.stdin.getWriter();
    const lines = server.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    try {
      let text = "";
      while (!text.includes("\n")) {
        const { done, value } = await within(
          lines.read(),
          20_000,
          "the server to start",
        );
        if (done) throw new Error("The upload server exited");
        text += value;
      }
      const { port } = JSON.parse(text);
      // the baseline: a server that has started and answered once
      const warm = await fetch(`http://127.0.0.1:${port}/`);
      await warm.body?.cancel();
      const reset = resetPeakRss(server.pid);
      const serverBefore = peakRss(server.pid);
      const t0 = performance.now();
      const out = await runCommand(Deno.execPath(), [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        FIXTURES + "stream_upload_client.ts",
        `http://127.0.0.1:${port}/upload`,
        String(BIG),
      ]);
      const ms = performance.now() - t0;
      const serverAfter = peakRss(server.pid);
      assert.equal(out.code, 0, out.stderr);
      const client = JSON.parse(out.stdout);
      assert.equal(client.status, 200, out.stdout);
      assert.equal(client.sent, BIG);
      const seen = JSON.parse(client.body);
      assert.equal(seen.n, BIG);
      assert.ok(seen.max <= READ_SIZE, `chunk of ${seen.max} bytes`);
      // the file, hashed as it is read
      const h = createHash("sha256");
      const f = await Deno.open(file);
      for await (const c of f.readable) h.update(c);
      assert.equal((await Deno.stat(file)).size, BIG);
      assert.equal(h.digest("hex"), client.sha);
      const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
      console.log(
        `1 GiB upload: ${(ms / 1000).toFixed(1)} s with process start ` +
          `(client upload ${
            (client.ms / 1000).toFixed(1)
          } s); server peak RSS ` +
          `${mb(serverBefore)} -> ${mb(serverAfter)} MiB` +
          `${reset ? " (peak reset before)" : ""}; client peak RSS ` +
          `${mb(client.hwmBefore)} -> ${mb(client.hwmAfter)} MiB` +
          `${client.reset ? " (peak reset before)" : ""}`,
      );
      assert.ok(
        serverAfter - serverBefore < 200 * 1024 * 1024,
        `server peak RSS grew by ${mb(serverAfter - serverBefore)} MiB`,
      );
      assert.ok(
        client.hwmAfter - client.hwmBefore < 200 * 1024 * 1024,
        `client peak RSS grew by ${mb(client.hwmAfter - client.hwmBefore)} MiB`,
      );
    } finally {
      await stdin.close().catch(() => {});
      await lines.cancel().catch(() => {});
      const timer = setTimeout(() => server.kill(), 5000);
      await server.status;
      clearTimeout(timer);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// --- 11. the predicate form ---------------------------------------------

Deno.test("streamBody as a predicate streams /upload and hands other bodies over whole", async () => {
  const seen: string[] = [];
  const asked: unknown[] = [];
  await withServer(
    (async (
      req: RingRequest<Uint8Array | ReadableStream<Uint8Array> | null>,
    ) => {
      const b = req.body;
      let kind: string;
      let text = "";
      if (b instanceof ReadableStream) {
        kind = "stream";
        text = await new Response(b).text();
      } else if (b instanceof Uint8Array) {
        kind = "bytes";
        text = decoder.decode(b);
      } else kind = String(b);
      seen.push(`${req.uri} ${kind} ${text}`);
      return { body: kind };
    }) as Handler,
    {
      streamBody: (req) => {
        asked.push(req.body);
        return req.uri.startsWith("/upload");
      },
    },
    async (t) => {
      const c = await t.connect();
      await c.write(
        post("/upload/a", "Content-Length: 3\r\n") + "one" +
          post("/other", "Content-Length: 3\r\n") + "two" +
          post("/upload", "Transfer-Encoding: chunked\r\n") +
          "5\r\nthree\r\n0\r\n\r\n" +
          post("/form", "Transfer-Encoding: chunked\r\n") +
          "4\r\nfour\r\n0\r\n\r\n" +
          "GET /upload HTTP/1.1\r\nHost: t\r\n\r\n",
      );
      const rs = await c.readResponses(5);
      assert.deepEqual(rs.map((r) => r.text), [
        "stream",
        "bytes",
        "stream",
        "bytes",
        "null",
      ]);
      assert.deepEqual(seen, [
        "/upload/a stream one",
        "/other bytes two",
        "/upload stream three",
        "/form bytes four",
        "/upload null ",
      ]);
      // asked once per request with a body, before it was read
      assert.deepEqual(asked, [null, null, null, null]);
      assert.deepEqual(t.errors, []);
    },
  );
});

Deno.test({
  name:
    "streamBody as a predicate that throws answers 500, logs it and serves no request out of the unread body",
  async fn() {
    const uris: string[] = [];
    await withServer(
      ((req: RingRequest<unknown>) => {
        uris.push(req.uri);
        return { body: `at ${req.uri}` };
      }) as Handler,
      {
        streamBody: (req) => {
          if (req.uri === "/boom") throw new Error("predicate failed");
          return false;
        },
      },
      async (t) => {
        const smuggled = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
        const c = await t.connect();
        await c.write(
          post("/boom", `Content-Length: ${smuggled.length}\r\n`) + smuggled +
            GET_NEXT,
        );
        const first = await c.readResponse();
        assert.equal(first.status, 500);
        assert.equal(t.errors.length, 1);
        assert.equal((t.errors[0] as Error).message, "predicate failed");
        // the body is not a request: it is dropped and /next answered, or
        // the connection closes
        const after: string[] = [];
        try {
          after.push((await c.readResponse({ timeout: 1000 })).text);
        } catch {
          // closed, or nothing more
        }
        assert.ok(!uris.includes("/smuggled"), `handled ${uris.join(", ")}`);
        assert.ok(after.every((text) => text === "at /next"), after.join());
      },
    );
  },
});
