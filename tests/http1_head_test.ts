// Request and response head parsing (RFC 9112 sections 2-6, RFC 9110 sections
// 5, 7.2 and 9.2.1), checked against the RFC and the project's rules rather
// than against the code. Every case is also fed the way a server reads it:
// first a prefix cut at each byte boundary, then the whole message.

import assert from "node:assert/strict";
import {
  checkPartialHead,
  findHeadEnd,
  type HeadLimits,
  METHODS,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type ResponseHead,
  skipEmptyLines,
} from "../http1/head.ts";
import { ProtocolError } from "../http1/errors.ts";
import { newFlags, statusLine, userHeaders } from "../http1/serialize.ts";

const LIMITS: HeadLimits = { maxLine: 8192, maxHeaderBytes: 65536 };
// Small limits so that the limit cases stay short enough to split everywhere.
const SMALL: HeadLimits = { maxLine: 64, maxHeaderBytes: 256 };

// Stale bytes that a reused server buffer may hold past `end`: a parser that
// reads beyond `end` would find a head terminator here.
const STALE = bytes("\r\n\r\n\n\n\r\n\r\n");

function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

type Outcome<H> =
  | { kind: "incomplete" }
  | { kind: "head"; head: H }
  | { kind: "error"; status: number; message: string };

type Parse<H> = (
  b: Uint8Array,
  start: number,
  headEnd: number,
  limits: HeadLimits,
) => H;

// One step of a server's (or client's) read loop over `b[0, end)`: skip empty
// lines, look for the blank line from `from` on, check limits while the head is
// incomplete, parse it once it is complete.
function feed<H>(
  parse: Parse<H>,
  b: Uint8Array,
  end: number,
  limits: HeadLimits,
  from: number,
  skip: boolean,
): Outcome<H> {
  try {
    const s = skip ? skipEmptyLines(b, 0, end) : 0;
    if (s === end) return { kind: "incomplete" };
    const he = findHeadEnd(b, Math.max(s, from), end);
    if (he < 0) {
      checkPartialHead(b, s, end, limits);
      return { kind: "incomplete" };
    }
    return { kind: "head", head: parse(b, s, he, limits) };
  } catch (err) {
    if (err instanceof ProtocolError) {
      return { kind: "error", status: err.status, message: err.message };
    }
    throw err;
  }
}

// Where a head is complete, found without the code under test: just past the
// first empty line (CRLF or a bare LF, which the parser must then refuse)
// after any leading CRLFs; Infinity when there is none.
function completeAt(s: string, skip: boolean): number {
  let from = 0;
  if (skip) { while (s.startsWith("\r\n", from)) from += 2; }
  const m = /\n\r?\n/.exec(s.slice(from));
  return m === null ? Infinity : from + m.index + m[0].length;
}

function describe<H>(o: Outcome<H>): string {
  if (o.kind === "error") return `error ${o.status} (${o.message})`;
  return o.kind;
}

function sameOutcome<H>(actual: Outcome<H>, expected: Outcome<H>, at: string) {
  if (expected.kind === "error") {
    assert.equal(
      describe(actual).split(" (")[0],
      `error ${expected.status}`,
      at,
    );
  } else {
    assert.equal(actual.kind, expected.kind, `${at}: got ${describe(actual)}`);
    if (actual.kind === "head" && expected.kind === "head") {
      assert.deepEqual(actual.head, expected.head, at);
    }
  }
}

// Feeds the first k bytes (with stale bytes after them), then the whole input,
// resuming the scan 3 bytes back as a server does, for every k.
function checkSplits<H>(
  parse: Parse<H>,
  input: string,
  limits: HeadLimits,
  skip: boolean,
  whole: Outcome<H>,
): void {
  const b = bytes(input);
  const done = completeAt(input, skip);
  const buf = new Uint8Array(b.length + STALE.length);
  for (let k = 0; k < b.length; k++) {
    buf.set(b.subarray(0, k));
    buf.set(STALE, k);
    const first = feed(parse, buf, k, limits, 0, skip);
    const at = `split at ${k} of ${b.length}`;
    if (k >= done) {
      sameOutcome(first, whole, at);
      continue;
    }
    if (first.kind === "error") {
      // Only a broken limit may be reported before the head is complete.
      assert.ok(
        first.status === 414 || first.status === 431,
        `${at}: incomplete head refused with ${describe(first)}`,
      );
      sameOutcome(first, whole, at);
      continue;
    }
    assert.equal(first.kind, "incomplete", `${at}: got ${describe(first)}`);
    const second = feed(parse, b, b.length, limits, Math.max(0, k - 3), skip);
    sameOutcome(second, whole, `${at}, then whole`);
  }
}

function request(input: string, limits = LIMITS): Outcome<RequestHead> {
  const b = bytes(input);
  const whole = feed(parseRequestHead, b, b.length, limits, 0, true);
  checkSplits(parseRequestHead, input, limits, true, whole);
  return whole;
}

