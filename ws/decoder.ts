// The WebSocket decoder: a state machine fed the bytes read from a socket,
// giving back the complete messages (reassembled, decompressed, UTF-8
// checked) and control frames they finish.

import { concat } from "../_bytes.ts";
import type { PerMessageDeflate } from "./deflate.ts";
import {
  EMPTY,
  OP_PING,
  OP_PONG,
  OP_TEXT,
  unmask,
  validCloseCode,
  type WsEvent,
  WsProtocolError,
} from "./frame.ts";

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
// key of the frame being unmasked.
const _key = new Uint8Array(4);
const _reasonDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

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
 * import { encodeFrame, OP_BINARY } from "./frame.ts";
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
  // #td holds a partial message's state (a streaming decode is under way).
  #streaming = false;
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
   *
   * import { encodeClose } from "./frame.ts";
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
   *
   * import { WsEncoder } from "./encoder.ts";
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
   *
   * import { encodeFrame, OP_BINARY } from "./frame.ts";
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
      // A message whole in one piece (the usual small one) is decoded in one
      // call: a streaming decode costs the runtime a decoder per message.
      const whole = !this.#streaming && this.#size === bytes.length &&
        this.#fin && !this.#compressed && this.#got === this.#len;
      let s: string;
      try {
        const td = this.#td ??= new TextDecoder("utf-8", {
          fatal: true,
          ignoreBOM: true,
        });
        if (whole) s = td.decode(bytes);
        else {
          this.#streaming = true;
          s = td.decode(bytes, { stream: true });
        }
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
        EMPTY,
        true,
        this.#max - this.#size,
      );
      if (out.length > 0) this.#sink(out);
    }
    if (this.#msgOp === OP_TEXT) {
      let tail: string;
      try {
        tail = this.#streaming ? this.#td!.decode() : "";
        this.#streaming = false;
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
    if (!validCloseCode(code)) {
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
