/**
 * WebSocket codec micro-benchmarks: `deno bench -A bench/ws_bench.ts`.
 *
 * @module
 */

import zlib from "node:zlib";
import {
  encodeFrame,
  OP_BINARY,
  unmask,
  WsDecoder,
  WsEncoder,
} from "../ws/codec.ts";
import { PerMessageDeflate } from "../ws/deflate.ts";
import { negotiateDeflate } from "../ws/extensions.ts";

const SMALL = new Uint8Array(64).map((_, i) => i);
const LARGE = new Uint8Array(16 * 1024).map((_, i) => (i * 31) & 0xff);
const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

// 16 KiB of JSON-like text, deterministic.
const WORDS = [
  "alpha",
  "beta",
  "gamma",
  "delta",
  "user",
  "id",
  "name",
  "value",
  "true",
  "false",
  "null",
  "chat",
];
let seed = 7;
const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
let text = "";
while (text.length < 16 * 1024) {
  text += `{"${WORDS[next() % WORDS.length]}":"${WORDS[next() % WORDS.length]}${
    next() % 1000
  }"},`;
}
const TEXT = new TextEncoder().encode(text.slice(0, 16 * 1024));

const serverFrameSmall = encodeFrame(OP_BINARY, SMALL);
const clientFrameSmall = encodeFrame(OP_BINARY, SMALL, { mask: true });
const serverFrameLarge = encodeFrame(OP_BINARY, LARGE);
const clientFrameLarge = encodeFrame(OP_BINARY, LARGE, { mask: true });

// Decoders live across iterations, as they do on a connection.
const clientDecoder = new WsDecoder({ role: "client" });
const serverDecoder = new WsDecoder({ role: "server" });

Deno.bench({
  name: "decode 64 B unmasked (client role)",
  group: "decode 64 B",
  baseline: true,
}, () => {
  clientDecoder.push(serverFrameSmall);
});
Deno.bench(
  { name: "decode 64 B masked (server role)", group: "decode 64 B" },
  () => {
    serverDecoder.push(clientFrameSmall);
  },
);
Deno.bench({
  name: "decode 16 KiB unmasked (client role)",
  group: "decode 16 KiB",
  baseline: true,
}, () => {
  clientDecoder.push(serverFrameLarge);
});
Deno.bench({
  name: "decode 16 KiB masked (server role)",
  group: "decode 16 KiB",
}, () => {
  serverDecoder.push(clientFrameLarge);
});

const serverEncoder = new WsEncoder({ role: "server" });
const clientEncoder = new WsEncoder({ role: "client" });

Deno.bench({
  name: "encode 64 B unmasked (server role)",
  group: "encode 64 B",
  baseline: true,
}, () => {
  serverEncoder.binary(SMALL);
});
Deno.bench(
  { name: "encode 64 B masked (client role)", group: "encode 64 B" },
  () => {
    clientEncoder.binary(SMALL);
  },
);
Deno.bench({
  name: "encode 16 KiB unmasked (server role)",
  group: "encode 16 KiB",
  baseline: true,
}, () => {
  serverEncoder.binary(LARGE);
});
Deno.bench({
  name: "encode 16 KiB masked (client role)",
  group: "encode 16 KiB",
}, () => {
  clientEncoder.binary(LARGE);
});

function unmaskByteLoop(
  data: Uint8Array,
  mask: Uint8Array,
  offset: number,
): void {
  for (let i = 0; i < data.length; i++) data[i] ^= mask[(offset + i) & 3];
}
const scratch = LARGE.slice();

Deno.bench({
  name: "unmask 16 KiB byte by byte",
  group: "unmask 16 KiB",
  baseline: true,
}, () => {
  unmaskByteLoop(scratch, MASK, 0);
});
Deno.bench({
  name: "unmask 16 KiB 8 bytes at a time (BigUint64Array)",
  group: "unmask 16 KiB",
}, () => {
  unmask(scratch, MASK, 0);
});
Deno.bench(
  { name: "unmask 16 KiB unaligned view", group: "unmask 16 KiB" },
  () => {
    unmask(scratch.subarray(1), MASK, 1);
  },
);

// permessage-deflate without context takeover, so every iteration does the
// same work as a fresh message.
const params = negotiateDeflate(
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
)!
  .params;
const server = new PerMessageDeflate("server", params);
const client = new PerMessageDeflate("client", params);
const compressed = server.compress(TEXT);
const SYNC = zlib.constants.Z_SYNC_FLUSH;
const withTail = new Uint8Array([...compressed, 0, 0, 0xff, 0xff]);

Deno.bench({
  name: "compress 16 KiB text, one-shot deflateRawSync",
  group: "compress 16 KiB",
  baseline: true,
}, () => {
  zlib.deflateRawSync(TEXT, { finishFlush: SYNC });
});
Deno.bench({
  name: "compress 16 KiB text, persistent stream",
  group: "compress 16 KiB",
}, () => {
  server.compress(TEXT);
});
Deno.bench(
  {
    name: "decompress 16 KiB text, one-shot inflateRawSync",
    group: "decompress 16 KiB",
    baseline: true,
  },
  () => {
    zlib.inflateRawSync(withTail, {
      finishFlush: SYNC,
      maxOutputLength: 1 << 22,
    });
  },
);
Deno.bench({
  name: "decompress 16 KiB text, persistent stream",
  group: "decompress 16 KiB",
}, () => {
  client.decompress(compressed, true, 1 << 22);
});
Deno.bench({
  name: "decode 16 KiB compressed text message (client role)",
  group: "decompress 16 KiB",
}, () => {
  deflateDecoder.push(compressedFrame);
});
const deflateDecoder = new WsDecoder({
  role: "client",
  deflate: new PerMessageDeflate("client", params),
});
const compressedFrame = encodeFrame(1, compressed, { rsv1: true });
