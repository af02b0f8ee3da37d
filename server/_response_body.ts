// Writing response bodies whose bytes are not all at hand: streams,
// iterables, files and blobs. Each chunk is written before the next is pulled,
// so a slow reader holds the producer back and memory stays bounded.

import { encodeChunk, LAST_CHUNK } from "../http1/chunked.ts";
import type { ResponseBody } from "./types.ts";

const encoder = new TextEncoder();
const FILE_CHUNK = 64 * 1024;

/** Where body bytes go; implemented by the connection. */
export interface BodySink {
  write(b: Uint8Array): Promise<void>;
}

/** The body kinds that need {@linkcode writeBody}. */
export type StreamingBody = Exclude<
  ResponseBody,
  string | Uint8Array | ArrayBuffer | null | undefined
>;

/** A source of body chunks with a way to let go of it early. */
interface Source {
  next(): Promise<Uint8Array | null>;
  cancel(): Promise<void>;
  length: number;
}

/**
 * Opens a streaming body, telling its length when it is known (files, blobs);
 * -1 otherwise.
 */
export async function openBody(body: StreamingBody): Promise<Source> {
  if (body instanceof ReadableStream) return streamSource(body.getReader(), -1);
  if (body instanceof Blob) {
    return streamSource(body.stream().getReader(), body.size);
  }
  if (body instanceof Deno.FsFile) return await fileSource(body);
  if (Symbol.asyncIterator in body) {
    return iterSource(body[Symbol.asyncIterator]());
  }
  if (Symbol.iterator in body) return iterSource(body[Symbol.iterator]());
  throw new TypeError("Unsupported response body type");
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
  throw new TypeError(`Unsupported body chunk: ${typeof chunk}`);
}

function streamSource(
  reader: ReadableStreamDefaultReader<Uint8Array | string>,
  length: number,
): Source {
  return {
    length,
    async next() {
      const r = await reader.read();
      return r.done ? null : toBytes(r.value);
    },
    async cancel() {
      await reader.cancel().catch(() => {});
    },
  };
}

function iterSource(
  it: Iterator<Uint8Array | string> | AsyncIterator<Uint8Array | string>,
): Source {
  return {
    length: -1,
    async next() {
      const r = await it.next();
      return r.done ? null : toBytes(r.value);
    },
    async cancel() {
      try {
        await it.return?.();
      } catch {
        // the producer's own cleanup failed; nothing more to release here
      }
    },
  };
}

async function fileSource(file: Deno.FsFile): Promise<Source> {
  let length = -1;
  try {
    const st = await file.stat();
    if (st.isFile) length = st.size;
  } catch {
    // not stat-able (a pipe): sent chunked
  }
  let closed = false;
  const close = (): void => {
    if (!closed) {
      closed = true;
      try {
        file.close();
      } catch {
        // already closed by the user
      }
    }
  };
  return {
    length,
    async next() {
      const buf = new Uint8Array(FILE_CHUNK);
      const n = await file.read(buf);
      if (n === null) {
        close();
        return null;
      }
      return buf.subarray(0, n);
    },
    cancel() {
      close();
      return Promise.resolve();
    },
  };
}

/**
 * Copies a source to the sink: framed as chunks when `chunked`, else raw and
 * checked against `length` (when not -1).
 *
 * @returns `true` when the body went out complete and well framed.
 */
export async function pump(
  src: Source,
  sink: BodySink,
  chunked: boolean,
  length: number,
): Promise<boolean> {
  let sent = 0;
  try {
    for (;;) {
      const chunk = await src.next();
      if (chunk === null) break;
      if (chunk.length === 0) continue;
      if (chunked) {
        await sink.write(encodeChunk(chunk));
      } else {
        if (length >= 0 && sent + chunk.length > length) {
          await sink.write(chunk.subarray(0, length - sent));
          throw new RangeError(
            `Response body is longer than its Content-Length ${length}`,
          );
        }
        await sink.write(chunk);
      }
      sent += chunk.length;
    }
  } catch (err) {
    await src.cancel();
    throw err;
  }
  if (chunked) {
    await sink.write(encoder.encode(LAST_CHUNK));
    return true;
  }
  if (length >= 0 && sent !== length) {
    throw new RangeError(
      `Response body ended after ${sent} of ${length} bytes`,
    );
  }
  return true;
}
