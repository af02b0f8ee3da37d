// Request options after defaults and checks: the one list of option names,
// the per-request settings, and the one request a redirect chain rewrites
// (its hops).

import { isFieldValue } from "../http1/_chars.ts";
import type { ResponseHead } from "../http1/head.ts";
import type { OutHeaders } from "../http1/serialize.ts";
import {
  NONE,
  paramString,
  prepareBody,
  type PreparedBody,
} from "./_encode.ts";
import {
  basic,
  parseProxy,
  type Proxy,
  sameOrigin,
  type Target,
  type Targets,
  withQuery,
} from "./_target.ts";
import { asClientError, ClientError } from "./errors.ts";
import type { As } from "./types.ts";
import type { RequestOptions } from "./types.ts";

/**
 * Every option `request()` reads, `client` (the module functions' option)
 * included: the list an unknown-option check compares against.
 */
export const REQUEST_OPTIONS = [
  "url",
  "method",
  "headers",
  "queryParams",
  "formParams",
  "multiParamStyle",
  "multipart",
  "body",
  "basicAuth",
  "oauthToken",
  "userAgent",
  "timeout",
  "connectTimeout",
  "idleTimeout",
  "keepalive",
  "as",
  "followRedirects",
  "maxRedirects",
  "maxBody",
  "autoCompression",
  "insecure",
  "caCerts",
  "unixSocket",
  "proxyUrl",
  "signal",
  "client",
] as const satisfies readonly (keyof RequestOptions | "client")[];

// The list must name every RequestOptions field: a field added to the type
// but not to the list fails type checking here.
type Unlisted = Exclude<keyof RequestOptions, typeof REQUEST_OPTIONS[number]>;
const _complete: [Unlisted] extends [never] ? true : Unlisted = true;

const AS_VALUES: ReadonlySet<string> = new Set<As>([
  "auto",
  "text",
  "bytes",
  "stream",
  "none",
  "json",
]);

/** Per-request settings after defaults. */
export interface Settings {
  connectTimeout: number;
  idleTimeout: number;
  /** ms a connection may idle in the pool; -1: `Connection: close`. */
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

/** A header value checked for CR, LF and other control bytes. */
function checkValue(name: string, v: string): string {
  if (!isFieldValue(v)) {
    throw new ClientError(
      "bad-option",
      `Invalid ${name}: ${JSON.stringify(v.slice(0, 80))}`,
    );
  }
  return v;
}

/** A timeout in ms; 0 means none (Infinity). */
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

/** A client's defaults, and the last User-Agent it found valid. */
export class Defaults {
  /** The User-Agent of requests that set none. */
  readonly userAgent: string;
  // Checking costs a scan per request; the value rarely changes.
  #checkedAgent = "";

  constructor(userAgent: string) {
    this.userAgent = userAgent;
  }

  /** The options of one request with defaults filled in, checked. */
  settings(o: RequestOptions): Settings {
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
      userAgent: this.#agent(o.userAgent ?? this.userAgent),
      unixSocket: o.unixSocket,
    };
  }

  #agent(v: string): string {
    if (v !== this.#checkedAgent) {
      this.#checkedAgent = checkValue("userAgent", v);
    }
    return v;
  }
}

/** One hop of a request (redirects rewrite it). */
export interface Hop {
  target: Target;
  /** Upper-case. */
  method: string;
  headers: OutHeaders | undefined;
  body: PreparedBody;
  /** Authorization from basicAuth/oauthToken/URL, or null. */
  auth: string | null;
}

/**
 * The first hop of a request: its target and credentials; the body is
 * {@linkcode NONE} until {@linkcode prepareHopBody} fills it in.
 */
export function firstHop(
  o: RequestOptions,
  method: string,
  targets: Targets,
): Hop {
  if (o.url === undefined || o.url === null) {
    throw new ClientError("bad-url", "Missing url");
  }
  let target = targets.get(o.url);
  if (o.queryParams !== undefined) {
    target = withQuery(target, paramString(o.queryParams, o.multiParamStyle));
  }
  let auth: string | null = null;
  const ba = o.basicAuth;
  if (ba !== undefined) {
    auth = basic(typeof ba === "string" ? ba : `${ba[0]}:${ba[1]}`);
  } else if (o.oauthToken !== undefined) {
    auth = "Bearer " + checkValue("oauthToken", o.oauthToken);
  } else if (target.userinfo !== null) {
    auth = basic(target.userinfo);
  }
  return { target, method, headers: o.headers, body: NONE, auth };
}

/** Whether the options carry a request body. */
export function hasBody(o: RequestOptions): boolean {
  return o.body != null || o.formParams !== undefined ||
    o.multipart !== undefined;
}

/** Prepares the body of the options for sending (may read a Blob/file). */
export async function prepareHopBody(
  o: RequestOptions,
): Promise<PreparedBody> {
  try {
    return await prepareBody(
      o.body,
      o.formParams,
      o.multipart,
      o.multiParamStyle,
    );
  } catch (e) {
    // A Blob or file that cannot be read is the body source failing.
    throw asClientError(e, "request-body", "Cannot read the request body");
  }
}

const REDIRECTS: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);

/** Whether a response with `status` is a redirect `s` says to follow. */
export function follows(s: Settings, status: number): boolean {
  return s.follow && REDIRECTS.has(status);
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
 * Rewrites `hop` to follow the redirect `head` (the `redirects`-th): 301-303
 * turn into a GET without body (HEAD stays HEAD), 307/308 keep method and
 * body, and credentials stay behind when the origin changes.
 *
 * @returns The URL the hop now goes to.
 * @throws {ClientError} `redirect` without Location or with a body that
 * cannot be sent again, `too-many-redirects`, `bad-url`.
 */
export function redirect(
  hop: Hop,
  head: ResponseHead,
  redirects: number,
  s: Settings,
  targets: Targets,
): string {
  const status = head.status;
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
    next = targets.get(new URL(location, hop.target.href));
  } catch (e) {
    throw e instanceof ClientError ? e : new ClientError(
      "bad-url",
      `Invalid redirect Location: ${JSON.stringify(location)}`,
    );
  }
  if (status <= 303) {
    if (hop.method !== "HEAD") hop.method = "GET";
    hop.body = NONE;
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
  return next.href;
}
