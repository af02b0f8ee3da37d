// Property tests of the WebSocket codec with fast-check (fixed seeds, bounded
// runs): arbitrary bytes and mangled frames only ever raise WsProtocolError
// with a close code a peer may be sent, in bounded time, whatever the split;
// generated message sequences (unicode text, binary, fragments of random
// sizes with control frames between them, close) round-trip through
// WsEncoder/encodeFrame -> WsDecoder, whole or split at random boundaries;
// compressed sequences round-trip with and without context takeover.

import assert from "node:assert/strict";
import fc from "npm:fast-check@3";
import {
  encodeClose,
  encodeFrame,
  OP_BINARY,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  WsDecoder,
  WsEncoder,
  type WsEvent,
  WsProtocolError,
} from "../ws/codec.ts";
import { PerMessageDeflate } from "../ws/deflate.ts";
import {
  type DeflateOptions,
  type DeflateParams,
  negotiateDeflate,
  parseDeflateResponse,
} from "../ws/extensions.ts";
import { concatBytes } from "./_helpers.ts";

/** Fixed seed and bounded runs; `bench/fuzz.ts` runs the same properties longer. */
export const RUNS: { seed: number; numRuns: number } = {
  seed: 0x5eed,
  numRuns: 150,
};

/** Close codes the decoder may answer a peer with. */
const PEER_CODES = [1002, 1007, 1009];
/** A single push must never take this long (a hang or a quadratic blow-up). */
const SLOW_PUSH_MS = 1000;

const te = new TextEncoder();

/** What feeding some bytes gave: the events, and the error that stopped it. */
interface Outcome {
  events: WsEvent[];
  error: number | null;
}

/**
 * Feeds `bytes` to `dec`, cut at `cuts` (sorted offsets), each piece copied
 * into a scratch buffer that is scribbled over once push returns, as a reused
 * socket buffer would be. Asserts that only WsProtocolError with a peer code
 * comes out, that no push is slow, and that a closed decoder stays quiet.
 */
function feed(dec: WsDecoder, bytes: Uint8Array, cuts: number[]): Outcome {
  const events: WsEvent[] = [];
  let error: number | null = null;
  const scratch = new Uint8Array(bytes.length);
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    if (cut < prev) continue;
    const piece = scratch.subarray(prev, cut);
    piece.set(bytes.subarray(prev, cut));
    const t0 = performance.now();
    try {
      const got = dec.push(piece);
      if (error !== null || (dec.closed && events.some(isClose))) {
        assert.deepEqual(got, [], "a closed decoder returned events");
      }
      events.push(...got);
    } catch (e) {
      assert.ok(
        e instanceof WsProtocolError,
        `push threw a non-protocol error: ${e}`,
      );
      assert.ok(
        PEER_CODES.includes(e.code),
        `push threw code ${e.code}: ${e.message}`,
      );
      assert.equal(error, null, "a closed decoder threw again");
      assert.ok(dec.closed, "the decoder is not closed after an error");
      error = e.code;
    }
    const took = performance.now() - t0;
    assert.ok(took < SLOW_PUSH_MS, `push of ${piece.length} B took ${took} ms`);
    piece.fill(0xee);
    prev = cut;
  }
  return { events, error };
}

function isClose(e: WsEvent): boolean {
  return e.type === "close";
}

/** Sorted cut offsets into `n` bytes. */
function cutsArb(n: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: n }), { maxLength: 8 }).map((a) =>
    a.sort((x, y) => x - y)
  );
}

/** Bytes with cut points into them. */
function withCuts(
  bytes: fc.Arbitrary<Uint8Array>,
): fc.Arbitrary<{ bytes: Uint8Array; cuts: number[] }> {
  return bytes.chain((b) =>
    cutsArb(b.length).map((cuts) => ({ bytes: b, cuts }))
  );
}

// ---------------------------------------------------------------------------
// Deflate set-ups

/** One negotiated permessage-deflate agreement, both sides' parameters. */
export interface DeflatePair {
  server: DeflateParams;
  client: DeflateParams;
  opts: Pick<DeflateOptions, "level" | "memLevel" | "threshold">;
}

