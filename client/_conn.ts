// One client connection: a socket, a reused read buffer, and the idle/abort
// watch that closes the socket when the server goes quiet.

import type { ResponseHead } from "../http1/head.ts";
import { ClientError, netError } from "./errors.ts";
import { unrefInterval } from "../_timers.ts";

const INITIAL = 16384;
/** Longest response head kept for {@linkcode Connection.repeatedHead}. */
const REPEAT_MAX = 1024;

// Idle timeouts: one sweep for every watched connection, instead of a timer
// armed and cleared per request (that cost ~10 us of CPU a request). It
// ticks at a quarter of the shortest timeout (10-250 ms), is unref'd (a
// request in flight keeps the process alive by its socket), and stops once
// nothing has been watched for a whole tick.
class IdleWatch {
  #conns = new Set<Connection>();
  #timer = 0;
  #period = 0;
  #idleTicks = 0;

  add(c: Connection): void {
    this.#conns.add(c);
    const period = Math.min(250, Math.max(10, Math.floor(c.idleMs / 4)));
    if (this.#timer === 0 || period < this.#period) this.#start(period);
  }

  delete(c: Connection): void {
    this.#conns.delete(c);
  }

  #start(period: number): void {
    if (this.#timer !== 0) clearInterval(this.#timer);
    this.#period = period;
    this.#idleTicks = 0;
    this.#timer = unrefInterval(() => this.#tick(), period);
  }

  #tick(): void {
    if (this.#conns.size === 0) {
      if (++this.#idleTicks >= 2) {
        clearInterval(this.#timer);
        this.#timer = 0;
      }
      return;
    }
    this.#idleTicks = 0;
    const now = Date.now();
    for (const c of this.#conns) c.checkIdle(now);
  }
}

const idleWatch = new IdleWatch();

/** A pooled connection with its read buffer `buf[start, end)`. */
export class Connection {
  readonly conn: Deno.Conn;
  /** Pool key: scheme, host, port, trust and proxy. */
  readonly key: string;
  /** `host:port` for error messages. */
  readonly where: string;
  buf: Uint8Array = new Uint8Array(INITIAL);
  start = 0;
  end = 0;
  /** Requests completed on this connection (> 0: it was reused). */
  uses = 0;
  /** When a pooled connection stops being reusable. */
  expires = 0;
  closed = false;
  /** Set when the watch closed the socket; thrown by the pending I/O. */
  failure: ClientError | null = null;
  /** The last response head's bytes and parse, or null. */
  #lastHead: Uint8Array | null = null;
  #lastParsed: ResponseHead | null = null;
  /** Heads in a row that differed from the previous one. */
  #headMisses = 0;
  #busySince = 0;
  #idleMs = 0;
  #signal: AbortSignal | undefined = undefined;
  readonly #onAbort: () => void;

  constructor(conn: Deno.Conn, key: string, where: string) {
    this.conn = conn;
    this.key = key;
    this.where = where;
    this.#onAbort = () => {
      const reason = this.#signal?.reason;
      this.fail(
        new ClientError(
          "aborted",
          `request aborted${
            reason instanceof Error ? ": " + reason.message : ""
          }`,
          reason,
        ),
      );
    };
  }

  /** Starts watching for idleness (`idleMs`) and for `signal`. */
  watch(idleMs: number, signal: AbortSignal | undefined): void {
    this.failure = null;
    this.#idleMs = idleMs;
    if (idleMs > 0 && idleMs !== Infinity) idleWatch.add(this);
    if (signal !== undefined) {
      this.#signal = signal;
      signal.addEventListener("abort", this.#onAbort);
      if (signal.aborted) this.#onAbort();
    }
  }

  /** Stops the watch started by {@linkcode watch}. */
  unwatch(): void {
    idleWatch.delete(this);
    if (this.#signal !== undefined) {
      this.#signal.removeEventListener("abort", this.#onAbort);
      this.#signal = undefined;
    }
  }

  /**
   * Fails the connection when its pending read or write has waited longer
   * than the idle timeout (called by the shared sweep).
   */
  checkIdle(now: number): void {
    const busy = this.#busySince;
    if (busy !== 0 && now - busy >= this.#idleMs) {
      this.fail(
        new ClientError("idle-timeout", `idle timeout: ${this.#idleMs} ms`),
      );
    }
  }

  /** The idle timeout being watched, in ms. */
  get idleMs(): number {
    return this.#idleMs;
  }

  /** Closes the socket so that pending I/O ends with `err`. */
  fail(err: ClientError): void {
    if (this.failure === null) this.failure = err;
    this.close();
  }

  /**
   * Makes room in `buf` after `end`, compacting or growing it first.
   * @returns The view to read into: `buf` itself when it is empty.
   */
  room(): Uint8Array {
    if (this.start === this.end) {
      this.start = this.end = 0;
      return this.buf;
    }
    if (this.buf.length - this.end < 2048) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      }
      if (this.buf.length - this.end < 2048) {
        const bigger = new Uint8Array(this.buf.length * 2);
        bigger.set(this.buf.subarray(0, this.end));
        this.buf = bigger;
      }
    }
    return this.buf.subarray(this.end);
  }

