// Property tests of the HTTP/1.1 wire code with fast-check (fixed seeds):
// arbitrary bytes only ever raise ProtocolError and always make progress, and
// generated valid messages survive serialise -> parse, whole or split at random
// boundaries, alone or pipelined.

import assert from "node:assert/strict";
import fc from "npm:fast-check@3";
import {
  checkPartialHead,
  findHeadEnd,
  type HeadLimits,
  METHODS,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  skipEmptyLines,
} from "../http1/head.ts";
import { ChunkedDecoder, encodeChunk, LAST_CHUNK } from "../http1/chunked.ts";
import { ProtocolError } from "../http1/errors.ts";
import { newFlags, statusLine, userHeaders } from "../http1/serialize.ts";
import { STATUS_TEXT } from "../http1/status.ts";

const RUNS = { seed: 42, numRuns: 300 };
const LIMITS: HeadLimits = { maxLine: 8192, maxHeaderBytes: 65536 };

function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function text(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One request as the simulated server handed it to a handler. */
interface Seen {
  method: string;
  target: string;
  path: string;
  query: string | null;
  http10: boolean;
  headers: Record<string, string>;
  body: string;
  trailers: Record<string, string>;
}

/**
 * A server connection's read loop over the sans-IO parts: bytes arrive in
 * pieces, heads and bodies (Content-Length or chunked) come out, and the
 * first ProtocolError stops it. Asserts that every step makes progress.
 */
class Connection {
  #buf: Uint8Array = new Uint8Array(0);
  #start = 0;
  #scan = 0;
  #head: RequestHead | null = null;
  #need = 0;
  #body = "";
  #dec: ChunkedDecoder | null = null;
  readonly seen: Seen[] = [];
  error: number | null = null;

  constructor(readonly limits: HeadLimits = LIMITS) {}

  push(piece: Uint8Array): void {
    if (this.error !== null) return;
    this.#buf = concat(this.#buf, piece);
    try {
      this.#run();
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      assert.ok(err.status >= 400 && err.status < 600, `status ${err.status}`);
      this.error = err.status;
    }
  }

  /** What the connection is waiting for: a head, a body, or nothing. */
  get state(): string {
    if (this.error !== null) return `error ${this.error}`;
    if (this.#head !== null) return "body";
    return this.#start === this.#buf.length ? "idle" : "head";
  }

  #run(): void {
    const b = this.#buf, end = b.length;
    for (let rounds = 0;; rounds++) {
      assert.ok(rounds <= end + 1, "the read loop makes progress");
      const before = this.#start;
      if (this.#head === null) {
        const s = skipEmptyLines(b, this.#start, end);
        assert.ok(s >= this.#start && s <= end);
        this.#start = s;
        if (s === end) return;
        const he = findHeadEnd(b, Math.max(s, this.#scan), end);
        if (he < 0) {
          checkPartialHead(b, s, end, this.limits);
          this.#scan = Math.max(s, end - 3);
          return;
        }
        assert.ok(he > s && he <= end, "head end inside the buffer");
        this.#scan = 0;
        const head = parseRequestHead(b, s, he, this.limits);
        assert.equal(head.headEnd, he);
        this.#start = he;
        this.#head = head;
        this.#body = "";
        if (head.chunked) {
          this.#dec = new ChunkedDecoder(
            this.limits.maxLine,
            this.limits.maxHeaderBytes,
          );
        } else {
          this.#dec = null;
          this.#need = Math.max(0, head.contentLength);
        }
      }
      const dec = this.#dec;
      if (dec !== null) {
        const r = dec.decode(b, this.#start, end, (d) => {
          this.#body += text(d);
        });
        assert.ok(r >= this.#start && r <= end, "decoder offset in range");
        this.#start = r;
        if (!dec.done) {
          assert.equal(r, end, "an unfinished decoder consumes everything");
          return;
        }
      } else {
        const take = Math.min(this.#need, end - this.#start);
        this.#body += text(b.subarray(this.#start, this.#start + take));
        this.#start += take;
        this.#need -= take;
        if (this.#need > 0) return;
      }
      const h = this.#head!;
      this.seen.push({
        method: h.method,
        target: h.target,
        path: h.path,
        query: h.query,
        http10: h.http10,
        headers: { ...h.headers },
        body: this.#body,
        trailers: dec === null ? {} : { ...dec.trailers },
      });
      this.#head = null;
      assert.ok(this.#start > before, "each request consumes bytes");
    }
  }
}

/** Feeds `input` cut at `cuts` (any numbers; taken modulo the length). */
function serve(
  input: Uint8Array,
  cuts: number[] = [],
  limits = LIMITS,
): Connection {
  const c = new Connection(limits);
  const points = [...new Set(cuts.map((k) => k % (input.length + 1)))]
    .sort((a, b) => a - b);
  let from = 0;
  for (const k of [...points, input.length]) {
    c.push(input.subarray(from, k));
    from = k;
  }
  return c;
}

function outcome(c: Connection): unknown {
  return { seen: c.seen, state: c.state };
}

// --- generated valid requests ---------------------------------------------------

const TCHARS = "!#$%&'*+-.^_`|~0123456789" +
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const tchar = fc.constantFrom(...TCHARS);
const token = fc.array(tchar, { minLength: 1, maxLength: 10 })
  .map((a) => a.join(""));

const vchar = fc.integer({ min: 0x21, max: 0x7e }).map((c) =>
  String.fromCharCode(c)
);
const obsText = fc.integer({ min: 0x80, max: 0xff }).map((c) =>
  String.fromCharCode(c)
);
const vcharOrSpace = fc.oneof(
  { weight: 8, arbitrary: vchar },
  { weight: 1, arbitrary: fc.constantFrom(" ", "\t") },
  { weight: 1, arbitrary: obsText },
);
// A field value as sent and as parsed: no leading or trailing whitespace.
const fieldValue = fc.oneof(
  fc.constant(""),
  vchar,
  fc.tuple(vchar, fc.array(vcharOrSpace, { maxLength: 20 }), vchar)
    .map(([a, m, z]) => a + m.join("") + z),
);

// Fields the parser gives a meaning to; generated requests set them on purpose.
const FRAMING = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "expect",
]);
const field = fc.tuple(token, fieldValue).filter(([n]) =>
  !FRAMING.has(n.toLowerCase())
);

const pchar = fc.constantFrom(
  ..."abcXYZ019-._~!$&'()*+,;=:@%2F".split(""),
);
const segment = fc.array(pchar, { maxLength: 8 }).map((a) => a.join(""));
const path = fc.array(segment, { minLength: 1, maxLength: 4 })
  .map((s) => "/" + s.join("/"));
const query = fc.option(
  fc.array(fc.oneof(pchar, fc.constantFrom("/", "?")), { maxLength: 12 })
    .map((a) => a.join("")),
);
const host = fc.tuple(
  fc.constantFrom("localhost", "example.com", "127.0.0.1", "[::1]", "a-b.c"),
  fc.option(fc.integer({ min: 1, max: 65535 })),
).map(([h, p]) => p === null ? h : `${h}:${p}`);

type Framing =
  | { kind: "none" }
  | { kind: "length"; body: string }
  | {
    kind: "chunked";
    chunks: string[];
    exts: string[];
    trailers: [string, string][];
  };

const bodyText = fc.uint8Array({ maxLength: 200 }).map(text);
// Chunk extensions from the whole RFC 9112 section 7.1.1 grammar:
//   chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
// with token or quoted-string values, quoted-pairs and obs-text.
const bws = fc.array(fc.constantFrom(" ", "\t"), { maxLength: 2 })
  .map((a) => a.join(""));
const qdtext = fc.oneof(
  { weight: 6, arbitrary: vchar.filter((c) => c !== '"' && c !== "\\") },
  { weight: 1, arbitrary: fc.constantFrom(" ", "\t") },
  { weight: 1, arbitrary: obsText },
);
const quotedPair = fc.oneof(vchar, fc.constantFrom(" ", "\t"), obsText)
  .map((c) => "\\" + c);
const quotedString = fc.array(
  fc.oneof({ weight: 3, arbitrary: qdtext }, {
    weight: 1,
    arbitrary: quotedPair,
  }),
  { maxLength: 8 },
).map((a) => `"${a.join("")}"`);
const oneExt = fc.tuple(
  bws,
  bws,
  token,
  fc.option(fc.tuple(bws, bws, fc.oneof(token, quotedString))),
).map(([b1, b2, name, v]) =>
  `${b1};${b2}${name}` + (v === null ? "" : `${v[0]}=${v[1]}${v[2]}`)
);
const ext = fc.array(oneExt, { maxLength: 3 }).map((a) => a.join(""));
const framing: fc.Arbitrary<Framing> = fc.oneof(
  fc.constant({ kind: "none" as const }),
  bodyText.map((body) => ({ kind: "length" as const, body })),
  fc.record({
    kind: fc.constant("chunked" as const),
    chunks: fc.array(bodyText.filter((s) => s.length > 0), { maxLength: 5 }),
    exts: fc.array(ext, { minLength: 6, maxLength: 6 }),
    trailers: fc.array(field, { maxLength: 3 }),
  }),
);

interface Req {
  method: string;
  target: string;
  path: string;
  query: string | null;
  http10: boolean;
  host: string | null;
  fields: [string, string][];
  framing: Framing;
  /** Where the Host and framing fields go among the others. */
  at: number;
}

const methods = [...METHODS].filter((m) => m !== "CONNECT");
const request: fc.Arbitrary<Req> = fc.record({
  method: fc.constantFrom(...methods, "CONNECT"),
  form: fc.constantFrom("origin", "origin", "origin", "absolute", "asterisk"),
  path,
  query,
  http10: fc.boolean(),
  host,
  sendHost: fc.boolean(),
  fields: fc.array(field, { maxLength: 8 }),
  framing,
  at: fc.nat(),
}).map((r) => {
  let target: string, path: string, query: string | null;
  if (r.method === "CONNECT") {
    target = r.host.includes(":") && !r.host.endsWith("]")
      ? r.host
      : `${r.host}:443`;
    path = target;
    query = null;
  } else if (r.form === "asterisk" && r.method === "OPTIONS") {
    target = path = "*";
    query = null;
  } else {
    path = r.path;
    query = r.query;
    const origin = query === null ? path : `${path}?${query}`;
    target = r.form === "absolute" ? `http://${r.host}${origin}` : origin;
  }
  const http10 = r.http10 && r.framing.kind !== "chunked";
  return {
    method: r.method,
    target,
    path,
    query,
    http10,
    host: http10 && !r.sendHost ? null : r.host,
    fields: r.fields,
    framing: r.framing,
    at: r.at % (r.fields.length + 1),
  };
});

function serialise(r: Req): string {
  const lines = r.fields.map(([n, v]) => `${n}: ${v}\r\n`);
  let special = r.host === null ? "" : `Host: ${r.host}\r\n`;
  const f = r.framing;
  let body = "";
  if (f.kind === "length") {
    special += `Content-Length: ${f.body.length}\r\n`;
    body = f.body;
  } else if (f.kind === "chunked") {
    special += "Transfer-Encoding: chunked\r\n";
    f.chunks.forEach((c, k) => {
      const framed = text(encodeChunk(bytes(c)));
      // Put an extension after the size: "5" + ";a=b" + "\r\n...".
      const eol = framed.indexOf("\r\n");
      body += framed.slice(0, eol) + f.exts[k] + framed.slice(eol);
    });
    if (f.trailers.length === 0) {
      body += LAST_CHUNK;
    } else {
      body += "0" + f.exts[5] + "\r\n";
      for (const [n, v] of f.trailers) body += `${n}: ${v}\r\n`;
      body += "\r\n";
    }
  }
  lines.splice(r.at, 0, special);
  const version = r.http10 ? "HTTP/1.0" : "HTTP/1.1";
  return `${r.method} ${r.target} ${version}\r\n${lines.join("")}\r\n${body}`;
}

/** Lower-case names, repeats joined with "," (";" for Cookie). */
function fieldMap(fields: [string, string][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [n, v] of fields) {
    const name = n.toLowerCase();
    out[name] = Object.hasOwn(out, name)
      ? out[name] + (name === "cookie" ? ";" : ",") + v
      : v;
  }
  return out;
}

function expected(r: Req): Seen {
  const fields: [string, string][] = [...r.fields];
  const f = r.framing;
  const framingFields: [string, string][] = [];
  if (r.host !== null) framingFields.push(["host", r.host]);
  if (f.kind === "length") {
    framingFields.push(["content-length", String(f.body.length)]);
  }
  if (f.kind === "chunked") {
    framingFields.push(["transfer-encoding", "chunked"]);
  }
  fields.splice(r.at, 0, ...framingFields);
  return {
    method: r.method,
    target: r.target,
    path: r.path,
    query: r.query,
    http10: r.http10,
    headers: fieldMap(fields),
    body: f.kind === "length"
      ? f.body
      : f.kind === "chunked"
      ? f.chunks.join("")
      : "",
    trailers: f.kind === "chunked" ? fieldMap(f.trailers) : {},
  };
}

// --- arbitrary bytes ------------------------------------------------------------

// Fragments that steer random input into the interesting parts of a head.
const FRAGMENTS = [
  "GET",
  "POST",
  "OPTIONS",
  "CONNECT",
  "get",
  " ",
  "  ",
  "/",
  "/a?b",
  "*",
  "http://h:1/p?q",
  "a:80",
  "HTTP/1.1",
  "HTTP/1.0",
  "HTTP/2",
  "\r\n",
  "\r\n\r\n",
  "\n",
  "\r",
  ":",
  ": ",
  "\t",
  "Host",
  "host: a",
  "Content-Length",
  "content-length: 5",
  "Transfer-Encoding",
  "transfer-encoding: chunked",
  "chunked",
  "gzip,",
  ",",
  "Connection: close",
  "keep-alive",
  "Expect: 100-continue",
  "Cookie: a=1",
  "0",
  "5",
  "f",
  "FFFFFFFFFFFFFF",
  "hello",
  ";",
  "=",
  '"',
  "\\",
  "\x00",
  "\x7f",
  "\xe9",
  "__proto__",
  "constructor",
];

const httpish = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...FRAGMENTS) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: 255 }).map((c) =>
        String.fromCharCode(c)
      ),
    },
  ),
  { maxLength: 60 },
).map((parts) => bytes(parts.join("")));

