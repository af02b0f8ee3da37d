// The frame level of the WebSocket codec (RFC 6455 section 5): opcodes, the
// events a decoder yields, masking, and whole frames built in one go. The
// decoder (decoder.ts) and the encoder (encoder.ts) build on it.

import { WsProtocolError } from "./errors.ts";

export { WsProtocolError };

/**
 * Opcode of a continuation frame.
 *
 * @example Reading an opcode
 * ```ts
 * import assert from "node:assert/strict";
 * const frame = encodeFrame(OP_CONT, new Uint8Array(0));
 * assert.equal(frame[0] & 0x0f, OP_CONT);
 * ```
 */
export const OP_CONT = 0;
/**
 * Opcode of a text frame.
 *
 * @example Reading an opcode
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(encodeFrame(OP_TEXT, new Uint8Array(0))[0], 0x81);
 * ```
 */
export const OP_TEXT = 1;
/**
 * Opcode of a binary frame.
 *
 * @example Reading an opcode
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(encodeFrame(OP_BINARY, new Uint8Array(0))[0], 0x82);
 * ```
 */
export const OP_BINARY = 2;
/**
 * Opcode of a close frame.
 *
 * @example Reading an opcode
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(encodeClose(1000)[0], 0x80 | OP_CLOSE);
 * ```
 */
export const OP_CLOSE = 8;
/**
 * Opcode of a ping frame.
 *
 * @example Reading an opcode
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(encodeFrame(OP_PING, new Uint8Array(0))[0], 0x89);
 * ```
 */
export const OP_PING = 9;
/**
 * Opcode of a pong frame.
 *
 * @example Reading an opcode
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(encodeFrame(OP_PONG, new Uint8Array(0))[0], 0x8a);
 * ```
 */
export const OP_PONG = 10;

/**
 * One thing decoded from the wire: a whole data message (reassembled and
 * decompressed), or a control frame. A close frame without a payload gives
 * code 1005 and an empty reason.
 *
 * @example Switching on the event type
 * ```ts
 * import assert from "node:assert/strict";
 * const describe = (e: WsEvent): string =>
 *   e.type === "close" ? `close ${e.code}` : e.type;
 * assert.ok(describe({ type: "close", code: 1000, reason: "" }) === "close 1000");
 * ```
 */
export type WsEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  | { type: "close"; code: number; reason: string };

/** An empty payload, shared. */
export const EMPTY: Uint8Array = new Uint8Array(0);
const _utf8 = new TextEncoder();

/** Close codes a peer may send (RFC 6455 7.4 plus the registered 1012-1014). */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * Unmasks (or masks: the operation is its own inverse) bytes in place.
 *
 * Works 8 bytes at a time through a `BigUint64Array` view over the aligned
 * part of `data`, and byte by byte for the rest.
 *
 * @param data The bytes to transform in place.
 * @param mask The 4-byte masking key.
 * @param offset Position of `data[0]` within the frame payload, so that a
 * payload can be unmasked in pieces. Defaults to 0.
 *
 * @example Masking twice restores the bytes
 * ```ts
 * import assert from "node:assert/strict";
 * const data = new Uint8Array([1, 2, 3, 4, 5]);
 * const mask = new Uint8Array([0xa, 0xb, 0xc, 0xd]);
 * unmask(data, mask);
 * assert.deepEqual(data, new Uint8Array([11, 9, 15, 9, 15]));
 * unmask(data.subarray(0, 2), mask, 0);
 * unmask(data.subarray(2), mask, 2);
 * assert.deepEqual(data, new Uint8Array([1, 2, 3, 4, 5]));
 * ```
 */
export function unmask(data: Uint8Array, mask: Uint8Array, offset = 0): void {
  const n = data.length;
  let i = 0;
  if (n >= 64) {
    // Byte by byte up to an 8-byte boundary, then 8 bytes per step: V8
    // compiles 64-bit BigInt XOR on a BigUint64Array to plain machine words,
    // twice as fast as 32-bit words.
    const head = (8 - (data.byteOffset & 7)) & 7;
    for (; i < head; i++) data[i] ^= mask[(offset + i) & 3];
    const words = (n - i) >>> 3;
    const p = offset + i;
    for (let k = 0; k < 8; k++) _mask8[k] = mask[(p + k) & 3];
    const m = _mask64[0];
    const view = new BigUint64Array(data.buffer, data.byteOffset + i, words);
    for (let k = 0; k < words; k++) view[k] ^= m;
    i += words << 3;
  }
  for (; i < n; i++) data[i] ^= mask[(offset + i) & 3];
}

const _mask64 = new BigUint64Array(1);
const _mask8 = new Uint8Array(_mask64.buffer);

// Masking keys come from a pool refilled by crypto.getRandomValues.
const _pool = new Uint8Array(4096);
let _poolPos = _pool.length;