function response(input: string, limits = LIMITS): Outcome<ResponseHead> {
  const b = bytes(input);
  const whole = feed(parseResponseHead, b, b.length, limits, 0, false);
  checkSplits(parseResponseHead, input, limits, false, whole);
  return whole;
}

function mustHead<H>(o: Outcome<H>): H {
  if (o.kind !== "head") assert.fail(`expected a head, got ${describe(o)}`);
  return o.head;
}

function expectFields<H>(head: H, expected: Partial<H>): void {
  for (const key of Object.keys(expected) as (keyof H)[]) {
    assert.deepEqual(head[key], expected[key], String(key));
  }
}

/** Declares a test that `input` parses to a head with `expected` fields. */
function accepts(
  name: string,
  input: string,
  expected: Partial<RequestHead>,
  limits = LIMITS,
): void {
  Deno.test(`parseRequestHead() accepts ${name}`, () => {
    const head = mustHead(request(input, limits));
    expectFields(head, expected);
    assert.equal(head.headEnd, completeAt(input, true), "headEnd");
  });
}

/** Declares a test that `input` is refused with `status`. */
function refuses(
  name: string,
  input: string,
  status: number,
  limits = LIMITS,
): void {
  Deno.test(`parseRequestHead() refuses ${name} with ${status}`, () => {
    const o = request(input, limits);
    assert.equal(describe(o).split(" (")[0], `error ${status}`);
  });
}

const H = "Host: example.com\r\n";

// --- skipEmptyLines, findHeadEnd, checkPartialHead ---------------------------

Deno.test("skipEmptyLines() skips CRLF pairs only, within end", () => {
  assert.equal(skipEmptyLines(bytes("\r\n\r\nGET"), 0, 7), 4);
  assert.equal(skipEmptyLines(bytes("GET"), 0, 3), 0);
  assert.equal(skipEmptyLines(bytes("\r\n\r"), 0, 3), 2);
  assert.equal(skipEmptyLines(bytes("\n\r\nGET"), 0, 6), 0);
  assert.equal(skipEmptyLines(bytes("\r\r\n"), 0, 3), 0);
  assert.equal(skipEmptyLines(bytes("\r\n\r\n"), 0, 3), 2);
  assert.equal(skipEmptyLines(bytes("xx\r\nG"), 2, 5), 4);
});

Deno.test("findHeadEnd() returns the offset past the blank line", () => {
  const s = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
  const b = bytes(s);
  assert.equal(findHeadEnd(b, 0, b.length), s.indexOf("BODY"));
  assert.equal(findHeadEnd(b, 20, b.length), s.indexOf("BODY"));
  assert.equal(findHeadEnd(b, 0, s.indexOf("BODY") - 1), -1);
  assert.equal(findHeadEnd(b, 0, 0), -1);
});

Deno.test("findHeadEnd() reports bare-LF terminators so they can be refused", () => {
  assert.equal(findHeadEnd(bytes("GET / HTTP/1.1\n\n"), 0, 16), 16);
  assert.equal(findHeadEnd(bytes("GET / HTTP/1.1\r\n\n"), 0, 17), 17);
  assert.equal(findHeadEnd(bytes("GET / HTTP/1.1\n\r\n"), 0, 17), 17);
});

Deno.test("findHeadEnd() never looks past end", () => {
  const b = bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  for (let end = 0; end < b.length; end++) {
    assert.equal(findHeadEnd(b, 0, end), -1, `end ${end}`);
  }
});

Deno.test("checkPartialHead() allows a line of exactly maxLine bytes", () => {
  const limits = { maxLine: 20, maxHeaderBytes: 1000 };
  const line = "GET /" + "a".repeat(15);
  checkPartialHead(bytes(line), 0, 20, limits);
  checkPartialHead(bytes(line + "\r"), 0, 21, limits);
  checkPartialHead(bytes(line + "\r\n"), 0, 22, limits);
  const field = "GET / HTTP/1.1\r\nX: " + "b".repeat(17);
  checkPartialHead(bytes(field + "\r"), 0, field.length + 1, limits);
});

Deno.test("checkPartialHead() throws 414 once a line passes maxLine", () => {
  const limits = { maxLine: 20, maxHeaderBytes: 1000 };
  const line = "GET /" + "a".repeat(16);
  assert.throws(
    () => checkPartialHead(bytes(line), 0, 21, limits),
    (e: unknown) => e instanceof ProtocolError && e.status === 414,
  );
  const field = "GET / HTTP/1.1\r\nX: " + "b".repeat(18);
  assert.throws(
    () => checkPartialHead(bytes(field), 0, field.length, limits),
    (e: unknown) => e instanceof ProtocolError && e.status === 414,
  );
});

Deno.test("checkPartialHead() throws 431 once the head passes maxHeaderBytes", () => {
  const limits = { maxLine: 100, maxHeaderBytes: 40 };
  const s = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 456\r";
  assert.equal(s.length, 41);
  checkPartialHead(bytes(s), 0, 40, limits);
  assert.throws(
    () => checkPartialHead(bytes(s), 0, 41, limits),
    (e: unknown) => e instanceof ProtocolError && e.status === 431,
  );
});

// --- valid requests -----------------------------------------------------------

