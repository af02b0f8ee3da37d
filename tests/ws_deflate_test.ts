import assert from "node:assert/strict";
import zlib from "node:zlib";
import {
  encodeFrame,
  OP_CONT,
  OP_PING,
  WsDecoder,
  WsEncoder,
  type WsEvent,
  WsProtocolError,
} from "../ws/codec.ts";
import { PerMessageDeflate } from "../ws/deflate.ts";
import {
  deflateOffer,
  type DeflateParams,
  negotiateDeflate,
  parseDeflateResponse,
  parseExtensions,
} from "../ws/extensions.ts";
import { _setContextTakeover, supportsContextTakeover } from "../ws/_zlib.ts";

const te = new TextEncoder();
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
const DEFAULTS: DeflateParams = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A client-role decoder with deflate, fed `input` cut at `cuts`. */
function decodeClient(
  input: Uint8Array,
  cuts: number[],
  params = DEFAULTS,
  maxMessage?: number,
): WsEvent[] {
  const deflate = new PerMessageDeflate("client", params);
  const d = new WsDecoder({ role: "client", deflate, maxMessage });
  const events: WsEvent[] = [];
  let prev = 0;
  for (const cut of [...cuts, input.length]) {
    const piece = input.slice(prev, cut);
    events.push(...d.push(piece));
    piece.fill(0xee);
    prev = cut;
  }
  deflate.close();
  return events;
}

function* feeds(input: Uint8Array): Generator<[string, number[]]> {
  yield ["whole", []];
  for (let i = 0; i <= input.length; i++) yield [`split at ${i}`, [i]];
  yield ["byte by byte", Array.from({ length: input.length }, (_, i) => i)];
}

function expectEvents(
  input: Uint8Array,
  expected: WsEvent[],
  params = DEFAULTS,
): void {
  for (const [how, cuts] of feeds(input)) {
    assert.deepEqual(decodeClient(input, cuts, params), expected, how);
  }
}

function expectError(
  input: Uint8Array,
  code: number,
  maxMessage?: number,
): void {
  for (const [how, cuts] of feeds(input)) {
    assert.throws(
      () => decodeClient(input, cuts, DEFAULTS, maxMessage),
      (e) => e instanceof WsProtocolError && e.code === code,
      how,
    );
  }
}

const hello: WsEvent = { type: "text", data: "Hello" };

Deno.test("parseExtensions() parses tokens, parameters and quoted strings", () => {
  assert.deepEqual(parseExtensions(""), []);
  assert.deepEqual(parseExtensions("permessage-deflate"), [{
    name: "permessage-deflate",
    params: [],
  }]);
  assert.deepEqual(
    parseExtensions(' a ;x = 1 ; y;z="q\\"d, e" , , b;c="10"'),
    [{ name: "a", params: [["x", "1"], ["y", true], ["z", 'q"d, e']] }, {
      name: "b",
      params: [["c", "10"]],
    }],
  );
  for (
    const bad of [
      "a;",
      "a;=1",
      "a; b=",
      'a; b="x',
      "a b",
      "a; b=c d",
      "a;b=@",
      "@",
    ]
  ) {
    assert.equal(parseExtensions(bad), null, bad);
  }
});

Deno.test("negotiateDeflate() accepts the first acceptable offer", () => {
  assert.deepEqual(negotiateDeflate("permessage-deflate"), {
    response: "permessage-deflate",
    params: DEFAULTS,
  });
  assert.equal(negotiateDeflate("x-webkit-deflate-frame"), null);
  assert.equal(negotiateDeflate("permessage-deflate; foo"), null);
  assert.equal(negotiateDeflate("permessage-deflate;;"), null);
  // Declined offers are skipped.
  const r = negotiateDeflate(
    "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_max_window_bits=16, " +
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover, " +
      "permessage-deflate; server_max_window_bits=12; client_max_window_bits",
  );
  assert.deepEqual(r, {
    response: "permessage-deflate; server_max_window_bits=12",
    params: { ...DEFAULTS, serverMaxWindowBits: 12 },
  });
  for (
    const bad of [
      "server_max_window_bits",
      "server_max_window_bits=08",
      "server_max_window_bits=16",
      "server_max_window_bits=a",
      "client_max_window_bits=7",
      "server_no_context_takeover=1",
      'client_no_context_takeover="x"',
    ]
  ) {
    assert.equal(negotiateDeflate(`permessage-deflate; ${bad}`), null, bad);
  }
  // Quoted values are accepted.
  assert.equal(
    negotiateDeflate('permessage-deflate; server_max_window_bits="10"')?.params
      .serverMaxWindowBits,
    10,
  );
});

