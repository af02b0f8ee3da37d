// Getting a socket to a target: TCP (TCP_NODELAY on) or a Unix socket, an
// HTTP proxy's CONNECT tunnel, TLS with SNI and the caller's CAs; all within
// a deadline and an abort signal. The HTTP client and the WebSocket client
// both dial here.

import type { HeadLimits } from "../http1/head.ts";
import { aborted, Connection } from "./_conn.ts";
import { connectRequest, exchange } from "./_exchange.ts";
import type { KeySettings, Proxy, Target } from "./_target.ts";
import { ClientError, netError } from "./errors.ts";

/**
 * The socket an attempt to connect holds so far: closed by whoever gives
 * the attempt up, so that a dial or handshake in flight ends at once.
 */
export interface Attempt {
  sock: Deno.Conn | null;
  /** Given up: a socket that arrives now is closed at once. */
  dead: boolean;
}

/** The error of a connection that took longer than `ms`. */
export function connectTimeout(ms: number): ClientError {
  return new ClientError("connect-timeout", `connect timeout: ${ms} ms`);
}

/**
 * Runs `run` (a dial, maybe a handshake after it) for at most `ms`, or until
 * `signal` aborts; then closes the socket it was working on.
 *
 * @param limit The configured timeout, for the error message.
 * @param late Gets a result that came after the deadline, to close it.
 */
export async function attempt<T>(
  run: (a: Attempt) => Promise<T>,
  ms: number,
  limit: number,
  signal: AbortSignal | undefined,
  late: (v: T) => void,
): Promise<T> {
  const a: Attempt = { sock: null, dead: false };
  try {
    return await race(run(a), ms, signal, () => connectTimeout(limit), late);
  } catch (e) {
    a.dead = true;
    try {
      a.sock?.close();
    } catch {
      // closed by the dial
    }
    throw e;
  }
}

/** Awaits `p` for at most `ms`, or until `signal` aborts. */
export function race<T>(
  p: Promise<T>,
  ms: number,
  signal: AbortSignal | undefined,
  onTimeout: () => ClientError,
  onLate?: (v: T) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer = 0;
    const abort = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(aborted(signal!));
    };
    const cleanup = (): void => {
      if (timer !== 0) clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    };
    if (ms !== Infinity) {
      timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        cleanup();
        reject(onTimeout());
      }, Math.max(0, ms)) as unknown as number;
    }
    if (signal !== undefined) {
      if (signal.aborted) queueMicrotask(abort);
      else signal.addEventListener("abort", abort);
    }
    p.then((v) => {
      if (settled) {
        onLate?.(v);
        return;
      }
      settled = true;
      cleanup();
      resolve(v);
    }, (e) => {
      if (settled) return;
      settled = true;
      cleanup();
      reject(e);
    });
  });
}

/**
 * Opens TCP (to the proxy when there is one) or a Unix socket, tunnels
 * through the proxy with CONNECT for TLS targets (and for every target when
 * `tunnel` is set: a WebSocket cannot go in absolute form), then does the TLS
 * handshake with SNI for the target's host.
 */
export async function dial(
  t: Target,
  s: KeySettings,
  limits: HeadLimits,
  a: Attempt,
  tunnel = false,
): Promise<Deno.Conn> {
  const p = s.proxy;
  const hostname = p !== null ? p.hostname : t.hostname;
  const port = p !== null ? p.port : t.port;
  const where = s.unixSocket ?? `${hostname}:${port}`;
  let sock: Deno.Conn;
  try {
    sock = s.unixSocket !== undefined && p === null
      ? await Deno.connect({ transport: "unix", path: s.unixSocket })
      : await Deno.connect({ hostname, port });
  } catch (e) {
    throw p !== null
      ? new ClientError(
        "proxy",
        `cannot reach proxy ${where}: ${(netError(e, where)).message}`,
        e,
      )
      : netError(e, where);
  }
  a.sock = sock;
  if (a.dead) {
    sock.close();
    throw new ClientError("connect-timeout", "connect cancelled");
  }
  // Without it, a request written right after the TLS handshake (or a body
  // after its head) waits for the peer's delayed ACK: 40 ms on Linux.
  if (sock.remoteAddr.transport === "tcp") {
    (sock as Deno.TcpConn).setNoDelay(true);
  }
  if (p !== null && (t.https || tunnel)) {
    await connectThrough(sock, t, p, limits);
  }
  if (!t.https) return sock;
  if (s.unixSocket !== undefined) {
    sock.close();
    throw new ClientError(
      "bad-option",
      "unixSocket works with http: and ws: URLs only",
    );
  }
  return await startTls(sock as Deno.TcpConn, t, s, a);
}

async function startTls(
  tcp: Deno.TcpConn,
  t: Target,
  s: KeySettings,
  a: Attempt,
): Promise<Deno.TlsConn> {
  const tls = await Deno.startTls(tcp, {
    hostname: t.hostname,
    caCerts: s.caCerts === undefined ? undefined : [...s.caCerts],
    unsafelyDisableHostnameVerification: s.insecure,
  });
  a.sock = tls;
  try {
    await tls.handshake();
  } catch (e) {
    tls.close();
    const err = netError(e, `${t.hostname}:${t.port}`);
    if (err.code === "tls" && s.insecure) {
      err.message +=
        " (insecure only skips the host name check in Deno: pass " +
        "the CA in caCerts or run with --unsafely-ignore-certificate-errors)";
    }
    if (err.code !== "tls") {
      throw new ClientError(
        "tls",
        `TLS handshake with ${t.hostname}:${t.port} failed: ${err.message}`,
        e,
      );
    }
    throw err;
  }
  return tls;
}

/** Asks the proxy on `sock` for a tunnel to `t`. */
async function connectThrough(
  sock: Deno.Conn,
  t: Target,
  p: Proxy,
  limits: HeadLimits,
): Promise<void> {
  const authority = t.host.includes(":") && !t.host.endsWith("]")
    ? t.host
    : `${t.host}:${t.port}`;
  const c = new Connection(sock, "", `${p.hostname}:${p.port}`);
  const head = await exchange(c, connectRequest(authority, p.auth), limits);
  if (head.status < 200 || head.status > 299) {
    sock.close();
    throw new ClientError(
      "proxy",
      `proxy refused CONNECT ${authority}: ${head.status} ${head.reason}`,
    );
  }
  if (c.end !== c.start) {
    sock.close();
    throw new ClientError("proxy", "proxy sent bytes before the tunnel's use");
  }
}
