// One published message, prepared lazily and once for every subscriber that
// needs it in a given shape: the UTF-8 bytes, the server's WebSocket frame
// (unmasked), that frame compressed once per set of deflate parameters (when
// there is no context takeover), the HTTP chunk, and the SSE event chunk.
// Channels queue these shared bytes as they are: nobody mutates them.

import { encodeChunk } from "../http1/chunked.ts";
import { formatSse } from "../server/sse_event.ts";
import { encodeFrame, OP_BINARY, OP_TEXT } from "../ws/codec.ts";
import type { Compressor, Prepared } from "../_hooks.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * How many times each shape was built (tests check that a publish builds
 * each one once, whatever the number of subscribers).
 */
export const builds = { frame: 0, deflate: 0, chunk: 0, sse: 0 };

/** A message on its way to the subscribers of one topic. */
export class Outgoing implements Prepared {
  /** What was published. */
  readonly value: string | Uint8Array;
  /** `true` for text (a WebSocket text frame), `false` for bytes. */
  readonly text: boolean;
  #bytes: Uint8Array | null;
  #string: string | null;
  #frame: Uint8Array | null = null;
  // The compressed frame for the first deflate parameters asked for, and a
  // map for any others (a server has one set unless told otherwise).
  #dKey: string | null = null;
  #dFrame: Uint8Array | null = null;
  #deflated: Map<string, Uint8Array> | null = null;
  #chunk: Uint8Array | null = null;
  #sse: Uint8Array | null = null;
  #sseChunk: Uint8Array | null = null;

  constructor(value: string | Uint8Array) {
    this.value = value;
    this.text = typeof value === "string";
    this.#bytes = typeof value === "string" ? null : value;
    this.#string = typeof value === "string" ? value : null;
  }

  /** The payload as bytes (UTF-8 for text). */
  bytes(): Uint8Array {
    return this.#bytes ??= encoder.encode(this.#string!);
  }

  /** The payload as text (bytes are read as UTF-8). */
  string(): string {
    return this.#string ??= decoder.decode(this.#bytes!);
  }

  /** The WebSocket opcode: text or binary. */
  get op(): number {
    return this.text ? OP_TEXT : OP_BINARY;
  }

  /** The server's uncompressed WebSocket frame. */
  frame(): Uint8Array {
    if (this.#frame === null) {
      builds.frame++;
      this.#frame = encodeFrame(this.op, this.bytes());
    }
    return this.#frame;
  }

  /**
   * The frame compressed by `d`, built once per `key`: `d` compresses each
   * message on its own (no context takeover), so every channel whose
   * parameters give the same key gets the same bytes.
   */
  deflatedFrame(key: string, d: Compressor): Uint8Array {
    if (this.#dKey === key) return this.#dFrame!;
    const known = this.#deflated?.get(key);
    if (known !== undefined) return known;
    builds.deflate++;
    const f = encodeFrame(this.op, d.compress(this.bytes()), { rsv1: true });
    if (this.#dKey === null) {
      this.#dKey = key;
      this.#dFrame = f;
    } else (this.#deflated ??= new Map()).set(key, f);
    return f;
  }

  /** The payload as one HTTP chunk. */
  chunk(): Uint8Array {
    if (this.#chunk === null) {
      builds.chunk++;
      this.#chunk = encodeChunk(this.bytes());
    }
    return this.#chunk;
  }

  /** The payload as the data of one SSE event. */
  sseBytes(): Uint8Array {
    return this.#sse ??= encoder.encode(formatSse(this.string()));
  }

  /** The payload as the data of one SSE event, as one HTTP chunk. */
  sseChunk(): Uint8Array {
    if (this.#sseChunk === null) {
      builds.sse++;
      this.#sseChunk = encodeChunk(this.sseBytes());
    }
    return this.#sseChunk;
  }
}