const starts = fc.constantFrom(
  "",
  "GET / HTTP/1.1\r\nHost: a\r\n",
  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
  "\r\n",
);

// Valid requests with a few bytes inserted, replaced or removed.
const INTERESTING = [...'\r\n\t :;,="\\/?*0aAfF\x00\x7f\x80\xff'].map((c) =>
  c.charCodeAt(0)
);
const mutation = fc.record({
  at: fc.nat(),
  op: fc.constantFrom("insert", "replace", "remove"),
  byte: fc.oneof(
    fc.constantFrom(...INTERESTING),
    fc.integer({ min: 0, max: 255 }),
  ),
});
const mutated = fc.tuple(
  fc.array(request, { minLength: 1, maxLength: 2 }),
  fc.array(mutation, { minLength: 1, maxLength: 3 }),
).map(([rs, ms]) => {
  const b = [...bytes(rs.map(serialise).join(""))];
  for (const m of ms) {
    const at = m.at % (b.length + 1);
    if (m.op === "insert") b.splice(at, 0, m.byte);
    else if (m.op === "replace") b.splice(at, 1, m.byte);
    else b.splice(at, 1);
  }
  return Uint8Array.from(b);
});

const anyInput = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  fc.tuple(starts, httpish).map(([s, b]) => concat(bytes(s), b)),
  { weight: 2, arbitrary: mutated },
);

