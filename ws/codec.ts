/**
 * Sans-IO WebSocket frame codec (RFC 6455), with optional permessage-deflate
 * (RFC 7692) through a {@linkcode PerMessageDeflate}.
 *
 * Feed the bytes read from a socket to {@linkcode WsDecoder.push} and get back
 * the complete messages and control frames they finish; build the bytes to
 * write with {@linkcode WsEncoder} or {@linkcode encodeFrame}. Nothing here
 * touches a socket, a timer or a Promise.
 *
 * @example Echo one text message, server side
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const client = new WsEncoder({ role: "client" });
 * const server = new WsDecoder({ role: "server" });
 * const [event] = server.push(client.text("hi"));
 * assert.deepEqual(event, { type: "text", data: "hi" });
 * ```
 *
 * @module
 */

import type { PerMessageDeflate } from "./deflate.ts";
import { WsProtocolError } from "./errors.ts";
import { concat } from "../_bytes.ts";

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

/**
 * Options of a {@linkcode WsDecoder}.
 *
 * @example Options for a server that accepts 1 MiB messages
 * ```ts
 * import assert from "node:assert/strict";
 * const opts: WsDecoderOptions = { role: "server", maxMessage: 1 << 20 };
 * assert.ok(new WsDecoder(opts).closed === false);
 * ```
 */
export interface WsDecoderOptions {
  /**
   * Which side decodes: a `"server"` expects masked frames, a `"client"`
   * expects unmasked ones.
   */
  role: "server" | "client";
  /**
   * Largest message accepted, in bytes, after reassembly and decompression.
   * Defaults to 4 MiB.
   */
  maxMessage?: number;
  /** The negotiated permessage-deflate state, if any. */
  deflate?: PerMessageDeflate | null;
}

const _MAX_MESSAGE = 4 * 1024 * 1024;
// Scratch space shared by all connections, used synchronously: the masking
// key of the frame being unmasked and the header of the frame being queued.
const _key = new Uint8Array(4);
const _frameHead = new Uint8Array(10);
const _EMPTY: Uint8Array = new Uint8Array(0);
const _utf8 = new TextEncoder();
const _reasonDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

/** Close codes a peer may send (RFC 6455 7.4 plus the registered 1012-1014). */
function _validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * Incremental WebSocket frame decoder for one connection.
 *
 * It keeps only the state of the frame and message in progress; every byte
 * it must keep is copied, so the caller may reuse its read buffer as soon as
 * {@linkcode WsDecoder.push} returns (unless it gave the buffer up: see the
 * `owned` flag of `push`). Once it has decoded a close frame or thrown, it
 * ignores further input.
 *
 * @example Decoding a masked frame split across two reads
 * ```ts
 * import assert from "node:assert/strict";
 * const frame = encodeFrame(OP_BINARY, new Uint8Array([1, 2, 3]), { mask: true });
 * const decoder = new WsDecoder({ role: "server" });
 * assert.deepEqual(decoder.push(frame.subarray(0, 4)), []);
 * const [event] = decoder.push(frame.subarray(4));
 * assert.deepEqual(event, { type: "binary", data: new Uint8Array([1, 2, 3]) });
 * ```
 */
export class WsDecoder {
  #server: boolean;
  #max: number;
  #deflate: PerMessageDeflate | null;
  #closed = false;
  // Frame header in progress, when it straddles reads.
  // Allocated on first use: most connections never see a header split.
  #hdr: Uint8Array | null = null;
  #hdrLen = 0;
  // Frame in progress (after its header).
  #inPayload = false;
  #fin = false;
  #op = 0;
  #masked = false;
  // The masking key's 4 bytes, as one number (an idle connection keeps no
  // buffer for it).
  #mask = 0;
  #len = 0;
  #got = 0;
  #ctl: Uint8Array[] = [];
  // Message in progress: #msgOp is 0 when none.
  #msgOp = 0;
  #compressed = false;
  #wire = 0;
  #size = 0;
  #bin: Uint8Array[] = [];
  #text: string[] = [];
  #td: TextDecoder | null = null;
  // The chunk being decoded may be kept and changed (see push).
  #owned = false;
  #retained = false;

