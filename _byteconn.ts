// The one socket helper under every connection: the server's, the client's
// and both ends of a WebSocket. It owns the read buffer (grown on demand,
// compacted, shrunk when the connection is quiet), finds where a message head
// ends, and writes whole buffers however the socket splits them.

import { findHeadEnd } from "./http1/head.ts";

/** Largest buffer a WebSocket read grows to while reads keep filling it. */
const MAX_CHUNK = 64 * 1024;

// Deno's Conn.read() adds each pending read to a Set owned by the connection
// and deletes it afterwards (bookkeeping for unref()). Once a full GC has
// moved a long-lived connection to the old generation, V8 allocates every
// rehashed table of that Set in the old space: about 400 KB of old garbage
// per scavenge at 64 busy connections, a mark-compact every second, a p99
// four times Deno.serve's (bench/tenured.ts). So reads call the op under
// Conn.read() when this Deno exposes it in its internal namespace and the
// connection carries Deno's resource id; anything else reads through
// conn.read(). No connection of ours is unref'd, so the Set has no use here.
interface Core {
  read(rid: number, dst: Uint8Array): Promise<number>;
}
const CORE: Core | null = findCore();
let coreReads = CORE !== null;

function findCore(): Core | null {
  try {
    const deno = Deno as unknown as Record<symbol | "internal", unknown>;
    const key = deno.internal;
    if (typeof key !== "symbol") return null;
    const core = (deno[key] as { core?: Partial<Core> } | undefined)?.core;
    return typeof core?.read === "function" ? core as Core : null;
  } catch {
    return null;
  }
}

// Deno's resource id of a socket, or -1 when it has none we can see.
function ridOf(conn: Deno.Conn): number {
  for (const key of Object.getOwnPropertySymbols(conn)) {
    if (key.description !== "Deno.internal.rid") continue;
    const rid = (conn as unknown as Record<symbol, unknown>)[key];
    return typeof rid === "number" ? rid : -1;
  }
  return -1;
}

/** One read into a non-empty view: the count, 0 at EOF. */
export type RawRead = (dst: Uint8Array) => Promise<number>;

/** The cheapest read this Deno offers for `conn` (see above). */
export function rawReader(conn: Deno.Conn): RawRead {
  const rid = coreReads ? ridOf(conn) : -1;
  if (rid >= 0) {
    const core = CORE!;
    return (dst) => core.read(rid, dst);
  }
  return async (dst) => (await conn.read(dst)) ?? 0;
}

/**
 * For tests: connections made from now on read through the op (true, when
 * this Deno has it) or through conn.read() (false). Returns the mode set.
 */
export function _useCoreReads(on: boolean): boolean {
  coreReads = on && CORE !== null;
  return coreReads;
}

/** A socket with a read buffer; bytes `buf[start, end)` await a reader. */
export class ByteConn {
  /** The socket. */
  readonly conn: Deno.Conn;
  /** Reads from the socket: the count, 0 at EOF (see rawReader). */
  readonly readRaw: RawRead;
  /** Read buffer; bytes `[start, end)` are received and not yet consumed. */
  buf: Uint8Array;
  start = 0;
  end = 0;
  /** Set once {@linkcode close} ran. */
  closed = false;
  /**
   * A read into the buffer is under way: the buffer must not be replaced
   * until it ends (the bytes would land in the old one).
   */
  reading = false;
  /** The peer has closed its side (a read saw EOF). */
  eof = false;
  // Where the search for the end of a partial head resumes.
  #scan = 0;
  // Size of the buffer of a quiet connection.
  readonly #small: number;
  // The buffer the last readChunk() view came from, when its reader keeps it.
  #lent: Uint8Array | null = null;

  /**
   * @param conn The socket.
   * @param small The buffer size of a quiet connection; it grows on demand.
   */
  constructor(conn: Deno.Conn, small: number) {
    this.conn = conn;
    this.readRaw = rawReader(conn);
    this.#small = small;
    this.buf = new Uint8Array(small);
  }