Deno.test("a server read loop only ever raises ProtocolError on arbitrary bytes", () => {
  const states = new Map<string, number>();
  fc.assert(
    fc.property(anyInput, (input) => {
      const c = serve(input);
      const key = c.seen.length > 0 ? `${c.state}+seen` : c.state;
      states.set(key, (states.get(key) ?? 0) + 1);
    }),
    RUNS,
  );
  // The generators reach every part of the read loop.
  for (const key of ["idle+seen", "head", "body", "error 400", "error 501"]) {
    assert.ok((states.get(key) ?? 0) > 0, `no input ended in ${key}`);
  }
});

Deno.test("a server read loop gives the same result however arbitrary bytes are split", () => {
  fc.assert(
    fc.property(
      anyInput,
      fc.array(fc.nat(), { maxLength: 6 }),
      (input, cuts) => {
        const whole = outcome(serve(input));
        assert.deepEqual(outcome(serve(input, cuts)), whole);
      },
    ),
    RUNS,
  );
});

Deno.test("a server read loop with small limits only ever raises ProtocolError", () => {
  const small = { maxLine: 24, maxHeaderBytes: 64 };
  fc.assert(
    fc.property(anyInput, fc.array(fc.nat(), { maxLength: 4 }), (b, cuts) => {
      serve(b, [], small);
      serve(b, cuts, small);
    }),
    RUNS,
  );
});

