// Benchmarks of the sans-IO HTTP/1.1 wire code: request heads (wrk-style,
// browser-like, 16 pipelined) and chunked decoding, each group against a
// baseline of TextDecoder plus a naive split("\r\n") parser.
//
//   deno bench -A bench/http1_bench.ts

import {
  findHeadEnd,
  type HeadLimits,
  parseRequestHead,
  type RequestHead,
  skipEmptyLines,
} from "../http1/head.ts";
import { ChunkedDecoder } from "../http1/chunked.ts";
import { HeadMemo } from "../http1/memo.ts";

const LIMITS: HeadLimits = { maxLine: 8192, maxHeaderBytes: 65536 };

function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

const WRK = bytes("GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n");

const BROWSER = bytes(
  "GET /products/42?ref=home&utm_source=newsletter HTTP/1.1\r\n" +
    "Host: shop.example.com\r\n" +
    "Connection: keep-alive\r\n" +
    'sec-ch-ua: "Chromium";v="124", "Google Chrome";v="124"\r\n' +
    "sec-ch-ua-mobile: ?0\r\n" +
    "Upgrade-Insecure-Requests: 1\r\n" +
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 " +
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9," +
    "image/avif,image/webp,*/*;q=0.8\r\n" +
    "Sec-Fetch-Site: same-origin\r\n" +
    "Sec-Fetch-Mode: navigate\r\n" +
    "Referer: https://shop.example.com/\r\n" +
    "Accept-Encoding: gzip, deflate, br, zstd\r\n" +
    "Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n" +
    "Cookie: session=3f9a1c2e7b8d4e5f; theme=dark\r\n" +
    "Cookie: _ga=GA1.1.123456789.1700000000; consent=yes\r\n" +
    "\r\n",
);

let pipelined = "";
for (let k = 1; k <= 16; k++) {
  pipelined += `GET /item/${k}?page=${k} HTTP/1.1\r\nHost: localhost:8080\r\n` +
    "Accept: */*\r\nUser-Agent: wrk\r\n\r\n";
}
const PIPELINED = bytes(pipelined);

// 64 KiB of body in 16 chunks of 4 KiB, then the last chunk.
const CHUNK_DATA = "0123456789abcdef".repeat(256);
const CHUNKED = bytes(
  `1000\r\n${CHUNK_DATA}\r\n`.repeat(16) + "0\r\n\r\n",
);

// Keeps results alive so the work is not optimised away.
let sink = 0;

/** Parses every head in `b` the way the server loop does; returns the count. */
function parseHeads(b: Uint8Array): number {
  let start = 0, n = 0;
  for (;;) {
    const s = skipEmptyLines(b, start, b.length);
    if (s === b.length) return n;
    const he = findHeadEnd(b, s, b.length);
    if (he < 0) return n;
    const head = parseRequestHead(b, s, he, LIMITS);
    sink += head.path.length + head.headers.host.length;
    start = he;
    n++;
  }
}

const utf8 = new TextDecoder();

/** The naive parser: decode to text, split heads, lines and fields. */
function naiveHeads(b: Uint8Array): number {
  const text = utf8.decode(b);
  let n = 0;
  for (const head of text.split("\r\n\r\n")) {
    if (head === "") continue;
    const lines = head.split("\r\n");
    const [method, target] = lines[0].split(" ");
    const q = target.indexOf("?");
    const path = q === -1 ? target : target.slice(0, q);
    const headers: Record<string, string> = {};
    for (let k = 1; k < lines.length; k++) {
      const line = lines[k];
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? headers[name] + "," + value : value;
    }
    sink += method.length + path.length + headers.host.length;
    n++;
  }
  return n;
}

function bench(group: string, input: Uint8Array, heads: number): void {
  Deno.bench({
    name: "TextDecoder + naive split parser",
    group,
    baseline: true,
    fn() {
      if (naiveHeads(input) !== heads) throw new Error("naive miscount");
    },
  });
  Deno.bench({
    name: "TextDecoder.decode only",
    group,
    fn() {
      sink += utf8.decode(input).length;
    },
  });
  Deno.bench({
    name: "findHeadEnd + parseRequestHead",
    group,
    fn() {
      if (parseHeads(input) !== heads) throw new Error("miscount");
    },
  });
  if (heads !== 1) return;
  // The server keeps the last head parsed: a repeat costs a byte compare and
  // a copy of the head and its headers.
  const cache = new HeadMemo<RequestHead>();
  cache.set(
    input,
    0,
    input.length,
    parseRequestHead(input, 0, input.length, LIMITS),
  );
  Deno.bench({
    name: "HeadMemo hit (the same head again)",
    group,
    fn() {
      const head = cache.get(input, 0, input.length);
      if (head === null) throw new Error("miss");
      sink += head.path.length;
    },
  });
}