  /**
   * Makes room for a read of at least `min` bytes after `end`: an empty
   * buffer starts over, a partly used one is compacted, a full one doubles.
   *
   * @returns The view to read into (the buffer itself when it is empty).
   */
  room(min = 1): Uint8Array {
    if (this.start === this.end) {
      this.start = this.end = 0;
      this.#scan = 0;
      if (this.buf.length < min) {
        this.buf = new Uint8Array(grown(this.buf.length, min));
      }
      return this.buf;
    }
    if (this.buf.length - this.end < min) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.#scan = Math.max(0, this.#scan - this.start);
        this.start = 0;
      }
      const size = grown(this.buf.length, this.end + min);
      if (size !== this.buf.length) {
        const bigger = new Uint8Array(size);
        bigger.set(this.buf.subarray(0, this.end));
        this.buf = bigger;
      }
    }
    return this.buf.subarray(this.end);
  }

  /** Grows the buffer to at least `size` bytes, keeping what it holds. */
  reserve(size: number): void {
    if (this.buf.length >= size || this.reading) return;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.end));
    this.buf = bigger;
  }

  /** Gives a grown buffer back once it is empty (a quiet connection). */
  shrink(): void {
    if (
      this.start === this.end && this.buf.length > this.#small && !this.reading
    ) {
      this.buf = new Uint8Array(this.#small);
      this.start = this.end = this.#scan = 0;
    }
  }

  /**
   * One read from the socket into `dst`; the count, or null at EOF. The
   * server's connections pass it through the read gate, the client's time
   * it: both override it.
   */
  async read(dst: Uint8Array): Promise<number | null> {
    const n = await this.readRaw(dst);
    return n === 0 ? null : n;
  }

  /** Reads once into the buffer after `end`: the count read, or null at EOF. */
  async fill(min = 1): Promise<number | null> {
    this.reading = true;
    let n: number | null;
    try {
      n = await this.read(this.room(min));
    } finally {
      this.reading = false;
    }
    if (n !== null) this.end += n;
    else this.eof = true;
    return n;
  }

  /**
   * Where the head starting at `start` ends (just past its blank line), or
   * -1 while it is incomplete. A later call resumes the search where this
   * one stopped.
   */
  headEnd(): number {
    const from = this.#scan > this.start ? this.#scan : this.start;
    const he = findHeadEnd(this.buf, from, this.end);
    // The terminator may straddle the next read: keep its first 3 bytes.
    this.#scan = he < 0 ? Math.max(this.start, this.end - 3) : 0;
    return he;
  }

  /** Forgets a partial head search (the caller consumed the head). */
  resetScan(): void {
    this.#scan = 0;
  }

  /**
   * The next bytes from the peer as a view of the buffer, for a reader of a
   * message stream (WebSocket): valid until the next call unless the reader
   * calls {@linkcode keep}. The buffer doubles while reads fill it (up to 64
   * KiB) and goes back to its small size once the peer is quiet, so an idle
   * WebSocket keeps no large buffer.
   *
   * @returns The bytes, or null at EOF.
   */
  async readChunk(): Promise<Uint8Array | null> {
    if (this.#lent !== null) {
      if (this.#lent === this.buf) this.buf = new Uint8Array(this.buf.length);
      this.#lent = null;
    }
    // Bytes left over (those that came with a handshake) go out first.
    if (this.start < this.end) {
      const rest = this.buf.slice(this.start, this.end);
      this.start = this.end = 0;
      this.#chunkFrom = null;
      return rest;
    }
    this.start = this.end = 0;
    this.reading = true;
    let n: number | null;
    try {
      n = await this.read(this.buf);
    } finally {
      this.reading = false;
    }
    if (n === null) {
      this.eof = true;
      return null;
    }
    const chunk = this.buf.subarray(0, n);
    this.#chunkFrom = this.buf;
    if (n === this.buf.length && n < MAX_CHUNK) {
      this.buf = new Uint8Array(n * 2);
    } else if (n < 256 && this.buf.length > Math.max(4096, this.#small)) {
      this.buf = new Uint8Array(this.#small);
    }
    return chunk;
  }

  // The buffer the last readChunk() view came from.
  #chunkFrom: Uint8Array | null = null;

  /** The reader keeps the last {@linkcode readChunk} view: read elsewhere next. */
  keep(): void {
    this.#lent = this.#chunkFrom;
  }

  /**
   * Writes all of `b`, looping on partial writes; {@linkcode progress} runs
   * after each partial one.
   */
  async write(b: Uint8Array): Promise<void> {
    const n = await this.conn.write(b);
    if (n < b.length) await this.writeRest(b, n);
  }

  /** Writes the rest of `b` from `off` after a partial write. */
  async writeRest(b: Uint8Array, off: number): Promise<void> {
    while (off < b.length) {
      this.progress();
      off += await this.conn.write(b.subarray(off));
    }
  }

  /** A partial write went through (a slow peer is not a stuck one). */
  progress(): void {}

  /** Closes the socket once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

// The buffer size that holds `need` bytes: doubled until it does.
function grown(size: number, need: number): number {
  while (size < need) size *= 2;
  return size;
}

/** Errors that only mean the peer is gone. */
export function isDisconnect(err: unknown): boolean {
  return err instanceof Disconnect || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BadResource ||
    err instanceof Deno.errors.Interrupted ||
    err instanceof Deno.errors.NotConnected ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.UnexpectedEof;
}

/** The peer went away mid-message. */
export class Disconnect extends Error {
  constructor(message = "Peer closed the connection") {
    super(message);
    this.name = "Disconnect";
  }
}