Deno.test("parseResponseHead() only ever raises ProtocolError on arbitrary bytes", () => {
  const statusStarts = fc.constantFrom(
    "",
    "HTTP/1.1 ",
    "HTTP/1.1 200 OK\r\n",
    "HTTP/1.0 404 x\r\n",
  );
  fc.assert(
    fc.property(statusStarts, httpish, (s, tail) => {
      const b = concat(bytes(s), tail);
      const he = findHeadEnd(b, 0, b.length);
      if (he < 0) return;
      try {
        const h = parseResponseHead(b, 0, he, LIMITS);
        assert.ok(h.status >= 100 && h.status <= 999);
        assert.equal(h.headEnd, he);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
      }
    }),
    RUNS,
  );
});

const chunkish = fc.array(
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        "0",
        "5",
        "a",
        "F",
        "000",
        "\r\n",
        "\r",
        "\n",
        ";",
        "=",
        '"',
        " ",
        "\t",
        "x",
        "hello",
        "X: y",
        ":",
        "\x00",
      ),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 0, max: 255 }).map((c) =>
        String.fromCharCode(c)
      ),
    },
  ),
  { maxLength: 40 },
).map((parts) => bytes(parts.join("")));

function decodeAt(
  input: Uint8Array,
  cuts: number[],
  opts: { maxLine?: number; maxTrailer?: number } = {},
): unknown {
  const dec = new ChunkedDecoder(opts.maxLine, opts.maxTrailer);
  const points = [...new Set(cuts.map((k) => k % (input.length + 1)))]
    .sort((a, b) => a - b);
  let body = "";
  let from = 0;
  try {
    for (const k of [...points, input.length]) {
      const r = dec.decode(input, from, k, (d) => body += text(d));
      assert.ok(r >= from && r <= k, "offset in range");
      if (dec.done) return { body, used: r, trailers: { ...dec.trailers } };
      assert.equal(r, k, "an unfinished decoder consumes everything");
      from = k;
    }
    return { body, waiting: true };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { error: err.status, body };
  }
}