Deno.test("negotiateDeflate() honours context takeover and window parameters", () => {
  assert.deepEqual(
    negotiateDeflate(
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    {
      response:
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      params: {
        ...DEFAULTS,
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
      },
    },
  );
  assert.deepEqual(
    negotiateDeflate("permessage-deflate", {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
    })
      ?.response,
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  );
  // server_max_window_bits is answered only when offered, with the smaller value.
  assert.equal(
    negotiateDeflate("permessage-deflate; server_max_window_bits=10", {
      serverMaxWindowBits: 12,
    })?.response,
    "permessage-deflate; server_max_window_bits=10",
  );
  const small = negotiateDeflate(
    "permessage-deflate; server_max_window_bits=14",
    { serverMaxWindowBits: 9 },
  );
  assert.equal(small?.response, "permessage-deflate; server_max_window_bits=9");
  const silent = negotiateDeflate("permessage-deflate", {
    serverMaxWindowBits: 9,
  });
  assert.equal(silent?.response, "permessage-deflate");
  assert.equal(silent?.params.serverMaxWindowBits, 9);
  // client_max_window_bits only when the client offered it.
  assert.equal(
    negotiateDeflate("permessage-deflate", { clientMaxWindowBits: 10 })
      ?.response,
    "permessage-deflate",
  );
  assert.equal(
    negotiateDeflate("permessage-deflate; client_max_window_bits", {
      clientMaxWindowBits: 10,
    })?.response,
    "permessage-deflate; client_max_window_bits=10",
  );
  assert.equal(
    negotiateDeflate("permessage-deflate; client_max_window_bits=9", {
      clientMaxWindowBits: 10,
    })?.response,
    "permessage-deflate; client_max_window_bits=9",
  );
  assert.equal(
    negotiateDeflate("permessage-deflate; server_max_window_bits=8")?.params
      .serverMaxWindowBits,
    8,
  );
});

Deno.test("parseDeflateResponse() accepts only valid answers to our offer", () => {
  assert.equal(deflateOffer(), "permessage-deflate; client_max_window_bits");
  assert.deepEqual(parseDeflateResponse("permessage-deflate"), DEFAULTS);
  assert.deepEqual(
    parseDeflateResponse(
      "permessage-deflate; server_no_context_takeover; client_max_window_bits=8",
    ),
    { ...DEFAULTS, serverNoContextTakeover: true, clientMaxWindowBits: 8 },
  );
  // RFC 7692 7.1.2.1: the server may limit its own window unasked (Python
  // websockets does), and our 15-bit inflater reads it.
  assert.deepEqual(
    parseDeflateResponse("permessage-deflate; server_max_window_bits=10"),
    { ...DEFAULTS, serverMaxWindowBits: 10 },
  );
  for (
    const bad of [
      "",
      "foo",
      "permessage-deflate, permessage-deflate",
      "permessage-deflate; client_max_window_bits",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; x=1",
      "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
    ]
  ) {
    assert.equal(parseDeflateResponse(bad), null, bad);
  }
});

Deno.test("WsDecoder decodes the RFC 7692 section 7.2.3 examples", () => {
  const first = bytes(0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00);
  expectEvents(first, [hello]);
  // Fragmented: RSV1 on the first frame only.
  expectEvents(
    bytes(0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00),
    [hello],
  );
  // Sharing the LZ77 window: the second message refers to the first.
  expectEvents(cat(first, bytes(0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00)), [
    hello,
    hello,
  ]);
  // A stored (uncompressed) block.
  expectEvents(
    bytes(
      0xc1,
      0x0b,
      0x00,
      0x05,
      0x00,
      0xfa,
      0xff,
      0x48,
      0x65,
      0x6c,
      0x6c,
      0x6f,
      0x00,
    ),
    [hello],
  );
  // A block with BFINAL set, then more messages on a fresh context.
  const bfinal = bytes(
    0xc1,
    0x08,
    0xf3,
    0x48,
    0xcd,
    0xc9,
    0xc9,
    0x07,
    0x00,
    0x00,
  );
  expectEvents(cat(bfinal, bfinal, first), [hello, hello, hello]);
  // Two DEFLATE blocks in one message.
  expectEvents(
    bytes(
      0xc1,
      0x0d,
      0xf2,
      0x48,
      0x05,
      0x00,
      0x00,
      0x00,
      0xff,
      0xff,
      0xca,
      0xc9,
      0xc9,
      0x07,
      0x00,
    ),
    [hello],
  );
  // A compressed message with an empty payload, and control frames in between.
  expectEvents(
    cat(
      bytes(0xc1, 0x00),
      bytes(0x41, 0x03, 0xf2, 0x48, 0xcd),
      bytes(0x89, 0x00),
      bytes(0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00),
    ),
    [
      { type: "text", data: "" },
      { type: "ping", data: new Uint8Array(0) },
      hello,
    ],
  );
});

Deno.test("WsDecoder rejects RSV1 on continuation and control frames with deflate", () => {
  expectError(
    bytes(0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00),
    1002,
  );
  expectError(bytes(0xc9, 0x00), 1002);
  expectError(bytes(0xc8, 0x00), 1002);
  expectError(bytes(0xa1, 0x00), 1002); // RSV2 still unknown
});

Deno.test("WsDecoder rejects invalid compressed data with 1007", () => {
  expectError(bytes(0xc1, 0x02, 0xff, 0xff), 1007);
  // Valid deflate, invalid UTF-8 inside.
  const bad = new PerMessageDeflate("server", DEFAULTS).compress(
    bytes(0x61, 0xed, 0xa0, 0x80),
  );
  expectError(cat(bytes(0xc1, bad.length), bad), 1007);
});

Deno.test("WsDecoder stops a deflate bomb at maxMessage with 1009", () => {
  const server = new PerMessageDeflate("server", DEFAULTS);
  const bomb = server.compress(new Uint8Array(64 * 1024 * 1024));
  server.close();
  assert.ok(bomb.length < 100 * 1024, `bomb is ${bomb.length} bytes`);
  const frame = new WsEncoder({ role: "server" }).binary(bomb);
  frame[0] |= 0x40;
  const before = Deno.memoryUsage().rss;
  assert.throws(
    () => decodeClient(frame, [], DEFAULTS, 1024 * 1024),
    (e) => e instanceof WsProtocolError && e.code === 1009,
  );
  assert.ok(
    Deno.memoryUsage().rss - before < 48 * 1024 * 1024,
    "did not inflate the bomb",
  );
  // Exactly at the limit is fine, one byte over is not.
  const exact = new PerMessageDeflate("server", DEFAULTS).compress(
    new Uint8Array(5000),
  );
  const f = new WsEncoder({ role: "server" }).binary(exact);
  f[0] |= 0x40;
  assert.equal(decodeClient(f, [], DEFAULTS, 5000).length, 1);
  expectError(f, 1009, 4999);
});

Deno.test("WsEncoder -> WsDecoder round-trips with context takeover", () => {
  const accepted = negotiateDeflate(deflateOffer())!;
  const server = new PerMessageDeflate("server", accepted.params);
  const client = new PerMessageDeflate(
    "client",
    parseDeflateResponse(accepted.response)!,
  );
  const sEnc = new WsEncoder({ role: "server", deflate: server });
  const cDec = new WsDecoder({ role: "client", deflate: client });
  const cEnc = new WsEncoder({ role: "client", deflate: client });
  const sDec = new WsDecoder({ role: "server", deflate: server });
  const msg = "The quick brown fox jumps over the lazy dog. ".repeat(20);
  const sizes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const f = sEnc.text(msg);
    assert.equal(f[0], 0xc1, "RSV1 set on compressed messages");
    sizes.push(f.length);
    assert.deepEqual(cDec.push(f), [{ type: "text", data: msg }]);
    const b = te.encode(msg + i);
    const g = cEnc.binary(b);
    assert.equal(g[0], 0xc2);
    assert.deepEqual(sDec.push(g), [{ type: "binary", data: b }]);
  }
  // Later messages refer back to the first one.
  assert.ok(sizes[1] < sizes[0] / 2, `sizes ${sizes}`);
  assert.deepEqual(cDec.push(sEnc.text("")), [{ type: "text", data: "" }]);
  assert.deepEqual(cDec.push(sEnc.ping(bytes(1))), [{
    type: "ping",
    data: bytes(1),
  }]);
  server.close();
  client.close();
});

