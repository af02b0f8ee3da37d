// The error a failed request carries in `{ opts, error }`.

/**
 * Machine-readable kinds of client failure.
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
  | "network";

/**
 * Why a request failed. `code` names the kind; `cause` holds the underlying
 * error when there is one.
 *
 * @example Telling a timeout apart
 * ```ts
 * import { ClientError } from "./mod.ts";
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