Deno.test("ChunkedDecoder gives the same result, or ProtocolError, however arbitrary bytes are split", () => {
  fc.assert(
    fc.property(
      fc.oneof(chunkish, fc.uint8Array({ maxLength: 100 })),
      fc.array(fc.nat(), { maxLength: 6 }),
      (input, cuts) => {
        const whole = decodeAt(input, []);
        assert.deepEqual(decodeAt(input, cuts), whole);
        const small = { maxLine: 4, maxTrailer: 8 };
        assert.deepEqual(
          decodeAt(input, cuts, small),
          decodeAt(input, [], small),
        );
      },
    ),
    RUNS,
  );
});

// --- generated valid requests, round-tripped ---------------------------------

Deno.test("generated requests round-trip through serialise -> parse", () => {
  fc.assert(
    fc.property(request, (r) => {
      const c = serve(bytes(serialise(r)));
      assert.equal(c.state, "idle", serialise(r));
      assert.deepEqual(c.seen, [expected(r)]);
    }),
    RUNS,
  );
});

Deno.test("generated requests round-trip when split at random boundaries", () => {
  fc.assert(
    fc.property(
      request,
      fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
      (r, cuts) => {
        const c = serve(bytes(serialise(r)), cuts);
        assert.equal(c.state, "idle");
        assert.deepEqual(c.seen, [expected(r)]);
      },
    ),
    RUNS,
  );
});

