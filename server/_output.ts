// What goes out of a server connection: responses queued as text or bytes,
// merged into as few writes as possible, small ones encoded into pooled
// buffers, and complete error replies. The write timeout applies while a
// write is under way.

import { ByteConn } from "../_byteconn.ts";
import { concat } from "../_bytes.ts";
import { ProtocolError } from "../http1/errors.ts";
import { latin1Bytes, statusLine } from "../http1/serialize.ts";
import { STATUS_TEXT } from "../http1/status.ts";
import { type Core, State } from "./_core.ts";

const encoder = new TextEncoder();

/** Read buffer of a quiet connection; grows on demand, shrinks when idle. */
const SMALL_BUFFER = 1024;
/** Responses with bodies up to this size are merged into one write. */
export const MERGE_LIMIT = 16 * 1024;

/** A server connection's socket, state and output queue. */
export class Output extends ByteConn {
  /** What the connection's server shares with it. */
  readonly core: Core;
  /** One of {@linkcode State}: what the connection waits for. */
  state: number = State.Head;
  /** When the state began: the sweep tick then (see {@linkcode Core}). */
  since: number;
  // Responses queued for one merged write: text not yet encoded, then parts.
  #text = "";
  #parts: Uint8Array[] = [];

  constructor(conn: Deno.Conn, core: Core) {
    super(conn, SMALL_BUFFER);
    this.core = core;
    this.since = core.tick;
  }

  /** Moves to `state`, starting its timeout. */
  enter(state: number): void {
    this.state = state;
    this.since = this.core.tick;
  }

  /** Queues head text; a head with latin1 values goes as bytes at once. */
  queueHead(h: string, latin1: boolean): void {
    if (latin1) this.queueBytes(latin1Bytes(h));
    else this.#text += h;
  }

  /** Queues body text, to go out as UTF-8. */
  queueText(s: string): void {
    this.#text += s;
  }

  /** Queues bytes; the caller gives them up until they are written. */
  queueBytes(b: Uint8Array): void {
    if (this.#text !== "") {
      this.#parts.push(encoder.encode(this.#text));
      this.#text = "";
    }
    this.#parts.push(b);
  }

  /** Whether anything waits to be written. */
  get hasQueued(): boolean {
    return this.#text !== "" || this.#parts.length > 0;
  }

  /** About how many bytes are queued (text counted in chars). */
  get queued(): number {
    let n = this.#text.length;
    for (const p of this.#parts) n += p.length;
    return n;
  }

  /**
   * The queued output when it is exactly one array of bytes (one cached
   * response, the most common output), taken off the queue; else null. The
   * request loop writes it itself: going through flush() would cost two
   * Promises more per request.
   */
  takeSingle(): Uint8Array | null {
    const parts = this.#parts;
    // pop() keeps the array's room for the next push; length = 0 drops it.
    return parts.length === 1 && this.#text === "" ? parts.pop()! : null;
  }

  /** Writes everything queued, merged into one write. */
  flush(): Promise<void> {
    if (this.#parts.length === 0) {
      const text = this.#text;
      if (text === "") return Promise.resolve();
      this.#text = "";
      if (text.length <= POOLED / 3) return this.#writePooled(text);
      return this.write(encoder.encode(text));
    }
    if (this.#text !== "") this.#parts.push(encoder.encode(this.#text));
    const parts = this.#parts;
    this.#parts = [];
    this.#text = "";
    if (parts.length === 1) return this.write(parts[0]);
    return this.#writeParts(parts);
  }

  // Small parts are merged into one write; a large body goes out as it is:
  // copying it next to its head would cost a large allocation per response
  // (and the garbage collections that follow) to save one write.
  async #writeParts(parts: Uint8Array[]): Promise<void> {
    let run: Uint8Array[] = [];
    let runBytes = 0;
    for (const p of parts) {
      if (p.length > MERGE_LIMIT) {
        if (run.length > 0) await this.write(concat(run, runBytes));
        run = [];
        runBytes = 0;
        await this.write(p);
      } else {
        run.push(p);
        runBytes += p.length;
      }
    }
    if (run.length > 0) await this.write(concat(run, runBytes));
  }

  // Encodes into a pooled buffer: allocating a fresh ArrayBuffer per
  // response costs more than everything else of a small response together.
  // A buffer goes back to the pool only once its write has finished.
  async #writePooled(text: string): Promise<void> {
    const buf = pool.pop() ?? new Uint8Array(POOLED);
    const len = encoder.encodeInto(text, buf).written;
    try {
      await this.write(buf.subarray(0, len));
    } finally {
      if (pool.length < POOL_MAX) pool.push(buf);
    }
  }

  /** Writes all of `b`, looping on partial writes, under the write timeout. */
  override async write(b: Uint8Array): Promise<void> {
    const prev = this.beginWrite();
    await super.write(b);
    this.endWrite(prev);
  }

  /** Enters the Write state; returns the state to come back to. */
  beginWrite(): number {
    const prev = this.state;
    this.enter(State.Write);
    return prev;
  }

  /** Leaves the Write state (unless something else moved on meanwhile). */
  endWrite(prev: number): void {
    if (this.state === State.Write) {
      this.state = prev;
      this.since = this.core.tick;
    }
  }

  // A peer that keeps taking bytes is slow, not stuck: writeTimeout counts
  // from the last progress.
  override progress(): void {
    this.since = this.core.tick;
  }

  /**
   * Answers a request that cannot be served (bad input, limits) with a short
   * reason and `Connection: close`; resolves to false (the connection ends).
   *
   * @throws Anything that is not a {@linkcode ProtocolError}.
   */
  refuse(err: unknown): Promise<boolean> {
    if (!(err instanceof ProtocolError)) throw err;
    this.core.warn(
      `Refused request from ${this.remoteAddr}: ${err.status} ${err.message}`,
    );
    return this.sendError(err.status, err.message).then(() => false);
  }

  /** The client's address: the socket peer, or what a PROXY header said. */
  remoteAddr = "";

  /** Writes a complete error response with `Connection: close`. */
  sendError(
    status: number,
    reason: string,
    headers?: Record<string, string>,
  ): Promise<void> {
    const text = `${reason || STATUS_TEXT[status] || "Error"}\n`;
    let extra = "";
    for (const name in headers) extra += `${name}: ${headers[name]}\r\n`;
    const h = statusLine(status) + this.core.date + this.core.serverLine +
      extra +
      "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n" +
      `Content-Length: ${utf8Length(text)}\r\n\r\n`;
    this.queueHead(h, false);
    this.#text += text;
    return this.flush();
  }
}

/** Size of a pooled output buffer; text up to a third of it always fits. */
const POOLED = 16 * 1024;
const POOL_MAX = 64;
const pool: Uint8Array[] = [];

/** UTF-8 length of a string, as TextEncoder would encode it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2;
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}
