// How channels, upgrades and the Fetch adapter reach the connection behind a
// request map: one small named interface and two hidden keys, instead of
// writing the connection's fields.

import type { ByteConn } from "../_byteconn.ts";
import type { RequestHead } from "../http1/head.ts";
import type { HeadStart } from "./_respond.ts";
import type { RingRequest, RingResponse } from "./types.ts";

/** Key of the hidden link from a request map to its connection. */
export const CONN: unique symbol = Symbol("httpkit.connection");

/**
 * Key of a response map that takes the connection over (channels,
 * WebSocket). The function gets the connection once everything before it is
 * written and returns whether the connection goes on serving requests.
 */
export const TAKEOVER: unique symbol = Symbol("httpkit.takeover");

/** What a channel or an upgrade may do with a server connection. */
export interface ServerLink {
  /** The client's address (the socket peer, or a PROXY header's source). */
  readonly remoteAddr: string;
  /** The socket (for its addresses). */
  readonly conn: Deno.Conn;
  /** Largest WebSocket message, the server's default. */
  readonly maxWs: number;
  /** Writes all of `b` under the write timeout. */
  write(b: Uint8Array): Promise<void>;
  /**
   * Starts a response head to `head`: status line, user headers, Date and
   * Server; the caller adds the framing.
   */
  responseHead(
    head: RequestHead,
    status: number,
    headers: RingResponse["headers"],
  ): HeadStart;
  /** Writes a complete error response with `Connection: close`. */
  sendError(
    status: number,
    reason: string,
    headers?: Record<string, string>,
  ): Promise<void>;
  /** Reports an error to the server's error logger. */
  reportError(err: unknown, req: RingRequest<unknown> | null): void;
  /**
   * Reads ahead while `active()` holds, so a peer that leaves is noticed
   * while the request loop waits.
   *
   * @returns `true` when the peer left while still active.
   */
  watchPeer(active: () => boolean): Promise<boolean>;
  /** The client has closed its side of the connection. */
  readonly eof: boolean;
  /** Whether the response to `head` is still being made. */
  responding(head: RequestHead): boolean;
  /** The channel that owns the connection now (told when the server stops). */
  adopt(channel: { serverClose(): void } | null): void;
  /**
   * Hands the socket over for good (a WebSocket): the request loop ends
   * without closing it. Bytes already read stay in its buffer.
   */
  detach(): ByteConn;
  /** Closes the connection. */
  close(): void;
}

/** What a request map's hidden link holds. */
export interface RequestLink {
  conn: ServerLink;
  head: RequestHead;
}

/** A response map that takes the connection over. */
export interface TakeoverResponse extends RingResponse {
  [TAKEOVER]: (
    link: ServerLink,
    req: RingRequest<unknown>,
  ) => Promise<boolean>;
}

/** The link behind a request map, or undefined for a map made elsewhere. */
export function linkOf(
  req: RingRequest<unknown>,
): RequestLink | undefined {
  return (req as unknown as Record<symbol, RequestLink | undefined>)[CONN];
}