accepts("a wrk-style GET", "GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n", {
  method: "GET",
  target: "/",
  path: "/",
  query: null,
  http10: false,
  authority: "localhost:8080",
  keepAlive: true,
  expectContinue: false,
  contentLength: -1,
  chunked: false,
  headers: { host: "localhost:8080" },
});

for (const method of METHODS) {
  const target = method === "CONNECT" ? "example.com:443" : "/x";
  accepts(`method ${method}`, `${method} ${target} HTTP/1.1\r\n${H}\r\n`, {
    method,
    target,
  });
}

accepts("HTTP/1.0 without Host, not kept alive", "GET /a HTTP/1.0\r\n\r\n", {
  http10: true,
  keepAlive: false,
  path: "/a",
  authority: null,
  headers: {},
});
accepts("HTTP/1.0 with Host", "GET /a HTTP/1.0\r\nHost: h:1\r\n\r\n", {
  http10: true,
  authority: "h:1",
});
accepts(
  "HTTP/1.0 with Connection: Keep-Alive as kept alive",
  "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
  { keepAlive: true },
);
accepts(
  "HTTP/1.0 with keep-alive in a list",
  "GET / HTTP/1.0\r\nConnection: foo, keep-alive\r\n\r\n",
  { keepAlive: true },
);
// RFC 9112 section 9.3: "close" wins over everything else.
accepts(
  "HTTP/1.0 with Connection: keep-alive, close as not kept alive",
  "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
  { keepAlive: false },
);
accepts(
  "HTTP/1.0 with keep-alive and close on two lines as not kept alive",
  "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
  { keepAlive: false },
);
accepts(
  "HTTP/1.1 Connection: close",
  `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
  {
    keepAlive: false,
  },
);
accepts(
  "HTTP/1.1 close in any case inside a list",
  `GET / HTTP/1.1\r\n${H}Connection: Upgrade,  CLOSE \r\n\r\n`,
  { keepAlive: false },
);
accepts(
  "HTTP/1.1 close on a second Connection line",
  `GET / HTTP/1.1\r\n${H}Connection: upgrade\r\nConnection: close\r\n\r\n`,
  { keepAlive: false },
);
accepts(
  "HTTP/1.1 Connection: closed (not the close token) as kept alive",
  `GET / HTTP/1.1\r\n${H}Connection: closed, x-close\r\n\r\n`,
  { keepAlive: true },
);
accepts(
  "HTTP/1.1 Connection: keep-alive",
  `GET / HTTP/1.1\r\n${H}Connection: keep-alive\r\n\r\n`,
  { keepAlive: true },
);

accepts("a query", `GET /search?q=1&r=%20 HTTP/1.1\r\n${H}\r\n`, {
  target: "/search?q=1&r=%20",
  path: "/search",
  query: "q=1&r=%20",
});
accepts("a bare ? as an empty query", `GET /p? HTTP/1.1\r\n${H}\r\n`, {
  path: "/p",
  query: "",
});
accepts("a second ? inside the query", `GET /p??a=? HTTP/1.1\r\n${H}\r\n`, {
  path: "/p",
  query: "?a=?",
});
accepts("/? as path / and empty query", `GET /? HTTP/1.1\r\n${H}\r\n`, {
  path: "/",
  query: "",
});
accepts("a path without query", `GET /a/b%2Fc HTTP/1.1\r\n${H}\r\n`, {
  path: "/a/b%2Fc",
  query: null,
  authority: "example.com",
});

accepts(
  "an absolute-form target over the Host header",
  "GET http://api.example:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
  {
    target: "http://api.example:8080/p?q",
    path: "/p",
    query: "q",
    authority: "api.example:8080",
  },
);
accepts(
  "an absolute-form target without a path",
  "GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
  { path: "/", query: null, authority: "example.com" },
);
accepts(
  "an absolute-form target with a query and no path",
  "GET http://example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
  { path: "/", query: "x=1", authority: "example.com" },
);
accepts(
  "an https absolute-form target in upper case",
  "GET HTTPS://Example.COM/a HTTP/1.1\r\nHost: example.com\r\n\r\n",
  { path: "/a", authority: "Example.COM" },
);
accepts(
  "an absolute-form target with an IPv6 literal",
  "GET http://[::1]:8080/x HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
  { path: "/x", authority: "[::1]:8080" },
);
accepts("OPTIONS *", `OPTIONS * HTTP/1.1\r\n${H}\r\n`, {
  target: "*",
  query: null,
  authority: "example.com",
});
accepts("CONNECT host:port", `CONNECT example.com:443 HTTP/1.1\r\n${H}\r\n`, {
  target: "example.com:443",
  authority: "example.com:443",
});

accepts("leading empty lines", `\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n`, {
  method: "GET",
  path: "/",
});

accepts(
  "mixed-case names, lower-cased, repeats joined with a comma",
  `GET / HTTP/1.1\r\n${H}Accept: a\r\nX-Mixed-CASE: 1\r\nACCEPT: b\r\naccept: c\r\n\r\n`,
  {
    headers: {
      host: "example.com",
      accept: "a,b,c",
      "x-mixed-case": "1",
    },
  },
);
accepts(
  "repeated Cookie lines joined with ;",
  `GET / HTTP/1.1\r\n${H}Cookie: a=1\r\ncookie: b=2; c=3\r\n\r\n`,
  { headers: { host: "example.com", cookie: "a=1;b=2; c=3" } },
);
accepts(
  "values with optional whitespace trimmed, inner whitespace kept",
  `GET / HTTP/1.1\r\n${H}X-A:   v  \t\r\nX-B:\tx \t y\r\nX-C:\r\nX-D: \r\n\r\n`,
  {
    headers: {
      host: "example.com",
      "x-a": "v",
      "x-b": "x \t y",
      "x-c": "",
      "x-d": "",
    },
  },
);
accepts(
  "obs-text bytes in a value as latin1",
  `GET / HTTP/1.1\r\n${H}X-Name: caf\xe9 \xff\r\n\r\n`,
  { headers: { host: "example.com", "x-name": "caf\xe9 \xff" } },
);
accepts(
  "every tchar in a name",
  `GET / HTTP/1.1\r\n${H}!#$%&'*+-.^_\`|~09azAZ: v\r\n\r\n`,
  { headers: { host: "example.com", "!#$%&'*+-.^_`|~09azaz": "v" } },
);
accepts(
  "quotes, colons and commas inside a value",
  `GET / HTTP/1.1\r\n${H}X: "a:b", c=d; e\r\n\r\n`,
  { headers: { host: "example.com", x: '"a:b", c=d; e' } },
);
accepts(
  "a __proto__ header as an own field, without touching the prototype",
  `GET / HTTP/1.1\r\n${H}__proto__: x\r\n\r\n`,
  { headers: JSON.parse('{"host":"example.com","__proto__":"x"}') },
);
accepts(
  "a Constructor header as a plain field",
  `GET / HTTP/1.1\r\n${H}Constructor: x\r\n\r\n`,
  { headers: { host: "example.com", constructor: "x" } },
);
accepts(
  "a toString header as a plain field",
  `GET / HTTP/1.1\r\n${H}toString: x\r\n\r\n`,
  { headers: { host: "example.com", tostring: "x" } },
);