Deno.test("PerMessageDeflate resets its compressor with no context takeover", () => {
  const params =
    negotiateDeflate("permessage-deflate; server_no_context_takeover")!.params;
  const server = new PerMessageDeflate("server", params);
  const client = new PerMessageDeflate("client", params);
  const data = te.encode("no context takeover, no context takeover, please");
  const a = server.compress(data);
  const b = server.compress(data);
  assert.deepEqual(a, b);
  assert.deepEqual(client.decompress(a, true, 1000), data);
  assert.deepEqual(client.decompress(b, true, 1000), data);
  // The client keeps its context: its second message is smaller.
  const c1 = client.compress(data);
  const c2 = client.compress(data);
  assert.ok(c2.length < c1.length);
  assert.deepEqual(server.decompress(c1, true, 1000), data);
  assert.deepEqual(server.decompress(c2, true, 1000), data);
  server.close();
  client.close();
});

Deno.test("PerMessageDeflate decompresses fragmented messages piece by piece", () => {
  const server = new PerMessageDeflate("server", DEFAULTS);
  const data = new Uint8Array(100_000).map((_, i) => (i * i) & 0xff);
  const wire = server.compress(data);
  const enc = (
    op: number,
    p: Uint8Array,
    fin: boolean,
    rsv1: boolean,
  ): Uint8Array => encodeFrame(op, p, { fin, rsv1 });
  const third = Math.floor(wire.length / 3);
  const input = cat(
    enc(2, wire.subarray(0, third), false, true),
    enc(OP_PING, bytes(), true, false),
    enc(OP_CONT, wire.subarray(third, 2 * third), false, false),
    enc(OP_CONT, wire.subarray(2 * third), true, false),
  );
  for (
    const cuts of [
      [],
      [1],
      [third],
      [third + 7, third + 9],
      Array.from({ length: 40 }, (_, i) => i * 7),
    ]
  ) {
    assert.deepEqual(decodeClient(input, cuts), [
      { type: "ping", data: new Uint8Array(0) },
      { type: "binary", data },
    ]);
  }
  server.close();
});