/** Offers and server settings that cover the parameter space. */
const NEGOTIATIONS: [string, DeflateOptions][] = [
  ["permessage-deflate", {}],
  ["permessage-deflate; client_max_window_bits", {}],
  ["permessage-deflate; server_no_context_takeover", {}],
  ["permessage-deflate; client_no_context_takeover", {}],
  ["permessage-deflate; server_max_window_bits=9", {}],
  ["permessage-deflate; client_max_window_bits", { clientMaxWindowBits: 9 }],
  ["permessage-deflate", { serverMaxWindowBits: 10 }],
  [
    "permessage-deflate; client_max_window_bits",
    { clientMaxWindowBits: 12, serverNoContextTakeover: true },
  ],
];

/** A negotiated agreement with random compressor settings. */
export const deflatePairArb: fc.Arbitrary<DeflatePair> = fc.record({
  n: fc.constantFrom(...NEGOTIATIONS),
  level: fc.integer({ min: 0, max: 9 }),
  memLevel: fc.integer({ min: 1, max: 9 }),
  threshold: fc.constantFrom(0, 0, 0, 8, 64),
}).map(({ n, level, memLevel, threshold }) => {
  const r = negotiateDeflate(n[0], n[1]);
  assert.ok(r !== null, `no agreement on ${n[0]}`);
  const client = parseDeflateResponse(r.response);
  assert.ok(client !== null, `client refuses ${r.response}`);
  // The sides must agree on resets; a side may use a smaller window than
  // the other expects (a server limiting itself unasked), never a larger one.
  const why = `the sides disagree on ${r.response}`;
  const s = r.params;
  assert.equal(client.serverNoContextTakeover, s.serverNoContextTakeover, why);
  assert.equal(client.clientNoContextTakeover, s.clientNoContextTakeover, why);
  assert.ok(s.serverMaxWindowBits <= client.serverMaxWindowBits, why);
  assert.ok(client.clientMaxWindowBits <= s.clientMaxWindowBits, why);
  return { server: r.params, client, opts: { level, memLevel, threshold } };
});

// ---------------------------------------------------------------------------
// Mangled frames: headers that get past the first checks, so the payload,
// length, masking, fragmentation and inflate paths are all reached.

interface FuzzFrame {
  fin: boolean;
  rsv: number;
  op: number;
  mask: boolean;
  payload: Uint8Array;
  len: "exact" | "short" | "long" | "wide16" | "wide64" | "huge" | "msb";
}

const fuzzFrameArb: fc.Arbitrary<FuzzFrame> = fc.record({
  fin: fc.boolean(),
  rsv: fc.constantFrom(0, 0, 0, 4, 4, 2, 1),
  op: fc.constantFrom(0, 0, 1, 1, 2, 2, 8, 9, 10, 3, 7, 11, 15),
  mask: fc.boolean(),
  payload: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ minLength: 120, maxLength: 300 }),
    fc.fullUnicodeString({ maxLength: 40 }).map((s) => te.encode(s)),
  ),
  len: fc.constantFrom(
    "exact",
    "exact",
    "exact",
    "exact",
    "short",
    "long",
    "wide16",
    "wide64",
    "huge",
    "msb",
  ),
});

/** Writes a frame by hand, honest or not about its length. */
function mangled(f: FuzzFrame): Uint8Array {
  const p = f.payload;
  let len = p.length;
  if (f.len === "short") len = Math.max(0, len - 1);
  if (f.len === "long") len = len + 3;
  if (f.len === "huge") len = 2 ** 40;
  const out: number[] = [(f.fin ? 0x80 : 0) | (f.rsv << 4) | f.op];
  const m = f.mask ? 0x80 : 0;
  if (f.len === "msb") {
    out.push(m | 127, 0x80, 0, 0, 0, 0, 0, 0, len & 0xff);
  } else if (f.len === "wide64" || len > 0xffff) {
    const hi = Math.floor(len / 2 ** 32);
    out.push(m | 127, hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff);
    out.push(hi & 0xff, len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff);
    out.push(len & 0xff);
  } else if (f.len === "wide16" || len > 125) {
    out.push(m | 126, len >>> 8, len & 0xff);
  } else {
    out.push(m | len);
  }
  const key = [0x12, 0x34, 0x56, 0x78];
  if (f.mask) out.push(...key);
  const body = p.slice();
  if (f.mask) { for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3]; }
  return concatBytes([new Uint8Array(out), body]);
}

