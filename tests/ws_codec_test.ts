import assert from "node:assert/strict";
import {
  encodeClose,
  encodeFrame,
  OP_BINARY,
  OP_CLOSE,
  OP_CONT,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  unmask,
  WsDecoder,
  type WsDecoderOptions,
  WsEncoder,
  type WsEvent,
  WsProtocolError,
} from "../ws/codec.ts";

const te = new TextEncoder();
const CLIENT: WsDecoderOptions = { role: "client" };
const SERVER: WsDecoderOptions = { role: "server" };
const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

interface RawFrame {
  fin?: boolean;
  rsv?: number; // 0..7, RSV1 = 4
  op: number;
  payload?: Uint8Array | string;
  mask?: Uint8Array | null;
  /** Force a length encoding: 7, 16 or 64 bits. */
  lenBits?: 7 | 16 | 64;
  /** Declared length, when it must differ from the payload's. */
  len?: number;
}

/** Builds a frame byte by byte, independently of encodeFrame, valid or not. */
function raw(f: RawFrame): Uint8Array {
  const payload = typeof f.payload === "string"
    ? te.encode(f.payload)
    : f.payload ?? new Uint8Array(0);
  const len = f.len ?? payload.length;
  const bits = f.lenBits ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const out: number[] = [
    ((f.fin ?? true) ? 0x80 : 0) | ((f.rsv ?? 0) << 4) | f.op,
  ];
  const m = f.mask ? 0x80 : 0;
  if (bits === 7) out.push(m | len);
  else if (bits === 16) out.push(m | 126, len >>> 8, len & 0xff);
  else {
    const hi = Math.floor(len / 2 ** 32);
    out.push(
      m | 127,
      hi >>> 24,
      (hi >>> 16) & 0xff,
      (hi >>> 8) & 0xff,
      hi & 0xff,
    );
    out.push(len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff);
  }
  if (f.mask) out.push(...f.mask);
  const head = new Uint8Array(out);
  const body = payload.slice();
  if (f.mask) {
    for (let i = 0; i < body.length; i++) {
      body[i] ^= f.mask[i & 3];
    }
  }
  return cat(head, body);
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Masked frame for a server decoder. */
function cf(f: RawFrame): Uint8Array {
  return raw({ mask: MASK, ...f });
}

/**
 * Feeds `pieces` through one decoder, each copied into a scratch buffer that
 * is overwritten after push returns (the caller reuses its read buffer).
 */
function feed(
  opts: WsDecoderOptions,
  bytes: Uint8Array,
  cuts: number[],
  owned = false,
): WsEvent[] {
  const d = new WsDecoder(opts);
  const events: WsEvent[] = [];
  const scratch = new Uint8Array(bytes.length);
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    // An owned chunk is a buffer of its own, as a transport would give.
    const piece = owned ? bytes.slice(prev, cut) : scratch.subarray(prev, cut);
    if (!owned) piece.set(bytes.subarray(prev, cut));
    events.push(...d.push(piece, owned));
    // Whatever the decoder does not keep, the caller may overwrite.
    if (!owned || !d.retained) piece.fill(0xee);
    prev = cut;
  }
  return events;
}

/** Split points to try: all of them for small inputs, a sample for big ones. */
function splitPoints(n: number): number[] {
  if (n <= 4096) return Array.from({ length: n + 1 }, (_, i) => i);
  const pts = new Set<number>();
  for (let i = 0; i <= 64; i++) pts.add(i).add(n - i);
  for (let i = 0; i < n; i += 997) pts.add(i);
  return [...pts].sort((a, b) => a - b);
}

/** Every way the test feeds bytes: whole, split once at each point, and 1 byte at a time. */
function* feeds(bytes: Uint8Array): Generator<[string, number[]]> {
  yield ["whole", []];
  for (const i of splitPoints(bytes.length)) yield [`split at ${i}`, [i]];
  yield ["byte by byte", Array.from({ length: bytes.length }, (_, i) => i)];
}

function expectEvents(
  opts: WsDecoderOptions,
  bytes: Uint8Array,
  expected: WsEvent[],
): void {
  for (const [how, cuts] of feeds(bytes)) {
    assert.deepEqual(feed(opts, bytes, cuts), expected, how);
  }
}

