// The Request a fetch handler gets from serve(). To anyone who checks it is
// a Request: `instanceof Request`, every property and method, `clone()`,
// `fetch(it)`, `new Request(it)`, `Deno.upgradeWebSocket(it)`. But the real
// Request (URL parsing, a Headers object, the body stream wrapper, the
// signal) costs more than the rest of a small request together, so `url`,
// `method` and `headers` are answered from the parsed head, and the real
// one is built only when something else is asked of it.
//
// How the rest reaches the real Request: the runtime's Request methods and
// accessors work on internal keys of `this` (symbols). The probe below
// lists the keys a real Request carries; each is defined on the light
// prototype as an accessor that builds the real Request and reads (or
// writes) the key there. So Request.prototype's own code, called on a light
// request, runs on the real one, and so does the runtime's code in fetch()
// and Deno.upgradeWebSocket(). Nothing depends on what the keys are called.

import { requestSignal } from "../server/channel.ts";
import { STREAMED, type StreamedBody } from "../server/_request_body.ts";
import type { RingRequest, StreamingRequest } from "../server/types.ts";

const UPPER: Record<string, string> = {};
const utf8 = new TextDecoder();

function streamedOf(body: unknown): StreamedBody | undefined {
  return body === null || typeof body !== "object"
    ? undefined
    : (body as Record<symbol, StreamedBody | undefined>)[STREAMED];
}

/** A Request made from a request map, real only on demand. */
export class LightRequest {
  /** The request map it stands for. */
  readonly ring: StreamingRequest;
  #real: Request | null = null;
  #url: string | null = null;
  #headers: Headers | null = null;
  #abort: AbortController | null = null;
  #watching = false;
  #used = false;

  constructor(ring: StreamingRequest) {
    this.ring = ring;
  }

  get url(): string {
    return this.#url ??= requestUrl(this.ring);
  }

  get method(): string {
    const m = this.ring.requestMethod;
    return UPPER[m] ??= m.toUpperCase();
  }

  get headers(): Headers {
    if (this.#real !== null) return this.#real.headers;
    return this.#headers ??= new Headers(this.ring.headers);
  }

  /** Aborts when the client goes away before the response is complete. */
  get signal(): AbortSignal {
    const ac = this.#controller();
    // The socket is watched only once somebody asks for the signal: a
    // watch reads ahead of the request loop.
    if (!this.#watching) {
      this.#watching = true;
      const left = requestSignal(this.ring);
      if (left.aborted) ac.abort(left.reason);
      else {
        left.addEventListener("abort", () => ac.abort(left.reason), {
          once: true,
        });
      }
    }
    return ac.signal;
  }

  #controller(): AbortController {
    return this.#abort ??= new AbortController();
  }

  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real !== null) return this.#real.body;
    return this.#bodyless() ? null : this.ring.body;
  }

  get bodyUsed(): boolean {
    if (this.#used) return true;
    if (this.#real !== null) return this.#real.bodyUsed;
    return streamedOf(this.ring.body)?.started ?? false;
  }

  // The body methods read a body nobody has touched straight off the
  // socket, without the stream machinery per chunk; else the real Request
  // does what it does.

  arrayBuffer(): Promise<ArrayBuffer> {
    const whole = this.#whole();
    if (whole === null) return this.#viaReal((r) => r.arrayBuffer());
    return whole.then((b) =>
      b.byteLength === b.buffer.byteLength
        ? b.buffer as ArrayBuffer
        : b.slice().buffer as ArrayBuffer
    );
  }

  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    const whole = this.#whole();
    if (whole === null) return this.#viaReal((r) => r.bytes());
    return whole as Promise<Uint8Array<ArrayBuffer>>;
  }

  text(): Promise<string> {
    const whole = this.#whole();
    if (whole === null) return this.#viaReal((r) => r.text());
    return whole.then((b) => utf8.decode(b));
  }

  json(): Promise<unknown> {
    const whole = this.#whole();
    if (whole === null) return this.#viaReal((r) => r.json());
    return whole.then((b) => JSON.parse(utf8.decode(b)));
  }

  #bodyless(): boolean {
    const m = this.method;
    return m === "GET" || m === "HEAD";
  }

  #whole(): Promise<Uint8Array> | null {
    if (this.#real !== null || this.#used) return null;
    const body = this.#bodyless() ? null : this.ring.body;
    if (body === null) return Promise.resolve(new Uint8Array(0));
    const whole = streamedOf(body)?.whole() ?? null;
    if (whole !== null) this.#used = true;
    return whole;
  }

  #viaReal<T>(read: (r: Request) => Promise<T>): Promise<T> {
    if (this.#used) {
      return Promise.reject(new TypeError("Body already consumed"));
    }
    try {
      return read(this.real());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The real Request, built once. */
  real(): Request {
    if (this.#real !== null) return this.#real;
    const method = this.method;
    // A body read whole already cannot be given to it (its stream is used).
    const body = this.#bodyless() || this.#used ? null : this.ring.body;
    this.#real = new Request(this.url, {
      method,
      headers: this.#headers ?? this.ring.headers,
      body,
      signal: this.#controller().signal,
    });
    return this.#real;
  }
}