bench("head: wrk GET", WRK, 1);
bench("head: browser, 14 fields incl. 2 Cookie", BROWSER, 1);
bench("head: 16 pipelined", PIPELINED, 16);

// --- chunked ------------------------------------------------------------------

/** A naive chunked decoder over a decoded string, for the baseline. */
function naiveChunked(b: Uint8Array): number {
  const text = utf8.decode(b);
  const parts: string[] = [];
  let i = 0;
  for (;;) {
    const eol = text.indexOf("\r\n", i);
    const size = parseInt(text.slice(i, eol), 16);
    i = eol + 2;
    if (size === 0) break;
    parts.push(text.slice(i, i + size));
    i += size + 2;
  }
  return parts.join("").length;
}

const BODY = CHUNK_DATA.length * 16;

Deno.bench({
  name: "TextDecoder + naive split decoder",
  group: "chunked: 64 KiB in 4 KiB chunks",
  baseline: true,
  fn() {
    if (naiveChunked(CHUNKED) !== BODY) throw new Error("naive miscount");
  },
});

Deno.bench({
  name: "TextDecoder.decode only",
  group: "chunked: 64 KiB in 4 KiB chunks",
  fn() {
    sink += utf8.decode(CHUNKED).length;
  },
});

Deno.bench({
  name: "ChunkedDecoder, views",
  group: "chunked: 64 KiB in 4 KiB chunks",
  fn() {
    let total = 0;
    const dec = new ChunkedDecoder();
    dec.decode(CHUNKED, 0, CHUNKED.length, (d) => total += d.length);
    if (!dec.done || total !== BODY) throw new Error("bad decode");
  },
});

Deno.bench({
  name: "ChunkedDecoder, copied into one body",
  group: "chunked: 64 KiB in 4 KiB chunks",
  fn() {
    const body = new Uint8Array(BODY);
    let at = 0;
    const dec = new ChunkedDecoder();
    dec.decode(CHUNKED, 0, CHUNKED.length, (d) => {
      body.set(d, at);
      at += d.length;
    });
    if (!dec.done || at !== BODY) throw new Error("bad decode");
  },
});

Deno.bench({
  name: "ChunkedDecoder, fed in 1460-byte segments",
  group: "chunked: 64 KiB in 4 KiB chunks",
  fn() {
    let total = 0;
    const dec = new ChunkedDecoder();
    for (let i = 0; i < CHUNKED.length; i += 1460) {
      const end = Math.min(CHUNKED.length, i + 1460);
      dec.decode(CHUNKED, i, end, (d) => total += d.length);
    }
    if (!dec.done || total !== BODY) throw new Error("bad decode");
  },
});

// 64 KiB in 1024 chunks of 64 bytes: here the chunk lines, not the data, take
// the time, so a slower chunk-size line shows. The same with an extension on
// every line, which is read by the extension state machine and dropped.
const SMALL_DATA = CHUNK_DATA.slice(0, 64);
const SMALL = bytes(`40\r\n${SMALL_DATA}\r\n`.repeat(1024) + "0\r\n\r\n");
const SMALL_EXT = bytes(
  `40; name="value";q=1\r\n${SMALL_DATA}\r\n`.repeat(1024) + "0\r\n\r\n",
);

Deno.bench({
  name: "TextDecoder + naive split decoder",
  group: "chunked: 64 KiB in 64-byte chunks",
  baseline: true,
  fn() {
    if (naiveChunked(SMALL) !== BODY) throw new Error("naive miscount");
  },
});

for (
  const [name, input] of [
    ["ChunkedDecoder, views", SMALL],
    ['ChunkedDecoder, views, `; name="value";q=1` on each line', SMALL_EXT],
  ] as const
) {
  Deno.bench({
    name,
    group: "chunked: 64 KiB in 64-byte chunks",
    fn() {
      let total = 0;
      const dec = new ChunkedDecoder();
      dec.decode(input, 0, input.length, (d) => total += d.length);
      if (!dec.done || total !== BODY) throw new Error("bad decode");
    },
  });
}

addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
});