/**
 * Builds one frame.
 *
 * @param opcode One of the `OP_*` opcodes.
 * @param payload The payload; copied, never modified.
 * @param opts `fin` (default true) ends the message; `rsv1` marks a
 * compressed first frame; `mask` (client role) masks the payload with a fresh
 * random key.
 * @returns The frame bytes, with the shortest length encoding.
 * @throws {RangeError} On an unknown opcode, or a control frame that is
 * fragmented or carries over 125 bytes.
 *
 * @example A fragmented message
 * ```ts
 * import assert from "node:assert/strict";
 * import { WsDecoder } from "./decoder.ts";
 * const first = encodeFrame(OP_TEXT, new TextEncoder().encode("he"), { fin: false });
 * const last = encodeFrame(OP_CONT, new TextEncoder().encode("y"));
 * assert.deepEqual(first, new Uint8Array([0x01, 2, 0x68, 0x65]));
 * const decoder = new WsDecoder({ role: "client" });
 * assert.deepEqual(decoder.push(first), []);
 * assert.deepEqual(decoder.push(last), [{ type: "text", data: "hey" }]);
 * ```
 */
export function encodeFrame(
  opcode: number,
  payload: Uint8Array,
  opts?: { fin?: boolean; rsv1?: boolean; mask?: boolean },
): Uint8Array {
  const fin = opts?.fin ?? true;
  const mask = opts?.mask ?? false;
  if (
    (opcode > 2 && opcode < 8) || opcode > 10 || opcode < 0 ||
    !Number.isInteger(opcode)
  ) {
    throw new RangeError(`Invalid opcode ${opcode}`);
  }
  const len = payload.length;
  if (opcode >= 8 && (len > 125 || !fin)) {
    throw new RangeError(`Invalid control frame: ${len} bytes, fin ${fin}`);
  }
  const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
  const hlen = 2 + ext + (mask ? 4 : 0);
  const out = new Uint8Array(hlen + len);
  frameHeader(out, (fin ? 0x80 : 0) | (opts?.rsv1 ? 0x40 : 0) | opcode, len);
  out.set(payload, hlen);
  if (mask) {
    out[1] |= 0x80;
    if (_poolPos === _pool.length) {
      crypto.getRandomValues(_pool);
      _poolPos = 0;
    }
    const k = 2 + ext;
    out.set(_pool.subarray(_poolPos, _poolPos + 4), k);
    _poolPos += 4;
    unmask(out.subarray(hlen), out.subarray(k, k + 4), 0);
  }
  return out;
}

// Writes a frame header without a masking key: the first byte, then the
// shortest length encoding. Returns its length.
export function frameHeader(
  out: Uint8Array,
  first: number,
  len: number,
): number {
  out[0] = first;
  if (len < 126) {
    out[1] = len;
    return 2;
  }
  if (len < 65536) {
    out[1] = 126;
    out[2] = len >>> 8;
    out[3] = len & 0xff;
    return 4;
  }
  out[1] = 127;
  const hi = Math.floor(len / 0x100000000);
  out[2] = hi >>> 24;
  out[3] = (hi >>> 16) & 0xff;
  out[4] = (hi >>> 8) & 0xff;
  out[5] = hi & 0xff;
  out[6] = len >>> 24;
  out[7] = (len >>> 16) & 0xff;
  out[8] = (len >>> 8) & 0xff;
  out[9] = len & 0xff;
  return 10;
}

/**
 * Builds a close frame.
 *
 * @param code The close code; omitted, the frame has an empty payload.
 * @param reason A UTF-8 reason, at most 123 bytes; needs a `code`.
 * @param mask Whether to mask the frame (client role). Defaults to false.
 * @returns The frame bytes.
 * @throws {RangeError} On a code a peer may not send (1004-1006, 1015,
 * below 1000, 1016-2999, 5000 and up) or a reason over 123 bytes.
 *
 * @example A normal closure
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(encodeClose(1000), new Uint8Array([0x88, 2, 0x03, 0xe8]));
 * assert.deepEqual(encodeClose(), new Uint8Array([0x88, 0]));
 * ```
 */
export function encodeClose(
  code?: number,
  reason = "",
  mask = false,
): Uint8Array {
  if (code === undefined) {
    if (reason !== "") throw new RangeError("A close reason needs a code");
    return encodeFrame(OP_CLOSE, EMPTY, { mask });
  }
  if (!Number.isInteger(code) || !validCloseCode(code)) {
    throw new RangeError(`Invalid close code ${code}`);
  }
  const text = _utf8.encode(reason);
  if (text.length > 123) {
    throw new RangeError(`Close reason of ${text.length} bytes is over 123`);
  }
  const payload = new Uint8Array(2 + text.length);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  payload.set(text, 2);
  return encodeFrame(OP_CLOSE, payload, { mask });
}
