// Request bodies read whole before the handler runs (the default): with a
// Content-Length straight into one buffer, chunked through the decoder.
// Limits: the framing's own (maxBody while decoding) and bodyTimeout between
// reads (the connection is in the Body state meanwhile).

import { concat } from "../_bytes.ts";
import { Disconnect } from "../_byteconn.ts";
import { ChunkedDecoder } from "../http1/chunked.ts";
import { ProtocolError } from "../http1/errors.ts";
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
    c.since = c.core.now;
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
  const parts: Uint8Array[] = [];
  let total = 0;
  const sink = (d: Uint8Array): void => {
    total += d.length;
    if (total > max) throw new ProtocolError(413, "Request body too large");
    parts.push(d.slice());
  };
  c.enter(State.Body);
  for (;;) {
    c.start = dec.decode(c.buf, c.start, c.end, sink);
    if (dec.done) break;
    if (await c.fill() === null) throw new Disconnect();
    c.since = core.now;
  }
  return concat(parts, total);
}