function expectError(
  opts: WsDecoderOptions,
  bytes: Uint8Array,
  code: number,
): void {
  for (const [how, cuts] of feeds(bytes)) {
    assert.throws(
      () => feed(opts, bytes, cuts),
      (e) => e instanceof WsProtocolError && e.code === code,
      `${how}: expected WsProtocolError ${code}`,
    );
  }
}

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

Deno.test("WsDecoder.push() decodes the RFC 6455 section 5.7 examples", () => {
  const hello = { type: "text", data: "Hello" } as const;
  expectEvents(CLIENT, bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f), [
    hello,
  ]);
  expectEvents(
    SERVER,
    bytes(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    [hello],
  );
  expectEvents(
    CLIENT,
    bytes(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f),
    [hello],
  );
  expectEvents(CLIENT, bytes(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f), [
    { type: "ping", data: te.encode("Hello") },
  ]);
  expectEvents(
    SERVER,
    bytes(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
    [
      { type: "pong", data: te.encode("Hello") },
    ],
  );
});

Deno.test("WsDecoder.push() decodes 16-bit and 64-bit payload lengths", () => {
  for (const n of [126, 256, 65535, 65536, 70000]) {
    const payload = new Uint8Array(n).map((_, i) => (i * 7) & 0xff);
    const frame = cf({ op: OP_BINARY, payload });
    assert.equal(frame[1] & 0x7f, n < 65536 ? 126 : 127);
    expectEvents(SERVER, frame, [{ type: "binary", data: payload }]);
  }
  // The RFC's 256-byte and 64 KiB unmasked headers.
  const f256 = cat(bytes(0x82, 0x7e, 0x01, 0x00), new Uint8Array(256));
  assert.deepEqual(feed(CLIENT, f256, []), [{
    type: "binary",
    data: new Uint8Array(256),
  }]);
  const f64k = cat(
    bytes(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0),
    new Uint8Array(65536),
  );
  assert.deepEqual(feed(CLIENT, f64k, []), [{
    type: "binary",
    data: new Uint8Array(65536),
  }]);
});

Deno.test("WsDecoder.push() reassembles fragments with control frames in between", () => {
  const input = cat(
    cf({ op: OP_TEXT, fin: false, payload: "ab" }),
    cf({ op: OP_PING, payload: "p" }),
    cf({ op: OP_CONT, fin: false, payload: "" }),
    cf({ op: OP_PONG, payload: "" }),
    cf({ op: OP_CONT, fin: false, payload: "cd" }),
    cf({ op: OP_CONT, payload: "é" }),
    cf({ op: OP_BINARY, fin: false, payload: bytes(1, 2) }),
    cf({ op: OP_CONT, payload: bytes(3) }),
  );
  expectEvents(SERVER, input, [
    { type: "ping", data: te.encode("p") },
    { type: "pong", data: new Uint8Array(0) },
    { type: "text", data: "abcdé" },
    { type: "binary", data: bytes(1, 2, 3) },
  ]);
});

Deno.test("WsDecoder.push() decodes empty messages and keeps a leading BOM", () => {
  expectEvents(
    SERVER,
    cat(
      cf({ op: OP_TEXT, payload: "" }),
      cf({ op: OP_BINARY, payload: "" }),
      cf({ op: OP_TEXT, fin: false, payload: "" }),
      cf({ op: OP_CONT, payload: "" }),
      cf({ op: OP_TEXT, payload: "\ufeffx" }),
    ),
    [
      { type: "text", data: "" },
      { type: "binary", data: new Uint8Array(0) },
      { type: "text", data: "" },
      { type: "text", data: "\ufeffx" },
    ],
  );
});

Deno.test("WsDecoder.push() keeps a multi-byte character split across fragments", () => {
  const euro = te.encode("€"); // e2 82 ac
  expectEvents(
    SERVER,
    cat(
      cf({ op: OP_TEXT, fin: false, payload: euro.subarray(0, 1) }),
      cf({ op: OP_CONT, fin: false, payload: euro.subarray(1, 2) }),
      cf({ op: OP_CONT, payload: euro.subarray(2) }),
    ),
    [{ type: "text", data: "€" }],
  );
});

Deno.test("WsDecoder.push() enforces maxMessage with 1009", () => {
  const opts = { role: "server", maxMessage: 10 } as const;
  expectEvents(opts, cf({ op: OP_BINARY, payload: new Uint8Array(10) }), [
    { type: "binary", data: new Uint8Array(10) },
  ]);
  expectError(opts, cf({ op: OP_BINARY, payload: new Uint8Array(11) }), 1009);
  expectError(opts, cf({ op: OP_TEXT, payload: "x".repeat(11) }), 1009);
  // Fragments add up.
  expectError(
    opts,
    cat(
      cf({ op: OP_TEXT, fin: false, payload: "123456" }),
      cf({ op: OP_CONT, payload: "12345" }),
    ),
    1009,
  );
  expectEvents(
    opts,
    cat(
      cf({ op: OP_TEXT, fin: false, payload: "123456" }),
      cf({ op: OP_CONT, payload: "1234" }),
    ),
    [{ type: "text", data: "1234561234" }],
  );
  // Control frames are not data messages.
  expectEvents(opts, cf({ op: OP_PING, payload: new Uint8Array(125) }), [
    { type: "ping", data: new Uint8Array(125) },
  ]);
});

Deno.test("WsDecoder.push() rejects a huge declared length from the header alone", () => {
  const d = new WsDecoder(SERVER);
  // 2^53-ish declared length, no payload at all: must throw at once.
  const head = bytes(
    0x82,
    0xff,
    0x00,
    0x1f,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    0xff,
    ...MASK,
  );
  assert.throws(
    () => d.push(head),
    (e) => e instanceof WsProtocolError && e.code === 1009,
  );
  assert.ok(d.closed);
  assert.deepEqual(d.push(cf({ op: OP_TEXT, payload: "x" })), []);
  // Default limit is 4 MiB.
  const big = cf({
    op: OP_BINARY,
    len: 4 * 1024 * 1024 + 1,
    payload: new Uint8Array(0),
  });
  expectError(SERVER, big, 1009);
  const ok = cf({
    op: OP_BINARY,
    len: 4 * 1024 * 1024,
    payload: new Uint8Array(0),
  });
  assert.deepEqual(new WsDecoder(SERVER).push(ok), []);
});

Deno.test("WsDecoder.push() rejects reserved bits without an extension with 1002", () => {
  for (const rsv of [1, 2, 4, 7]) {
    expectError(SERVER, cf({ op: OP_TEXT, rsv, payload: "x" }), 1002);
    expectError(SERVER, cf({ op: OP_PING, rsv, payload: "x" }), 1002);
  }
  expectError(
    SERVER,
    cat(
      cf({ op: OP_TEXT, fin: false, payload: "x" }),
      cf({ op: OP_CONT, rsv: 4, payload: "y" }),
    ),
    1002,
  );
});

Deno.test("WsDecoder.push() rejects unknown opcodes with 1002", () => {
  for (const op of [3, 4, 5, 6, 7, 11, 12, 13, 14, 15]) {
    expectError(SERVER, cf({ op, payload: "x" }), 1002);
    expectError(CLIENT, raw({ op, payload: "" }), 1002);
  }
});

Deno.test("WsDecoder.push() rejects wrong masking for the role with 1002", () => {
  expectError(SERVER, raw({ op: OP_TEXT, payload: "x" }), 1002);
  expectError(SERVER, raw({ op: OP_PING, payload: "" }), 1002);
  expectError(CLIENT, cf({ op: OP_TEXT, payload: "x" }), 1002);
  expectError(CLIENT, cf({ op: OP_CLOSE, payload: "" }), 1002);
  // The all-zero key still counts as masked.
  expectError(
    CLIENT,
    raw({ op: OP_TEXT, payload: "x", mask: bytes(0, 0, 0, 0) }),
    1002,
  );
  expectEvents(
    SERVER,
    raw({ op: OP_TEXT, payload: "x", mask: bytes(0, 0, 0, 0) }),
    [
      { type: "text", data: "x" },
    ],
  );
});

Deno.test("WsDecoder.push() rejects fragmented and oversized control frames with 1002", () => {
  for (const op of [OP_PING, OP_PONG, OP_CLOSE]) {
    expectError(SERVER, cf({ op, fin: false, payload: "" }), 1002);
    expectError(SERVER, cf({ op, payload: new Uint8Array(126) }), 1002);
    expectError(
      SERVER,
      cf({ op, payload: new Uint8Array(2), lenBits: 16, len: 2 }),
      1002,
    );
  }
  expectEvents(SERVER, cf({ op: OP_PONG, payload: new Uint8Array(125) }), [
    { type: "pong", data: new Uint8Array(125) },
  ]);
});

Deno.test("WsDecoder.push() rejects continuation and interleaving errors with 1002", () => {
  expectError(SERVER, cf({ op: OP_CONT, payload: "x" }), 1002);
  expectError(
    SERVER,
    cat(cf({ op: OP_TEXT, payload: "a" }), cf({ op: OP_CONT, payload: "b" })),
    1002,
  );
  expectError(
    SERVER,
    cat(
      cf({ op: OP_TEXT, fin: false, payload: "a" }),
      cf({ op: OP_TEXT, payload: "b" }),
    ),
    1002,
  );
  expectError(
    SERVER,
    cat(
      cf({ op: OP_BINARY, fin: false, payload: "a" }),
      cf({ op: OP_TEXT, fin: false, payload: "b" }),
    ),
    1002,
  );
});

Deno.test("WsDecoder.push() rejects non-minimal length encodings with 1002", () => {
  expectError(
    SERVER,
    cf({ op: OP_BINARY, payload: new Uint8Array(125), lenBits: 16 }),
    1002,
  );
  expectError(
    SERVER,
    cf({ op: OP_BINARY, payload: new Uint8Array(0), lenBits: 16 }),
    1002,
  );
  expectError(
    SERVER,
    cf({ op: OP_BINARY, payload: new Uint8Array(65535), lenBits: 64 }),
    1002,
  );
  expectError(
    SERVER,
    cf({ op: OP_BINARY, payload: new Uint8Array(3), lenBits: 64 }),
    1002,
  );
  // MSB of the 64-bit length set.
  const msb = bytes(
    0x82,
    0xff,
    0x80,
    0,
    0,
    0,
    0,
    0,
    0,
    5,
    ...MASK,
    1,
    2,
    3,
    4,
    5,
  );
  expectError(SERVER, msb, 1002);
  expectError({ role: "server", maxMessage: Infinity }, msb, 1002);
});

Deno.test("WsDecoder.push() decodes close frames", () => {
  expectEvents(SERVER, cf({ op: OP_CLOSE }), [{
    type: "close",
    code: 1005,
    reason: "",
  }]);
  expectEvents(
    SERVER,
    cf({ op: OP_CLOSE, payload: bytes(0x03, 0xe8, ...te.encode("bye ✓")) }),
    [
      { type: "close", code: 1000, reason: "bye ✓" },
    ],
  );
  const valid = [
    1000,
    1001,
    1002,
    1003,
    1007,
    1008,
    1009,
    1010,
    1011,
    1012,
    1013,
    1014,
    3000,
    3999,
    4000,
    4999,
  ];
  for (const code of valid) {
    assert.deepEqual(
      feed(
        SERVER,
        cf({ op: OP_CLOSE, payload: bytes(code >> 8, code & 0xff) }),
        [],
      ),
      [
        { type: "close", code, reason: "" },
      ],
    );
  }
});

Deno.test("WsDecoder.push() rejects bad close payloads", () => {
  expectError(SERVER, cf({ op: OP_CLOSE, payload: bytes(0x03) }), 1002);
  expectError(SERVER, cf({ op: OP_CLOSE, payload: bytes(0x0f) }), 1002); // 0x0f00 would be valid
  const invalid = [
    0,
    1,
    999,
    1004,
    1005,
    1006,
    1015,
    1016,
    1100,
    2000,
    2999,
    5000,
    65535,
  ];
  for (const code of invalid) {
    expectError(
      SERVER,
      cf({ op: OP_CLOSE, payload: bytes(code >> 8, code & 0xff) }),
      1002,
    );
  }
  expectError(
    SERVER,
    cf({ op: OP_CLOSE, payload: bytes(0x03, 0xe8, 0xff) }),
    1007,
  );
  expectError(
    SERVER,
    cf({ op: OP_CLOSE, payload: bytes(0x03, 0xe8, 0xce) }),
    1007,
  );
});

Deno.test("WsDecoder.push() rejects invalid UTF-8 with 1007", () => {
  const bad = [
    bytes(0xff),
    bytes(0xc0, 0xaf), // overlong
    bytes(0xed, 0xa0, 0x80), // surrogate
    bytes(0xf4, 0x90, 0x80, 0x80), // above U+10FFFF
    bytes(0xce, 0xba, 0xe1), // truncated at the end
  ];
  for (const b of bad) {
    expectError(SERVER, cf({ op: OP_TEXT, payload: b }), 1007);
    expectError(
      SERVER,
      cat(
        cf({ op: OP_TEXT, fin: false, payload: "ok" }),
        cf({ op: OP_CONT, payload: b }),
      ),
      1007,
    );
  }
  // Binary messages are not checked.
  expectEvents(SERVER, cf({ op: OP_BINARY, payload: bytes(0xff) }), [{
    type: "binary",
    data: bytes(0xff),
  }]);
});

Deno.test("WsDecoder.push() reports invalid UTF-8 before the message ends", () => {
  // The first fragment is already invalid: no need to wait for the rest.
  const first = cf({
    op: OP_TEXT,
    fin: false,
    payload: bytes(0x61, 0xed, 0xa0),
  });
  expectError(SERVER, first, 1007);
  // Within one frame, as soon as the bad bytes arrive.
  const frame = cf({
    op: OP_TEXT,
    payload: bytes(0x61, 0xf5, ...new Uint8Array(100).fill(0x61)),
  });
  const d = new WsDecoder(SERVER);
  assert.throws(
    () => d.push(frame.subarray(0, 8)),
    (e) => e instanceof WsProtocolError && e.code === 1007,
  );
});

Deno.test("WsDecoder.push() ignores bytes after a close frame", () => {
  const input = cat(
    cf({ op: OP_TEXT, payload: "a" }),
    cf({ op: OP_CLOSE, payload: bytes(0x03, 0xe9) }),
    cf({ op: OP_TEXT, payload: "b" }),
    bytes(0xff, 0xff, 0xff),
  );
  expectEvents(SERVER, input, [{ type: "text", data: "a" }, {
    type: "close",
    code: 1001,
    reason: "",
  }]);
  const d = new WsDecoder(SERVER);
  d.push(cf({ op: OP_CLOSE }));
  assert.ok(d.closed);
  assert.deepEqual(d.push(bytes(0x00, 0x00)), []);
});

Deno.test("encodeFrame() uses the shortest length encoding", () => {
  const cases: [number, number, number][] = [
    [0, 2, 0],
    [125, 2, 125],
    [126, 4, 126],
    [65535, 4, 126],
    [
      65536,
      10,
      127,
    ],
  ];
  for (const [n, hlen, len7] of cases) {
    const f = encodeFrame(OP_BINARY, new Uint8Array(n));
    assert.equal(f.length, hlen + n, `length ${n}`);
    assert.equal(f[0], 0x82);
    assert.equal(f[1], len7);
    assert.deepEqual(feed(CLIENT, f, []), [{
      type: "binary",
      data: new Uint8Array(n),
    }]);
  }
  assert.deepEqual(
    encodeFrame(OP_BINARY, new Uint8Array(300)).subarray(0, 4),
    bytes(0x82, 126, 1, 44),
  );
  assert.deepEqual(
    encodeFrame(OP_BINARY, new Uint8Array(65536)).subarray(0, 10),
    bytes(0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0),
  );
  assert.equal(
    encodeFrame(OP_TEXT, new Uint8Array(0), { fin: false })[0],
    0x01,
  );
  assert.equal(
    encodeFrame(OP_TEXT, new Uint8Array(0), { rsv1: true })[0],
    0xc1,
  );
});

Deno.test("encodeFrame() masks with a fresh key in client role", () => {
  const payload = te.encode("the same payload, twice over");
  const a = encodeFrame(OP_TEXT, payload, { mask: true });
  const b = encodeFrame(OP_TEXT, payload, { mask: true });
  assert.equal(a[1], 0x80 | payload.length);
  assert.equal(a.length, 2 + 4 + payload.length);
  assert.notDeepEqual(a.subarray(2, 6), b.subarray(2, 6));
  assert.notDeepEqual(a.subarray(6), payload);
  const expected = [{ type: "text", data: "the same payload, twice over" }];
  assert.deepEqual(feed(SERVER, a, []), expected);
  assert.deepEqual(feed(SERVER, b, []), expected);
  // Unmasked is not accepted by a server, masked not by a client.
  assert.throws(() => feed(CLIENT, a, []), WsProtocolError);
  for (const n of [126, 65536]) {
    const big = new Uint8Array(n).fill(7);
    assert.deepEqual(
      feed(SERVER, encodeFrame(OP_BINARY, big, { mask: true }), [5, 9]),
      [{
        type: "binary",
        data: big,
      }],
    );
  }
});

Deno.test("encodeFrame() rejects invalid frames", () => {
  assert.throws(() => encodeFrame(3, new Uint8Array(0)), RangeError);
  assert.throws(() => encodeFrame(16, new Uint8Array(0)), RangeError);
  assert.throws(() => encodeFrame(OP_PING, new Uint8Array(126)), RangeError);
  assert.throws(
    () => encodeFrame(OP_CLOSE, new Uint8Array(0), { fin: false }),
    RangeError,
  );
  assert.equal(encodeFrame(OP_PING, new Uint8Array(125)).length, 127);
});

Deno.test("encodeClose() builds valid close payloads", () => {
  assert.deepEqual(encodeClose(), bytes(0x88, 0));
  assert.deepEqual(encodeClose(1000), bytes(0x88, 2, 0x03, 0xe8));
  assert.deepEqual(
    encodeClose(4001, "é"),
    bytes(0x88, 4, 0x0f, 0xa1, 0xc3, 0xa9),
  );
  assert.deepEqual(feed(SERVER, encodeClose(1011, "oops", true), [3]), [
    { type: "close", code: 1011, reason: "oops" },
  ]);
  assert.deepEqual(encodeClose(1000, "x".repeat(123)).length, 2 + 125);
  assert.throws(() => encodeClose(1000, "x".repeat(124)), RangeError);
  for (const code of [999, 1005, 1006, 1015, 2000, 5000]) {
    assert.throws(() => encodeClose(code), RangeError, `code ${code}`);
  }
  assert.throws(() => encodeClose(undefined, "reason"), RangeError);
});

Deno.test("WsEncoder builds frames per role", () => {
  const server = new WsEncoder({ role: "server" });
  const client = new WsEncoder({ role: "client" });
  assert.deepEqual(
    server.text("Hello"),
    bytes(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
  );
  assert.deepEqual(server.binary(bytes(1, 2)), bytes(0x82, 2, 1, 2));
  assert.deepEqual(server.ping(bytes(9)), bytes(0x89, 1, 9));
  assert.deepEqual(server.pong(), bytes(0x8a, 0));
  assert.deepEqual(
    server.close(1000, "ok"),
    bytes(0x88, 4, 0x03, 0xe8, 0x6f, 0x6b),
  );
  const list = [
    client.text("héllo"),
    client.binary(bytes(1, 2, 3)),
    client.ping(bytes(4)),
    client.pong(bytes(5)),
    client.close(1000),
  ];
  for (const f of list) {
    assert.equal(f[1] & 0x80, 0x80, "client frames are masked");
  }
  const frames = cat(...list);
  expectEvents(SERVER, frames, [
    { type: "text", data: "héllo" },
    { type: "binary", data: bytes(1, 2, 3) },
    { type: "ping", data: bytes(4) },
    { type: "pong", data: bytes(5) },
    { type: "close", code: 1000, reason: "" },
  ]);
});

function unmaskBytes(data: Uint8Array, mask: Uint8Array, offset: number): void {
  for (let i = 0; i < data.length; i++) data[i] ^= mask[(offset + i) & 3];
}

Deno.test("unmask() matches a byte loop for every length, offset and alignment", () => {
  const backing = new Uint8Array(300).map((_, i) => (i * 31 + 7) & 0xff);
  for (const len of [0, 1, 3, 4, 5, 31, 32, 33, 63, 64, 65, 100, 257]) {
    for (let start = 0; start < 8; start++) {
      for (let offset = 0; offset < 6; offset++) {
        const a = backing.slice();
        const b = backing.slice();
        unmask(a.subarray(start, start + len), MASK, offset);
        unmaskBytes(b.subarray(start, start + len), MASK, offset);
        assert.deepEqual(a, b, `len ${len} start ${start} offset ${offset}`);
      }
    }
  }
});

/** Deterministic PRNG (mulberry32) for the property tests. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("WsDecoder.push(chunk, true) hands out large binary messages as views and copies the rest", () => {
  const big = new Uint8Array(3000).map((_, i) => i & 0xff);
  const small = new Uint8Array([1, 2, 3]);
  const enc = new WsEncoder({ role: "client" });
  const chunk = cat(
    enc.binary(big),
    enc.ping(small),
    enc.binary(small),
    enc.text("hi"),
  );
  const d = new WsDecoder(SERVER);
  const events = d.push(chunk, true);
  assert.deepEqual(events.map((e) => e.type), [
    "binary",
    "ping",
    "binary",
    "text",
  ]);
  const [b, p, s] = events.map((e) => (e as { data: Uint8Array }).data);
  // The large message is the chunk's own memory, unmasked in place.
  assert.equal(b.buffer, chunk.buffer);
  assert.deepEqual(b, big);
  assert.ok(d.retained);
  // A small message and control data are copies.
  assert.notEqual(s.buffer, chunk.buffer);
  assert.notEqual(p.buffer, chunk.buffer);
  assert.deepEqual(s, small);
  assert.deepEqual(p, small);

  // Only small messages: nothing of the chunk is kept.
  const d2 = new WsDecoder(SERVER);
  const chunk2 = cat(enc.binary(small), enc.text("x".repeat(5000)));
  const [m] = d2.push(chunk2, true);
  assert.equal(d2.retained, false);
  chunk2.fill(0);
  assert.deepEqual((m as { data: Uint8Array }).data, small);
});

Deno.test("WsDecoder.push(chunk, true) keeps a message in progress and copies compressed data", () => {
  const enc = new WsEncoder({ role: "client" });
  const payload = new Uint8Array(5000).map((_, i) => (i * 7) & 0xff);
  const f = enc.binary(payload);
  const d = new WsDecoder(SERVER);
  const first = f.slice(0, 2000);
  assert.deepEqual(d.push(first, true), []);
  // The first piece stays a view until the message ends.
  assert.ok(d.retained);
  const [ev] = d.push(f.slice(2000), true);
  assert.deepEqual((ev as { data: Uint8Array }).data, payload);
  // Two pieces were joined into new memory: neither chunk is kept by it.
  assert.equal(d.retained, false);
});

Deno.test("WsEncoder.frame() gives the header and the payload apart (server) or the whole frame (client)", () => {
  const payload = new Uint8Array(300).fill(9);
  const server = new WsEncoder({ role: "server" });
  const got: Uint8Array[] = [];
  assert.equal(
    server.frame(OP_BINARY, payload, (h, b) => {
      got.push(h.slice(), b);
      return true;
    }),
    true,
  );
  assert.deepEqual(got[0], new Uint8Array([0x82, 126, 1, 44]));
  assert.equal(got[1], payload);
  assert.deepEqual(cat(got[0], got[1]), server.binary(payload));
  const client = new WsEncoder({ role: "client" });
  let whole: Uint8Array | null = null;
  client.frame(OP_TEXT, te.encode("hey"), (h, b) => {
    assert.equal(b.length, 0);
    whole = h;
    return false;
  });
  const [ev] = new WsDecoder(SERVER).push(whole!);
  assert.deepEqual(ev, { type: "text", data: "hey" });
});

Deno.test("WsEncoder -> WsDecoder round-trips random messages at random split points", () => {
  const rand = rng(0x5eed);
  const int = (n: number): number => Math.floor(rand() * n);
  for (let run = 0; run < 400; run++) {
    const owned = run % 2 === 1;
    const role = rand() < 0.5 ? "server" : "client";
    const enc = new WsEncoder({
      role: role === "server" ? "client" : "server",
    });
    const expected: WsEvent[] = [];
    const frames: Uint8Array[] = [];
    for (let m = 0, count = 1 + int(5); m < count; m++) {
      const sizes = [0, 1, 125, 126, 200, 65535, 65536, 70000];
      const size = rand() < 0.8 ? int(300) : sizes[int(sizes.length)];
      const kind = int(4);
      if (kind === 0) {
        const s = Array.from(
          { length: size },
          () =>
            String.fromCodePoint(
              rand() < 0.9 ? 32 + int(90) : 0x80 + int(0x10000),
            ),
        ).join("").replace(/[\ud800-\udfff]/g, "x");
        frames.push(enc.text(s));
        expected.push({ type: "text", data: s });
      } else if (kind === 1) {
        const b = new Uint8Array(size).map(() => int(256));
        frames.push(enc.binary(b));
        expected.push({ type: "binary", data: b });
      } else if (kind === 2) {
        const b = new Uint8Array(Math.min(size, 125)).map(() => int(256));
        frames.push(rand() < 0.5 ? enc.ping(b) : enc.pong(b));
        expected.push({
          type: (frames.at(-1)![0] & 0x0f) === OP_PING ? "ping" : "pong",
          data: b,
        });
      } else {
        // A fragmented binary message through encodeFrame.
        const b = new Uint8Array(size).map(() => int(256));
        const mask = role === "server";
        const cut = int(size + 1);
        frames.push(
          encodeFrame(OP_BINARY, b.subarray(0, cut), { fin: false, mask }),
        );
        frames.push(encodeFrame(OP_CONT, b.subarray(cut), { mask }));
        expected.push({ type: "binary", data: b });
      }
    }
    const all = cat(...frames);
    const cuts = Array.from({ length: int(6) }, () => int(all.length + 1)).sort(
      (a, b) => a - b,
    );
    assert.deepEqual(
      feed({ role }, all, cuts, owned),
      expected,
      `run ${run}, cuts ${cuts}, owned ${owned}`,
    );
  }
});

Deno.test("WsDecoder.push() on random bytes throws nothing but WsProtocolError", () => {
  const rand = rng(42);
  const int = (n: number): number => Math.floor(rand() * n);
  for (let run = 0; run < 3000; run++) {
    const input = new Uint8Array(int(64)).map(() => int(256));
    if (input.length > 0 && rand() < 0.5) input[0] = (input[0] & 0x8f) | 0x80; // fewer RSV errors
    if (input.length > 1 && rand() < 0.5) input[1] = input[1] & 0x8f; // short lengths
    const role = rand() < 0.5 ? "server" : "client";
    const d = new WsDecoder({ role, maxMessage: 1000 });
    try {
      for (let i = 0; i < input.length;) {
        const n = 1 + int(8);
        d.push(input.subarray(i, i + n));
        i += n;
      }
    } catch (e) {
      assert.ok(e instanceof WsProtocolError, `run ${run}: ${e}`);
      assert.ok([1002, 1007, 1009].includes(e.code), `code ${e.code}`);
    }
  }
});

Deno.test("WsDecoder decodes text alike whether a message comes whole or in pieces", () => {
  // A whole frame is decoded in one call, a split one as a stream: a decoder
  // goes from one way to the other between messages without mixing them.
  const input = cat(
    cf({ op: OP_TEXT, payload: "héllo wörld €" }),
    cf({ op: OP_TEXT, fin: false, payload: bytes(0x61, 0xe2, 0x82) }),
    cf({ op: OP_CONT, payload: bytes(0xac, 0x62) }),
    cf({ op: OP_TEXT, payload: "𝄞 clef" }),
    cf({ op: OP_TEXT, payload: "" }),
    cf({ op: OP_TEXT, payload: "last ✓" }),
  );
  const want = ["héllo wörld €", "a€b", "𝄞 clef", "", "last ✓"];
  for (const step of [input.length, 1, 2, 3, 5, 7, 11]) {
    const d = new WsDecoder(SERVER);
    const got: string[] = [];
    for (let i = 0; i < input.length; i += step) {
      for (const ev of d.push(input.slice(i, i + step))) {
        if (ev.type === "text") got.push(ev.data);
      }
    }
    assert.deepEqual(got, want, `pushed ${step} bytes at a time`);
  }
});