/** Real compressed payloads, whole or corrupted, in frames with RSV1. */
function compressedFrames(
  pair: DeflatePair,
  role: "server" | "client",
  messages: Uint8Array[],
  flips: number[],
): Uint8Array[] {
  // The sender is the other role.
  const sender = new PerMessageDeflate(
    role === "server" ? "client" : "server",
    role === "server" ? pair.client : pair.server,
    pair.opts,
  );
  try {
    return messages.map((m, i) => {
      const c = sender.compress(m).slice();
      const flip = flips[i % Math.max(1, flips.length)] ?? -1;
      if (flip >= 0 && c.length > 0) c[flip % c.length] ^= 1 << (flip & 7);
      return encodeFrame(i % 2 === 0 ? OP_BINARY : OP_TEXT, c, {
        rsv1: true,
        mask: role === "server",
      });
    });
  } finally {
    sender.close();
  }
}

/** A decoder for `role`, with a fresh deflate state from `pair` if given. */
function decoder(
  role: "server" | "client",
  pair: DeflatePair | null,
  maxMessage: number,
): { dec: WsDecoder; done: () => void } {
  const deflate = pair === null ? null : new PerMessageDeflate(
    role,
    role === "server" ? pair.server : pair.client,
  );
  return {
    dec: new WsDecoder({ role, maxMessage, deflate }),
    done: () => deflate?.close(),
  };
}

/**
 * Outcomes of the arbitrary-input properties: `ok` or the close code, and
 * `events` decoded, so a run can show that its inputs reach deep paths.
 */
export const tally: Record<string, number> = {};

/** Runs one input whole and split; both must agree. */
function checkArbitrary(
  role: "server" | "client",
  pair: DeflatePair | null,
  maxMessage: number,
  bytes: Uint8Array,
  cuts: number[],
): void {
  const a = decoder(role, pair, maxMessage);
  const b = decoder(role, pair, maxMessage);
  try {
    const whole = feed(a.dec, bytes, []);
    const split = feed(b.dec, bytes, cuts);
    const key = whole.error === null ? "ok" : String(whole.error);
    tally[key] = (tally[key] ?? 0) + 1;
    tally.events = (tally.events ?? 0) + whole.events.length;
    // The push that throws drops the events it had decoded, so a split feed
    // may deliver more of them; the error, if any, must be the same. One
    // exception: a compressed text message that is both over maxMessage and
    // invalid UTF-8 is inflated up to the limit per piece before its text is
    // checked, so the piece size decides which of 1009 and 1007 comes first.
    const either = [1007, 1009];
    if (
      pair !== null && either.includes(whole.error ?? 0) &&
      either.includes(split.error ?? 0)
    ) return;
    assert.equal(split.error, whole.error, "whole and split disagree");
    if (whole.error === null) assert.deepEqual(split.events, whole.events);
    else {
      assert.deepEqual(
        split.events.slice(0, whole.events.length),
        whole.events,
        "split events do not extend the whole ones",
      );
    }
  } finally {
    a.done();
    b.done();
  }
}

const roleArb = fc.constantFrom<"server" | "client">("server", "client");
const maxArb = fc.constantFrom(64, 1000, 70_000, 4 * 1024 * 1024);

// ---------------------------------------------------------------------------
// Valid message sequences

/** One thing a peer sends. */
export type Step =
  | { kind: "text"; data: string; sizes: number[]; pings: number[] }
  | { kind: "binary"; data: Uint8Array; sizes: number[]; pings: number[] }
  | { kind: "ping"; data: Uint8Array }
  | { kind: "pong"; data: Uint8Array };

const fragmentSizes = fc.array(fc.integer({ min: 0, max: 200 }), {
  maxLength: 6,
});
const controlData = fc.uint8Array({ maxLength: 125 });

