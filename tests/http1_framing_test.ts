// Body framing (http1/framing.ts) as tables from RFC 9110 and RFC 9112
// section 6, for both roles and both directions, then the same cases end to
// end: a raw socket against runServer, checking the exact head and that no
// body byte goes out where none may.

import assert from "node:assert/strict";
import {
  bodiless,
  Framing,
  type OutFraming,
  requestBodyFraming,
  requestFraming,
  responseBodyFraming,
  responseFraming,
} from "../http1/framing.ts";
import {
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
} from "../http1/head.ts";
import { bytes, get, type RawResponse, withServer } from "./_helpers.ts";

const LIMITS = { maxLine: 8192, maxHeaderBytes: 64 * 1024 };

const GET11 = { method: "GET", http10: false };
const HEAD11 = { method: "HEAD", http10: false };
const GET10 = { method: "GET", http10: true };
const HEAD10 = { method: "HEAD", http10: true };

/** The header lines of `fields`, one per line, without the CRLFs. */
function lines(f: OutFraming): string[] {
  return f.fields === "" ? [] : f.fields.slice(0, -2).split("\r\n");
}

// ---------------------------------------------------------------------------
// bodiless: RFC 9112 section 6.3, rules 1 and 2

Deno.test("bodiless() is true for HEAD, 1xx, 204 and 304 only", () => {
  const cases: [string, number, boolean][] = [
    ["HEAD", 200, true],
    ["HEAD", 404, true],
    ["HEAD", 500, true],
    ["GET", 100, true],
    ["GET", 101, true],
    ["GET", 103, true],
    ["GET", 199, true],
    ["GET", 204, true],
    ["POST", 204, true],
    ["GET", 304, true],
    ["GET", 200, false],
    ["GET", 205, false],
    ["POST", 201, false],
    ["GET", 301, false],
    ["GET", 404, false],
    ["DELETE", 500, false],
    // "head" is not the HEAD method: methods are case-sensitive
    ["head", 200, false],
  ];
  for (const [method, status, want] of cases) {
    assert.equal(bodiless(method, status), want, `${method} ${status}`);
  }
});

// ---------------------------------------------------------------------------
// responseFraming: the server writing a response

interface ResponseCase {
  name: string;
  req: { method: string; http10: boolean };
  status: number;
  length: number | null;
  declared: number;
  keepAlive: boolean;
  fields: string[];
  framing: Framing;
  keptAlive: boolean;
}

