/**
 * A message that breaks the HTTP/1.1 grammar or a configured limit.
 *
 * `status` is the response a server sends for it (400, 413, 414, 431, 501...);
 * the client reports it as an error value.
 *
 * @example Answering with the error's status
 * ```ts
 * import { ProtocolError, type RingResponse } from "@httpkit/httpkit";
 *
 * const err = new ProtocolError(431, "Request header fields too large");
 * console.assert(err instanceof Error && err.name === "ProtocolError");
 * const res: RingResponse = { status: err.status, body: err.message };
 * console.assert(res.status === 431);
 * ```
 */
export class ProtocolError extends Error {
  /** The HTTP status that answers this error. */
  readonly status: number;

  /**
   * Creates an error that answers with `status`.
   *
   * @param status The HTTP status that answers this error.
   * @param message A short reason, sent as the response body.
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.status = status;
  }
}