Deno.test("generated requests round-trip when pipelined and split", () => {
  fc.assert(
    fc.property(
      fc.array(request, { minLength: 2, maxLength: 4 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (rs, cuts) => {
        const wire = rs.map(serialise).join("");
        const c = serve(bytes(wire), cuts);
        assert.equal(c.state, "idle");
        assert.deepEqual(c.seen, rs.map(expected));
      },
    ),
    RUNS,
  );
});

Deno.test("generated requests cut short are waited for, never refused", () => {
  fc.assert(
    fc.property(request, fc.nat(), (r, k) => {
      const wire = bytes(serialise(r));
      const cut = k % wire.length;
      const c = serve(wire.subarray(0, cut));
      assert.equal(c.error, null);
      assert.deepEqual(c.seen, []);
    }),
    RUNS,
  );
});

// --- generated chunked bodies ----------------------------------------------------

Deno.test("generated chunked bodies decode the same whole, split and byte by byte", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), {
        maxLength: 6,
      }),
      fc.array(ext, { minLength: 7, maxLength: 7 }),
      fc.array(field, { maxLength: 3 }),
      fc.uint8Array({ maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 8 }),
      (chunks, exts, trailers, after, cuts) => {
        let wire = "";
        chunks.forEach((c, k) => {
          wire += c.length.toString(16) + exts[k] + "\r\n" + text(c) + "\r\n";
        });
        wire += "0" + exts[6] + "\r\n";
        for (const [n, v] of trailers) wire += `${n}: ${v}\r\n`;
        wire += "\r\n";
        const input = concat(bytes(wire), after);
        const want = {
          body: chunks.map(text).join(""),
          used: wire.length,
          trailers: fieldMap(trailers),
        };
        assert.deepEqual(decodeAt(input, []), want);
        assert.deepEqual(decodeAt(input, cuts), want);
        const each = Array.from({ length: input.length }, (_, i) => i);
        assert.deepEqual(decodeAt(input, each), want);
      },
    ),
    RUNS,
  );
});

// A reference decoder written from the RFC 9112 section 7.1 grammar, with
// regular expressions: the body, the offset after it and the trailers, or null
// when the input is invalid or incomplete. Chunk extensions follow the exact
// grammar, as one regular expression.
const TCHAR_RE = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const BWS_RE = "[ \\t]*";
const QUOTED_RE = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]' +
  '|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const EXT_RE = `(?:${BWS_RE};${BWS_RE}${TCHAR_RE}+` +
  `(?:${BWS_RE}=${BWS_RE}(?:${TCHAR_RE}+|${QUOTED_RE}))?)*`;
const SIZE_LINE = new RegExp(`^0*([0-9A-Fa-f]{1,13})${EXT_RE}\\r\\n`);
/** A whole chunk line, size and extensions, without its CRLF. */
const CHUNK_LINE = new RegExp(`^[0-9A-Fa-f]+${EXT_RE}$`);
const TRAILER_LINE =
  /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[\x21-\x7e\x80-\xff](?:[ \t]*[\x21-\x7e\x80-\xff])*)?)[ \t]*\r\n/;

function reference(s: string): unknown {
  let i = 0;
  let body = "";
  for (;;) {
    const m = SIZE_LINE.exec(s.slice(i));
    if (m === null) return null;
    i += m[0].length;
    const size = parseInt(m[1], 16);
    if (size === 0) break;
    if (i + size + 2 > s.length) return null;
    body += s.slice(i, i + size);
    i += size;
    if (!s.startsWith("\r\n", i)) return null;
    i += 2;
  }
  const fields: [string, string][] = [];
  for (;;) {
    if (s.startsWith("\r\n", i)) {
      return { body, used: i + 2, trailers: fieldMap(fields) };
    }
    const m = TRAILER_LINE.exec(s.slice(i));
    if (m === null) return null;
    fields.push([m[1], m[2]]);
    i += m[0].length;
  }
}

const mutatedChunked = fc.tuple(
  fc.array(bodyText.filter((c) => c.length > 0), { maxLength: 4 }),
  fc.array(ext, { minLength: 5, maxLength: 5 }),
  fc.array(field, { maxLength: 2 }),
  fc.array(mutation, { maxLength: 3 }),
).map(([chunks, exts, trailers, ms]) => {
  let wire = "";
  chunks.forEach((c, k) => {
    wire += c.length.toString(16) + exts[k] + "\r\n" + c + "\r\n";
  });
  wire += "0" + exts[4] + "\r\n";
  for (const [n, v] of trailers) wire += `${n}: ${v}\r\n`;
  wire += "\r\n";
  const b = [...bytes(wire)];
  for (const m of ms) {
    const at = m.at % (b.length + 1);
    if (m.op === "insert") b.splice(at, 0, m.byte);
    else if (m.op === "replace") b.splice(at, 1, m.byte);
    else b.splice(at, 1);
  }
  return Uint8Array.from(b);
});

