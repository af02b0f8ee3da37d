// Request bodies: read whole before the handler runs (the default), with a
// Content-Length straight into one buffer, chunked through the decoder; or
// streamed to the handler as it reads (`streamBody`). Limits: maxBody (the
// Content-Length is checked before, a chunked body while it is decoded) and
// bodyTimeout between reads (the connection is in the Body state meanwhile).

import { concat, Growing } from "../_bytes.ts";
import { Disconnect } from "../_byteconn.ts";
import { ChunkedDecoder } from "../http1/chunked.ts";
import type { RequestHead } from "../http1/head.ts";
import { State } from "./_core.ts";
import type { Output } from "./_output.ts";

/** Reads a body of `length` bytes: those buffered, then the socket's. */
export async function readLength(
  c: Output,
  length: number,
): Promise<Uint8Array> {
  const body = new Uint8Array(length);
  let have = Math.min(length, c.end - c.start);
  body.set(c.buf.subarray(c.start, c.start + have));
  c.start += have;
  c.enter(State.Body);
  while (have < length) {
    const n = await c.read(body.subarray(have));
    if (n === null) throw new Disconnect();
    have += n;
    c.since = c.core.tick;
  }
  return body;
}

/** Reads a chunked body whole, up to the server's maxBody. */
export async function readChunked(c: Output): Promise<Uint8Array> {
  const core = c.core;
  const max = core.maxBody;
  const dec = new ChunkedDecoder(
    core.limits.maxLine,
    core.limits.maxHeaderBytes,
    max,
  );
  // The decoder refuses a body past maxBody (413) before its data arrives.
  const body = new Growing(16 * 1024, max);
  const sink = (d: Uint8Array): void => body.push(d);
  c.enter(State.Body);
  for (;;) {
    c.start = dec.decode(c.buf, c.start, c.end, sink);
    if (dec.done) break;
    if (await c.fill() === null) throw new Disconnect();
    c.since = core.tick;
  }
  return body.bytes;
}

/** What a streamed body needs of its connection. */
export interface BodySocket extends Output {
  /** Reads more into the buffer, joining a read already under way. */
  readMore(): Promise<number | null>;
  /**
   * Reads into `dst` instead (0 when bytes arrived in the buffer meanwhile,
   * null at EOF).
   */
  readDirect(dst: Uint8Array): Promise<number | null>;
}

/** Read size while a body streams (the buffer grows to it, then shrinks). */
const STREAM_READ = 64 * 1024;
/**
 * Most body bytes the server reads and drops to keep the connection when a
 * handler answers without reading its body; past it the connection closes
 * after the response (Go's net/http uses the same bound).
 */
export const DISCARD_LIMIT = 256 * 1024;

/** The interim response a client that sent `Expect: 100-continue` waits for. */
export const CONTINUE: Uint8Array = new TextEncoder().encode(
  "HTTP/1.1 100 Continue\r\n\r\n",
);

/**
 * A request body handed to the handler as a stream pulled from the socket:
 * nothing is read before the handler asks for it, and no more than one
 * read buffer ahead of it, so a slow consumer holds the client back through
 * TCP. `100 Continue` goes out on the first read.
 */
export class StreamedBody {
  /** The stream the handler reads (also async-iterable). */
  readonly stream: ReadableStream<Uint8Array>;
  /** Every body byte has been handed out (or dropped). */
  done = false;
  /** Why the body failed: a limit (ProtocolError), the peer leaving. */
  error: unknown = null;
  readonly #c: BodySocket;
  readonly #head: RequestHead;
  // Content-Length bytes still to come, or -1 for a chunked body.
  #remaining: number;
  readonly #dec: ChunkedDecoder | null;
  #started = false;
  #dropped = false;

  /** The handler has started reading (the first read went out). */
  get started(): boolean {
    return this.#started;
  }
  // Body bytes handed out or dropped so far.
  #seen = 0;
  // The read of a pull under way; a discard waits for it.
  #pulling: Promise<void> | null = null;

  constructor(c: BodySocket, head: RequestHead, chunked: boolean) {
    this.#c = c;
    this.#head = head;
    const core = c.core;
    this.#remaining = chunked ? -1 : head.contentLength;
    this.#dec = chunked
      ? new ChunkedDecoder(
        core.limits.maxLine,
        core.limits.maxHeaderBytes,
        core.maxBody,
      )
      : null;
    this.stream = new ReadableStream<Uint8Array>({
      pull: (ctrl) => this.#pulling = this.#pull(ctrl),
      cancel: () => {
        // Whatever is left is dropped (or the connection closed) after the
        // response, as for a body the handler never read.
      },
    }, { highWaterMark: 0 });
    (this.stream as unknown as Record<symbol, unknown>)[STREAMED] = this;
  }

  async #pull(
    ctrl: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    try {
      if (this.#dropped) {
        throw new TypeError(
          "The request body was dropped: the response had already been sent",
        );
      }
      if (!this.#started) await this.#start();
      const chunk = await this.#next(true);
      if (chunk === null) ctrl.close();
      else ctrl.enqueue(chunk);
    } catch (err) {
      this.error ??= err;
      ctrl.error(err);
    } finally {
      this.#pulling = null;
    }
  }