accepts("Content-Length", `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\n`, {
  contentLength: 5,
  chunked: false,
});
accepts(
  "Content-Length: 0",
  `POST / HTTP/1.1\r\n${H}Content-Length: 0\r\n\r\n`,
  {
    contentLength: 0,
  },
);
accepts(
  "Content-Length with leading zeros and whitespace",
  `POST / HTTP/1.1\r\n${H}content-length:  007 \r\n\r\n`,
  { contentLength: 7 },
);
accepts(
  "a 15-digit Content-Length",
  `POST / HTTP/1.1\r\n${H}Content-Length: 999999999999999\r\n\r\n`,
  { contentLength: 999999999999999 },
);
accepts(
  "Transfer-Encoding: chunked",
  `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`,
  { chunked: true, contentLength: -1 },
);
accepts(
  "Transfer-Encoding: chunked in another case, with whitespace",
  `POST / HTTP/1.1\r\n${H}transfer-encoding:  CHUNKED \r\n\r\n`,
  { chunked: true },
);
accepts(
  "Expect: 100-continue",
  `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nExpect: 100-continue\r\n\r\n`,
  { expectContinue: true },
);
accepts(
  "Expect: 100-Continue in another case",
  `POST / HTTP/1.1\r\n${H}Content-Length: 3\r\nExpect: 100-Continue\r\n\r\n`,
  { expectContinue: true },
);
accepts(
  "Expect: 100-continue from HTTP/1.0 (ignored)",
  `POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n`,
  { expectContinue: false },
);
accepts("another Expect value", `GET / HTTP/1.1\r\n${H}Expect: foo\r\n\r\n`, {
  expectContinue: false,
});

for (
  const host of [
    "localhost",
    "127.0.0.1:8080",
    "[::1]",
    "[::1]:80",
    "[2001:db8::7]",
    "example.com:",
    "a_b-c.example~",
    "xn--bcher-kva.example",
  ]
) {
  accepts(`Host: ${host}`, `GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`, {
    authority: host,
    host,
  });
}

accepts(
  "a request line of exactly maxLine bytes",
  `GET /${"a".repeat(64 - 14)} HTTP/1.1\r\nHost: h\r\n\r\n`,
  { method: "GET" },
  SMALL,
);
accepts(
  "a header line of exactly maxLine bytes",
  `GET / HTTP/1.1\r\nHost: h\r\nX: ${"v".repeat(61)}\r\n\r\n`,
  { headers: { host: "h", x: "v".repeat(61) } },
  SMALL,
);
// A head of exactly 251 bytes, and one of 252.
const fullHead = (extra: string) =>
  `GET / HTTP/1.1\r\nHost: h\r\n${
    "X: 0123456789abcdef\r\n".repeat(10)
  }X: vvvvvvvvv${extra}\r\n\r\n`;