Deno.test("PerMessageDeflate with an 8-bit window never refers back over 256 bytes", () => {
  const params =
    negotiateDeflate("permessage-deflate; server_max_window_bits=8")!.params;
  const rand = (n: number): Uint8Array =>
    crypto.getRandomValues(new Uint8Array(n));
  const sizes = (distance: number): [number, number] => {
    const x = rand(40);
    const data = cat(x, rand(distance - 40), x);
    const small = new PerMessageDeflate("server", params);
    const big = new PerMessageDeflate("server", DEFAULTS);
    const r: [number, number] = [
      small.compress(data).length,
      big.compress(data).length,
    ];
    small.close();
    big.close();
    return r;
  };
  // A repeat within 250 bytes is found, one at 256 or more is not.
  for (const distance of [100, 200, 250]) {
    const [small, big] = sizes(distance);
    assert.ok(Math.abs(small - big) <= 2, `${distance}: ${small} vs ${big}`);
  }
  for (const distance of [251, 256, 300, 1000]) {
    const [small, big] = sizes(distance);
    assert.ok(small - big >= 20, `${distance}: ${small} vs ${big}`);
  }
  // And the output inflates with a small window.
  const d = new PerMessageDeflate("server", params);
  const data = te.encode("abcdefgh".repeat(200));
  const out = d.compress(data);
  const back = zlib.inflateRawSync(cat(out, bytes(0, 0, 0xff, 0xff)), {
    windowBits: 9,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
  });
  assert.deepEqual(new Uint8Array(back), data);
  d.close();
});