  // The first read: the client that asked may now send the body.
  async #start(): Promise<void> {
    this.#started = true;
    const c = this.#c;
    const h = this.#head;
    if (h.expectContinue && c.start === c.end) {
      await c.write(CONTINUE);
    }
  }

  /**
   * The next body bytes (a copy, or nothing when `keep` is false), reading
   * the socket when none are buffered; null once the body is over.
   */
  async #next(keep: boolean): Promise<Uint8Array | null> {
    const c = this.#c;
    for (;;) {
      if (this.#remaining >= 0) {
        if (this.#remaining === 0) return this.#end();
        if (c.start < c.end) {
          const take = Math.min(this.#remaining, c.end - c.start);
          const out = keep ? c.buf.slice(c.start, c.start + take) : EMPTY;
          c.start += take;
          this.#seen += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.done = true;
          return out;
        }
      } else {
        const out = this.#decodeCopy(keep);
        if (out !== null) return out;
        if (this.#dec!.done) return this.#end();
      }
      await this.#read();
    }
  }

  // Chunked data in the buffer, copied out; null when there is none yet.
  #decodeCopy(keep: boolean): Uint8Array | null {
    const parts: Uint8Array[] = [];
    const total = this.#decode(keep ? (d) => parts.push(d.slice()) : NOTHING);
    if (total === 0) return null;
    return keep ? concat(parts, total) : EMPTY;
  }

  // Hands the chunked data in the buffer to `sink`; returns its length.
  #decode(sink: (d: Uint8Array) => void): number {
    const c = this.#c;
    if (c.start === c.end) return 0;
    let total = 0;
    c.start = this.#dec!.decode(c.buf, c.start, c.end, (d) => {
      total += d.length;
      sink(d);
    });
    if (this.#dec!.done) this.done = true;
    this.#seen += total;
    return total;
  }

  #end(): null {
    this.done = true;
    return null;
  }

  // Straight into `dst` (a whole body's own buffer).
  #readInto(dst: Uint8Array): Promise<number> {
    return this.#bodyRead(() => this.#c.readDirect(dst));
  }

  // Into the connection's buffer.
  async #read(): Promise<void> {
    const c = this.#c;
    // Large reads while a body streams (not while another read is under
    // way: its bytes go into the buffer it started with).
    c.reserve(STREAM_READ);
    await this.#bodyRead(() => c.readMore());
  }

  // One read of body bytes under the body's timeout; the state it left is
  // restored after. A client that leaves mid-body is a Disconnect.
  async #bodyRead(read: () => Promise<number | null>): Promise<number> {
    const c = this.#c;
    const prev = c.state;
    c.enter(State.Body);
    const n = await read();
    c.enter(prev === State.Body ? State.Handler : prev);
    if (n === null) {
      throw new Disconnect(
        "The client closed the connection before the end of the request body",
      );
    }
    return n;
  }

  /**
   * The whole body at once, read straight off the socket (no stream
   * machinery per chunk), for a consumer that wants it all, such as
   * `request.arrayBuffer()`. Only while nothing was read through the
   * stream; the stream then reads as used up.
   *
   * @returns The body, or null when the stream was already read from.
   */
  whole(): Promise<Uint8Array> | null {
    if (this.#started || this.#dropped || this.stream.locked) return null;
    // Lock the stream for good: a later reader finds it used, as a fetch
    // body is after arrayBuffer().
    this.stream.getReader();
    this.#dropped = true;
    return this.#readWhole();
  }

  // Reads go through the connection's shared read (a request.signal watch
  // may have one under way), and the bytes are copied out of its buffer.
  async #readWhole(): Promise<Uint8Array> {
    try {
      await this.#start();
      const c = this.#c;
      if (this.#remaining >= 0) {
        const out = new Uint8Array(this.#remaining);
        let at = 0;
        while (this.#remaining > 0) {
          if (c.start === c.end) {
            // Straight into the body: no copy out of the read buffer.
            const n = await this.#readInto(out.subarray(at));
            at += n;
            this.#remaining -= n;
            this.#seen += n;
            continue;
          }
          const take = Math.min(this.#remaining, c.end - c.start);
          out.set(c.buf.subarray(c.start, c.start + take), at);
          at += take;
          c.start += take;
          this.#remaining -= take;
          this.#seen += take;
        }
        this.done = true;
        return out;
      }
      // Decoded data goes straight into one growing buffer.
      const out = new Growing(16 * 1024, this.#c.core.maxBody);
      const sink = (d: Uint8Array): void => out.push(d);
      for (;;) {
        this.#decode(sink);
        if (this.#dec!.done) return out.bytes;
        await this.#read();
      }
    } catch (err) {
      this.error ??= err;
      throw err;
    }
  }

  /**
   * Whether the connection can go on once the handler answered without
   * reading the whole body: not when the client waits for a 100 Continue it
   * never got (it may never send the body), nor when more than
   * {@linkcode DISCARD_LIMIT} bytes are known to be left.
   */
  keepable(): boolean {
    if (this.done) return true;
    if (this.error !== null) return false;
    const h = this.#head;
    if (h.expectContinue && !this.#started) return false;
    if (this.#remaining < 0) return true;
    return this.#remaining - (this.#c.end - this.#c.start) <= DISCARD_LIMIT;
  }

  /**
   * Reads and drops what the handler left, up to {@linkcode DISCARD_LIMIT}
   * bytes, so the next request can be read.
   *
   * @returns false when the body could not be finished (close instead).
   */
  async discard(): Promise<boolean> {
    if (this.#pulling !== null) await this.#pulling.catch(() => {});
    this.#dropped = true;
    if (this.done) return true;
    if (this.error !== null || !this.keepable()) return false;
    const from = this.#seen;
    try {
      while (!this.done) {
        if (this.#seen - from > DISCARD_LIMIT) return false;
        await this.#next(false);
      }
    } catch {
      return false;
    }
    return true;
  }
}

const EMPTY = new Uint8Array(0);
const NOTHING = (): void => {};

/** Key of the StreamedBody behind a request body stream. */
export const STREAMED: unique symbol = Symbol("httpkit.streamedBody");
