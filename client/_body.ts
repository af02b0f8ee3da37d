// Reading a response body off a connection: whole (buffered) or as a
// stream, framed as http1/framing.ts decided (Content-Length, chunked or
// read to the end of the connection), then gzip/deflate decoding.

import { concat } from "../_bytes.ts";
import { ChunkedDecoder } from "../http1/chunked.ts";
import { ProtocolError } from "../http1/errors.ts";
import { Framing } from "../http1/framing.ts";
import { type Connection, MIN_READ } from "./_conn.ts";
import { ClientError } from "./errors.ts";

/** Thrown when the body exceeds `maxBody`. */
export function tooLarge(maxBody: number): ClientError {
  return new ClientError(
    "body-too-large",
    `response body larger than maxBody (${maxBody} bytes)`,
  );
}

function closedEarly(c: Connection): ClientError {
  return new ClientError(
    "connection-closed",
    `connection closed by ${c.where} before the end of the body`,
  );
}

function protocol(e: unknown): unknown {
  return e instanceof ProtocolError
    ? new ClientError("protocol", `invalid response: ${e.message}`, e)
    : e;
}

/**
 * Reads a whole body. `limit` bounds the wire bytes (-1: none).
 * @returns The body bytes (a fresh copy).
 */
export async function readWhole(
  c: Connection,
  framing: Framing,
  length: number,
  limit: number,
): Promise<Uint8Array> {
  if (framing === Framing.Length) {
    if (limit >= 0 && length > limit) throw tooLarge(limit);
    const have = c.end - c.start;
    if (have >= length) {
      const out = c.buf.slice(c.start, c.start + length);
      c.start += length;
      return out;
    }
    const out = new Uint8Array(length);
    out.set(c.buf.subarray(c.start, c.end));
    c.start = c.end = 0;
    // The rest is read straight into the body, not through the buffer.
    let got = have;
    while (got < length) {
      const n = await c.read(out.subarray(got));
      if (n === null) throw closedEarly(c);
      got += n;
    }
    return out;
  }
  const pieces: Uint8Array[] = [];
  let total = 0;
  if (framing === Framing.Close) {
    for (;;) {
      if (c.end > c.start) {
        total += c.end - c.start;
        if (limit >= 0 && total > limit) throw tooLarge(limit);
        pieces.push(c.buf.slice(c.start, c.end));
        c.start = c.end;
      }
      if (await c.fill(MIN_READ) === null) return concat(pieces);
    }
  }
  const dec = new ChunkedDecoder();
  const sink = (data: Uint8Array): void => {
    total += data.length;
    if (limit >= 0 && total > limit) throw tooLarge(limit);
    pieces.push(data.slice());
  };
  for (;;) {
    try {
      c.start = dec.decode(c.buf, c.start, c.end, sink);
    } catch (e) {
      throw protocol(e);
    }
    if (dec.done) {
      return pieces.length === 0 ? new Uint8Array(0) : concat(pieces);
    }
    if (await c.fill(MIN_READ) === null) throw closedEarly(c);
  }
}

/**
 * Reads and drops a body of at most `cap` bytes, so the connection can be
 * reused. @returns `false` when the body is too long or not delimited: the
 * caller closes the connection instead.
 */
export async function drain(
  c: Connection,
  framing: Framing,
  length: number,
  cap: number,
): Promise<boolean> {
  if (framing === Framing.Close) return false;
  if (framing === Framing.Length && length > cap) return false;
  try {
    await readWhole(c, framing, length, cap);
    return true;
  } catch (e) {
    if (e instanceof ClientError && e.code === "body-too-large") return false;
    throw e;
  }
}

/**
 * The body as a stream that reads the connection only when the consumer
 * pulls. `done(reusable)` runs once: after the last byte, on error or on
 * cancel.
 */
export function bodyStream(
  c: Connection,
  framing: Framing,
  length: number,
  limit: number,
  done: (reusable: boolean) => void,
): ReadableStream<Uint8Array> {
  const r = new StreamedBody(c, framing, length, limit, done);
  return new ReadableStream<Uint8Array>({
    pull: (ctrl) => r.pull(ctrl),
    cancel: () => r.cancel(),
  }, { highWaterMark: 0 });
}

type Ctrl = ReadableStreamDefaultController<Uint8Array>;

/** The reading behind {@linkcode bodyStream}: one pull, one piece. */
class StreamedBody {
  readonly #c: Connection;
  readonly #framing: Framing;
  readonly #limit: number;
  readonly #done: (reusable: boolean) => void;
  readonly #dec: ChunkedDecoder | null;
  #remaining: number;
  #total = 0;
  #finished = false;

  constructor(
    c: Connection,
    framing: Framing,
    length: number,
    limit: number,
    done: (reusable: boolean) => void,
  ) {
    this.#c = c;
    this.#framing = framing;
    this.#remaining = length;
    this.#limit = limit;
    this.#done = done;
    this.#dec = framing === Framing.Chunked ? new ChunkedDecoder() : null;
  }