const HEAD251: HeadLimits = { maxLine: 64, maxHeaderBytes: 251 };
Deno.test("the maxHeaderBytes cases are 251 and 252 bytes long", () => {
  assert.equal(fullHead("").length, 251);
  assert.equal(fullHead("v").length, 252);
});
accepts(
  "a head of exactly maxHeaderBytes bytes",
  fullHead(""),
  { method: "GET" },
  HEAD251,
);

accepts(
  "the first of two pipelined heads",
  `GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}\r\n`,
  { path: "/1" },
);
accepts(
  "a head followed by its body",
  `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\n\r\nbody`,
  { contentLength: 4 },
);

// --- invalid request lines ------------------------------------------------------

const bad400: [string, string][] = [
  ["an empty request line", `\r\n\r\n \r\n${H}\r\n`],
  ["a request line without target and version", `GET\r\n${H}\r\n`],
  ["an HTTP/0.9 request line", `GET /\r\n${H}\r\n`],
  ["two spaces after the method", `GET  / HTTP/1.1\r\n${H}\r\n`],
  ["two spaces before the version", `GET /  HTTP/1.1\r\n${H}\r\n`],
  ["a space after the version", `GET / HTTP/1.1 \r\n${H}\r\n`],
  ["a space before the method", ` GET / HTTP/1.1\r\n${H}\r\n`],
  ["a tab as separator", `GET\t/ HTTP/1.1\r\n${H}\r\n`],
  ["an empty target", `GET  HTTP/1.1\r\n${H}\r\n`],
  ["a space inside the target", `GET /a b HTTP/1.1\r\n${H}\r\n`],
  ["a NUL inside the target", `GET /a\x00b HTTP/1.1\r\n${H}\r\n`],
  ["a DEL inside the target", `GET /a\x7fb HTTP/1.1\r\n${H}\r\n`],
  ["a non-ASCII byte inside the target", `GET /caf\xe9 HTTP/1.1\r\n${H}\r\n`],
  ["a lower-case method", `get / HTTP/1.1\r\n${H}\r\n`],
  ["an unknown method", `BREW / HTTP/1.1\r\n${H}\r\n`],
  ["a method that is not a token", `G@T / HTTP/1.1\r\n${H}\r\n`],
  ["version HTTP/1.2", `GET / HTTP/1.2\r\n${H}\r\n`],
  ["version HTTP/2.0", `GET / HTTP/2.0\r\n${H}\r\n`],
  ["version HTTP/0.9", `GET / HTTP/0.9\r\n${H}\r\n`],
  ["version HTTP/1.10", `GET / HTTP/1.10\r\n${H}\r\n`],
  ["version HTTP/1.", `GET / HTTP/1.\r\n${H}\r\n`],
  ["version HTTP/11", `GET / HTTP/11\r\n${H}\r\n`],
  ["a lower-case version", `GET / http/1.1\r\n${H}\r\n`],
  ["version HTTPS/1.1", `GET / HTTPS/1.1\r\n${H}\r\n`],
  ["* with GET", `GET * HTTP/1.1\r\n${H}\r\n`],
  [
    "an authority-form target with GET",
    `GET example.com:80 HTTP/1.1\r\n${H}\r\n`,
  ],
  ["a relative target", `GET a/b HTTP/1.1\r\n${H}\r\n`],
  [
    "an ftp absolute-form target",
    `GET ftp://example.com/ HTTP/1.1\r\n${H}\r\n`,
  ],
  [
    "an absolute-form target with an empty host",
    `GET http:///p HTTP/1.1\r\n${H}\r\n`,
  ],
  [
    "an absolute-form target with userinfo",
    `GET http://u@example.com/ HTTP/1.1\r\n${H}\r\n`,
  ],
  // RFC 9112 section 3.2.3: CONNECT uses the authority-form, host ":" port.
  ["an origin-form target with CONNECT", `CONNECT / HTTP/1.1\r\n${H}\r\n`],
  ["a CONNECT target without port", `CONNECT example.com HTTP/1.1\r\n${H}\r\n`],
];

// --- invalid Host -----------------------------------------------------------------

