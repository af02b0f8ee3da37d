// The WebSocket encoder: the frames a channel sends, masked on the client
// side, compressed when permessage-deflate was agreed.

import type { PerMessageDeflate } from "./deflate.ts";
import {
  EMPTY,
  encodeClose,
  encodeFrame,
  frameHeader,
  OP_BINARY,
  OP_PING,
  OP_PONG,
  OP_TEXT,
} from "./frame.ts";

// Scratch space shared by all connections, used synchronously: the header
// of the frame being queued.
const _frameHead = new Uint8Array(10);
const _utf8 = new TextEncoder();

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
  ping(b: Uint8Array = EMPTY): Uint8Array {
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
  pong(b: Uint8Array = EMPTY): Uint8Array {
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
   *
   * import { OP_BINARY } from "./frame.ts";
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
    if (this.#mask) return write(this.#message(op, payload), EMPTY);
    const d = this.#deflate;
    let first = 0x80 | op;
    if (d !== null && d.shouldCompress(payload.length)) {
      payload = d.compress(payload);
      first |= 0x40;
    }
    const n = frameHeader(_frameHead, first, payload.length);
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