/** A text, binary or control step; data messages may come in fragments. */
export const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant("text" as const),
    data: fc.oneof(
      fc.fullUnicodeString({ maxLength: 300 }),
      fc.string({ maxLength: 40 }).map((s) => s.repeat(20)),
      fc.constantFrom("", "\ufeff", "é", "😀", "\u{10ffff}", "a\u0000b"),
    ),
    sizes: fragmentSizes,
    pings: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant("binary" as const),
    data: fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      fc.constantFrom(125, 126, 65535, 65536, 70_000).map((n) =>
        new Uint8Array(n).map((_, i) => (i * 31) & 0xff)
      ),
    ),
    sizes: fragmentSizes,
    pings: fc.array(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant("ping" as const), data: controlData }),
  fc.record({ kind: fc.constant("pong" as const), data: controlData }),
);

/** Cuts `n` bytes into fragments of the given sizes (the rest is the last). */
function fragments(n: number, sizes: number[]): [number, number][] {
  const out: [number, number][] = [];
  let at = 0;
  for (const s of sizes) {
    if (at >= n) break;
    const end = Math.min(n, at + s);
    out.push([at, end]);
    at = end;
  }
  out.push([at, n]);
  return out;
}

/**
 * Encodes steps as the sending role would (masked from a client), and lists
 * the events the receiver must report. Fragmented messages go through
 * encodeFrame, whole ones through the WsEncoder (which may compress).
 */
export function encodeSteps(
  steps: Step[],
  sender: "server" | "client",
  deflate: PerMessageDeflate | null,
  close: { code: number; reason: string } | null,
): { bytes: Uint8Array; events: WsEvent[] } {
  const mask = sender === "client";
  const enc = new WsEncoder({ role: sender, deflate });
  const frames: Uint8Array[] = [];
  const events: WsEvent[] = [];
  for (const step of steps) {
    if (step.kind === "ping" || step.kind === "pong") {
      frames.push(
        step.kind === "ping" ? enc.ping(step.data) : enc.pong(step.data),
      );
      events.push({ type: step.kind, data: step.data });
      continue;
    }
    const payload = step.kind === "text" ? te.encode(step.data) : step.data;
    const op = step.kind === "text" ? OP_TEXT : OP_BINARY;
    if (step.sizes.length === 0) {
      frames.push(
        step.kind === "text" ? enc.text(step.data) : enc.binary(step.data),
      );
    } else {
      // Compressed first, then cut: fragments carry pieces of the deflate
      // stream, RSV1 on the first frame only.
      const compress = deflate !== null &&
        deflate.shouldCompress(payload.length);
      const wire = compress ? deflate!.compress(payload).slice() : payload;
      const parts = fragments(wire.length, step.sizes);
      parts.forEach(([a, b], i) => {
        const last = i === parts.length - 1;
        frames.push(
          encodeFrame(i === 0 ? op : OP_CONT, wire.subarray(a, b), {
            fin: last,
            rsv1: compress && i === 0,
            mask,
          }),
        );
        // control frames between fragments come out before the message
        if (!last) {
          for (const p of step.pings) {
            if (p % parts.length === i) {
              const data = new Uint8Array([p, i]);
              frames.push(encodeFrame(OP_PING, data, { mask }));
              events.push({ type: "ping", data });
            }
          }
        }
      });
    }
    events.push(
      step.kind === "text"
        ? { type: "text", data: step.data }
        : { type: "binary", data: step.data },
    );
  }
  if (close !== null) {
    frames.push(encodeClose(close.code, close.reason, mask));
    events.push({ type: "close", code: close.code, reason: close.reason });
    // anything after a close frame is ignored
    frames.push(encodeFrame(OP_PING, new Uint8Array([1]), { mask }));
  }
  return { bytes: concatBytes(frames), events };
}

const closeArb = fc.option(
  fc.record({
    code: fc.constantFrom(1000, 1001, 1003, 1008, 1011, 3000, 4999),
    reason: fc.fullUnicodeString({ maxLength: 30 }).filter((s) =>
      te.encode(s).length <= 123
    ),
  }),
);

const stepsArb = fc.array(stepArb, { minLength: 1, maxLength: 8 });

/** A named property; `scale` multiplies the run count. */
export interface NamedProperty {
  name: string;
  scale: number;
  // deno-lint-ignore no-explicit-any
  property: () => fc.IRawProperty<any>;
}