Deno.test("ChunkedDecoder agrees with a reference decoder on mutated bodies", () => {
  let valid = 0;
  fc.assert(
    fc.property(
      fc.oneof(mutatedChunked, mutatedChunked, chunkish),
      fc.array(fc.nat(), { maxLength: 4 }),
      (input, cuts) => {
        const want = reference(text(input));
        const got = decodeAt(input, cuts);
        if (want === null) {
          assert.ok(
            typeof got === "object" && got !== null && !("used" in got),
            `reference refuses or waits, decoder finished: ${
              JSON.stringify(got)
            }`,
          );
        } else {
          valid++;
          assert.deepEqual(got, want);
        }
      },
    ),
    RUNS,
  );
  assert.ok(valid > 30, `only ${valid} valid inputs`);
});

// --- generated chunk extensions -------------------------------------------------

Deno.test("ChunkedDecoder accepts every generated chunk extension, whole, split and byte by byte", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 40 }), ext), {
        maxLength: 4,
      }),
      ext,
      fc.array(fc.nat(), { maxLength: 6 }),
      (chunks, lastExt, cuts) => {
        let wire = "";
        for (const [data, e] of chunks) {
          const line = data.length.toString(16) + e;
          assert.match(line, CHUNK_LINE, "the generator follows the grammar");
          wire += line + "\r\n" + text(data) + "\r\n";
        }
        wire += "0" + lastExt + "\r\n\r\n";
        const input = bytes(wire);
        const want = {
          body: chunks.map(([data]) => text(data)).join(""),
          used: wire.length,
          trailers: {},
        };
        assert.deepEqual(decodeAt(input, []), want);
        assert.deepEqual(decodeAt(input, cuts), want);
        const each = Array.from({ length: input.length }, (_, i) => i);
        assert.deepEqual(decodeAt(input, each), want);
      },
    ),
    RUNS,
  );
});

Deno.test("ChunkedDecoder accepts a chunk line of maxLine bytes and refuses one of maxLine + 1, size digits and extensions included", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      fc.nat({ max: 3 }),
      ext,
      (data, zeros, e) => {
        const line = "0".repeat(zeros) + data.length.toString(16) + e;
        const input = bytes(`${line}\r\n${text(data)}\r\n0\r\n\r\n`);
        const each = Array.from({ length: input.length }, (_, i) => i);
        const fits = { maxLine: line.length };
        assert.deepEqual(decodeAt(input, each, fits), {
          body: text(data),
          used: input.length,
          trailers: {},
        });
        const over = { maxLine: line.length - 1 };
        assert.deepEqual(decodeAt(input, [], over), { error: 400, body: "" });
        assert.deepEqual(decodeAt(input, each, over), {
          error: 400,
          body: "",
        });
      },
    ),
    RUNS,
  );
});

// Bytes that move the extension state machine, or must stop it.
const EXT_BYTES = [...' \t;="\\\r\n\x00\x01\x0b\x7f\x80\xffaZ0,/:(@'].map((c) =>
  c.charCodeAt(0)
);
const extMutations = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.constantFrom("insert", "replace", "remove", "repeat", "cut"),
    byte: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom(...EXT_BYTES) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
  }),
  { minLength: 1, maxLength: 3 },
);

/**
 * `e` with a few bytes inserted, replaced, removed or repeated, or cut short
 * (which leaves a `;`, `=` or quote without what follows), or `e` itself when
 * the result would change the size (a leading hex digit) or end the line
 * early (a CRLF): then the line is not the one the expectation is for.
 */
function mutateExt(
  e: string,
  ms: { at: number; op: string; byte: number }[],
): string {
  const b = [...bytes(e)];
  for (const m of ms) {
    const at = m.at % (b.length + 1);
    if (m.op === "insert") b.splice(at, 0, m.byte);
    else if (m.op === "replace") b.splice(at, 1, m.byte);
    else if (m.op === "remove") b.splice(at, 1);
    else if (m.op === "repeat") b.splice(at, 0, ...b.slice(at, at + 1));
    else b.length = at;
  }
  const out = text(Uint8Array.from(b));
  return /^[0-9A-Fa-f]/.test(out) || out.includes("\r\n") ? e : out;
}

