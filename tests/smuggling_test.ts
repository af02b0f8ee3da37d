// Request smuggling over raw sockets: every ambiguous framing (CL.TE, TE.CL,
// TE.TE with obfuscated Transfer-Encoding, duplicate or malformed
// Content-Length, bad line endings, control bytes, bad chunk sizes) is refused
// with one error response and a closed connection, and the request hidden
// after the body is never answered. Framings the RFC allows (OWS around
// values, leading zeros, upper-case codings) are read exactly as declared.

import assert from "node:assert/strict";
import type { RingRequest } from "../mod.ts";
import {
  exchange,
  get,
  latin1,
  type RawResponse,
  type TestServer,
  withServer,
} from "./_helpers.ts";

/** The request a front end might have forwarded as part of the body. */
const SMUGGLED = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";

const POST = "POST / HTTP/1.1\r\nHost: t\r\n";

interface Refused {
  name: string;
  /** Everything the attacker sends in one write. */
  request: string;
  /** Acceptable statuses: 400, or 501 for an unknown coding, 413 past maxBody. */
  status: number[];
  options?: { maxBody?: number; bodyTimeout?: number };
}

const REFUSED: Refused[] = [
  // CL.TE and TE.CL: both framings on one request
  {
    name: "CL.TE: Content-Length then Transfer-Encoding",
    request: POST + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "TE.CL: Transfer-Encoding then Content-Length",
    request: POST + "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n" +
      "5c\r\n" + SMUGGLED + "\r\n0\r\n\r\n",
    status: [400],
  },
  {
    name: "CL.TE with an obfuscated coding (xchunked)",
    request: POST + "Content-Length: 5\r\nTransfer-Encoding: xchunked\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400, 501],
  },
  {
    name: "CL.TE with Content-Length: 0",
    request: POST + "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  // TE.TE: obfuscated Transfer-Encoding values
  {
    name: "Transfer-Encoding: xchunked",
    request: POST + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    status: [400, 501],
  },
  {
    name: "Transfer-Encoding: chunkedx",
    request: POST + "Transfer-Encoding: chunkedx\r\n\r\n0\r\n\r\n" + SMUGGLED,
    status: [400, 501],
  },
  {
    name: "Transfer-Encoding : chunked (space before the colon)",
    request: POST + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "Transfer-Encoding\\t: chunked (tab before the colon)",
    request: POST + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "Transfer-Encoding: chunked, identity",
    request: POST + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" +
      SMUGGLED,
    status: [400, 501],
  },
  {
    name: "Transfer-Encoding: identity",
    request: POST + "Transfer-Encoding: identity\r\n\r\n" + SMUGGLED,
    status: [400, 501],
  },
  {
    name: "Transfer-Encoding: chunked, chunked",
    request: POST + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "two Transfer-Encoding lines: chunked and identity",
    request: POST +
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400, 501],
  },
  {
    name: "two Transfer-Encoding lines: identity and chunked",
    request: POST +
      "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400, 501],
  },
  {
    name: "two Transfer-Encoding lines: chunked twice",
    request: POST +
      "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "Transfer-Encoding in an obs-fold continuation",
    request: POST + "X-Pad: a\r\n Transfer-Encoding: chunked\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "Transfer-Encoding value on an obs-fold line",
    request: POST + "Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: 'Transfer-Encoding: "chunked"',
    request: POST + 'Transfer-Encoding: "chunked"\r\n\r\n0\r\n\r\n' + SMUGGLED,
    status: [400, 501],
  },
  {
    name: "an empty Transfer-Encoding",
    request: POST + "Transfer-Encoding: \r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "Transfer-Encoding: chunked with a NUL inside the value",
    request: POST + "Transfer-Encoding: chun\x00ked\r\n\r\n0\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "Transfer-Encoding: chunked with a vertical tab after it",
    request: POST + "Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "Transfer-Encoding: chunked with a bare CR after it",
    request: POST + "Transfer-Encoding: chunked\rX: y\r\n\r\n0\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "a Transfer-Encoding name with a trailing NUL",
    request: POST + "Transfer-Encoding\x00: chunked\r\n\r\n0\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "a non-ASCII byte in the Transfer-Encoding name",
    request: POST +
      "Content-Length: 5\r\nTransfer\x85Encoding: chunked\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "Transfer-Encoding in an HTTP/1.0 request",
    request: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  // Content-Length
  {
    name: "a duplicate identical Content-Length",
    request: POST + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "a duplicate different Content-Length",
    request: POST + "Content-Length: 0\r\nContent-Length: 39\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "Content-Length: 5, 5",
    request: POST + "Content-Length: 5, 5\r\n\r\nhello" + SMUGGLED,
    status: [400],
  },
  {
    name: "Content-Length: +5",
    request: POST + "Content-Length: +5\r\n\r\nhello" + SMUGGLED,
    status: [400],
  },
  {
    name: "Content-Length: -0",
    request: POST + "Content-Length: -0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "Content-Length: 0x5",
    request: POST + "Content-Length: 0x5\r\n\r\nhello" + SMUGGLED,
    status: [400],
  },
  {
    name: "Content-Length: 5.0",
    request: POST + "Content-Length: 5.0\r\n\r\nhello" + SMUGGLED,
    status: [400],
  },
  {
    name: "Content-Length: 1e1",
    request: POST + "Content-Length: 1e1\r\n\r\n0123456789" + SMUGGLED,
    status: [400],
  },
  {
    name: "an empty Content-Length",
    request: POST + "Content-Length: \r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "Content-Length : 5 (space before the colon)",
    request: POST + "Content-Length : 5\r\n\r\nhello" + SMUGGLED,
    status: [400],
  },
  {
    name: "Content-Length: 5 with a NUL after the digits",
    request: POST + "Content-Length: 5\x00\r\n\r\nhello" + SMUGGLED,
    status: [400],
  },
  {
    name: "a Content-Length of 20 digits",
    request: POST + "Content-Length: 99999999999999999999\r\n\r\n" + SMUGGLED,
    status: [400, 413],
  },
  {
    name: "a Content-Length past maxBody",
    request: POST + "Content-Length: 1000\r\n\r\n" + SMUGGLED,
    status: [413],
    options: { maxBody: 100 },
  },
  // Line endings
  {
    name: "a request with \\n-only line endings",
    request: "POST / HTTP/1.1\nHost: t\nContent-Length: 5\n\nhello" + SMUGGLED,
    status: [400],
  },
  {
    name: "a \\n-only line between CRLF lines",
    request: POST + "Transfer-Encoding: chunked\nContent-Length: 5\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a \\r-only line ending",
    request: POST + "Content-Length: 5\rTransfer-Encoding: chunked\r\n\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a head ended by \\n\\n after CRLF lines",
    request: POST + "Content-Length: 5\r\n\nhello" + SMUGGLED,
    status: [400],
  },
  // Request line
  {
    name: "a NUL in the request target",
    request: "GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "two spaces in the request line",
    request: "GET  / HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a request line with a trailing token",
    request: "GET / HTTP/1.1 x\r\nHost: t\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a lower-case protocol name",
    request: "GET / http/1.1\r\nHost: t\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  // Chunk sizes
  {
    name: "a chunk size with a 0x prefix",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a negative chunk size",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a chunk size with a + sign",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a chunk size over 2^64 (overflows to a small one)",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n" +
      "10000000000000005\r\nhello\r\n0\r\n\r\n" + SMUGGLED,
    status: [400, 413],
  },
  {
    name: "a huge chunk size with the smuggled request as its data",
    request: POST + "Transfer-Encoding: chunked\r\n\r\nffffffffffff\r\n" +
      SMUGGLED,
    status: [400, 413],
    // Must not wait out the body for a chunk that can never fit.
    options: { maxBody: 1024, bodyTimeout: 3000 },
  },
  {
    name: "a chunk size ended by \\n only",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "chunk data ended by \\n only",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n" +
      SMUGGLED,
    status: [400],
  },
  {
    name: "chunk data longer than its size",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "garbage after the chunk size",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a NUL in a chunk extension",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n5;a=\x00\r\nhello\r\n" +
      "0\r\n\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a request where the trailer section should be",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n0\r\n" + SMUGGLED,
    status: [400],
  },
  {
    name: "a chunked body over maxBody",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n" +
      "80\r\n" + "y".repeat(128) + "\r\n0\r\n\r\n" + SMUGGLED,
    status: [413],
    options: { maxBody: 100 },
  },
];

/** Handler that records every request it sees. */
function recorder(): {
  seen: string[];
  handler: (req: RingRequest) => { body: string };
} {
  const seen: string[] = [];
  return {
    seen,
    handler: (req) => {
      const body = req.body === null ? "" : latin1(req.body);
      seen.push(`${req.uri} ${body}`);
      return { body: `${req.uri}|${body}` };
    },
  };
}

/**
 * Sends `request` in one write and checks: one error response with an
 * expected status and `Connection: close`, then EOF with nothing after it.
 */
async function expectRefused(
  t: TestServer,
  c: Refused,
  seen: string[],
): Promise<void> {
  const client = await t.connect();
  await client.write(c.request);
  let r: RawResponse;
  try {
    r = await client.readResponse({ timeout: 2000 });
  } catch (err) {
    throw new Error(
      `${c.name}: no response to ${JSON.stringify(c.request)}: ${err}`,
    );
  }
  assert.ok(
    c.status.includes(r.status),
    `${c.name}: expected ${
      c.status.join(" or ")
    }, got ${r.status} ${r.reason}` +
      ` (${JSON.stringify(r.text)}); handler saw ${JSON.stringify(seen)}`,
  );
  assert.equal(
    r.header("connection")?.toLowerCase(),
    "close",
    `${c.name}: no Connection: close`,
  );
  const rest = await client.readToEnd(2000);
  assert.equal(
    latin1(rest),
    "",
    `${c.name}: bytes after the refusal (a second response?)`,
  );
  assert.ok(
    !seen.some((s) => s.startsWith("/smuggled")),
    `${c.name}: the smuggled request reached the handler`,
  );
  client.close();
}

for (const c of REFUSED) {
  Deno.test(`smuggling: ${c.name} is refused, the hidden request never answered`, async () => {
    const rec = recorder();
    await withServer(rec.handler, c.options ?? {}, async (t) => {
      await expectRefused(t, c, rec.seen);
      assert.deepEqual(rec.seen, [], `${c.name}: the handler ran`);
      // the server goes on serving others
      const ok = await exchange(t, get("/ok"));
      assert.equal(ok.status, 200);
      assert.equal(ok.text, "/ok|");
    });
  });
}

Deno.test("smuggling: control bytes in a header name or a framing value are refused", async () => {
  const rec = recorder();
  await withServer(rec.handler, {}, async (t) => {
    const controls = [
      ...Array.from({ length: 0x20 }, (_, i) => i).filter((b) => b !== 0x09),
      0x7f,
    ];
    for (const b of controls) {
      const ch = String.fromCharCode(b);
      const hex = b.toString(16).padStart(2, "0");
      const cases: Refused[] = [
        {
          name: `0x${hex} inside a header name`,
          request: POST + `X-A${ch}b: 1\r\nContent-Length: 5\r\n\r\nhello` +
            SMUGGLED,
          status: [400],
        },
        {
          name: `0x${hex} before Transfer-Encoding`,
          request: POST + `${ch}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n` +
            SMUGGLED,
          status: [400],
        },
        {
          name: `0x${hex} inside a Content-Length value`,
          request: POST + `Content-Length: 5${ch}0\r\n\r\nhello` + SMUGGLED,
          status: [400],
        },
      ];
      // A CR/LF inside the value ends the line differently: skip those for
      // the Transfer-Encoding value, they are covered by the line-ending cases.
      if (b !== 0x0a && b !== 0x0d) {
        cases.push({
          name: `0x${hex} after chunked in Transfer-Encoding`,
          request: POST + `Transfer-Encoding: chunked${ch}\r\n\r\n0\r\n\r\n` +
            SMUGGLED,
          status: [400],
        });
      }
      for (const c of cases) await expectRefused(t, c, rec.seen);
    }
    assert.deepEqual(rec.seen, [], "the handler ran for a refused request");
  });
});

interface Accepted {
  name: string;
  request: string;
  /** What the handler must see, in order: `${uri} ${body}`. */
  seen: string[];
}

const ACCEPTED: Accepted[] = [
  {
    name: "Content-Length with leading zeros (005)",
    request: POST + "Content-Length: 005\r\n\r\nhello" + get("/next"),
    seen: ["/ hello", "/next "],
  },
  {
    name: "Content-Length: 0000",
    request: POST + "Content-Length: 0000\r\n\r\n" + get("/next"),
    seen: ["/ ", "/next "],
  },
  {
    name: "Content-Length with OWS around it",
    request: POST + "Content-Length: \t 5 \t\r\n\r\nhello" + get("/next"),
    seen: ["/ hello", "/next "],
  },
  {
    name: "Transfer-Encoding:  chunked (extra leading space)",
    request: POST + "Transfer-Encoding:   chunked\r\n\r\n5\r\nhello\r\n" +
      "0\r\n\r\n" + get("/next"),
    seen: ["/ hello", "/next "],
  },
  {
    name: "Transfer-Encoding: chunked with trailing space (OWS)",
    request: POST + "Transfer-Encoding: chunked \r\n\r\n5\r\nhello\r\n" +
      "0\r\n\r\n" + get("/next"),
    seen: ["/ hello", "/next "],
  },
  {
    name: "Transfer-Encoding:\\tchunked",
    request: POST + "Transfer-Encoding:\tchunked\r\n\r\n5\r\nhello\r\n" +
      "0\r\n\r\n" + get("/next"),
    seen: ["/ hello", "/next "],
  },
  {
    name: "Transfer-Encoding: CHUNKED (codings are case-insensitive)",
    request: POST + "transfer-encoding: CHUNKED\r\n\r\n5\r\nhello\r\n" +
      "0\r\n\r\n" + get("/next"),
    seen: ["/ hello", "/next "],
  },
  {
    name: "a chunk size with leading zeros",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n0005\r\nhello\r\n" +
      "000\r\n\r\n" + get("/next"),
    seen: ["/ hello", "/next "],
  },
  {
    name: "framing headers in the trailer section are ignored",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" +
      "Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n" + get("/next"),
    seen: ["/ hello", "/next "],
  },
  {
    // Not Transfer-Encoding (only a proxy that maps `_` to `-` would think
    // so): the body is 5 bytes by Content-Length, the rest the next request.
    name: "Transfer_Encoding (underscore) next to Content-Length",
    request: POST + "Content-Length: 5\r\nTransfer_Encoding: chunked\r\n\r\n" +
      "0\r\n\r\n" + get("/next"),
    seen: ["/ 0\r\n\r\n", "/next "],
  },
  {
    name: "a GET whose Content-Length body looks like a request",
    request: "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: " +
      `${SMUGGLED.length}\r\n\r\n` + SMUGGLED + get("/next"),
    seen: [`/ ${SMUGGLED}`, "/next "],
  },
  {
    name: "a chunked body whose data looks like a request",
    request: POST + "Transfer-Encoding: chunked\r\n\r\n" +
      `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n` +
      get("/next"),
    seen: [`/ ${SMUGGLED}`, "/next "],
  },
];

for (const c of ACCEPTED) {
  Deno.test(`smuggling: ${c.name} is framed exactly as declared`, async () => {
    const rec = recorder();
    await withServer(rec.handler, {}, async (t) => {
      const client = await t.connect();
      await client.write(c.request);
      const got: string[] = [];
      for (let i = 0; i < c.seen.length; i++) {
        const r = await client.readResponse({ timeout: 2000 });
        assert.equal(r.status, 200, `${c.name}: response ${i}: ${r.text}`);
        got.push(r.text.replace("|", " "));
      }
      assert.deepEqual(got, c.seen, c.name);
      assert.deepEqual(rec.seen, c.seen, c.name);
      // nothing more: the connection waits for the next request
      client.close();
    });
  });
}
