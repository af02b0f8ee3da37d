// The request algorithm: options -> pooled connection -> one write ->
// response head -> body -> response map, looping over redirects. Failures
// become `{ opts, error }` values.

import { isFieldValue, isToken } from "../http1/_chars.ts";
import { encodeChunk, LAST_CHUNK } from "../http1/chunked.ts";
import { ProtocolError } from "../http1/errors.ts";
import {
  findHeadEnd,
  type HeadLimits,
  parseResponseHead,
  type ResponseHead,
} from "../http1/head.ts";
import {
  latin1Bytes,
  newFlags,
  type OutHeaders,
  userHeaders,
} from "../http1/serialize.ts";
import {
  bodyStream,
  codingFormat,
  decodeStream,
  decodeWhole,
  drain,
  Framing,
  readWhole,
} from "./_body.ts";
import { Connection } from "./_conn.ts";
import { paramString, prepareBody, type PreparedBody } from "./_encode.ts";
import { Pool } from "./_pool.ts";
import { ClientError, netError } from "./errors.ts";
import type {
  As,
  ClientOptions,
  ClientResponse,
  ErrorResponse,
  RequestOptions,
  ResolvedOptions,
  ResponseBodyValue,
} from "./types.ts";

const encoder = new TextEncoder();
const utf8 = new TextDecoder();
const MERGE_LIMIT = 65536;
const DRAIN_LIMIT = 65536;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const AS_VALUES = new Set(["auto", "text", "bytes", "stream", "none"]);

/** A parsed request URL. */
interface Target {
  https: boolean;
  /** Host name or IP for connecting (IPv6 without brackets). */
  hostname: string;
  port: number;
  /** Host header value: host plus a non-default port. */
  host: string;
  /** Path and query, as sent in origin-form. */
  path: string;
  /** `scheme://host:port`, for same-origin checks. */
  origin: string;
  href: string;
  /** Credentials from the URL's userinfo, decoded, or null. */
  userinfo: string | null;
  /** Pool key without proxy, unix socket or TLS trust options. */
  key: string;
  /** The last plain request head built for this target, or null. */
  head: CachedHead | null;
}

/**
 * A whole request (head, no body) for a target, reused while the method and
 * the settings it depends on stay the same: a plain GET costs no head
 * building, header checks or encoding.
 */
interface CachedHead {
  method: string;
  userAgent: string;
  autoCompression: boolean;
  close: boolean;
  bytes: Uint8Array;
}

interface Proxy {
  hostname: string;
  port: number;
  auth: string | null;
  href: string;
}

/** Per-request settings after defaults. */
interface Settings {
  connectTimeout: number;
  idleTimeout: number;
  keepalive: number;
  as: As;
  follow: boolean;
  maxRedirects: number;
  maxBody: number;
  autoCompression: boolean;
  insecure: boolean;
  caCerts: string[] | undefined;
  proxy: Proxy | null;
  signal: AbortSignal | undefined;
  userAgent: string;
  unixSocket: string | undefined;
}

/** One hop of a request (redirects rewrite it). */
interface Hop {
  target: Target;
  method: string;
  headers: OutHeaders | undefined;
  body: PreparedBody;
  /** Authorization from basicAuth/oauthToken/URL, or null. */
  auth: string | null;
}

const targets = new Map<string, Target>();

function parseTarget(u: string | URL): Target {
  const s = typeof u === "string" ? u : u.href;
  const hit = targets.get(s);
  if (hit !== undefined) return hit;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new ClientError("bad-url", `Invalid URL: ${JSON.stringify(s)}`);
  }
  const https = url.protocol === "https:";
  if (!https && url.protocol !== "http:") {
    throw new ClientError(
      "bad-url",
      `Unsupported URL scheme: ${JSON.stringify(url.protocol)} in ${
        JSON.stringify(s)
      }`,
    );
  }
  if (url.hostname === "") {
    throw new ClientError("bad-url", `URL has no host: ${JSON.stringify(s)}`);
  }
  const port = url.port === "" ? (https ? 443 : 80) : Number(url.port);
  const h = url.hostname;
  const t: Target = {
    https,
    hostname: h.startsWith("[") ? h.slice(1, -1) : h,
    port,
    host: url.host,
    path: url.pathname + url.search,
    origin: `${url.protocol}//${h}:${port}`,
    href: url.href,
    userinfo: url.username === "" && url.password === ""
      ? null
      : `${decodeURIComponent(url.username)}:${
        decodeURIComponent(url.password)
      }`,
    key: "",
    head: null,
  };
  t.key = poolKey(t, PLAIN);
  if (targets.size >= 256) targets.clear();
  targets.set(s, t);
  return t;
}

