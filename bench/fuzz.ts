// A longer fast-check run of the wire-code properties with a random seed:
// the HTTP/1.1 request parser (arbitrary and mutated bytes only ever raise
// ProtocolError and parse the same however they are split; generated
// requests round-trip, pipelined and split) and the WebSocket codec
// properties of tests/ws_fuzz_test.ts.
//
//   deno run -A bench/fuzz.ts --runs=5000 [--seed=N] [--only=ws|http]
//
// Prints the seed so a failure can be replayed with --seed; exit code 1 when
// a property fails.

import fc from "npm:fast-check@3";
import {
  checkPartialHead,
  findHeadEnd,
  type HeadLimits,
  parseRequestHead,
  skipEmptyLines,
} from "../http1/head.ts";
import { ChunkedDecoder } from "../http1/chunked.ts";
import { ProtocolError } from "../http1/errors.ts";
import {
  type NamedProperty,
  tally,
  WS_PROPERTIES,
} from "../tests/ws_fuzz_test.ts";

function flag(name: string): string | undefined {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a?.slice(name.length + 3);
}

function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function text(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

// ---------------------------------------------------------------------------
// A sans-IO server read loop, as server/connection.ts drives the parser

interface Seen {
  method: string;
  target: string;
  headers: Record<string, string>;
  body: string;
}

/** Feeds pieces; records requests; stops at the first ProtocolError. */
class ReadLoop {
  buf = new Uint8Array(0);
  start = 0;
  scan = 0;
  head: ReturnType<typeof parseRequestHead> | null = null;
  need = 0;
  body = "";
  dec: ChunkedDecoder | null = null;
  seen: Seen[] = [];
  error: number | null = null;

  constructor(readonly limits: HeadLimits, readonly maxBody: number) {}

  push(piece: Uint8Array): void {
    if (this.error !== null) return;
    const b = new Uint8Array(this.buf.length + piece.length);
    b.set(this.buf);
    b.set(piece, this.buf.length);
    this.buf = b;
    try {
      this.#run();
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      if (err.status < 400 || err.status > 599) {
        throw new Error(`ProtocolError with status ${err.status}`);
      }
      this.error = err.status;
    }
  }

  #run(): void {
    const b = this.buf, end = b.length;
    for (let rounds = 0;; rounds++) {
      if (rounds > end + 2) throw new Error("the read loop makes no progress");
      if (this.head === null) {
        const s = skipEmptyLines(b, this.start, end);
        this.start = s;
        if (s === end) return;
        const he = findHeadEnd(b, Math.max(s, this.scan), end);
        if (he < 0) {
          checkPartialHead(b, s, end, this.limits);
          this.scan = Math.max(s, end - 3);
          return;
        }
        if (he <= s || he > end) throw new Error("head end out of range");
        this.scan = 0;
        const head = parseRequestHead(b, s, he, this.limits);
        if (head.contentLength > this.maxBody) {
          throw new ProtocolError(413, "Request body too large");
        }
        this.start = he;
        this.head = head;
        this.body = "";
        this.dec = head.chunked
          ? new ChunkedDecoder(this.limits.maxLine, this.limits.maxHeaderBytes)
          : null;
        this.need = head.chunked ? 0 : Math.max(0, head.contentLength);
      }
      const head = this.head!;
      if (this.dec !== null) {
        const at = this.dec.decode(b, this.start, end, (d) => {
          this.body += text(d);
          if (this.body.length > this.maxBody) {
            throw new ProtocolError(413, "Request body too large");
          }
        });
        if (at < this.start || at > end) throw new Error("decoder went back");
        this.start = at;
        if (!this.dec.done) return;
      } else {
        const take = Math.min(this.need, end - this.start);
        this.body += text(b.subarray(this.start, this.start + take));
        this.start += take;
        this.need -= take;
        if (this.need > 0) return;
      }
      this.seen.push({
        method: head.method,
        target: head.target,
        headers: { ...head.headers },
        body: this.body,
      });
      this.head = null;
      this.dec = null;
    }
  }
}

const LIMITS: HeadLimits = { maxLine: 512, maxHeaderBytes: 4096 };

function runLoop(input: Uint8Array, cuts: number[]): ReadLoop {
  const loop = new ReadLoop(LIMITS, 10_000);
  let prev = 0;
  for (const c of [...cuts, input.length]) {
    if (c < prev) continue;
    loop.push(input.slice(prev, c));
    prev = c;
  }
  return loop;
}

/** Whole and split feeds agree: same requests, same error. */
function agree(input: Uint8Array, cuts: number[]): void {
  const whole = runLoop(input, []);
  const split = runLoop(input, cuts);
  if (whole.error !== split.error) {
    throw new Error(
      `whole ${whole.error} vs split ${split.error} at ${cuts} for ${
        JSON.stringify(text(input))
      }`,
    );
  }
  if (JSON.stringify(whole.seen) !== JSON.stringify(split.seen)) {
    throw new Error(`whole and split saw different requests at ${cuts}`);
  }
}

const cutsOf = (n: number) =>
  fc.array(fc.integer({ min: 0, max: n }), { maxLength: 10 }).map((a) =>
    a.sort((x, y) => x - y)
  );

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const value = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);

interface GenRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body: string;
  chunked: boolean;
  sizes: number[];
}

const RESERVED = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "expect",
  "upgrade",
]);

