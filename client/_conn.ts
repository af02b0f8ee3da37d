// One client connection: a socket, a reused read buffer, and the idle/abort
// watch that closes the socket when the server goes quiet.

import { ClientError, netError } from "./errors.ts";

const INITIAL = 16384;

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
    this.#timer = setInterval(() => this.#tick(), period) as unknown as number;
    Deno.unrefTimer(this.#timer);
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
   * Reads more bytes into `buf` after `end`, compacting or growing it first.
   * @returns Bytes read; 0 at end of stream.
   */
  async fill(): Promise<number> {
    if (this.start === this.end) {
      this.start = this.end = 0;
    } else if (this.buf.length - this.end < 2048) {
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
    const n = await this.readInto(this.buf.subarray(this.end));
    this.end += n;
    return n;
  }

  /** Reads straight into `dst`; 0 at end of stream. */
  async readInto(dst: Uint8Array): Promise<number> {
    if (this.failure !== null) throw this.failure;
    this.#busySince = Date.now();
    let n: number | null;
    try {
      n = await this.conn.read(dst);
    } catch (e) {
      throw this.failure ?? netError(e, this.where);
    } finally {
      this.#busySince = 0;
    }
    if (this.failure !== null) throw this.failure;
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