  /**
   * Creates a decoder for one connection.
   *
   * @param opts The role, the message limit and the deflate state.
   */
  constructor(opts: WsDecoderOptions) {
    this.#server = opts.role === "server";
    this.#max = opts.maxMessage ?? _MAX_MESSAGE;
    this.#deflate = opts.deflate ?? null;
  }

  /**
   * Whether the decoder has seen a close frame or a protocol error, and so
   * ignores further input.
   *
   * @example After a close frame
   * ```ts
   * import assert from "node:assert/strict";
   * const decoder = new WsDecoder({ role: "client" });
   * decoder.push(encodeClose(1000));
   * assert.ok(decoder.closed);
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Feeds bytes read from the peer.
   *
   * @param chunk The bytes, in wire order. Not modified and not retained,
   * unless `owned`.
   * @param owned The caller gives `chunk` up: the decoder unmasks it in place
   * and binary messages may be views of it (no copy). Afterwards,
   * {@linkcode WsDecoder.retained} tells whether its memory may be reused.
   * @returns The events these bytes complete, in order (often none).
   * @throws {WsProtocolError} On any protocol violation; the decoder is then
   * closed.
   *
   * @example Two frames in one read
   * ```ts
   * import assert from "node:assert/strict";
   * const enc = new WsEncoder({ role: "server" });
   * const bytes = new Uint8Array([...enc.ping(), ...enc.text("ok")]);
   * const events = new WsDecoder({ role: "client" }).push(bytes);
   * assert.deepEqual(events.map((e) => e.type), ["ping", "text"]);
   * ```
   */
  push(chunk: Uint8Array, owned = false): WsEvent[] {
    const events: WsEvent[] = [];
    this.#retained = false;
    if (this.#closed) return events;
    this.#owned = owned;
    try {
      this.#run(chunk, events);
      // Pieces of a message still in progress stay views of the chunk.
      if (owned && this.#bin.length > 0) this.#retained = true;
    } catch (e) {
      this.#closed = true;
      if (e instanceof WsProtocolError) throw e;
      throw new WsProtocolError(1011, `Internal error: ${e}`);
    }
    return events;
  }

  /**
   * Whether the last chunk pushed as `owned` is still in use (by a returned
   * message or one in progress): if so, the caller reads into new memory.
   *
   * @example A large binary message is a view of the chunk it came in
   * ```ts
   * import assert from "node:assert/strict";
   * const frame = encodeFrame(OP_BINARY, new Uint8Array(4096), { mask: true });
   * const decoder = new WsDecoder({ role: "server" });
   * const [event] = decoder.push(frame, true);
   * assert.ok(decoder.retained);
   * assert.equal(event.type === "binary" && event.data.buffer, frame.buffer);
   * ```
   */
  get retained(): boolean {
    return this.#retained;
  }

  #run(chunk: Uint8Array, events: WsEvent[]): void {
    const n = chunk.length;
    let pos = 0;
    while (!this.#closed) {
      if (!this.#inPayload) {
        if (this.#hdrLen === 0) {
          const used = this.#header(chunk, pos, n - pos);
          if (used === 0) {
            (this.#hdr ??= new Uint8Array(14)).set(chunk.subarray(pos, n));
            this.#hdrLen = n - pos;
            return;
          }
          pos += used;
        } else {
          const before = this.#hdrLen;
          const add = Math.min(14 - before, n - pos);
          this.#hdr!.set(chunk.subarray(pos, pos + add), before);
          this.#hdrLen += add;
          const used = this.#header(this.#hdr!, 0, this.#hdrLen);
          if (used === 0) return; // pos + add === n here
          this.#hdrLen = 0;
          pos += used - before;
        }
        if (this.#len === 0) {
          this.#endFrame(events);
          continue;
        }
      }
      if (pos >= n) return;
      const take = Math.min(this.#len - this.#got, n - pos);
      // An owned chunk is unmasked where it lies; control frames and
      // compressed data (which the inflater may keep) are copied anyway.
      const piece = this.#owned && this.#op < 8 && !this.#compressed
        ? chunk.subarray(pos, pos + take)
        : chunk.slice(pos, pos + take);
      if (this.#masked) {
        const m = this.#mask;
        _key[0] = m >>> 24;
        _key[1] = (m >>> 16) & 0xff;
        _key[2] = (m >>> 8) & 0xff;
        _key[3] = m & 0xff;
        unmask(piece, _key, this.#got);
      }
      pos += take;
      this.#got += take;
      if (this.#op >= 8) this.#ctl.push(piece);
      else this.#data(piece);
      if (this.#got === this.#len) this.#endFrame(events);
    }
  }

  /**
   * Parses and checks a frame header from `buf[off..off+avail)`.
   * Returns its length, or 0 when more bytes are needed.
   */
  #header(buf: Uint8Array, off: number, avail: number): number {
    if (avail < 2) return 0;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    const op = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    if ((op > 2 && op < 8) || op > 10) {
      throw new WsProtocolError(1002, `Unknown opcode ${op}`);
    }
    const control = op >= 8;
    if ((b0 & 0x30) !== 0) {
      throw new WsProtocolError(1002, "RSV2 or RSV3 set");
    }
    if ((b0 & 0x40) !== 0 && (this.#deflate === null || op === 0 || control)) {
      throw new WsProtocolError(
        1002,
        this.#deflate === null
          ? "RSV1 set without a negotiated extension"
          : "RSV1 set on a control or continuation frame",
      );
    }
    if (control) {
      if ((b0 & 0x80) === 0) {
        throw new WsProtocolError(1002, "Fragmented control frame");
      }
      if (len7 > 125) {
        throw new WsProtocolError(1002, "Control frame payload over 125 bytes");
      }
    } else if (op === 0) {
      if (this.#msgOp === 0) {
        throw new WsProtocolError(1002, "Continuation frame without a message");
      }
    } else if (this.#msgOp !== 0) {
      throw new WsProtocolError(1002, "New message inside a fragmented one");
    }
    if (masked !== this.#server) {
      throw new WsProtocolError(
        1002,
        this.#server
          ? "Unmasked frame from a client"
          : "Masked frame from a server",
      );
    }
    const need = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) +
      (masked ? 4 : 0);
    if (avail < need) return 0;
    let len = len7;
    let p = off + 2;
    if (len7 === 126) {
      len = (buf[p] << 8) | buf[p + 1];
      p += 2;
      if (len < 126) {
        throw new WsProtocolError(1002, "Non-minimal 16-bit payload length");
      }
    } else if (len7 === 127) {
      const hi = ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) |
        buf[p + 3]) >>> 0;
      const lo = ((buf[p + 4] << 24) | (buf[p + 5] << 16) | (buf[p + 6] << 8) |
        buf[p + 7]) >>> 0;
      p += 8;
      if (hi >= 0x80000000) {
        throw new WsProtocolError(
          1002,
          "Most significant bit of 64-bit length set",
        );
      }
      len = hi * 0x100000000 + lo;
      if (len < 65536) {
        throw new WsProtocolError(1002, "Non-minimal 64-bit payload length");
      }
    }
    if (!control) {
      const before = op === 0 ? this.#wire : 0;
      if (before + len > this.#max) {
        throw new WsProtocolError(1009, `Message over ${this.#max} bytes`);
      }
      if (op !== 0) {
        this.#msgOp = op;
        this.#compressed = (b0 & 0x40) !== 0;
        this.#wire = 0;
        this.#size = 0;
      }
      this.#wire += len;
    }
    if (masked) {
      this.#mask = ((buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) |
        buf[p + 3]) >>> 0;
    }
    this.#inPayload = true;
    this.#fin = (b0 & 0x80) !== 0;
    this.#op = op;
    this.#masked = masked;
    this.#len = len;
    this.#got = 0;
    return need;
  }

  /** Takes one unmasked piece of a data frame's payload. */
  #data(piece: Uint8Array): void {
    if (this.#compressed) {
      const out = this.#deflate!.decompress(
        piece,
        false,
        this.#max - this.#size,
      );
      if (out.length > 0) this.#sink(out);
    } else {
      this.#sink(piece);
    }
  }