const RESPONSE_CASES: ResponseCase[] = [
  // HEAD: the fields a GET would get, never a body (RFC 9110 section 9.3.2)
  {
    name: "HEAD with a body length",
    req: HEAD11,
    status: 200,
    length: 5,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 5"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "HEAD with a body length and another declared: the body wins",
    req: HEAD11,
    status: 200,
    length: 5,
    declared: 7,
    keepAlive: true,
    fields: ["Content-Length: 5"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "HEAD with only a declared length",
    req: HEAD11,
    status: 200,
    length: null,
    declared: 7,
    keepAlive: true,
    fields: ["Content-Length: 7"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "HEAD with neither (an empty GET response would say 0)",
    req: HEAD11,
    status: 200,
    length: null,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 0"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "HEAD with a stream of unknown length: no length, no chunked",
    req: HEAD11,
    status: 200,
    length: -1,
    declared: -1,
    keepAlive: true,
    fields: [],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "HEAD on HTTP/1.0 keep-alive stays alive (no body to delimit)",
    req: HEAD10,
    status: 200,
    length: -1,
    declared: -1,
    keepAlive: true,
    fields: ["Connection: keep-alive"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "HEAD on HTTP/1.0 keep-alive with a length",
    req: HEAD10,
    status: 200,
    length: 5,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 5", "Connection: keep-alive"],
    framing: Framing.None,
    keptAlive: true,
  },
  // 1xx and 204: no Content-Length at all (RFC 9110 section 8.6)
  {
    name: "103 with a body",
    req: GET11,
    status: 103,
    length: 5,
    declared: 5,
    keepAlive: true,
    fields: [],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "100 without a body",
    req: GET11,
    status: 100,
    length: null,
    declared: -1,
    keepAlive: true,
    fields: [],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "204 with a body and a declared length",
    req: GET11,
    status: 204,
    length: 5,
    declared: 5,
    keepAlive: true,
    fields: [],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "204 with a stream",
    req: GET11,
    status: 204,
    length: -1,
    declared: -1,
    keepAlive: true,
    fields: [],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "204 to HEAD",
    req: HEAD11,
    status: 204,
    length: null,
    declared: 3,
    keepAlive: true,
    fields: [],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "204 on HTTP/1.0 keep-alive",
    req: GET10,
    status: 204,
    length: null,
    declared: -1,
    keepAlive: true,
    fields: ["Connection: keep-alive"],
    framing: Framing.None,
    keptAlive: true,
  },
  // 205: Content-Length: 0 and no body (RFC 9110 section 15.3.6)
  {
    name: "205 with a body",
    req: GET11,
    status: 205,
    length: 5,
    declared: 5,
    keepAlive: true,
    fields: ["Content-Length: 0"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "205 without a body",
    req: GET11,
    status: 205,
    length: null,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 0"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "205 with a stream on HTTP/1.0: still no body, still alive",
    req: GET10,
    status: 205,
    length: -1,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 0", "Connection: keep-alive"],
    framing: Framing.None,
    keptAlive: true,
  },
  // 304: a declared length is kept, the body never goes (section 15.4.5)
  {
    name: "304 with a declared length",
    req: GET11,
    status: 304,
    length: null,
    declared: 42,
    keepAlive: true,
    fields: ["Content-Length: 42"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "304 with a body and a declared length",
    req: GET11,
    status: 304,
    length: 4,
    declared: 42,
    keepAlive: true,
    fields: ["Content-Length: 42"],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "304 with a body only: its length is not the representation's",
    req: GET11,
    status: 304,
    length: 4,
    declared: -1,
    keepAlive: true,
    fields: [],
    framing: Framing.None,
    keptAlive: true,
  },
  {
    name: "304 with a stream",
    req: GET11,
    status: 304,
    length: -1,
    declared: -1,
    keepAlive: true,
    fields: [],
    framing: Framing.None,
    keptAlive: true,
  },
  // Known length
  {
    name: "a known length",
    req: GET11,
    status: 200,
    length: 5,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 5"],
    framing: Framing.Length,
    keptAlive: true,
  },
  {
    name: "a known length beats a declared one",
    req: GET11,
    status: 200,
    length: 5,
    declared: 9,
    keepAlive: true,
    fields: ["Content-Length: 5"],
    framing: Framing.Length,
    keptAlive: true,
  },
  {
    name: "an empty body",
    req: GET11,
    status: 200,
    length: 0,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 0"],
    framing: Framing.Length,
    keptAlive: true,
  },
  {
    name: "no body in the map",
    req: GET11,
    status: 404,
    length: null,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 0"],
    framing: Framing.Length,
    keptAlive: true,
  },
  // Unknown length
  {
    name: "a stream on HTTP/1.1 is chunked",
    req: GET11,
    status: 200,
    length: -1,
    declared: -1,
    keepAlive: true,
    fields: ["Transfer-Encoding: chunked"],
    framing: Framing.Chunked,
    keptAlive: true,
  },
  {
    name: "a stream with a declared length is held to it",
    req: GET11,
    status: 200,
    length: -1,
    declared: 9,
    keepAlive: true,
    fields: ["Content-Length: 9"],
    framing: Framing.Length,
    keptAlive: true,
  },
  {
    name: "a stream on HTTP/1.1 with Connection: close",
    req: GET11,
    status: 200,
    length: -1,
    declared: -1,
    keepAlive: false,
    fields: ["Transfer-Encoding: chunked", "Connection: close"],
    framing: Framing.Chunked,
    keptAlive: false,
  },
  {
    name: "a stream on HTTP/1.0 ends with the connection",
    req: GET10,
    status: 200,
    length: -1,
    declared: -1,
    keepAlive: false,
    fields: ["Connection: close"],
    framing: Framing.Close,
    keptAlive: false,
  },
  {
    name: "a stream on HTTP/1.0 keep-alive: the keep-alive is turned down",
    req: GET10,
    status: 200,
    length: -1,
    declared: -1,
    keepAlive: true,
    fields: ["Connection: close"],
    framing: Framing.Close,
    keptAlive: false,
  },
  {
    name: "a stream on HTTP/1.0 keep-alive with a declared length stays alive",
    req: GET10,
    status: 200,
    length: -1,
    declared: 9,
    keepAlive: true,
    fields: ["Content-Length: 9", "Connection: keep-alive"],
    framing: Framing.Length,
    keptAlive: true,
  },
  // Connection
  {
    name: "keepAlive false on HTTP/1.1",
    req: GET11,
    status: 200,
    length: 5,
    declared: -1,
    keepAlive: false,
    fields: ["Content-Length: 5", "Connection: close"],
    framing: Framing.Length,
    keptAlive: false,
  },
  {
    name: "keepAlive false on HTTP/1.0",
    req: GET10,
    status: 200,
    length: 5,
    declared: -1,
    keepAlive: false,
    fields: ["Content-Length: 5", "Connection: close"],
    framing: Framing.Length,
    keptAlive: false,
  },
  {
    name: "HTTP/1.0 keep-alive with a length says keep-alive",
    req: GET10,
    status: 200,
    length: 5,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 5", "Connection: keep-alive"],
    framing: Framing.Length,
    keptAlive: true,
  },
  {
    name: "HTTP/1.1 keep-alive says nothing (the default)",
    req: GET11,
    status: 200,
    length: 5,
    declared: -1,
    keepAlive: true,
    fields: ["Content-Length: 5"],
    framing: Framing.Length,
    keptAlive: true,
  },
  {
    name: "204 with keepAlive false",
    req: GET11,
    status: 204,
    length: null,
    declared: -1,
    keepAlive: false,
    fields: ["Connection: close"],
    framing: Framing.None,
    keptAlive: false,
  },
];

for (const c of RESPONSE_CASES) {
  Deno.test(`responseFraming() frames ${c.name}`, () => {
    const f = responseFraming(
      c.req,
      c.status,
      c.length,
      c.declared,
      c.keepAlive,
    );
    assert.deepEqual(lines(f), c.fields);
    assert.ok(f.fields === "" || f.fields.endsWith("\r\n"), f.fields);
    assert.equal(f.framing, c.framing);
    assert.equal(f.keepAlive, c.keptAlive);
  });
}

Deno.test("responseFraming() writes at most one Connection line and never keep-alive with close", () => {
  for (const req of [GET11, GET10, HEAD11, HEAD10]) {
    for (const status of [100, 200, 204, 205, 304, 404]) {
      for (const length of [null, -1, 0, 5]) {
        for (const declared of [-1, 0, 9]) {
          for (const keepAlive of [true, false]) {
            const f = responseFraming(
              req,
              status,
              length,
              declared,
              keepAlive,
            );
            const what = JSON.stringify({
              req,
              status,
              length,
              declared,
              keepAlive,
            });
            const conn = lines(f).filter((l) => l.startsWith("Connection:"));
            assert.ok(conn.length <= 1, what);
            if (!f.keepAlive) assert.deepEqual(conn, ["Connection: close"]);
            else if (req.http10) {
              assert.deepEqual(conn, ["Connection: keep-alive"], what);
            } else assert.deepEqual(conn, [], what);
            // keep-alive is only ever turned down, never turned on
            if (!keepAlive) assert.equal(f.keepAlive, false, what);
            // a close-delimited body ends the connection
            if (f.framing === Framing.Close) {
              assert.equal(f.keepAlive, false, what);
            }
            // no framing field goes with a response that has no body
            // but the ones RFC 9110 allows (a length for HEAD, 304, 205)
            const cl = lines(f).filter((l) => l.startsWith("Content-Length"));
            const te = lines(f).filter((l) => l.startsWith("Transfer"));
            assert.ok(cl.length + te.length <= 1, what);
            if (status < 200 || status === 204) {
              assert.deepEqual([...cl, ...te], [], what);
            }
            if (bodiless(req.method, status) || status === 205) {
              assert.equal(f.framing, Framing.None, what);
              assert.deepEqual(te, [], what);
            }
            // chunked only on HTTP/1.1
            if (req.http10) assert.notEqual(f.framing, Framing.Chunked, what);
          }
        }
      }
    }
  }
});

// Where the declared length is kept "where no body says otherwise": a HEAD
// answered by a stream with a declared length would get Content-Length from
// a GET (the stream is held to it), so the HEAD response should carry it too
// (RFC 9110 section 9.3.2).
Deno.test({
  name: "responseFraming() keeps a declared length on HEAD with a stream body",
  fn() {
    const get = responseFraming(GET11, 200, -1, 9, true);
    assert.deepEqual(lines(get), ["Content-Length: 9"]);
    const head = responseFraming(HEAD11, 200, -1, 9, true);
    assert.deepEqual(lines(head), ["Content-Length: 9"]);
    assert.equal(head.framing, Framing.None);
  },
});

// ---------------------------------------------------------------------------
// requestFraming: the client writing a request

Deno.test("requestFraming() sends no framing for a GET, HEAD, DELETE or OPTIONS without a body", () => {
  for (const method of ["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"]) {
    const f = requestFraming(method, null, -1);
    assert.equal(f.fields, "", method);
    assert.equal(f.framing, Framing.None, method);
    assert.equal(f.keepAlive, true, method);
  }
});

Deno.test("requestFraming() says Content-Length: 0 for a POST, PUT or PATCH without a body", () => {
  for (const method of ["POST", "PUT", "PATCH"]) {
    const f = requestFraming(method, null, -1);
    assert.equal(f.fields, "Content-Length: 0\r\n", method);
    assert.equal(f.framing, Framing.None, method);
    assert.equal(f.keepAlive, true, method);
  }
});

Deno.test("requestFraming() frames known, declared and unknown lengths", () => {
  const cases: [string, number | null, number, string, Framing][] = [
    ["POST", 5, -1, "Content-Length: 5\r\n", Framing.Length],
    ["POST", 0, -1, "Content-Length: 0\r\n", Framing.Length],
    ["GET", 5, -1, "Content-Length: 5\r\n", Framing.Length],
    ["PUT", 5, 9, "Content-Length: 5\r\n", Framing.Length],
    ["POST", -1, 9, "Content-Length: 9\r\n", Framing.Length],
    ["PATCH", -1, 0, "Content-Length: 0\r\n", Framing.Length],
    ["POST", -1, -1, "Transfer-Encoding: chunked\r\n", Framing.Chunked],
    ["GET", -1, -1, "Transfer-Encoding: chunked\r\n", Framing.Chunked],
  ];
  for (const [method, length, declared, fields, framing] of cases) {
    const f = requestFraming(method, length, declared);
    const what = `${method} ${length} ${declared}`;
    assert.equal(f.fields, fields, what);
    assert.equal(f.framing, framing, what);
    assert.equal(f.keepAlive, true, what);
  }
});

// ---------------------------------------------------------------------------
// requestBodyFraming: the server reading a request

function request(text: string): RequestHead {
  const b = bytes(text);
  return parseRequestHead(b, 0, b.length, LIMITS);
}

Deno.test("requestBodyFraming() reads no body, a length or chunks as the head says", () => {
  const cases: [string, Framing][] = [
    ["GET / HTTP/1.1\r\nHost: a\r\n\r\n", Framing.None],
    ["POST / HTTP/1.1\r\nHost: a\r\n\r\n", Framing.None],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", Framing.None],
    ["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n", Framing.Length],
    ["GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", Framing.Length],
    ["POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n", Framing.Length],
    [
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
      Framing.Chunked,
    ],
  ];
  for (const [text, want] of cases) {
    assert.equal(requestBodyFraming(request(text)), want, text);
  }
});

// ---------------------------------------------------------------------------
// responseBodyFraming: the client reading a response

function response(text: string): ResponseHead {
  const b = bytes(text);
  return parseResponseHead(b, 0, b.length, LIMITS);
}

Deno.test("responseBodyFraming() reads nothing after HEAD, 1xx, 204 and 304 whatever the fields say", () => {
  const withLength = "Content-Length: 5\r\n";
  const withChunks = "Transfer-Encoding: chunked\r\n";
  for (const extra of ["", withLength, withChunks]) {
    const ok = response(`HTTP/1.1 200 OK\r\n${extra}\r\n`);
    assert.equal(responseBodyFraming("HEAD", ok), Framing.None, extra);
    for (const status of [100, 103, 204, 304]) {
      const r = response(`HTTP/1.1 ${status} X\r\n${extra}\r\n`);
      assert.equal(
        responseBodyFraming("GET", r),
        Framing.None,
        `${status} ${extra}`,
      );
    }
  }
});

Deno.test("responseBodyFraming() reads chunks, a length, or to the close", () => {
  const cases: [string, Framing][] = [
    [
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      Framing.Chunked,
    ],
    ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", Framing.Length],
    // a length of 0 is a length: the body is empty, the connection goes on
    ["HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", Framing.Length],
    ["HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n", Framing.Length],
    ["HTTP/1.1 200 OK\r\n\r\n", Framing.Close],
    ["HTTP/1.0 200 OK\r\n\r\n", Framing.Close],
    ["HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n", Framing.Close],
  ];
  for (const [text, want] of cases) {
    assert.equal(responseBodyFraming("GET", response(text)), want, text);
    assert.equal(responseBodyFraming("POST", response(text)), want, text);
  }
});

// ---------------------------------------------------------------------------
// End to end: the same rules on the wire

function stream(...parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return ReadableStream.from(parts.map((p) => enc.encode(p)));
}

/** Header lines of a raw response head whose name is `name`, as sent. */
function headLines(r: RawResponse, name: string): string[] {
  const n = name.toLowerCase() + ":";
  return r.head.split("\r\n").filter((l) => l.toLowerCase().startsWith(n));
}

Deno.test("runServer() answers HEAD with the body's Content-Length and no body bytes", async () => {
  await withServer(
    (req) => ({
      body: req.uri === "/bytes" ? new Uint8Array([1, 2, 3, 4, 5]) : "12345",
    }),
    {},
    async (t) => {
      const c = await t.connect();
      // the GET behind the HEAD shows whether any body byte went out
      await c.write("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/next"));
      const head = await c.readResponse({ head: true });
      assert.equal(head.status, 200);
      assert.deepEqual(headLines(head, "content-length"), [
        "Content-Length: 5",
      ]);
      assert.equal(head.header("transfer-encoding"), null);
      assert.ok(
        c.available === 0 || c.peek().startsWith("HTTP/1.1 200 OK\r\n"),
      );
      const next = await c.readResponse();
      assert.equal(next.text, "12345");
      // a HEAD to a Uint8Array body: its length, no bytes
      await c.write(
        "HEAD /bytes HTTP/1.1\r\nHost: t\r\n\r\n" + get("/after-bytes"),
      );
      const hb = await c.readResponse({ head: true });
      assert.equal(hb.header("content-length"), "5");
      assert.equal((await c.readResponse()).text, "12345");
    },
  );
});

Deno.test("runServer() answers HEAD with a declared length, or 0 for no body", async () => {
  await withServer(
    (req) =>
      req.uri === "/declared"
        ? { headers: { "content-length": "7" } }
        : req.uri === "/none"
        ? { status: 200 }
        : { body: "ok" },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(
        "HEAD /declared HTTP/1.1\r\nHost: t\r\n\r\n" +
          "HEAD /none HTTP/1.1\r\nHost: t\r\n\r\n" + get("/x"),
      );
      const declared = await c.readResponse({ head: true });
      assert.deepEqual(headLines(declared, "content-length"), [
        "Content-Length: 7",
      ]);
      const none = await c.readResponse({ head: true });
      assert.deepEqual(headLines(none, "content-length"), [
        "Content-Length: 0",
      ]);
      assert.equal((await c.readResponse()).text, "ok");
    },
  );
});

Deno.test("runServer() ends a streamed body to an HTTP/1.0 keep-alive request with the connection", async () => {
  await withServer(() => ({ body: stream("one ", "two") }), {}, async (t) => {
    const c = await t.connect();
    await c.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r = await c.readResponse();
    assert.equal(r.status, 200);
    assert.deepEqual(headLines(r, "connection"), ["Connection: close"]);
    assert.ok(!/keep-alive/i.test(r.head), r.head);
    assert.equal(r.header("transfer-encoding"), null);
    assert.equal(r.header("content-length"), null);
    assert.equal(r.chunked, false);
    assert.equal(r.text, "one two");
    assert.equal(c.eof, true);
  });
});

Deno.test("runServer() streams chunked on HTTP/1.1 and keeps the connection", async () => {
  await withServer(() => ({ body: stream("one ", "two") }), {}, async (t) => {
    const c = await t.connect();
    await c.write(get("/a") + get("/b"));
    const [a, b] = await c.readResponses(2);
    for (const r of [a, b]) {
      assert.deepEqual(headLines(r, "transfer-encoding"), [
        "Transfer-Encoding: chunked",
      ]);
      assert.equal(r.header("content-length"), null);
      assert.equal(r.header("connection"), null);
      assert.equal(r.text, "one two");
    }
  });
});

Deno.test("runServer() says Connection: keep-alive to HTTP/1.0 keep-alive with a length", async () => {
  await withServer(() => ({ body: "12345" }), {}, async (t) => {
    const c = await t.connect();
    await c.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const r = await c.readResponse();
    assert.deepEqual(headLines(r, "connection"), ["Connection: keep-alive"]);
    assert.equal(r.header("content-length"), "5");
    // and it is kept: a second request on the same socket
    await c.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert.equal((await c.readResponse()).text, "12345");
    // without keep-alive: close, said once
    await c.write("GET / HTTP/1.0\r\n\r\n");
    const last = await c.readResponse();
    assert.deepEqual(headLines(last, "connection"), ["Connection: close"]);
    await c.expectClose();
  });
});

Deno.test("runServer() sends a 204 with a body map without body and without Content-Length", async () => {
  await withServer(
    (req) =>
      req.uri === "/204"
        ? {
          status: 204,
          headers: { "content-length": "4" },
          body: "nope",
        }
        : req.uri === "/204-stream"
        ? { status: 204, body: stream("nope") }
        : { body: "next" },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/204") + get("/204-stream") + get("/after"));
      for (let i = 0; i < 2; i++) {
        const r = await c.readResponse();
        assert.equal(r.status, 204);
        assert.equal(r.header("content-length"), null, r.head);
        assert.equal(r.header("transfer-encoding"), null, r.head);
        assert.ok(c.available === 0 || c.peek().startsWith("HTTP/1.1 "));
      }
      assert.equal((await c.readResponse()).text, "next");
    },
  );
});

Deno.test("runServer() sends a 205 with Content-Length: 0 and no body", async () => {
  await withServer(
    (req) => req.uri === "/205" ? { status: 205, body: "nope" } : { body: "n" },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/205") + get("/after"));
      const r = await c.readResponse();
      assert.equal(r.status, 205);
      assert.deepEqual(headLines(r, "content-length"), ["Content-Length: 0"]);
      assert.equal(r.body.length, 0);
      assert.equal((await c.readResponse()).text, "n");
    },
  );
});

Deno.test("runServer() keeps a 304's Content-Length header and sends no body", async () => {
  await withServer(
    (req) =>
      req.uri === "/304"
        ? { status: 304, headers: { "content-length": "42", etag: '"x"' } }
        : req.uri === "/304-body"
        ? { status: 304, headers: { "content-length": "42" }, body: "nope" }
        : req.uri === "/304-plain"
        ? { status: 304, body: "nope" }
        : { body: "next" },
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(
        get("/304") + get("/304-body") + get("/304-plain") + get("/after"),
      );
      const a = await c.readResponse();
      assert.equal(a.status, 304);
      assert.deepEqual(headLines(a, "content-length"), ["Content-Length: 42"]);
      assert.equal(a.header("etag"), '"x"');
      const b = await c.readResponse();
      assert.deepEqual(headLines(b, "content-length"), ["Content-Length: 42"]);
      const plain = await c.readResponse();
      assert.equal(plain.status, 304);
      assert.equal(plain.header("content-length"), null, plain.head);
      assert.equal(plain.header("transfer-encoding"), null);
      assert.equal((await c.readResponse()).text, "next");
    },
  );
});

Deno.test({
  name:
    "runServer() answers HEAD to a stream with a declared length with that Content-Length, as GET",
  async fn() {
    await withServer(
      () => ({ headers: { "content-length": "9" }, body: stream("123456789") }),
      {},
      async (t) => {
        const c = await t.connect();
        await c.write("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"));
        const head = await c.readResponse({ head: true });
        const full = await c.readResponse();
        assert.equal(full.header("content-length"), "9");
        assert.equal(full.text, "123456789");
        assert.equal(head.header("content-length"), "9", head.head);
      },
    );
  },
});

Deno.test("runServer() closes after Connection: close from the handler, said once", async () => {
  await withServer(
    () => ({ headers: { connection: "close" }, body: "bye" }),
    {},
    async (t) => {
      const c = await t.connect();
      await c.write(get("/"));
      const r = await c.readResponse();
      assert.deepEqual(headLines(r, "connection"), ["Connection: close"]);
      assert.equal(r.text, "bye");
      await c.expectClose();
    },
  );
});
