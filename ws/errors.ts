// The error of the WebSocket codec and of permessage-deflate: a peer that
// broke the protocol, with the close code that answers it.

/**
 * A violation of RFC 6455 (or RFC 7692) by the peer, or a limit it broke.
 *
 * `code` is the close code to send back before closing the connection:
 * 1002 (protocol error), 1007 (invalid payload data) or 1009 (message too
 * big).
 *
 * @example Catching a protocol error
 * ```ts
 * import assert from "node:assert/strict";
 * const err = new WsProtocolError(1009, "Message over 1024 bytes");
 * assert.equal(err.code, 1009);
 * assert.equal(err.name, "WsProtocolError");
 * ```
 */
export class WsProtocolError extends Error {
  /** The close code that answers this error. */
  readonly code: number;

  /**
   * Creates an error with the close code that answers it.
   *
   * @param code The close code to send to the peer.
   * @param message What went wrong.
   */
  constructor(code: number, message: string) {
    super(message);
    this.name = "WsProtocolError";
    this.code = code;
  }
}
