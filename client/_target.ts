// Where a request goes: the URL taken apart once (and remembered per client,
// since programs call the same URLs again and again), the proxy URL, and the
// pool key that says which connections may serve it.

import type { PlainRequest } from "./_wire.ts";
import { ClientError } from "./errors.ts";

/** A parsed request URL. */
export interface Target {
  /** `https:` or `wss:`: the connection speaks TLS. */
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
  /** The request last built for this target without options that change
   * it (see _exchange.ts), or null. */
  plain: PlainRequest | null;
}

/** An HTTP proxy from `proxyUrl`. */
export interface Proxy {
  hostname: string;
  port: number;
  /** The Proxy-Authorization value from the URL's credentials, or null. */
  auth: string | null;
  href: string;
}

/** The settings that go into a pool key. */
export interface KeySettings {
  proxy: Proxy | null;
  unixSocket: string | undefined;
  insecure: boolean;
  caCerts: readonly string[] | undefined;
}

/** No proxy, no unix socket, default TLS trust: the key in `Target.key`. */
const PLAIN: KeySettings = {
  proxy: null,
  unixSocket: undefined,
  insecure: false,
  caCerts: undefined,
};

/** The URL schemes of HTTP requests and of WebSockets: [plain, TLS]. */
const SCHEMES = {
  http: ["http:", "https:"],
  ws: ["ws:", "wss:"],
} as const;

/**
 * Parses a request URL.
 *
 * @param kind Which schemes are allowed: `http:`/`https:` or `ws:`/`wss:`.
 * @throws {ClientError} `bad-url` for an invalid URL, another scheme or no
 * host.
 */
export function parseTarget(
  u: string | URL,
  kind: keyof typeof SCHEMES = "http",
): Target {
  const s = typeof u === "string" ? u : u.href;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new ClientError("bad-url", `Invalid URL: ${JSON.stringify(s)}`);
  }
  const [plain, secure] = SCHEMES[kind];
  const https = url.protocol === secure;
  if (!https && url.protocol !== plain) {
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
    plain: null,
  };
  t.key = poolKey(t, PLAIN);
  return t;
}

/** Most URLs a client remembers; past it the cache starts over. */
const MAX_TARGETS = 256;

/**
 * A client's parsed URLs by string: a URL requested again costs no `new URL`
 * and keeps its cached request bytes. Per client, so that clients share no
 * state (and one client's URLs cannot evict another's).
 */
export class Targets {
  readonly #map = new Map<string, Target>();

  /** The target of `u`, parsed once. */
  get(u: string | URL): Target {
    const s = typeof u === "string" ? u : u.href;
    const hit = this.#map.get(s);
    if (hit !== undefined) return hit;
    const t = parseTarget(s);
    if (this.#map.size >= MAX_TARGETS) this.#map.clear();
    this.#map.set(s, t);
    return t;
  }
}

/** The target with `qs` added to its query (a new target, not cached). */
export function withQuery(t: Target, qs: string): Target {
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
    plain: null,
  };
}

/**
 * Parses `proxyUrl`.
 *
 * @throws {ClientError} `bad-url` for an invalid URL or a scheme other than
 * `http:`.
 */
export function parseProxy(s: string): Proxy {
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

const encoder = new TextEncoder();

/** A Basic authorization value for `user:password` (UTF-8, base64). */
export function basic(userPass: string): string {
  const bytes = encoder.encode(userPass);
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return "Basic " + btoa(s);
}

/**
 * Which pooled connections can serve a request to `t` with settings `s`:
 * plain HTTP through a proxy shares the proxy connection for every target;
 * everything else is per scheme, host and port, plus what changes the
 * connection (tunnel, unix socket, TLS trust).
 */
export function poolKey(t: Target, s: KeySettings): string {
  if (
    s.proxy === null && s.unixSocket === undefined &&
    (!t.https || (!s.insecure && s.caCerts === undefined))
  ) {
    if (t.key !== "") return t.key;
  }
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

/** Whether two targets share scheme, host and port. */
export function sameOrigin(a: Target, b: Target): boolean {
  return a.origin === b.origin;
}