Deno.test("ChunkedDecoder refuses a mutated chunk extension exactly where the grammar does, before its data", () => {
  const seen = { valid: 0, refused: 0 };
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.uint8Array({ minLength: 1, maxLength: 40 }),
          ext,
          fc.option(extMutations),
        ),
        { maxLength: 3 },
      ),
      ext,
      fc.option(extMutations),
      fc.array(fc.nat(), { maxLength: 6 }),
      (chunks, lastExt, lastMs, cuts) => {
        let wire = "";
        let body = "";
        // The body handed out before the first line off the grammar.
        let before: string | null = null;
        const lines: [string, string][] = chunks.map(([data, e, ms]) => [
          data.length.toString(16) + (ms === null ? e : mutateExt(e, ms)),
          text(data),
        ]);
        lines.push([
          "0" + (lastMs === null ? lastExt : mutateExt(lastExt, lastMs)),
          "",
        ]);
        for (const [line, data] of lines) {
          if (before === null && !CHUNK_LINE.test(line)) before = body;
          wire += line + "\r\n" + data + (data === "" ? "" : "\r\n");
          body += data;
        }
        wire += "\r\n";
        const input = bytes(wire);
        const want = before === null
          ? { body, used: wire.length, trailers: {} }
          : { error: 400, body: before };
        if (before === null) seen.valid++;
        else seen.refused++;
        assert.deepEqual(decodeAt(input, []), want, JSON.stringify(wire));
        assert.deepEqual(decodeAt(input, cuts), want);
        const each = Array.from({ length: input.length }, (_, i) => i);
        assert.deepEqual(decodeAt(input, each), want);
      },
    ),
    { ...RUNS, numRuns: 1000 },
  );
  assert.ok(seen.valid > 100 && seen.refused > 100, JSON.stringify(seen));
});

// --- generated responses ----------------------------------------------------------

Deno.test("statusLine() + userHeaders() round-trip through parseResponseHead()", () => {
  const statuses = Object.keys(STATUS_TEXT).map(Number);
  const outField = fc.tuple(token, fieldValue).filter(([n]) =>
    !["content-length", "transfer-encoding", "connection"].includes(
      n.toLowerCase(),
    )
  );
  fc.assert(
    fc.property(
      fc.constantFrom(...statuses),
      fc.array(outField, { maxLength: 8 }),
      (status, fields) => {
        const map: Record<string, string[]> = {};
        for (const [n, v] of fields) (map[n] ??= []).push(v);
        const head = statusLine(status) + userHeaders(map, newFlags()) +
          "\r\n";
        const b = bytes(head);
        const he = findHeadEnd(b, 0, b.length);
        assert.equal(he, b.length);
        const h = parseResponseHead(b, 0, he, LIMITS);
        assert.equal(h.status, status);
        assert.equal(h.reason, STATUS_TEXT[status]);
        const flat: [string, string][] = [];
        for (const n in map) for (const v of map[n]) flat.push([n, v]);
        assert.deepEqual(h.headers, fieldMap(flat));
      },
    ),
    RUNS,
  );
});

Deno.test("response heads with any reason phrase round-trip through parseResponseHead()", () => {
  const reasonChar = fc.oneof(
    vchar,
    fc.constantFrom(" ", "\t"),
    fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 100, max: 999 }),
      fc.array(reasonChar, { maxLength: 12 }).map((a) => a.join("")),
      fc.array(field, { maxLength: 6 }),
      fc.option(fc.nat({ max: 100000 })),
      (status, reason, fields, length) => {
        let head = `HTTP/1.1 ${status} ${reason}\r\n`;
        const all: [string, string][] = [...fields];
        if (length !== null) all.push(["Content-Length", String(length)]);
        for (const [n, v] of all) head += `${n}: ${v}\r\n`;
        const b = bytes(head + "\r\n");
        const h = parseResponseHead(b, 0, b.length, LIMITS);
        assert.equal(h.status, status);
        assert.equal(h.reason, reason);
        assert.deepEqual(h.headers, fieldMap(all));
        assert.equal(h.contentLength, length ?? -1);
      },
    ),
    RUNS,
  );
});