  async pull(ctrl: Ctrl): Promise<void> {
    try {
      if (this.#framing === Framing.Length) await this.#length(ctrl);
      else if (this.#framing === Framing.Close) await this.#toClose(ctrl);
      else await this.#chunked(ctrl);
    } catch (e) {
      this.#c.close();
      this.#finish(false);
      ctrl.error(e);
    }
  }

  cancel(): void {
    this.#c.close();
    this.#finish(false);
  }

  #finish(ok: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#done(ok);
  }

  #count(n: number): void {
    this.#total += n;
    if (this.#limit >= 0 && this.#total > this.#limit) {
      throw tooLarge(this.#limit);
    }
  }

  async #length(ctrl: Ctrl): Promise<void> {
    const c = this.#c;
    if (this.#remaining > 0) {
      if (c.start === c.end && await c.fill(MIN_READ) === null) {
        throw closedEarly(c);
      }
      const take = Math.min(this.#remaining, c.end - c.start);
      this.#remaining -= take;
      this.#count(take);
      ctrl.enqueue(c.buf.slice(c.start, c.start + take));
      c.start += take;
    }
    if (this.#remaining === 0) {
      this.#finish(true);
      ctrl.close();
    }
  }

  async #toClose(ctrl: Ctrl): Promise<void> {
    const c = this.#c;
    if (c.start === c.end && await c.fill(MIN_READ) === null) {
      this.#finish(false);
      ctrl.close();
      return;
    }
    this.#count(c.end - c.start);
    ctrl.enqueue(c.buf.slice(c.start, c.end));
    c.start = c.end;
  }

  async #chunked(ctrl: Ctrl): Promise<void> {
    const c = this.#c;
    const dec = this.#dec!;
    for (;;) {
      let produced = 0;
      if (c.start < c.end) {
        try {
          c.start = dec.decode(c.buf, c.start, c.end, (data) => {
            this.#count(data.length);
            produced++;
            ctrl.enqueue(data.slice());
          });
        } catch (e) {
          throw protocol(e);
        }
      }
      if (dec.done) {
        this.#finish(true);
        ctrl.close();
        return;
      }
      if (produced > 0) return;
      if (await c.fill(MIN_READ) === null) throw closedEarly(c);
    }
  }
}

/** The DecompressionStream format for a Content-Encoding, or null. */
export function codingFormat(
  contentEncoding: string | undefined,
): "gzip" | "deflate" | null {
  if (contentEncoding === undefined) return null;
  const v = contentEncoding.trim().toLowerCase();
  if (v === "gzip" || v === "x-gzip") return "gzip";
  if (v === "deflate") return "deflate";
  return null;
}

/** A zlib stream starts with CMF/FLG: method 8 and a header check of 31. */
function isZlib(first: Uint8Array): boolean {
  return first.length >= 2 && (first[0] & 0x0f) === 8 &&
    ((first[0] << 8) | first[1]) % 31 === 0;
}

function badCoding(format: string, e: unknown): ClientError {
  const msg = e instanceof Error ? e.message : String(e);
  return new ClientError("protocol", `invalid ${format} body: ${msg}`, e);
}

/** Decodes a whole gzip/deflate body, counting `maxBody` on the output. */
export async function decodeWhole(
  bytes: Uint8Array,
  format: "gzip" | "deflate",
  maxBody: number,
): Promise<Uint8Array> {
  if (bytes.length === 0) return bytes;
  const kind = format === "gzip"
    ? "gzip"
    : isZlib(bytes)
    ? "deflate"
    : "deflate-raw";
  const ds = new DecompressionStream(kind);
  const writer = ds.writable.getWriter();
  writer.write(bytes as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const pieces: Uint8Array[] = [];
  let total = 0;
  const reader = ds.readable.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      total += r.value.length;
      if (maxBody >= 0 && total > maxBody) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBody);
      }
      pieces.push(r.value);
    }
  } catch (e) {
    if (e instanceof ClientError) throw e;
    throw badCoding(format, e);
  }
  return concat(pieces);
}

/**
 * Decodes a streamed gzip/deflate body; the deflate flavour (zlib or raw) is
 * picked from the first bytes, and only when the consumer first pulls.
 */
export function decodeStream(
  src: ReadableStream<Uint8Array>,
  format: "gzip" | "deflate",
  maxBody: number,
): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let total = 0;
  const open = async (): Promise<void> => {
    let prefix: Uint8Array | null = null;
    let input = src;
    if (format === "deflate") {
      const r = src.getReader();
      const first = await r.read();
      prefix = first.done ? null : first.value;
      input = new ReadableStream<Uint8Array>({
        start(ctrl): void {
          if (prefix !== null) ctrl.enqueue(prefix);
          if (first.done) ctrl.close();
        },
        async pull(ctrl): Promise<void> {
          const n = await r.read();
          if (n.done) ctrl.close();
          else ctrl.enqueue(n.value);
        },
        cancel(reason): Promise<void> {
          return r.cancel(reason);
        },
      }, { highWaterMark: 0 });
    }
    const kind = format === "gzip"
      ? "gzip"
      : prefix !== null && isZlib(prefix)
      ? "deflate"
      : "deflate-raw";
    reader = input.pipeThrough(
      new DecompressionStream(kind) as unknown as TransformStream<
        Uint8Array,
        Uint8Array
      >,
    ).getReader();
  };
  return new ReadableStream<Uint8Array>({
    async pull(ctrl): Promise<void> {
      try {
        if (reader === null) await open();
        const r = await reader!.read();
        if (r.done) {
          ctrl.close();
          return;
        }
        total += r.value.length;
        if (maxBody >= 0 && total > maxBody) throw tooLarge(maxBody);
        ctrl.enqueue(r.value);
      } catch (e) {
        const err = e instanceof ClientError ? e : badCoding(format, e);
        if (reader !== null) reader.cancel(err).catch(() => {});
        else src.cancel(err).catch(() => {});
        ctrl.error(err);
      }
    },
    cancel(reason): Promise<void> {
      return reader !== null ? reader.cancel(reason) : src.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