Deno.test("WsEncoder sends messages under the threshold uncompressed", () => {
  const d = new PerMessageDeflate("server", DEFAULTS, { threshold: 10 });
  const enc = new WsEncoder({ role: "server", deflate: d });
  assert.deepEqual(enc.text("short"), bytes(0x81, 5, ...te.encode("short")));
  const long = enc.text("long enough");
  assert.equal(long[0], 0xc1);
  // The peer decodes both kinds in one stream.
  const frames = cat(enc.text("short"), long, enc.text("x"));
  assert.deepEqual(decodeClient(frames, [3, 9]), [
    { type: "text", data: "short" },
    { type: "text", data: "long enough" },
    { type: "text", data: "x" },
  ]);
  d.close();
});

Deno.test("the one-shot fallback negotiates no context takeover and still works", () => {
  _setContextTakeover(false);
  try {
    assert.equal(supportsContextTakeover(), false);
    assert.equal(
      deflateOffer(),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits",
    );
    const accepted = negotiateDeflate(
      "permessage-deflate; client_max_window_bits",
    )!;
    assert.equal(
      accepted.response,
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    );
    assert.equal(
      parseDeflateResponse("permessage-deflate"),
      null,
      "server must not keep context",
    );
    const server = new PerMessageDeflate("server", accepted.params);
    const client = new PerMessageDeflate(
      "client",
      parseDeflateResponse(accepted.response)!,
    );
    const sEnc = new WsEncoder({ role: "server", deflate: server });
    const cDec = new WsDecoder({
      role: "client",
      deflate: client,
      maxMessage: 2000,
    });
    const msg = "fallback ".repeat(100);
    const f = sEnc.text(msg);
    assert.deepEqual(sEnc.text(msg), f, "no context kept between messages");
    assert.deepEqual(cDec.push(f), [{ type: "text", data: msg }]);
    assert.deepEqual(cDec.push(f.subarray(0, 5)), []);
    assert.deepEqual(cDec.push(f.subarray(5)), [{ type: "text", data: msg }]);
    // The RFC's BFINAL example.
    assert.deepEqual(
      cDec.push(
        bytes(0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00),
      ),
      [hello],
    );
    // A bomb still stops at the limit.
    assert.throws(
      () => cDec.push(sEnc.binary(new Uint8Array(10_000_000))),
      (e) => e instanceof WsProtocolError && e.code === 1009,
    );
    const bad = new WsDecoder({ role: "client", deflate: client });
    assert.throws(
      () => bad.push(bytes(0xc1, 0x02, 0xff, 0xff)),
      (e) => e instanceof WsProtocolError && e.code === 1007,
    );
  } finally {
    _setContextTakeover(null);
  }
  assert.equal(
    supportsContextTakeover(),
    true,
    "Deno's node:zlib supports persistent sync streams",
  );
});

Deno.test("WsDecoder with deflate still reports invalid UTF-8 across fragments", () => {
  const server = new PerMessageDeflate("server", DEFAULTS);
  const part = server.compress(bytes(0x61, 0xe2, 0x82)); // "a" and 2 of the 3 bytes of "€"
  const input = cat(bytes(0x41, part.length), part, bytes(0x80, 0));
  expectError(input, 1007);
  server.close();
  const s2 = new PerMessageDeflate("server", DEFAULTS);
  const ok = s2.compress(te.encode("a€"));
  expectEvents(cat(bytes(0xc1, ok.length), ok), [{ type: "text", data: "a€" }]);
  s2.close();
});
