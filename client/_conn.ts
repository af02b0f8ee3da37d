// One client connection: the house's ByteConn (read buffer, head search,
// write-all) with the client's timing on top: every read and write is
// watched for idleness and for the request's abort signal, and fails with
// the reason the watch found. It also keeps the last response head, since
// a server mostly repeats it byte for byte.

import { ByteConn } from "../_byteconn.ts";
import { unrefInterval } from "../_timers.ts";
import type { ResponseHead } from "../http1/head.ts";
import { HeadMemo } from "../http1/memo.ts";
import { ClientError, netError } from "./errors.ts";

/** Read buffer of an HTTP connection at rest; it grows for large heads and
 * bodies, and the pool shrinks it back. */
const INITIAL = 16384;
/** Free bytes a read asks for: fewer would make reads of a few bytes. */
export const MIN_READ = 2048;

// Idle timeouts: one sweep for every watched connection of the process,
// instead of a timer armed and cleared per request (that cost ~10 us of CPU
// a request). Process-wide on purpose: it holds a connection only while a
// request on it is in flight, carries no client's settings (each connection
// brings its own timeout), and one unref'd timer serves any number of
// clients. It ticks at a quarter of the shortest timeout (10-250 ms), and
// stops once nothing has been watched for two ticks.
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

/** A client connection: pooled by key, watched while a request runs. */
export class Connection extends ByteConn {
  /** Pool key: scheme, host, port, trust and proxy. */
  readonly key: string;
  /** `host:port` for error messages. */
  readonly where: string;
  /** Requests completed on this connection (> 0: it was reused). */
  uses = 0;
  /** When a pooled connection stops being reusable. */
  expires = 0;
  /** Set when the watch closed the socket; thrown by the pending I/O. */
  failure: ClientError | null = null;
  // Per connection: a connection talks to one server, whose heads repeat;
  // a client-wide one would thrash between servers.
  readonly #heads = new HeadMemo<ResponseHead>();
  /** When the read or write under way began; 0 when none is. */
  #busySince = 0;
  #idleMs = 0;
  #signal: AbortSignal | undefined = undefined;
  readonly #onAbort: () => void;

  /**
   * @param conn The socket.
   * @param key The pool key ("" for a connection that is never pooled).
   * @param where `host:port` (or the socket path) for error messages.
   * @param small The buffer size at rest; a WebSocket passes a small one.
   */
  constructor(conn: Deno.Conn, key: string, where: string, small = INITIAL) {
    super(conn, small);
    this.key = key;
    this.where = where;
    this.#onAbort = () => this.fail(aborted(this.#signal!));
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

  /** The idle timeout being watched, in ms. */
  get idleMs(): number {
    return this.#idleMs;
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

  /** Closes the socket so that pending I/O ends with `err`. */
  fail(err: ClientError): void {
    if (this.failure === null) this.failure = err;
    this.close();
  }

  /**
   * One read, timed for the idle watch: the failure the watch found, or a
   * socket error as a ClientError; null at EOF.
   */
  override async read(dst: Uint8Array): Promise<number | null> {
    this.begin();
    let n: number;
    try {
      n = await this.readRaw(dst);
    } catch (e) {
      throw this.ioError(e);
    }
    this.settle();
    return n === 0 ? null : n;
  }

  /**
   * A read or write on `conn` begins: a failure the watch found is thrown;
   * else the idle clock runs. A caller that awaits the socket itself (the
   * exchange, saving an async frame per request) brackets it with this and
   * {@linkcode settle} or {@linkcode ioError}, as read() and write() do.
   */
  begin(): void {
    if (this.failure !== null) throw this.failure;
    this.#busySince = Date.now();
  }

  /** The I/O ended; the watch may have failed the connection meanwhile. */
  settle(): void {
    this.#busySince = 0;
    if (this.failure !== null) throw this.failure;
  }

  /** The I/O failed: the error to throw (the watch's, or the socket's). */
  ioError(e: unknown): ClientError {
    this.#busySince = 0;
    return this.failure ?? netError(e, this.where);
  }

  /** Writes all of `b`, timed like {@linkcode read}. */
  override async write(b: Uint8Array): Promise<void> {
    this.begin();
    try {
      await super.write(b);
    } catch (e) {
      throw this.ioError(e);
    }
    this.settle();
  }

  /** A partial write went through: the idle clock starts again. */
  override progress(): void {
    this.#busySince = Date.now();
  }

  /**
   * The head at `start` when it repeats the last one kept (a copy with its
   * own header map), else null.
   */
  repeatedHead(): ResponseHead | null {
    return this.#heads.get(this.buf, this.start, this.end);
  }

  /**
   * Keeps a head just parsed from `buf[start, headEnd)`. Always: for heads
   * that never repeat (a request id) the failed comparison and the copy cost
   * about 0.2 us next to a 1.3 us parse (measured), so the old "stop after 5
   * misses" rule is gone.
   */
  rememberHead(headEnd: number, head: ResponseHead): void {
    this.#heads.set(this.buf, this.start, headEnd, head);
  }

  /** Closes the socket once, ending the watch. */
  override close(): void {
    if (this.closed) return;
    this.unwatch();
    super.close();
  }
}

/** The error of a request whose `signal` aborted it. */
export function aborted(signal: AbortSignal): ClientError {
  const r = signal.reason;
  return new ClientError(
    "aborted",
    `request aborted${r instanceof Error ? ": " + r.message : ""}`,
    r,
  );
}