// Everything a light request does not answer itself goes to the real one:
// the runtime's internal keys (found on a probe), and the methods and
// accessors of Request.prototype that read them.
const probe = new Request("http://localhost/");
const proto = LightRequest.prototype as unknown as Record<PropertyKey, unknown>;
for (const key of Object.getOwnPropertySymbols(probe)) {
  Object.defineProperty(proto, key, {
    configurable: true,
    get(this: LightRequest): unknown {
      return (this.real() as unknown as Record<symbol, unknown>)[key];
    },
    set(this: LightRequest, v: unknown): void {
      (this.real() as unknown as Record<symbol, unknown>)[key] = v;
    },
  });
}
Object.setPrototypeOf(LightRequest.prototype, Request.prototype);

/**
 * The URL of a request map, as `new Request(url).url` would give it: built
 * by hand when the parts are already in their normal form, else through
 * the URL parser.
 */
export function requestUrl(r: RingRequest<unknown>): string {
  let host = r.headers["host"];
  if (host === undefined || host === "") {
    const name = r.serverName.includes(":") && !r.serverName.startsWith("[")
      ? `[${r.serverName}]`
      : r.serverName;
    host = `${name}:${r.serverPort}`;
  }
  let path = r.uri;
  if (path.charCodeAt(0) !== 0x2f) {
    // absolute-form targets keep only their path; `*` (OPTIONS) becomes `/*`
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*(.*)$/i.exec(path);
    path = m !== null ? m[1] || "/" : "/" + path;
  }
  const q = r.queryString === null ? "" : "?" + r.queryString;
  // Clients repeat their requests: the last URL is kept, by its parts.
  const last = lastUrl;
  if (
    last.host === host && last.path === path && last.query === q &&
    last.scheme === r.scheme
  ) return last.url;
  const raw = `${r.scheme}://${host}${path}${q}`;
  let url = raw;
  if (!(normalHost(host, r.scheme) && normalPath(path) && normalQuery(q))) {
    try {
      url = new URL(raw).href;
    } catch {
      // not a URL at all: left as it came
    }
  }
  lastUrl = { host, path, query: q, scheme: r.scheme, url };
  return url;
}

let lastUrl = { host: "", path: "", query: "", scheme: "", url: "" };

// A lower-case name or IPv4 address, and a port that is not the default
// one: what the URL parser would leave as it is.
function normalHost(host: string, scheme: string): boolean {
  let i = 0;
  for (; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (
      !((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d ||
        c === 0x2e)
    ) break;
  }
  if (i === 0) return false;
  if (i === host.length) return host.charCodeAt(i - 1) !== 0x2e;
  if (host.charCodeAt(i) !== 0x3a) return false;
  const port = host.slice(i + 1);
  if (!/^[1-9][0-9]{0,4}$/.test(port)) return false;
  return scheme === "https" ? port !== "443" : port !== "80";
}

// Characters the URL parser leaves alone in a path (no percent-encoding
// added, no backslash turned into a slash), and no dot segments.
const PATH_OK = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
const DOT_SEGMENT = /\/\.\.?(\/|$)|%2e/i;

function normalPath(path: string): boolean {
  return PATH_OK.test(path) && !DOT_SEGMENT.test(path);
}

// The same for a query, where `'` is percent-encoded for special schemes.
const QUERY_OK = /^[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*$/;

function normalQuery(q: string): boolean {
  return q === "" || QUERY_OK.test(q);
}