bad400.push(
  ["HTTP/1.1 without Host", "GET / HTTP/1.1\r\n\r\n"],
  ["HTTP/1.1 absolute-form without Host", "GET http://a/ HTTP/1.1\r\n\r\n"],
  ["an empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"],
  ["a blank Host", "GET / HTTP/1.1\r\nHost:   \r\n\r\n"],
  ["Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"],
  ["Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"],
  ["Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"],
  ["Host with a bad port", "GET / HTTP/1.1\r\nHost: a:b\r\n\r\n"],
  ["Host with two ports", "GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n"],
  [
    "Host with an unclosed IPv6 literal",
    "GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
  ],
  [
    "Host with junk after an IPv6 literal",
    "GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n",
  ],
  ["Host as a port only", "GET / HTTP/1.1\r\nHost: :80\r\n\r\n"],
  ["two Host lines", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"],
  ["two identical Host lines", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"],
  [
    "two Host lines on HTTP/1.0",
    "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
  ],
  ["an invalid Host on HTTP/1.0", "GET / HTTP/1.0\r\nHost: a b\r\n\r\n"],
);

// --- invalid fields -----------------------------------------------------------------

const G = `GET / HTTP/1.1\r\n${H}`;
bad400.push(
  ["whitespace before the colon", `${G}X : y\r\n\r\n`],
  ["a tab before the colon", `${G}X\t: y\r\n\r\n`],
  ["a space inside a name", `${G}Bad Name: y\r\n\r\n`],
  ["whitespace before the colon of Host", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"],
  ["an empty name", `${G}: y\r\n\r\n`],
  ["a line without colon", `${G}NoColon\r\n\r\n`],
  ["a name with a separator", `${G}X(y): z\r\n\r\n`],
  ["a name with @", `${G}X@y: z\r\n\r\n`],
  ["a name with a NUL", `${G}X\x00: y\r\n\r\n`],
  ["a name with a non-ASCII byte", `${G}\xc4: y\r\n\r\n`],
  ["a NUL in a value", `${G}X: a\x00b\r\n\r\n`],
  ["a CR in a value", `${G}X: a\rb\r\n\r\n`],
  ["a control byte in a value", `${G}X: a\x01b\r\n\r\n`],
  ["an ESC in a value", `${G}X: a\x1bb\r\n\r\n`],
  ["a DEL in a value", `${G}X: a\x7fb\r\n\r\n`],
  ["a vertical tab in a value", `${G}X: a\x0bb\r\n\r\n`],
  ["obs-fold with spaces", `${G}X: a\r\n  b\r\n\r\n`],
  ["obs-fold with a tab", `${G}X: a\r\n\tb\r\n\r\n`],
  ["whitespace before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"],
  ["a bare LF after the request line", `GET / HTTP/1.1\n${H}\r\n`],
  ["a bare LF after a field", `${G}X: y\nZ: w\r\n\r\n`],
  ["a bare LF ending the head", `${G}\n`],
  ["a bare LF after the last field", `${G}X: y\n\r\n`],
  ["an all-LF head", "GET / HTTP/1.1\nHost: a\n\n"],
  ["a bare LF before the request line", `\nGET / HTTP/1.1\r\n${H}\r\n`],
  ["a bare LF after leading empty lines", `\r\n\nGET / HTTP/1.1\r\n${H}\r\n`],
  ["a bare CR ending the request line", `GET / HTTP/1.1\r\r\n${H}\r\n`],
  ["a bare CR ending a field", `${G}X: y\r\r\n\r\n`],
  ["a bare CR in the blank line", `${G}\r\r\n\r\n`],
);

// --- framing ------------------------------------------------------------------------

const P = `POST / HTTP/1.1\r\n${H}`;
bad400.push(
  ["Content-Length: abc", `${P}Content-Length: abc\r\n\r\n`],
  ["Content-Length: -1", `${P}Content-Length: -1\r\n\r\n`],
  ["Content-Length: +1", `${P}Content-Length: +1\r\n\r\n`],
  ["Content-Length: 1.0", `${P}Content-Length: 1.0\r\n\r\n`],
  ["Content-Length: 0x10", `${P}Content-Length: 0x10\r\n\r\n`],
  ["Content-Length: 1 2", `${P}Content-Length: 1 2\r\n\r\n`],
  ["an empty Content-Length", `${P}Content-Length:\r\n\r\n`],
  ["a list Content-Length: 5,5", `${P}Content-Length: 5,5\r\n\r\n`],
  ["a list Content-Length: 5, 6", `${P}Content-Length: 5, 6\r\n\r\n`],
  [
    "two identical Content-Length lines",
    `${P}Content-Length: 5\r\nContent-Length: 5\r\n\r\n`,
  ],
  [
    "two different Content-Length lines",
    `${P}Content-Length: 5\r\ncontent-length: 6\r\n\r\n`,
  ],
  ["a 16-digit Content-Length", `${P}Content-Length: 1234567890123456\r\n\r\n`],
  [
    "a Content-Length above 2^53",
    `${P}Content-Length: 99999999999999999999\r\n\r\n`,
  ],
  [
    "Transfer-Encoding with Content-Length",
    `${P}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`,
  ],
  [
    "Content-Length with Transfer-Encoding",
    `${P}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`,
  ],
  [
    "Transfer-Encoding on HTTP/1.0",
    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
  ],
  [
    "chunked twice in one list",
    `${P}Transfer-Encoding: chunked, chunked\r\n\r\n`,
  ],
  [
    "chunked on two lines",
    `${P}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n`,
  ],
  [
    "chunked before another coding",
    `${P}Transfer-Encoding: chunked, gzip\r\n\r\n`,
  ],
  ["an empty Transfer-Encoding", `${P}Transfer-Encoding:\r\n\r\n`],
  ["a Transfer-Encoding of commas only", `${P}Transfer-Encoding: , ,\r\n\r\n`],
);

for (const [name, input] of bad400) refuses(name, input, 400);

// RFC 9112 section 6.1: a transfer-coding the server does not understand.
for (
  const te of [
    "gzip",
    "xchunked",
    "gzip, chunked",
    "deflate,chunked",
    "identity",
  ]
) {
  refuses(
    `Transfer-Encoding: ${te}`,
    `${P}Transfer-Encoding: ${te}\r\n\r\n`,
    501,
  );
}
refuses(
  "gzip and chunked on two Transfer-Encoding lines",
  `${P}Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n`,
  501,
);

// --- limits ---------------------------------------------------------------------------

refuses(
  "a request line one byte over maxLine",
  `GET /${"a".repeat(64 - 13)} HTTP/1.1\r\nHost: h\r\n\r\n`,
  414,
  SMALL,
);
refuses(
  "a header line one byte over maxLine",
  `GET / HTTP/1.1\r\nHost: h\r\nX: ${"v".repeat(62)}\r\n\r\n`,
  414,
  SMALL,
);
refuses(
  "an incomplete, endless request line",
  `GET /${"a".repeat(100)}`,
  414,
  SMALL,
);
refuses(
  "an incomplete, endless header line",
  `GET / HTTP/1.1\r\nHost: h\r\nX: ${"v".repeat(100)}`,
  414,
  SMALL,
);
refuses(
  "an incomplete line of junk bytes",
  "\x00\x01\x02".repeat(30),
  414,
  SMALL,
);
refuses("a head one byte over maxHeaderBytes", fullHead("v"), 431, HEAD251);
refuses(
  "an incomplete head over maxHeaderBytes",
  `GET / HTTP/1.1\r\nHost: h\r\n${"X: 0123456789abcdef\r\n".repeat(20)}`,
  431,
  SMALL,
);

Deno.test("parseRequestHead() counts maxHeaderBytes from the request line, not the skipped empty lines", () => {
  const limits = { maxLine: 64, maxHeaderBytes: 40 };
  const head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  const o = request("\r\n".repeat(30) + head, limits);
  assert.equal(mustHead(o).path, "/");
});

Deno.test("parseRequestHead() parses a head in the middle of a buffer", () => {
  const s = "xxxxGET /m?n HTTP/1.1\r\nHost: h\r\n\r\nyyyy";
  const b = bytes(s);
  const he = findHeadEnd(b, 4, b.length);
  assert.equal(he, s.indexOf("yyyy"));
  const head = parseRequestHead(b, 4, he, LIMITS);
  assert.equal(head.path, "/m");
  assert.equal(head.query, "n");
  assert.equal(head.headEnd, he);
});

Deno.test("parseRequestHead() throws nothing but ProtocolError", () => {
  for (const [name, input] of bad400) {
    const b = bytes(input);
    const s = skipEmptyLines(b, 0, b.length);
    const he = findHeadEnd(b, s, b.length);
    if (he < 0) continue;
    try {
      parseRequestHead(b, s, he, LIMITS);
    } catch (err) {
      assert.ok(err instanceof ProtocolError, `${name}: ${err}`);
      assert.ok(err.message.length > 0, name);
    }
  }
});

// --- responses (client side) ------------------------------------------------------

function responseHead(input: string): ResponseHead {
  return mustHead(response(input));
}

function responseStatus(input: string): number {
  const o = response(input);
  if (o.kind !== "error") assert.fail(`expected an error, got ${o.kind}`);
  return o.status;
}

Deno.test("parseResponseHead() reads status, reason, fields and framing", () => {
  const h = responseHead(
    "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
  );
  expectFields(h, {
    status: 404,
    reason: "Not Found",
    http10: false,
    keepAlive: true,
    contentLength: 3,
    chunked: false,
    headers: { "content-length": "3", "x-a": "1,2" },
  });
});

Deno.test("parseResponseHead() accepts an empty or missing reason phrase", () => {
  assert.equal(responseHead("HTTP/1.1 204 \r\n\r\n").reason, "");
  assert.equal(responseHead("HTTP/1.1 204\r\n\r\n").status, 204);
  assert.equal(
    responseHead("HTTP/1.1 200 OK \xe9\t!\r\n\r\n").reason,
    "OK \xe9\t!",
  );
});

Deno.test("parseResponseHead() keeps fields intact after a UTF-8 reason phrase", () => {
  // "Oké" sent as UTF-8 bytes: two bytes for one char must not shift the
  // fields that follow, or Content-Length is lost and the body misframed.
  const h = responseHead(
    "HTTP/1.1 200 Ok\xc3\xa9\r\nContent-Length: 5\r\nX-A: b\r\n\r\n",
  );
  assert.equal(h.contentLength, 5);
  assert.deepEqual(h.headers, { "content-length": "5", "x-a": "b" });
  assert.equal(h.reason, "Ok\xc3\xa9");
});

Deno.test("parseResponseHead() reads an obs-text reason phrase byte for byte", () => {
  const h = responseHead("HTTP/1.1 200 \xff\xfe\r\nX-A: b\r\n\r\n");
  assert.equal(h.reason, "\xff\xfe");
  assert.deepEqual(h.headers, { "x-a": "b" });
});

Deno.test("parseResponseHead() applies the keep-alive rules", () => {
  assert.equal(responseHead("HTTP/1.1 200 OK\r\n\r\n").keepAlive, true);
  assert.equal(
    responseHead("HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n").keepAlive,
    false,
  );
  assert.equal(responseHead("HTTP/1.0 200 OK\r\n\r\n").keepAlive, false);
  assert.equal(
    responseHead("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").keepAlive,
    true,
  );
});

Deno.test("parseResponseHead() lets close win over keep-alive on HTTP/1.0", () => {
  const h = responseHead(
    "HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n\r\n",
  );
  assert.equal(h.keepAlive, false);
});

Deno.test("parseResponseHead() frames by chunked when it is the last coding", () => {
  const te = (v: string) =>
    responseHead(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${v}\r\n\r\n`);
  assert.equal(te("chunked").chunked, true);
  assert.equal(te("gzip, chunked").chunked, true);
  // RFC 9112 section 6.3: otherwise the body runs until the connection closes.
  assert.equal(te("gzip").chunked, false);
});

Deno.test("parseResponseHead() allows repeated fields a request may not repeat", () => {
  const h = responseHead("HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\n\r\n");
  assert.equal(h.headers.host, "a,b");
});

Deno.test("parseResponseHead() refuses malformed status lines with 400", () => {
  for (
    const line of [
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1 099 Low",
      "HTTP/1.1 2x0 OK",
      "HTTP/1.1  200 OK",
      "HTTP/1.1 OK",
      "HTTP/2 200 OK",
      "HTTP/1.2 200 OK",
      "http/1.1 200 OK",
      "HTTP/1.1 200 O\x00K",
      "HTTP/1.1 200 O\rK",
      " HTTP/1.1 200 OK",
    ]
  ) {
    assert.equal(responseStatus(`${line}\r\n\r\n`), 400, JSON.stringify(line));
  }
});

Deno.test("parseResponseHead() refuses bad fields and framing with 400", () => {
  for (
    const fields of [
      "X: a\n",
      "X : a\r\n",
      "X: a\r\n b\r\n",
      "X: a\x00\r\n",
      "Content-Length: 1\r\nContent-Length: 1\r\n",
      "Content-Length: x\r\n",
      "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n",
      "Transfer-Encoding: chunked, gzip\r\n",
    ]
  ) {
    assert.equal(
      responseStatus(`HTTP/1.1 200 OK\r\n${fields}\r\n`),
      400,
      JSON.stringify(fields),
    );
  }
});

Deno.test("parseResponseHead() applies maxLine and maxHeaderBytes", () => {
  const long = `HTTP/1.1 200 ${"x".repeat(100)}\r\n\r\n`;
  const o = response(long, SMALL);
  assert.equal(describe(o).split(" (")[0], "error 414");
  const big = `HTTP/1.1 200 OK\r\n${"X-Field: 0123456789\r\n".repeat(20)}\r\n`;
  assert.equal(describe(response(big, SMALL)).split(" (")[0], "error 431");
});

// --- serialising, then parsing back -----------------------------------------------

Deno.test("statusLine() writes the status line with its reason", () => {
  assert.equal(statusLine(200), "HTTP/1.1 200 OK\r\n");
  assert.equal(statusLine(404), "HTTP/1.1 404 Not Found\r\n");
  assert.equal(
    responseHead(statusLine(431) + "\r\n").reason,
    "Request Header Fields Too Large",
  );
  assert.throws(() => statusLine(99), ProtocolError);
  assert.throws(() => statusLine(1000), ProtocolError);
  assert.throws(() => statusLine(200.5), ProtocolError);
});

Deno.test("userHeaders() refuses names and values that would split a response", () => {
  const flags = newFlags();
  for (const v of ["a\r\nX: y", "a\nb", "a\rb", "a\x00b", "a\x7f"]) {
    assert.throws(() => userHeaders({ x: v }, flags), ProtocolError, v);
  }
  for (const n of ["a b", "a:b", "", "a\r\n", "\xe9"]) {
    assert.throws(() => userHeaders({ [n]: "v" }, flags), ProtocolError, n);
  }
});

Deno.test("userHeaders() drops framing fields and notes them in the flags", () => {
  const flags = newFlags();
  const text = userHeaders({
    "Content-Length": "12",
    "transfer-encoding": "chunked",
    Connection: "Keep-Alive, close",
    "X-Many": ["a", 1],
    Date: "x",
  }, flags);
  assert.equal(text, "X-Many: a\r\nX-Many: 1\r\nDate: x\r\n");
  assert.equal(flags.contentLength, 12);
  assert.equal(flags.close, true);
  assert.equal(flags.date, true);
});

Deno.test("statusLine() and userHeaders() parse back with parseResponseHead()", () => {
  const text = statusLine(201) +
    userHeaders({ "Set-Thing": ["a", "b"], "X-Val": "q \xe9" }, newFlags()) +
    "\r\n";
  const h = responseHead(text);
  expectFields(h, {
    status: 201,
    reason: "Created",
    headers: { "set-thing": "a,b", "x-val": "q \xe9" },
  });
});