  /** Takes decoded message bytes. */
  #sink(bytes: Uint8Array): void {
    this.#size += bytes.length;
    if (this.#size > this.#max) {
      throw new WsProtocolError(1009, `Message over ${this.#max} bytes`);
    }
    if (this.#msgOp === OP_TEXT) {
      let s: string;
      try {
        this.#td ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
        s = this.#td.decode(bytes, { stream: true });
      } catch {
        throw new WsProtocolError(1007, "Invalid UTF-8 in a text message");
      }
      if (s.length > 0) this.#text.push(s);
    } else {
      this.#bin.push(bytes);
    }
  }

  #endFrame(events: WsEvent[]): void {
    this.#inPayload = false;
    const op = this.#op;
    if (op >= 8) {
      const data = concat(this.#ctl, this.#len);
      this.#ctl = [];
      if (op === OP_PING) events.push({ type: "ping", data });
      else if (op === OP_PONG) events.push({ type: "pong", data });
      else {
        events.push(this.#close(data));
        this.#closed = true;
      }
      return;
    }
    if (!this.#fin) return;
    if (this.#compressed && this.#wire > 0) {
      const out = this.#deflate!.decompress(
        _EMPTY,
        true,
        this.#max - this.#size,
      );
      if (out.length > 0) this.#sink(out);
    }
    if (this.#msgOp === OP_TEXT) {
      let tail: string;
      try {
        tail = this.#td?.decode() ?? "";
      } catch {
        throw new WsProtocolError(
          1007,
          "Truncated UTF-8 at the end of a text message",
        );
      }
      const parts = this.#text;
      const data = parts.length === 0
        ? tail
        : parts.length === 1
        ? parts[0] + tail
        : parts.join("") + tail;
      events.push({ type: "text", data });
      this.#text = [];
    } else {
      events.push({ type: "binary", data: this.#binary() });
      this.#bin = [];
    }
    this.#msgOp = 0;
  }

  // The whole binary message. A view of an owned chunk is handed out as it
  // is when it fills a good part of the chunk; a small one is copied, so that
  // keeping a small message does not keep a large read buffer.
  #binary(): Uint8Array {
    const bin = this.#bin;
    if (bin.length !== 1 || !this.#owned) return concat(bin, this.#size);
    const data = bin[0];
    if (data.length * 4 < data.buffer.byteLength) return data.slice();
    this.#retained = true;
    return data;
  }

  #close(data: Uint8Array): WsEvent {
    if (data.length === 0) return { type: "close", code: 1005, reason: "" };
    if (data.length === 1) {
      throw new WsProtocolError(1002, "Close payload of 1 byte");
    }
    const code = (data[0] << 8) | data[1];
    if (!_validCloseCode(code)) {
      throw new WsProtocolError(1002, `Invalid close code ${code}`);
    }
    let reason: string;
    try {
      // A separate decoder: a fragmented text message may be in progress.
      reason = _reasonDecoder.decode(data.subarray(2));
    } catch {
      throw new WsProtocolError(1007, "Invalid UTF-8 in a close reason");
    }
    return { type: "close", code, reason };
  }
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
  _header(out, (fin ? 0x80 : 0) | (opts?.rsv1 ? 0x40 : 0) | opcode, len);
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
function _header(out: Uint8Array, first: number, len: number): number {
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
    return encodeFrame(OP_CLOSE, _EMPTY, { mask });
  }
  if (!Number.isInteger(code) || !_validCloseCode(code)) {
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

/**
 * Builds whole frames for one connection: masked for the client role,
 * unmasked for the server role, and data messages compressed when
 * permessage-deflate was negotiated.
 *
 * @example Server frames
 * ```ts
 * import assert from "node:assert/strict";
 * const enc = new WsEncoder({ role: "server" });
 * assert.deepEqual(enc.text("Hi"), new Uint8Array([0x81, 2, 0x48, 0x69]));
 * assert.deepEqual(enc.pong(), new Uint8Array([0x8a, 0]));
 * ```
 */
export class WsEncoder {
  #mask: boolean;
  #deflate: PerMessageDeflate | null;

  /**
   * Creates an encoder for one connection.
   *
   * @param opts The role and the negotiated deflate state, if any.
   */
  constructor(
    opts: { role: "server" | "client"; deflate?: PerMessageDeflate | null },
  ) {
    this.#mask = opts.role === "client";
    this.#deflate = opts.deflate ?? null;
  }

  /**
   * Builds a text message in one frame.
   *
   * @param s The text.
   * @returns The frame bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * assert.ok(new WsEncoder({ role: "server" }).text("abc").length === 5);
   * ```
   */
  text(s: string): Uint8Array {
    return this.#message(OP_TEXT, _utf8.encode(s));
  }

  /**
   * Builds a binary message in one frame.
   *
   * @param b The bytes.
   * @returns The frame bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const frame = new WsEncoder({ role: "client" }).binary(new Uint8Array(3));
   * assert.ok(frame.length === 2 + 4 + 3);
   * ```
   */
  binary(b: Uint8Array): Uint8Array {
    return this.#message(OP_BINARY, b);
  }

  /**
   * Builds a ping frame.
   *
   * @param b Application data, at most 125 bytes. Defaults to none.
   * @returns The frame bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * assert.ok(new WsEncoder({ role: "server" }).ping()[0] === 0x89);
   * ```
   */
  ping(b: Uint8Array = _EMPTY): Uint8Array {
    return encodeFrame(OP_PING, b, { mask: this.#mask });
  }

  /**
   * Builds a pong frame.
   *
   * @param b The data of the ping it answers, at most 125 bytes.
   * @returns The frame bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * assert.ok(new WsEncoder({ role: "server" }).pong()[0] === 0x8a);
   * ```
   */
  pong(b: Uint8Array = _EMPTY): Uint8Array {
    return encodeFrame(OP_PONG, b, { mask: this.#mask });
  }

  /**
   * Builds a close frame; see {@linkcode encodeClose}.
   *
   * @param code The close code; omitted, the payload is empty.
   * @param reason A reason of at most 123 UTF-8 bytes.
   * @returns The frame bytes.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * assert.ok(new WsEncoder({ role: "server" }).close(1001)[3] === 0xe9);
   * ```
   */
  close(code?: number, reason?: string): Uint8Array {
    return encodeClose(code, reason, this.#mask);
  }

  /**
   * Frames a data message for a writer that copies what it is given: calls
   * `write(head, body)` once and returns what it returns. In the server role
   * `head` is the frame header (a view of a scratch buffer, valid during the
   * call) and `body` the payload, compressed when negotiated: the payload is
   * not copied here. In the client role the frame is built whole (it is
   * masked) and `body` is empty.
   *
   * @param op {@linkcode OP_TEXT} or {@linkcode OP_BINARY}.
   * @param payload The message bytes.
   * @param write Takes the frame's bytes.
   * @returns What `write` returned.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * const enc = new WsEncoder({ role: "server" });
   * const sizes: number[] = [];
   * enc.frame(OP_BINARY, new Uint8Array(300), (head, body) => {
   *   sizes.push(head.length, body.length);
   *   return true;
   * });
   * assert.deepEqual(sizes, [4, 300]);
   * ```
   */
  frame(
    op: number,
    payload: Uint8Array,
    write: (head: Uint8Array, body: Uint8Array) => boolean,
  ): boolean {
    if (this.#mask) return write(this.#message(op, payload), _EMPTY);
    const d = this.#deflate;
    let first = 0x80 | op;
    if (d !== null && d.shouldCompress(payload.length)) {
      payload = d.compress(payload);
      first |= 0x40;
    }
    const n = _header(_frameHead, first, payload.length);
    return write(_frameHead.subarray(0, n), payload);
  }

  #message(op: number, payload: Uint8Array): Uint8Array {
    const d = this.#deflate;
    if (d !== null && d.shouldCompress(payload.length)) {
      return encodeFrame(op, d.compress(payload), {
        rsv1: true,
        mask: this.#mask,
      });
    }
    return encodeFrame(op, payload, { mask: this.#mask });
  }
}