function withQuery(t: Target, qs: string): Target {
  if (qs === "") return t;
  const q = t.path.indexOf("?");
  const sep = q === -1 ? "?" : q === t.path.length - 1 ? "" : "&";
  const hash = t.href.indexOf("#");
  const base = hash === -1 ? t.href : t.href.slice(0, hash);
  const fragment = hash === -1 ? "" : t.href.slice(hash);
  return {
    ...t,
    path: t.path + sep + qs,
    href: base + sep + qs + fragment,
    head: null,
  };
}

function parseProxy(s: string): Proxy {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new ClientError("bad-url", `Invalid proxy URL: ${JSON.stringify(s)}`);
  }
  if (url.protocol !== "http:") {
    throw new ClientError(
      "bad-url",
      `Unsupported proxy scheme: ${JSON.stringify(url.protocol)}`,
    );
  }
  const h = url.hostname;
  return {
    hostname: h.startsWith("[") ? h.slice(1, -1) : h,
    port: url.port === "" ? 80 : Number(url.port),
    auth: url.username === "" ? null : basic(
      `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
    ),
    href: url.href,
  };
}

function basic(userPass: string): string {
  const bytes = encoder.encode(userPass);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return "Basic " + btoa(s);
}

function checkValue(name: string, v: string): string {
  if (!isFieldValue(v)) {
    throw new ClientError(
      "bad-option",
      `Invalid ${name}: ${JSON.stringify(v.slice(0, 80))}`,
    );
  }
  return v;
}

function timeoutOption(
  v: number | undefined,
  name: string,
): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || Number.isNaN(v) || v < 0) {
    throw new ClientError("bad-option", `Invalid ${name}: ${v}`);
  }
  return v === 0 ? Infinity : v;
}

let checkedUserAgent = "";

/** Checks a User-Agent (the last good one is remembered). */
function userAgent(v: string): string {
  if (v !== checkedUserAgent) checkedUserAgent = checkValue("userAgent", v);
  return v;
}

function settings(o: RequestOptions, client: HttpClient): Settings {
  const timeout = timeoutOption(o.timeout, "timeout");
  const as = o.as ?? "auto";
  if (!AS_VALUES.has(as)) {
    throw new ClientError("bad-option", `Invalid as: ${JSON.stringify(as)}`);
  }
  const keepalive = o.keepalive ?? 120000;
  return {
    connectTimeout: timeoutOption(o.connectTimeout, "connectTimeout") ??
      timeout ?? 60000,
    idleTimeout: timeoutOption(o.idleTimeout, "idleTimeout") ?? timeout ??
      60000,
    keepalive: keepalive < 0 ? -1 : keepalive,
    as,
    follow: o.followRedirects ?? true,
    maxRedirects: o.maxRedirects ?? 10,
    maxBody: o.maxBody ?? -1,
    autoCompression: o.autoCompression ?? true,
    insecure: o.insecure ?? false,
    caCerts: o.caCerts === undefined ? undefined : [...o.caCerts],
    proxy: o.proxyUrl === undefined ? null : parseProxy(o.proxyUrl),
    signal: o.signal,
    userAgent: userAgent(o.userAgent ?? client.userAgent),
    unixSocket: o.unixSocket,
  };
}

/** Which defaults the user's headers override, by lower-case name. */
interface Given {
  host: boolean;
  userAgent: boolean;
  acceptEncoding: boolean;
  authorization: boolean;
}

function given(headers: OutHeaders | undefined): Given {
  const g = {
    host: false,
    userAgent: false,
    acceptEncoding: false,
    authorization: false,
  };
  if (headers === undefined || headers === null) return g;
  for (const name in headers) {
    if (headers[name] == null) continue;
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") g.host = true;
        break;
      case 10:
        if (name.toLowerCase() === "user-agent") g.userAgent = true;
        break;
      case 13:
        if (name.toLowerCase() === "authorization") g.authorization = true;
        break;
      case 15:
        if (name.toLowerCase() === "accept-encoding") g.acceptEncoding = true;
        break;
    }
  }
  return g;
}

/** The settings that go into a pool key. */
type KeySettings = Pick<
  Settings,
  "proxy" | "unixSocket" | "insecure" | "caCerts"
>;

/** No proxy, no unix socket, default TLS trust: the key in `Target.key`. */
const PLAIN: KeySettings = {
  proxy: null,
  unixSocket: undefined,
  insecure: false,
  caCerts: undefined,
};

function poolKey(t: Target, s: KeySettings): string {
  let key: string;
  if (s.proxy !== null && !t.https) key = "proxy|" + s.proxy.href;
  else {
    key = (t.https ? "https|" : "http|") + t.hostname + "|" + t.port;
    if (s.proxy !== null) key += "|via|" + s.proxy.href;
  }
  if (s.unixSocket !== undefined) key += "|unix|" + s.unixSocket;
  if (t.https) {
    if (s.insecure) key += "|insecure";
    if (s.caCerts !== undefined) key += "|ca|" + s.caCerts.join("");
  }
  return key;
}

/** Serialises the request head; `flags.close` reports a Connection: close. */
function buildHead(h: Hop, s: Settings): { head: string; close: boolean } {
  const t = h.target;
  const absolute = s.proxy !== null && !t.https;
  let head = h.method + " " +
    (absolute ? t.href.split("#")[0] : t.path) + " HTTP/1.1\r\n";
  const g = given(h.headers);
  if (!g.host) head += "Host: " + t.host + "\r\n";
  const flags = newFlags();
  try {
    head += userHeaders(h.headers, flags);
  } catch (e) {
    if (e instanceof ProtocolError) {
      throw new ClientError("bad-option", e.message, e);
    }
    throw e;
  }
  if (!g.userAgent && s.userAgent !== "") {
    head += "User-Agent: " + s.userAgent + "\r\n";
  }
  if (s.autoCompression && !g.acceptEncoding) {
    head += "Accept-Encoding: gzip, deflate\r\n";
  }
  if (h.auth !== null && !g.authorization) {
    head += "Authorization: " + h.auth + "\r\n";
  }
  if (absolute && s.proxy!.auth !== null) {
    head += "Proxy-Authorization: " + s.proxy!.auth + "\r\n";
  }
  const b = h.body;
  if (b.kind !== "none" && b.contentType !== undefined && !flags.contentType) {
    head += "Content-Type: " + b.contentType + "\r\n";
  }
  if (b.kind === "bytes") {
    head += "Content-Length: " + b.bytes.length + "\r\n";
  } else if (b.kind === "stream") {
    const n = b.length >= 0 ? b.length : flags.contentLength;
    head += n >= 0
      ? "Content-Length: " + n + "\r\n"
      : "Transfer-Encoding: chunked\r\n";
  } else if (
    h.method === "POST" || h.method === "PUT" || h.method === "PATCH"
  ) {
    head += "Content-Length: 0\r\n";
  }
  const close = flags.close || s.keepalive < 0;
  if (close) head += "Connection: close\r\n";
  return { head: head + "\r\n", close };
}

const NO_BODY: PreparedBody = { kind: "none" };

/**
 * The request bytes of a hop with no headers, body or credentials, without
 * proxy or unix socket: cached on the target.
 */
function plainHead(t: Target, method: string, s: Settings): CachedHead {
  const h = t.head;
  const close = s.keepalive < 0;
  if (
    h !== null && h.method === method && h.userAgent === s.userAgent &&
    h.autoCompression === s.autoCompression && h.close === close
  ) {
    return h;
  }
  const b = buildHead({
    target: t,
    method,
    headers: undefined,
    body: NO_BODY,
    auth: null,
  }, s);
  const cached: CachedHead = {
    method,
    userAgent: s.userAgent,
    autoCompression: s.autoCompression,
    close: b.close,
    bytes: latin1Bytes(b.head),
  };
  t.head = cached;
  return cached;
}

/** Latin1 string into a new buffer with `extra` spare bytes at the end. */

async function send(
  c: Connection,
  head: string,
  b: PreparedBody,
): Promise<void> {
  if (b.kind === "none") {
    await c.write(latin1Bytes(head));
    return;
  }
  if (b.kind === "bytes") {
    if (b.bytes.length <= MERGE_LIMIT) {
      const out = latin1Bytes(head, b.bytes.length);
      out.set(b.bytes, head.length);
      await c.write(out);
    } else {
      await c.write(latin1Bytes(head));
      await c.write(b.bytes);
    }
    return;
  }
  await c.write(latin1Bytes(head));
  const chunked = head.includes("\r\nTransfer-Encoding: chunked\r\n");
  for await (const piece of b.chunks) {
    const data = typeof piece === "string" ? encoder.encode(piece) : piece;
    if (!(data instanceof Uint8Array)) {
      throw new ClientError(
        "unsupported-body",
        "Body streams must yield Uint8Array or string chunks",
      );
    }
    if (data.length === 0) continue;
    if (!chunked) {
      await c.write(data);
      continue;
    }
    await c.write(encodeChunk(data));
  }
  if (chunked) await c.write(latin1Bytes(LAST_CHUNK));
}

/**
 * Parses a final (non-1xx) response head from the buffer, skipping 1xx
 * heads. @returns The head, or (when more bytes are needed) where to resume
 * the scan, relative to `c.start`.
 */
function takeHead(
  c: Connection,
  limits: HeadLimits,
  scan: number,
): ResponseHead | number {
  for (;;) {
    const he = findHeadEnd(c.buf, scan, c.end);
    if (he === -1) break;
    let head: ResponseHead | null = c.repeatedHead(he);
    if (head === null) {
      try {
        head = parseResponseHead(c.buf, c.start, he, limits);
      } catch (e) {
        if (e instanceof ProtocolError) {
          throw new ClientError(
            "protocol",
            `invalid response: ${e.message}`,
            e,
          );
        }
        throw e;
      }
      c.rememberHead(he, head);
    }
    c.start = he;
    if (head.status < 200 && head.status !== 101) {
      scan = c.start;
      continue;
    }
    if (head.status === 101) {
      throw new ClientError("protocol", "unexpected 101 Switching Protocols");
    }
    return head;
  }
  if (c.end - c.start > limits.maxHeaderBytes) {
    throw new ClientError(
      "protocol",
      `invalid response: head larger than ${limits.maxHeaderBytes} bytes`,
    );
  }
  return Math.max(0, c.end - c.start - 3);
}

function closedBeforeHead(c: Connection): ClientError {
  return new ClientError(
    "connection-closed",
    c.start === c.end
      ? `connection closed by ${c.where} before a response`
      : `connection closed by ${c.where} in the middle of the response head`,
  );
}

/** Reads up to a final (non-1xx) response head. */
async function readHead(
  c: Connection,
  limits: HeadLimits,
): Promise<ResponseHead> {
  let scan = c.start;
  for (;;) {
    const r = takeHead(c, limits, scan);
    if (typeof r !== "number") return r;
    const n = await c.fill();
    scan = c.start + r;
    if (n === 0) throw closedBeforeHead(c);
  }
}

/** Awaits `p` for at most `ms`, or until `signal` aborts. */
function race<T>(
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
      if (signal.aborted) {
        queueMicrotask(abort);
      } else signal.addEventListener("abort", abort);
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

function aborted(signal: AbortSignal): ClientError {
  const r = signal.reason;
  return new ClientError(
    "aborted",
    `request aborted${r instanceof Error ? ": " + r.message : ""}`,
    r,
  );
}

/** Opens TCP (through the proxy when set), CONNECT, then TLS. */
async function dial(
  t: Target,
  s: Settings,
  limits: HeadLimits,
  state: { tcp: Deno.Conn | null; dead: boolean },
): Promise<Deno.Conn> {
  const p = s.proxy;
  const hostname = p !== null ? p.hostname : t.hostname;
  const port = p !== null ? p.port : t.port;
  const where = s.unixSocket ?? `${hostname}:${port}`;
  let tcp: Deno.Conn;
  try {
    tcp = s.unixSocket !== undefined && p === null
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
  state.tcp = tcp;
  if (state.dead) {
    tcp.close();
    throw new ClientError("connect-timeout", "connect cancelled");
  }
  // Without it, a request written right after the TLS handshake (or a body
  // after its head) waits for the peer's delayed ACK: 40 ms on Linux.
  if (tcp.remoteAddr.transport === "tcp") {
    (tcp as Deno.TcpConn).setNoDelay(true);
  }
  if (!t.https) return tcp;
  if (s.unixSocket !== undefined) {
    tcp.close();
    throw new ClientError(
      "bad-option",
      "unixSocket works with http: URLs only",
    );
  }
  if (p !== null) await tunnel(tcp as Deno.TcpConn, t, p, limits);
  const tls = await Deno.startTls(tcp as Deno.TcpConn, {
    hostname: t.hostname,
    caCerts: s.caCerts,
    unsafelyDisableHostnameVerification: s.insecure,
  });
  state.tcp = tls;
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

async function tunnel(
  tcp: Deno.TcpConn,
  t: Target,
  p: Proxy,
  limits: HeadLimits,
): Promise<void> {
  const authority = t.host.includes(":") && !t.host.endsWith("]")
    ? t.host
    : `${t.host}:${t.port}`;
  let req = `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n`;
  if (p.auth !== null) req += `Proxy-Authorization: ${p.auth}\r\n`;
  const c = new Connection(tcp, "", `${p.hostname}:${p.port}`);
  await c.write(latin1Bytes(req + "\r\n"));
  const head = await readHead(c, limits);
  if (head.status < 200 || head.status > 299) {
    tcp.close();
    throw new ClientError(
      "proxy",
      `proxy refused CONNECT ${authority}: ${head.status} ${head.reason}`,
    );
  }
  if (c.end !== c.start) {
    tcp.close();
    throw new ClientError("proxy", "proxy sent bytes before the TLS handshake");
  }
}

const TEXT_TYPE =
  /^\s*(text\/|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded)\b|[^;]*\+(json|xml)\b)/i;

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

// What the last Content-Type said (responses mostly repeat it): text or not,
// and its charset when not UTF-8 (null: UTF-8).
let seenType: string | undefined = undefined;
let seenText = false;
let seenCharset: string | null = null;

function learnType(contentType: string | undefined): void {
  seenType = contentType;
  if (contentType === undefined) {
    seenText = false;
    seenCharset = null;
    return;
  }
  seenText = TEXT_TYPE.test(contentType);
  const m = CHARSET.exec(contentType);
  seenCharset = m === null || /^utf-?8$/i.test(m[1]) ? null : m[1];
}

/** UTF-8 text; short ASCII without the TextDecoder call. */
function utf8Text(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n > 256) return utf8.decode(bytes);
  for (let i = 0; i < n; i++) {
    if (bytes[i] > 0x7f) return utf8.decode(bytes);
  }
  // deno-lint-ignore no-explicit-any
  return String.fromCharCode.apply(null, bytes as any);
}

/**
 * Whether {@linkcode coerce} turns a body into text (or null) rather than
 * handing the bytes out: then the bytes need no copy of their own.
 */
function wantsText(as: As, contentType: string | undefined): boolean {
  if (as === "bytes") return false;
  if (as !== "auto") return true;
  if (contentType !== seenType) learnType(contentType);
  return seenText;
}

function decodeText(
  bytes: Uint8Array,
  contentType: string | undefined,
): string {
  if (contentType !== seenType) learnType(contentType);
  const charset = seenCharset;
  if (charset === null) return utf8Text(bytes);
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return utf8.decode(bytes);
  }
}

function coerce(
  bytes: Uint8Array,
  as: As,
  contentType: string | undefined,
): ResponseBodyValue {
  if (as === "bytes") return bytes;
  if (as === "none") return null;
  if (contentType !== seenType) learnType(contentType);
  if (as === "text" || seenText) return decodeText(bytes, contentType);
  return bytes;
}

function sameOrigin(a: Target, b: Target): boolean {
  return a.origin === b.origin;
}

const ENTITY = /^(content-|transfer-encoding$)/i;
const CREDENTIALS = /^(authorization|cookie|proxy-authorization)$/i;

function dropHeaders(
  headers: OutHeaders | undefined,
  re: RegExp,
): OutHeaders | undefined {
  if (headers === undefined || headers === null) return headers;
  const out: OutHeaders = {};
  for (const k in headers) if (!re.test(k)) out[k] = headers[k];
  return out;
}

/**
 * An HTTP/1.1 client with its own keep-alive pool. The module functions
 * (`request`, `get`, ...) use {@linkcode defaultClient}; pass `client` in
 * the options to use another.
 *
 * @example A client with a connection cap
 * ```ts
 * import { HttpClient } from "./mod.ts";
 *
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hi"),
 * );
 * const client = new HttpClient({ maxConnections: 4 });
 * const res = await client.request({
 *   url: `http://127.0.0.1:${server.addr.port}/`,
 * });
 * console.log(res.status, res.body); // 200 "hi"
 * client.close();
 * await server.shutdown();
 * ```
 */
export class HttpClient {
  /** The keep-alive pool. */
  readonly #pool: Pool;
  readonly #limits: HeadLimits;
  /** The default User-Agent. */
  readonly userAgent: string;

  /**
   * Creates a client with an empty pool.
   *
   * @param options Pool size, head limits and the default User-Agent.
   */
  constructor(options: ClientOptions = {}) {
    const max = options.maxConnections ?? Infinity;
    if (!(max >= 1)) {
      throw new RangeError(`Invalid maxConnections: ${max}`);
    }
    this.#pool = new Pool(max);
    this.#limits = {
      maxLine: options.maxLine ?? 8192,
      maxHeaderBytes: options.maxHeaderBytes ?? 65536,
    };
    this.userAgent = options.userAgent ?? "httpkit-deno";
  }

  /** Idle pooled connections, in all or for one key (for tests/metrics). */
  get idleConnections(): number {
    return this.#pool.idleCount();
  }

  /**
   * Closes every idle pooled connection and stops the pool's timer. The
   * client stays usable: later requests open new connections.
   */
  close(): void {
    this.#pool.closeIdle();
  }

  /**
   * Sends a request. The promise never rejects: a failure resolves to
   * `{ opts, error }`.
   *
   * @param options The request options.
   * @returns The response, or the error as a value.
   */
  async request(options: RequestOptions): Promise<ClientResponse> {
    // One async function for the whole request: the socket reads and writes
    // of the common case are awaited right here (each async layer costs).
    const opts: ResolvedOptions = {
      ...options,
      url: String(options.url ?? ""),
      method: String(options.method ?? "GET").toUpperCase(),
    };
    try {
      if (options.url === undefined || options.url === null) {
        throw new ClientError("bad-url", "Missing url");
      }
      if (!isToken(opts.method)) {
        throw new ClientError(
          "bad-option",
          `Invalid method: ${JSON.stringify(opts.method)}`,
        );
      }
      const s = settings(options, this);
      let target = parseTarget(options.url);
      if (options.queryParams !== undefined) {
        target = withQuery(
          target,
          paramString(options.queryParams, options.multiParamStyle),
        );
      }
      let auth: string | null = null;
      const ba = options.basicAuth;
      if (ba !== undefined) {
        auth = basic(typeof ba === "string" ? ba : `${ba[0]}:${ba[1]}`);
      } else if (options.oauthToken !== undefined) {
        auth = "Bearer " + checkValue("oauthToken", options.oauthToken);
      } else if (target.userinfo !== null) {
        auth = basic(target.userinfo);
      }
      const hop: Hop = {
        target,
        method: opts.method,
        headers: options.headers,
        body: options.body == null && !options.formParams &&
            !options.multipart
          ? NO_BODY
          : await prepareBody(
            options.body,
            options.formParams,
            options.multipart,
            options.multiParamStyle,
          ),
        auth,
      };
      const plain = s.proxy === null && s.unixSocket === undefined;
      let trace: string[] | null = null;
      for (let redirects = 0;; redirects++) {
        const t = hop.target;
        opts.url = t.href;
        opts.method = hop.method;
        // Send the request and read the final response head.
        const key = plain &&
            (!t.https || (!s.insecure && s.caCerts === undefined))
          ? t.key
          : poolKey(t, s);
        let fixed: Uint8Array | null = null;
        let headText = "";
        let close: boolean;
        if (
          plain && hop.body.kind === "none" && hop.auth === null &&
          (hop.headers === undefined || hop.headers === null)
        ) {
          const h = plainHead(t, hop.method, s);
          fixed = h.bytes;
          close = h.close;
        } else {
          const h = buildHead(hop, s);
          headText = h.head;
          close = h.close;
        }
        const retryable = (hop.method === "GET" || hop.method === "HEAD") &&
          hop.body.kind !== "stream";
        let c!: Connection;
        let head!: ResponseHead;
        for (let attempt = 0;; attempt++) {
          let conn = attempt === 0 ? this.#pool.takeIdle(key) : null;
          if (conn === null) conn = await this.#open(key, t, s);
          const reused = conn.uses > 0;
          conn.watch(s.idleTimeout, s.signal);
          const before = conn.end - conn.start;
          try {
            if (fixed !== null) {
              conn.begin();
              let n: number;
              try {
                n = await conn.conn.write(fixed);
              } catch (e) {
                throw conn.ioError(e);
              }
              conn.settle();
              if (n < fixed.length) await conn.write(fixed.subarray(n));
            } else {
              await send(conn, headText, hop.body);
            }
            let scan = conn.start;
            for (;;) {
              const r = takeHead(conn, this.#limits, scan);
              if (typeof r !== "number") {
                head = r;
                break;
              }
              const dst = conn.room();
              scan = conn.start + r;
              conn.begin();
              let n: number | null;
              try {
                n = await conn.conn.read(dst);
              } catch (e) {
                throw conn.ioError(e);
              }
              conn.settle();
              if (n === null || n === 0) throw closedBeforeHead(conn);
              conn.end += n;
            }
            c = conn;
            break;
          } catch (e) {
            const silent = conn.end - conn.start === before &&
              conn.failure === null;
            this.#pool.release(conn, false, 0);
            if (
              reused && silent && retryable && attempt === 0 &&
              e instanceof ClientError &&
              (e.code === "connection-closed" || e.code === "network")
            ) {
              continue;
            }
            throw e;
          }
        }
        const status = head.status;
        if (!s.follow || !REDIRECTS.has(status)) {
          const done = this.#finish(c, head, close, hop, s, opts);
          return done !== null
            ? done
            : await this.#respond(c, head, close, hop, s, opts);
        }
        await this.#discard(c, head, close, hop, s);
        const location = head.headers["location"];
        if (location === undefined) {
          throw new ClientError(
            "redirect",
            `redirect ${status} without a Location header`,
          );
        }
        if (redirects >= s.maxRedirects) {
          throw new ClientError(
            "too-many-redirects",
            `too many redirects: ${redirects}`,
          );
        }
        let next: Target;
        try {
          next = parseTarget(new URL(location, hop.target.href));
        } catch (e) {
          throw e instanceof ClientError ? e : new ClientError(
            "bad-url",
            `Invalid redirect Location: ${JSON.stringify(location)}`,
          );
        }
        if (trace === null) trace = opts.traceRedirects = [hop.target.href];
        trace.push(next.href);
        if (status <= 303) {
          if (hop.method !== "HEAD") hop.method = "GET";
          hop.body = NO_BODY;
          hop.headers = dropHeaders(hop.headers, ENTITY);
        } else if (hop.body.kind === "stream") {
          throw new ClientError(
            "redirect",
            `cannot follow a ${status} redirect: the streamed body cannot be sent again`,
          );
        }
        if (!sameOrigin(hop.target, next)) {
          hop.headers = dropHeaders(hop.headers, CREDENTIALS);
          hop.auth = null;
        }
        hop.target = next;
      }
    } catch (e) {
      return {
        opts,
        error: e instanceof Error ? e : new Error(String(e)),
      } satisfies ErrorResponse;
    }
  }

  /** Gets a connection slot (maybe queueing), then dials. */
  async #open(key: string, t: Target, s: Settings): Promise<Connection> {
    const deadline = Date.now() + s.connectTimeout;
    const timeoutError = (): ClientError =>
      new ClientError(
        "connect-timeout",
        `connect timeout: ${s.connectTimeout} ms`,
      );
    const r = this.#pool.reserve(key);
    if (r.ready !== null) {
      let got: Connection | null;
      try {
        got = await race(r.ready, s.connectTimeout, s.signal, timeoutError);
      } catch (e) {
        r.cancel();
        throw e;
      }
      if (got !== null) return got;
    }
    const state: { tcp: Deno.Conn | null; dead: boolean } = {
      tcp: null,
      dead: false,
    };
    const where = `${t.hostname}:${t.port}`;
    try {
      const conn = await race(
        dial(t, s, this.#limits, state),
        deadline - Date.now(),
        s.signal,
        timeoutError,
        (late) => late.close(),
      );
      return new Connection(conn, key, where);
    } catch (e) {
      state.dead = true;
      if (state.tcp !== null) {
        try {
          state.tcp.close();
        } catch {
          // closed by dial
        }
      }
      this.#pool.unreserve(key);
      throw e;
    }
  }

  // A connection goes back to the pool for reuse only when the response
  // allowed it and left no unread bytes behind.
  #release(c: Connection, persistent: boolean, s: Settings): void {
    this.#pool.release(c, persistent && c.start === c.end, s.keepalive);
  }

  #framing(head: ResponseHead, hop: Hop): Framing {
    const st = head.status;
    if (hop.method === "HEAD" || st === 204 || st === 205 || st === 304) {
      return Framing.None;
    }
    if (head.chunked) return Framing.Chunked;
    if (head.contentLength >= 0) return Framing.Length;
    return Framing.Eof;
  }

  /** Reads and drops a redirect's body, keeping the connection if cheap. */
  async #discard(
    c: Connection,
    head: ResponseHead,
    close: boolean,
    hop: Hop,
    s: Settings,
  ): Promise<void> {
    const f = this.#framing(head, hop);
    let ok = f === Framing.None;
    if (!ok) {
      try {
        ok = await drain(c, f, head.contentLength, DRAIN_LIMIT);
      } catch {
        ok = false;
      }
    }
    this.#release(c, ok && head.keepAlive && !close, s);
  }

  /**
   * The response without awaiting anything, when that is possible: no body,
   * or a buffered, unencoded Content-Length body already in the buffer.
   * @returns `null` when {@linkcode #respond} must read on.
   */
  #finish(
    c: Connection,
    head: ResponseHead,
    close: boolean,
    hop: Hop,
    s: Settings,
    opts: ResolvedOptions,
  ): ClientResponse | null {
    const f = this.#framing(head, hop);
    if (f === Framing.None) {
      this.#release(c, head.keepAlive && !close, s);
      return { opts, status: head.status, headers: head.headers, body: null };
    }
    const length = head.contentLength;
    if (
      f !== Framing.Length || s.as === "stream" ||
      (s.maxBody >= 0 && length > s.maxBody) || c.end - c.start < length ||
      (s.autoCompression &&
        codingFormat(head.headers["content-encoding"]) !== null)
    ) {
      return null;
    }
    const ct = head.headers["content-type"];
    const start = c.start;
    c.start += length;
    // Text is decoded straight from the read buffer; bytes get a copy.
    const bytes = wantsText(s.as, ct)
      ? c.buf.subarray(start, c.start)
      : c.buf.slice(start, c.start);
    const body = coerce(bytes, s.as, ct);
    this.#release(c, head.keepAlive && !close, s);
    return { opts, status: head.status, headers: head.headers, body };
  }

  async #respond(
    c: Connection,
    head: ResponseHead,
    close: boolean,
    hop: Hop,
    s: Settings,
    opts: ResolvedOptions,
  ): Promise<ClientResponse> {
    const f = this.#framing(head, hop);
    const persistent = head.keepAlive && !close && f !== Framing.Eof;
    const coding = s.autoCompression
      ? codingFormat(head.headers["content-encoding"])
      : null;
    if (f === Framing.None) {
      this.#release(c, persistent, s);
      return { opts, status: head.status, headers: head.headers, body: null };
    }
    if (s.as === "stream") {
      let body = bodyStream(
        c,
        f,
        head.contentLength,
        coding === null ? s.maxBody : -1,
        (ok) => this.#release(c, ok && persistent, s),
      );
      if (coding !== null) body = decodeStream(body, coding, s.maxBody);
      return { opts, status: head.status, headers: head.headers, body };
    }
    let bytes: Uint8Array;
    try {
      bytes = await readWhole(
        c,
        f,
        head.contentLength,
        coding === null ? s.maxBody : -1,
      );
    } catch (e) {
      this.#pool.release(c, false, 0);
      throw e;
    }
    this.#release(c, persistent, s);
    if (coding !== null) bytes = await decodeWhole(bytes, coding, s.maxBody);
    return {
      opts,
      status: head.status,
      headers: head.headers,
      body: coerce(bytes, s.as, head.headers["content-type"]),
    };
  }
}
