// The request bytes a hop sends, and the plain request a target keeps
// ready: types only, shared by the target cache and the exchange.

import type { Framing } from "../http1/framing.ts";
import type { PreparedBody } from "./_encode.ts";

/** A request ready for the wire. */
export interface WireRequest {
  /** The head, with a byte body of up to 64 KiB merged in. */
  bytes: Uint8Array;
  /** What follows the head: nothing, a larger byte body, or a stream. */
  body: PreparedBody;
  /** How a stream is framed: Length or Chunked. */
  framing: Framing;
  /** The request said `Connection: close`. */
  close: boolean;
}

/**
 * The request of a hop with no headers, body or credentials, built once per
 * target and reused while the settings it depends on stay the same: a plain
 * GET costs no head building, header checks or encoding.
 */
export interface PlainRequest {
  method: string;
  userAgent: string;
  autoCompression: boolean;
  out: WireRequest;
}