  /**
   * Reads more bytes into `buf` after `end`, compacting or growing it first.
   * @returns Bytes read; 0 at end of stream.
   */
  async fill(): Promise<number> {
    const n = await this.readInto(this.room());
    this.end += n;
    return n;
  }

  /**
   * Starts a read or write on `conn` by the caller: throws the failure set
   * by the watch, else marks the connection busy for the idle sweep. The
   * caller awaits the I/O itself (one async layer less), then calls
   * {@linkcode settle} on success or {@linkcode ioError} on failure.
   */
  begin(): void {
    if (this.failure !== null) throw this.failure;
    this.#busySince = Date.now();
  }

  /** Ends an I/O begun with {@linkcode begin}; throws a watch failure. */
  settle(): void {
    this.#busySince = 0;
    if (this.failure !== null) throw this.failure;
  }

  /** Ends a failed I/O begun with {@linkcode begin}: the error to throw. */
  ioError(e: unknown): ClientError {
    this.#busySince = 0;
    return this.failure ?? netError(e, this.where);
  }

  /** Reads straight into `dst`; 0 at end of stream. */
  async readInto(dst: Uint8Array): Promise<number> {
    this.begin();
    let n: number | null;
    try {
      n = await this.conn.read(dst);
    } catch (e) {
      throw this.ioError(e);
    }
    this.settle();
    return n ?? 0;
  }

  /** Writes all of `b`, looping on partial writes. */
  async write(b: Uint8Array): Promise<void> {
    if (this.failure !== null) throw this.failure;
    this.#busySince = Date.now();
    try {
      let o = 0;
      while (o < b.length) o += await this.conn.write(b.subarray(o));
    } catch (e) {
      throw this.failure ?? netError(e, this.where);
    } finally {
      this.#busySince = 0;
    }
  }

  /**
   * A server mostly repeats its response head byte for byte (until the
   * Date header ticks): then the head in `buf[start, headEnd)` needs no
   * parsing, only a copy of the last parse (with its own header map).
   * @returns The copy, or null when the head differs.
   */
  repeatedHead(headEnd: number): ResponseHead | null {
    const last = this.#lastHead;
    const n = headEnd - this.start;
    if (last === null || last.length !== n) return null;
    const b = this.buf;
    for (let i = 0, j = this.start; i < n; i++, j++) {
      if (b[j] !== last[i]) return null;
    }
    this.#headMisses = 0;
    const p = this.#lastParsed!;
    return { ...p, headers: { ...p.headers }, headEnd };
  }

  /** Keeps a parsed head for {@linkcode repeatedHead}. */
  rememberHead(headEnd: number, head: ResponseHead): void {
    // Heads that always differ (say, a request id) are not worth copying:
    // after 5 misses in a row the connection stops trying.
    if (this.#lastHead !== null) this.#headMisses++;
    if (this.#headMisses > 4 || headEnd - this.start > REPEAT_MAX) {
      this.#lastHead = this.#lastParsed = null;
      return;
    }
    this.#lastHead = this.buf.slice(this.start, headEnd);
    this.#lastParsed = { ...head, headers: { ...head.headers } };
  }

  /** Drops a grown buffer before the connection idles in the pool. */
  shrink(): void {
    if (this.buf.length > INITIAL && this.start === this.end) {
      this.buf = new Uint8Array(INITIAL);
      this.start = this.end = 0;
    }
  }

  /** Closes the socket once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unwatch();
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}