/** The codec properties, shared with `bench/fuzz.ts`. */
export const WS_PROPERTIES: NamedProperty[] = [
  {
    name:
      "WsDecoder: random bytes raise only WsProtocolError, whole or split, with and without deflate",
    scale: 4,
    property: () =>
      fc.property(
        roleArb,
        fc.option(deflatePairArb, { freq: 2 }),
        maxArb,
        withCuts(fc.uint8Array({ maxLength: 512 })),
        (role, pair, max, { bytes, cuts }) => {
          checkArbitrary(role, pair, max, bytes, cuts);
        },
      ),
  },
  {
    name:
      "WsDecoder: sequences of mangled frames raise only WsProtocolError, whole or split",
    scale: 1,
    property: () =>
      fc.property(
        roleArb,
        fc.option(deflatePairArb, { freq: 2 }),
        maxArb,
        fc.array(fuzzFrameArb, { minLength: 1, maxLength: 8 }),
        fc.uint8Array({ maxLength: 16 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (role, pair, max, frames, tail, seed) => {
          // Most frames get the mask right for the role, so decoding goes on.
          const fixed = frames.map((f, i) =>
            (seed >> (i % 31)) & 1 ? { ...f, mask: role === "server" } : f
          );
          const bytes = concatBytes([...fixed.map(mangled), tail]);
          const cuts = Array.from(
            { length: seed % 7 },
            (_, i) => (seed * (i + 7)) % (bytes.length + 1),
          ).sort((a, b) => a - b);
          checkArbitrary(role, pair, max, bytes, cuts);
        },
      ),
  },
  {
    name:
      "WsDecoder with deflate: real and corrupted compressed payloads raise only WsProtocolError",
    scale: 1,
    property: () =>
      fc.property(
        roleArb,
        deflatePairArb,
        maxArb,
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 2000 }),
            fc.string({ maxLength: 500 }).map((s) => te.encode(s.repeat(8))),
          ),
          { minLength: 1, maxLength: 5 },
        ),
        fc.array(fc.integer({ min: -1, max: 4000 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: 1 << 20 }),
        (role, pair, max, messages, flips, seed) => {
          const bytes = concatBytes(
            compressedFrames(pair, role, messages, flips),
          );
          const cuts = Array.from(
            { length: seed % 6 },
            (_, i) => (seed * (i + 3)) % (bytes.length + 1),
          ).sort((a, b) => a - b);
          checkArbitrary(role, pair, max, bytes, cuts);
        },
      ),
  },
  {
    name:
      "WsEncoder/encodeFrame -> WsDecoder round-trips message sequences at random boundaries",
    scale: 1,
    property: () =>
      fc.property(
        roleArb,
        stepsArb,
        closeArb,
        fc.array(fc.nat(), { maxLength: 10 }),
        (role, steps, close, rawCuts) => {
          const sender = role === "server" ? "client" : "server";
          const { bytes, events } = encodeSteps(steps, sender, null, close);
          const cuts = rawCuts.map((c) => c % (bytes.length + 1)).sort((a, b) =>
            a - b
          );
          const whole = feed(new WsDecoder({ role }), bytes, []);
          assert.equal(whole.error, null);
          assert.deepEqual(whole.events, events);
          const split = feed(new WsDecoder({ role }), bytes, cuts);
          assert.equal(split.error, null);
          assert.deepEqual(split.events, events);
        },
      ),
  },
  {
    name: "WsEncoder/encodeFrame -> WsDecoder round-trips byte by byte",
    scale: 0.4,
    property: () =>
      fc.property(
        roleArb,
        fc.array(stepArb, { minLength: 1, maxLength: 3 }).filter((s) =>
          s.every((x) => x.data.length < 1000)
        ),
        closeArb,
        (role, steps, close) => {
          const sender = role === "server" ? "client" : "server";
          const { bytes, events } = encodeSteps(steps, sender, null, close);
          const cuts = Array.from({ length: bytes.length }, (_, i) => i);
          const got = feed(new WsDecoder({ role }), bytes, cuts);
          assert.equal(got.error, null);
          assert.deepEqual(got.events, events);
        },
      ),
  },
  {
    name:
      "compressed sequences round-trip in both directions, context kept across messages",
    scale: 1,
    property: () =>
      fc.property(
        deflatePairArb,
        fc.array(
          fc.tuple(
            fc.constantFrom<"server" | "client">("server", "client"),
            stepArb,
          ),
          { minLength: 1, maxLength: 10 },
        ),
        fc.array(fc.nat(), { maxLength: 6 }),
        (pair, sends, rawCuts) => {
          const server = new PerMessageDeflate(
            "server",
            pair.server,
            pair.opts,
          );
          const client = new PerMessageDeflate(
            "client",
            pair.client,
            pair.opts,
          );
          // One connection: each side's decoder lives as long as the test run.
          const serverDec = new WsDecoder({ role: "server", deflate: server });
          const clientDec = new WsDecoder({ role: "client", deflate: client });
          try {
            for (const [from, step] of sends) {
              const { bytes, events } = encodeSteps(
                [step],
                from,
                from === "server" ? server : client,
                null,
              );
              const cuts = rawCuts.map((c) => c % (bytes.length + 1)).sort((
                a,
                b,
              ) => a - b);
              const got = feed(
                from === "server" ? clientDec : serverDec,
                bytes,
                cuts,
              );
              assert.equal(got.error, null);
              assert.deepEqual(got.events, events);
            }
          } finally {
            server.close();
            client.close();
          }
        },
      ),
  },
  {
    name:
      "context takeover: repeated messages shrink on the wire and still decode",
    scale: 1,
    property: () =>
      fc.property(
        fc.string({ minLength: 40, maxLength: 200 }),
        fc.integer({ min: 2, max: 6 }),
        (text, times) => {
          const r = negotiateDeflate("permessage-deflate")!;
          const server = new PerMessageDeflate("server", r.params);
          const client = new PerMessageDeflate(
            "client",
            parseDeflateResponse(r.response)!,
          );
          try {
            const enc = new WsEncoder({ role: "server", deflate: server });
            const dec = new WsDecoder({ role: "client", deflate: client });
            const sizes: number[] = [];
            for (let i = 0; i < times; i++) {
              const f = enc.text(text);
              sizes.push(f.length);
              assert.deepEqual(dec.push(f), [{ type: "text", data: text }]);
            }
            // the second copy is a back-reference into the first
            assert.ok(sizes[1] <= Math.max(12, sizes[0] / 2), `sizes ${sizes}`);
          } finally {
            server.close();
            client.close();
          }
        },
      ),
  },
];

