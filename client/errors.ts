// The one error type of the client: what a failed request carries in
// `{ opts, error }`, and what a failed websocket() rejects with.

/**
 * Machine-readable kinds of client failure:
 * - `bad-url`: the URL (or a redirect's Location, or `proxyUrl`) is invalid or
 *   has an unsupported scheme;
 * - `bad-option`: an option value the request cannot be sent with (a header
 *   with CR/LF, a bad method, timeout or `as`);
 * - `unsupported-body`: a request body of a type the client cannot send;
 * - `request-body`: the request body's source (stream, iterable, file) failed
 *   while it was read;
 * - `connection-refused`, `dns`, `tls`, `connect-timeout`, `idle-timeout`,
 *   `connection-closed`, `network`, `proxy`: getting or keeping a connection;
 * - `protocol`: the peer broke HTTP (or the WebSocket handshake rules);
 * - `handshake`: the server refused a WebSocket upgrade (its status is in the
 *   message);
 * - `body-too-large`: the body passed `maxBody`;
 * - `bad-json`: `as: "json"` and the body is not JSON;
 * - `too-many-redirects`, `redirect`: following redirects failed;
 * - `aborted`: the `signal` fired;
 * - `callback`: the callback given to `request` (or a verb) threw; the
 *   thrown value is the `cause`;
 * - `internal`: an unexpected failure inside the client (a bug: please
 *   report it); the thrown value is the `cause`.
 *
 * @example Deciding whether to retry
 * ```ts
 * import { ClientError, type ClientErrorCode } from "@httpkit/httpkit";
 *
 * function retryable(code: ClientErrorCode): boolean {
 *   return code === "connection-refused" || code === "connect-timeout" ||
 *     code === "idle-timeout" || code === "connection-closed";
 * }
 * const err = new ClientError("idle-timeout", "idle timeout: 500 ms");
 * console.assert(retryable(err.code));
 * console.assert(!retryable("bad-url"));
 * ```
 */
export type ClientErrorCode =
  | "bad-url"
  | "bad-option"
  | "unsupported-body"
  | "request-body"
  | "connection-refused"
  | "dns"
  | "tls"
  | "connect-timeout"
  | "idle-timeout"
  | "connection-closed"
  | "protocol"
  | "body-too-large"
  | "too-many-redirects"
  | "redirect"
  | "proxy"
  | "aborted"
  | "network"
  | "handshake"
  | "bad-json"
  | "callback"
  | "internal";

/**
 * Why a request failed. `code` names the kind; `cause` holds the underlying
 * error when there is one.
 *
 * @example Telling a timeout apart
 * ```ts
 * import { ClientError } from "@httpkit/httpkit";
 *
 * const err = new ClientError("idle-timeout", "idle timeout: 500 ms");
 * if (err instanceof ClientError && err.code === "idle-timeout") {
 *   console.log(err.message);
 * }
 * ```
 */
export class ClientError extends Error {
  /** The kind of failure. */
  readonly code: ClientErrorCode;

  /**
   * Creates an error of kind `code`.
   *
   * @param code The kind of failure.
   * @param message A short, human description.
   * @param cause The underlying error, if any.
   */
  constructor(code: ClientErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ClientError";
    this.code = code;
  }
}

/**
 * Any thrown value as a ClientError: a ClientError as it is, anything else
 * as `code` with the value as its `cause`.
 */
export function asClientError(
  e: unknown,
  code: ClientErrorCode,
  what: string,
): ClientError {
  if (e instanceof ClientError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new ClientError(code, msg === "" ? what : `${what}: ${msg}`, e);
}

/** Turns an error from Deno's socket APIs into a ClientError. */
export function netError(e: unknown, where: string): ClientError {
  if (e instanceof ClientError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof Deno.errors.ConnectionRefused) {
    return new ClientError(
      "connection-refused",
      `connection refused: ${where}`,
      e,
    );
  }
  if (
    e instanceof Deno.errors.NotFound ||
    /dns|lookup|resolve|name or service/i.test(msg)
  ) {
    return new ClientError("dns", `cannot resolve host: ${where}`, e);
  }
  if (
    e instanceof Deno.errors.InvalidData ||
    /certificate|tls|handshake/i.test(msg)
  ) {
    return new ClientError("tls", `TLS error with ${where}: ${msg}`, e);
  }
  if (
    e instanceof Deno.errors.ConnectionReset ||
    e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted ||
    e instanceof Deno.errors.UnexpectedEof
  ) {
    return new ClientError(
      "connection-closed",
      `connection closed by ${where}: ${msg}`,
      e,
    );
  }
  return new ClientError("network", `network error with ${where}: ${msg}`, e);
}