const requestArb: fc.Arbitrary<GenRequest> = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"),
  path: fc.stringMatching(/^\/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,30}$/),
  headers: fc.array(fc.tuple(token, value), { maxLength: 6 }).map((hs) =>
    hs.filter(([n]) => !RESERVED.has(n.toLowerCase()))
  ),
  body: fc.string({ maxLength: 300 }).map((s) =>
    Array.from(s, (c) => c.charCodeAt(0) > 0xff ? "?" : c).join("")
  ),
  chunked: fc.boolean(),
  sizes: fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 6 }),
});

function serialize(r: GenRequest): string {
  let h = `${r.method} ${r.path} HTTP/1.1\r\nHost: fuzz\r\n`;
  for (const [n, v] of r.headers) h += `${n}: ${v}\r\n`;
  if (!r.chunked) {
    return h + `Content-Length: ${r.body.length}\r\n\r\n${r.body}`;
  }
  h += "Transfer-Encoding: chunked\r\n\r\n";
  let at = 0;
  for (const s of r.sizes) {
    if (at >= r.body.length) break;
    const piece = r.body.slice(at, at + s);
    h += `${piece.length.toString(16)}\r\n${piece}\r\n`;
    at += piece.length;
  }
  if (at < r.body.length) {
    const rest = r.body.slice(at);
    h += `${rest.length.toString(16)}\r\n${rest}\r\n`;
  }
  return h + "0\r\n\r\n";
}

/** Bytes that break framing when dropped into a request. */
const NASTY = [
  "\r",
  "\n",
  "\r\n",
  " ",
  "\t",
  ":",
  "\x00",
  "\x0b",
  ",",
  "0",
  "-",
  "+",
  "x",
  "\r\n ",
  "\r\nTransfer-Encoding: chunked",
  "\r\nContent-Length: 3",
  "\xff",
];

const HTTP_PROPERTIES: NamedProperty[] = [
  {
    name:
      "HTTP read loop: arbitrary bytes raise only ProtocolError, whole = split",
    scale: 1,
    property: () =>
      fc.property(
        fc.uint8Array({ maxLength: 600 }).chain((b) =>
          cutsOf(b.length).map((c) => [b, c] as const)
        ),
        ([input, cuts]) => agree(input, cuts),
      ),
  },
  {
    name:
      "HTTP read loop: mutated valid requests raise only ProtocolError, whole = split",
    scale: 2,
    property: () =>
      fc.property(
        fc.array(requestArb, { minLength: 1, maxLength: 3 }),
        fc.array(
          fc.tuple(fc.nat(), fc.nat(2), fc.constantFrom(...NASTY)),
          { minLength: 1, maxLength: 4 },
        ),
        fc.array(fc.nat(), { maxLength: 8 }),
        (reqs, edits, rawCuts) => {
          let s = reqs.map(serialize).join("");
          for (const [at, op, what] of edits) {
            const i = at % (s.length + 1);
            if (op === 0) s = s.slice(0, i) + what + s.slice(i);
            else if (op === 1) s = s.slice(0, i) + s.slice(i + 1);
            else s = s.slice(0, i) + what + s.slice(i + what.length);
          }
          const input = bytes(s);
          const cuts = rawCuts.map((c) => c % (input.length + 1)).sort((
            a,
            b,
          ) => a - b);
          agree(input, cuts);
        },
      ),
  },
  {
    name: "HTTP read loop: generated requests round-trip, pipelined and split",
    scale: 1,
    property: () =>
      fc.property(
        fc.array(requestArb, { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (reqs, rawCuts) => {
          const input = bytes(reqs.map(serialize).join(""));
          const cuts = rawCuts.map((c) => c % (input.length + 1)).sort((
            a,
            b,
          ) => a - b);
          const loop = runLoop(input, cuts);
          if (loop.error !== null) {
            throw new Error(`valid requests refused with ${loop.error}`);
          }
          if (loop.seen.length !== reqs.length) {
            throw new Error(`${loop.seen.length} of ${reqs.length} requests`);
          }
          reqs.forEach((r, i) => {
            const got = loop.seen[i];
            if (got.method !== r.method || got.target !== r.path) {
              throw new Error(`request ${i}: ${got.method} ${got.target}`);
            }
            if (got.body !== r.body) throw new Error(`request ${i}: body`);
            for (const [n, v] of r.headers) {
              if (!got.headers[n.toLowerCase()]?.includes(v)) {
                throw new Error(`request ${i}: header ${n} lost`);
              }
            }
          });
        },
      ),
  },
];

async function main(): Promise<number> {
  const runs = Number(flag("runs") ?? 2000);
  const seed = Number(flag("seed") ?? Math.floor(Math.random() * 2 ** 31));
  const only = flag("only");
  const props = [
    ...(only === "ws" ? [] : HTTP_PROPERTIES),
    ...(only === "http" ? [] : WS_PROPERTIES),
  ];
  console.log(`fuzz: seed ${seed}, ${runs} runs per property (x scale)`);
  let failed = 0;
  for (const p of props) {
    const numRuns = Math.max(1, Math.ceil(runs * p.scale));
    const t0 = performance.now();
    const r = await Promise.resolve(
      fc.check(p.property(), { seed, numRuns }),
    );
    const ms = performance.now() - t0;
    if (r.failed) {
      failed++;
      console.log(`FAIL ${p.name} (${ms.toFixed(0)} ms)`);
      console.log(fc.defaultReportMessage(r));
    } else {
      console.log(`ok   ${p.name}: ${numRuns} runs, ${ms.toFixed(0)} ms`);
    }
  }
  console.log(`ws decoder outcomes: ${JSON.stringify(tally)}`);
  console.log(
    failed === 0
      ? "all properties hold"
      : `${failed} properties failed; replay with --seed=${seed}`,
  );
  return failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