for (const p of WS_PROPERTIES) {
  Deno.test(`fuzz: ${p.name}`, () => {
    fc.assert(p.property(), {
      ...RUNS,
      numRuns: Math.ceil(RUNS.numRuns * p.scale),
    });
  });
}

Deno.test("fuzz: the arbitrary inputs reached every error code and decoded events", () => {
  for (const key of ["ok", "1002", "1007", "1009"]) {
    assert.ok(
      (tally[key] ?? 0) > 0,
      `no ${key} outcome: ${JSON.stringify(tally)}`,
    );
  }
  assert.ok((tally.events ?? 0) > 100, `few events: ${JSON.stringify(tally)}`);
});

Deno.test("WsDecoder keeps control frames and messages apart under OP_PONG floods between fragments", () => {
  // A peer may send any number of control frames inside a fragmented
  // message; they must not count against maxMessage nor end the message.
  const mask = true;
  const frames: Uint8Array[] = [
    encodeFrame(OP_TEXT, te.encode("a"), { fin: false, mask }),
  ];
  for (let i = 0; i < 2000; i++) {
    frames.push(encodeFrame(OP_PONG, new Uint8Array(125), { mask }));
  }
  frames.push(encodeFrame(OP_CONT, te.encode("b"), { mask }));
  const got = feed(
    new WsDecoder({ role: "server", maxMessage: 16 }),
    concatBytes(frames),
    [],
  );
  assert.equal(got.error, null);
  assert.equal(got.events.length, 2001);
  assert.deepEqual(got.events.at(-1), { type: "text", data: "ab" });
});
