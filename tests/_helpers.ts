// Shared helpers of the server integration tests: start a server on
// 127.0.0.1:0, talk to it over a raw socket with exact bytes, parse what comes
// back, and run peer programs (found by tests/_peers.ts).

import { runServer } from "../mod.ts";
import type { Handler, RingRequest, Server, ServerOptions } from "../mod.ts";
import type { StreamingRequest } from "../server/types.ts";
import { concat } from "../_bytes.ts";
import { peerPath } from "./_peers.ts";

/** UTF-8 encoder shared by the tests. */
export const encoder: TextEncoder = new TextEncoder();
/** UTF-8 decoder shared by the tests. */
export const decoder: TextDecoder = new TextDecoder();

/** Longest a single raw read waits before the test fails, in ms. */
export const READ_TIMEOUT = 5000;

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every 5 ms until it holds; fails after `timeout` ms. */
export async function until(
  cond: () => boolean,
  what: string,
  timeout = 3000,
): Promise<void> {
  const end = performance.now() + timeout;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`Timed out waiting: ${what}`);
    await sleep(5);
  }
}

/** A Ring request map for handler and middleware tests without a socket. */
export function ringRequest(over: Partial<RingRequest> = {}): RingRequest {
  return {
    serverPort: 80,
    serverName: "x",
    remoteAddr: "",
    uri: "/",
    queryString: null,
    scheme: "http",
    requestMethod: "get",
    protocol: "HTTP/1.1",
    headers: {},
    contentType: null,
    contentLength: null,
    characterEncoding: null,
    body: null,
    websocket: false,
    ...over,
  };
}

/** Decodes bytes as latin1, one char per byte. */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 4096)));
  }
  return s;
}

/** Bytes of a latin1 string (each char one byte). */
export function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Hex SHA-256 of some bytes. */
export async function sha256(data: Uint8Array): Promise<string> {
  const d = new Uint8Array(
    await crypto.subtle.digest("SHA-256", data as Uint8Array<ArrayBuffer>),
  );
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Joins byte arrays into a new one (also for one part: callers may change it). */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0].slice() : concat(parts);
}

/** A minimal `GET` request with a Host header and extra header lines. */
export function get(path: string, extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`;
}

/** A response as read off the wire. */
export class RawResponse {
  /** `HTTP/1.1` or `HTTP/1.0`. */
  readonly version: string;
  readonly status: number;
  readonly reason: string;
  /** The head as received, up to and including the blank line. */
  readonly head: string;
  /** Header fields in order, names lower-cased, values as sent. */
  readonly fields: [string, string][];
  /** The body, de-chunked when it was chunked. */
  readonly body: Uint8Array;
  /** The body was sent with chunked coding. */
  readonly chunked: boolean;

  constructor(
    head: string,
    fields: [string, string][],
    body: Uint8Array,
    chunked: boolean,
  ) {
    const m = /^(HTTP\/\d\.\d) (\d{3}) ?([^\r\n]*)\r\n/.exec(head);
    if (m === null) {
      throw new Error(`Malformed status line: ${JSON.stringify(head)}`);
    }
    this.version = m[1];
    this.status = Number(m[2]);
    this.reason = m[3];
    this.head = head;
    this.fields = fields;
    this.body = body;
    this.chunked = chunked;
  }

  /** The body as UTF-8 text. */
  get text(): string {
    return decoder.decode(this.body);
  }

  /** First value of a header field, or null. */
  header(name: string): string | null {
    const n = name.toLowerCase();
    for (const [k, v] of this.fields) if (k === n) return v;
    return null;
  }

  /** Every value of a header field, in order. */
  all(name: string): string[] {
    const n = name.toLowerCase();
    return this.fields.filter(([k]) => k === n).map(([, v]) => v);
  }
}

/** Options of {@linkcode RawClient.readResponse}. */
export interface ReadOptions {
  /** The request was HEAD: the response has no body. */
  head?: boolean;
  /** Per-read timeout in ms. */
  timeout?: number;
}

/**
 * A raw TCP client: writes exact bytes, reads into one growing buffer and
 * parses responses out of it. Every read has a timeout that closes the socket,
 * so a server that hangs fails the test instead of hanging it.
 */
export class RawClient {
  readonly conn: Deno.TcpConn;
  #buf: Uint8Array = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  /** The server closed (FIN or reset). */
  eof = false;
  /** The server reset the connection. */
  reset = false;
  closed = false;
  /** Total bytes received. */
  received = 0;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RawClient(conn);
  }

  /** Writes all of `data` (a string is sent as latin1). */
  async write(data: string | Uint8Array): Promise<void> {
    const b = typeof data === "string" ? bytes(data) : data;
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }

  /** Writes `data` one byte per write, pausing `pauseMs` between bytes. */
  async writeSlowly(data: string | Uint8Array, pauseMs = 1): Promise<void> {
    const b = typeof data === "string" ? bytes(data) : data;
    for (let i = 0; i < b.length; i++) {
      await this.write(b.subarray(i, i + 1));
      await sleep(pauseMs);
    }
  }

  /** Bytes received and not parsed yet. */
  get available(): number {
    return this.#end - this.#start;
  }

  /** The unparsed bytes, as latin1 text. */
  peek(): string {
    return latin1(this.#buf.subarray(this.#start, this.#end));
  }

  /** Drops `n` unparsed bytes. */
  consume(n: number): void {
    this.#start += n;
  }

  /**
   * Reads once more into the buffer; false at EOF (or reset).
   * @throws when nothing arrives within `timeout` ms.
   */
  async fill(timeout: number = READ_TIMEOUT): Promise<boolean> {
    if (this.eof) return false;
    if (this.closed) throw new Error("Client is closed");
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const live = this.#end - this.#start;
      const size = live * 2 > this.#buf.length
        ? this.#buf.length * 2
        : this.#buf.length;
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#start = 0;
      this.#end = live;
    }
    let timedOut = false;
    const id = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeout);
    let n: number | null;
    try {
      n = await this.conn.read(this.#buf.subarray(this.#end));
    } catch (err) {
      if (timedOut) {
        throw new Error(
          `No data from the server within ${timeout} ms; unparsed: ${
            JSON.stringify(this.peek().slice(0, 300))
          }`,
        );
      }
      if (err instanceof Deno.errors.ConnectionReset) {
        this.eof = this.reset = true;
        return false;
      }
      throw err;
    } finally {
      clearTimeout(id);
    }
    if (n === null) {
      this.eof = true;
      return false;
    }
    this.#end += n;
    this.received += n;
    return true;
  }

  async #ensure(n: number, what: string, timeout?: number): Promise<void> {
    while (this.available < n) {
      if (!(await this.fill(timeout))) {
        throw new Error(
          `Connection closed before ${what}; unparsed: ${
            JSON.stringify(this.peek().slice(0, 300))
          }`,
        );
      }
    }
  }

  #indexOf(pattern: string, from = this.#start): number {
    const b = this.#buf;
    const first = pattern.charCodeAt(0);
    outer: for (let i = from; i <= this.#end - pattern.length; i++) {
      if (b[i] !== first) continue;
      for (let k = 1; k < pattern.length; k++) {
        if (b[i + k] !== pattern.charCodeAt(k)) continue outer;
      }
      return i;
    }
    return -1;
  }

  async #line(what: string, timeout?: number): Promise<string> {
    for (;;) {
      const i = this.#indexOf("\r\n");
      if (i >= 0) {
        const line = latin1(this.#buf.subarray(this.#start, i));
        this.#start = i + 2;
        return line;
      }
      await this.#ensure(this.available + 1, what, timeout);
    }
  }

  /** Reads a response head: the text up to and including the blank line. */
  async readHead(timeout?: number): Promise<string> {
    for (;;) {
      const i = this.#indexOf("\r\n\r\n");
      if (i >= 0) {
        const head = latin1(this.#buf.subarray(this.#start, i + 4));
        this.#start = i + 4;
        return head;
      }
      await this.#ensure(this.available + 1, "a complete head", timeout);
    }
  }

  /**
   * Reads one complete response: a 1xx comes back as it is (no body), else
   * the body framed by chunked coding, Content-Length or the close.
   */
  async readResponse(opts: ReadOptions = {}): Promise<RawResponse> {
    const head = await this.readHead(opts.timeout);
    const fields = parseFields(head);
    const probe = new RawResponse(head, fields, new Uint8Array(0), false);
    const status = probe.status;
    if (
      opts.head || status < 200 || status === 204 || status === 304
    ) {
      return probe;
    }
    const te = probe.header("transfer-encoding");
    if (te !== null && /chunked\s*$/i.test(te)) {
      const parts: Uint8Array[] = [];
      for (;;) {
        const line = await this.#line("a chunk size", opts.timeout);
        const size = parseInt(line.split(";")[0].trim(), 16);
        if (!Number.isFinite(size)) {
          throw new Error(`Bad chunk size line: ${JSON.stringify(line)}`);
        }
        if (size === 0) {
          // trailer section up to the blank line
          while ((await this.#line("the trailers", opts.timeout)) !== "");
          break;
        }
        await this.#ensure(size + 2, "the chunk data", opts.timeout);
        parts.push(this.#buf.slice(this.#start, this.#start + size));
        if (
          this.#buf[this.#start + size] !== 13 ||
          this.#buf[this.#start + size + 1] !== 10
        ) throw new Error("Chunk data not followed by CRLF");
        this.#start += size + 2;
      }
      return new RawResponse(head, fields, concatBytes(parts), true);
    }
    const cl = probe.header("content-length");
    if (cl !== null) {
      const n = Number(cl);
      await this.#ensure(n, `the ${n}-byte body`, opts.timeout);
      const body = this.#buf.slice(this.#start, this.#start + n);
      this.#start += n;
      return new RawResponse(head, fields, body, false);
    }
    const body = await this.readToEnd(opts.timeout);
    return new RawResponse(head, fields, body, false);
  }

  /** Reads `n` responses in a row. */
  async readResponses(
    n: number,
    opts: ReadOptions = {},
  ): Promise<RawResponse[]> {
    const out: RawResponse[] = [];
    for (let i = 0; i < n; i++) out.push(await this.readResponse(opts));
    return out;
  }

  /** Reads everything until the server closes; returns the unparsed bytes. */
  async readToEnd(timeout?: number): Promise<Uint8Array> {
    while (await this.fill(timeout));
    const rest = this.#buf.slice(this.#start, this.#end);
    this.#start = this.#end;
    return rest;
  }

  /**
   * Waits for the server to close the connection, failing if it sends more
   * bytes first. Returns how long it took, in ms.
   */
  async expectClose(timeout: number = READ_TIMEOUT): Promise<number> {
    const t0 = performance.now();
    const rest = await this.readToEnd(timeout);
    if (rest.length > 0) {
      throw new Error(
        `Expected the connection to close, got ${
          JSON.stringify(latin1(rest).slice(0, 300))
        }`,
      );
    }
    return performance.now() - t0;
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** Splits a head into lower-case-named fields. */
export function parseFields(head: string): [string, string][] {
  const lines = head.split("\r\n").slice(1);
  const out: [string, string][] = [];
  for (const line of lines) {
    if (line === "") continue;
    const c = line.indexOf(":");
    if (c <= 0) throw new Error(`Malformed header line: ${line}`);
    out.push([line.slice(0, c).toLowerCase(), line.slice(c + 1).trim()]);
  }
  return out;
}

/** A server under test with what its loggers saw. */
export interface TestServer {
  server: Server;
  port: number;
  /** Errors passed to `errorLogger`. */
  errors: unknown[];
  /** Messages passed to `warnLogger`. */
  warnings: string[];
  /** Opens a raw client that is closed when the test ends. */
  connect(): Promise<RawClient>;
}

/**
 * Runs `fn` against a fresh server on 127.0.0.1:0, then closes every client
 * it opened and stops the server.
 */
export async function withServer(
  handler: Handler,
  options: ServerOptions,
  fn: (t: TestServer) => Promise<void>,
): Promise<void> {
  const errors: unknown[] = [];
  const warnings: string[] = [];
  const server = runServer(handler, {
    errorLogger: (err) => errors.push(err),
    warnLogger: (m) => warnings.push(m),
    ...options,
    ip: "127.0.0.1",
    port: 0,
  });
  const clients: RawClient[] = [];
  const t: TestServer = {
    server,
    port: server.port,
    errors,
    warnings,
    connect: async () => {
      const c = await RawClient.connect(server.port);
      clients.push(c);
      return c;
    },
  };
  try {
    await fn(t);
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
}

/** Sends `request` on a new connection and reads one response. */
export async function exchange(
  t: TestServer,
  request: string | Uint8Array,
  opts: ReadOptions = {},
): Promise<RawResponse> {
  const c = await t.connect();
  await c.write(request);
  const res = await c.readResponse(opts);
  c.close();
  return res;
}

/** What a finished command printed. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion and collects its output. */
export async function runCommand(
  cmd: string,
  args: string[],
): Promise<CommandResult> {
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** IMF-fixdate, as in `Sun, 06 Nov 1994 08:49:37 GMT`. */
export const IMF_FIXDATE: RegExp =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * TCP connections established to the server's port, as `ss` sees them.
 * Rejects when ss is missing (tests ask `needs("ss")` first).
 */
export async function established(port: number): Promise<number> {
  const out = await new Deno.Command(peerPath("ss"), {
    args: ["-Htn", "state", "established", `( sport = :${port} )`],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  return text === "" ? 0 : text.split("\n").length;
}

// ---------------------------------------------------------------------------
// A minimal WebSocket client over RawClient (RFC 6455), for server tests that
// need a few frames on the wire; channel_ws_test.ts has the thorough one.

/** A WebSocket upgrade request for `path`, with extra header lines. */
export function wsUpgrade(path = "/", extra = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n` +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    `Sec-WebSocket-Version: 13\r\n${extra}\r\n`;
}

/** WebSocket opcodes. */
export const WS_OP = { text: 1, binary: 2, close: 8, ping: 9, pong: 10 };

/** One masked client frame (FIN set) carrying `payload`. */
export function wsFrame(op: number, payload: string | Uint8Array): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const n = data.length;
  const head = n < 126
    ? [0x80 | op, 0x80 | n]
    : n < 65536
    ? [0x80 | op, 0x80 | 126, n >> 8, n & 255]
    : [
      0x80 | op,
      0x80 | 127,
      0,
      0,
      0,
      0,
      n >>> 24,
      (n >> 16) & 255,
      (n >> 8) & 255,
      n & 255,
    ];
  const key = crypto.getRandomValues(new Uint8Array(4));
  const out = new Uint8Array(head.length + 4 + n);
  out.set(head);
  out.set(key, head.length);
  for (let i = 0; i < n; i++) out[head.length + 4 + i] = data[i] ^ key[i & 3];
  return out;
}

/** A frame read from the server. */
export interface WsFrame {
  fin: boolean;
  op: number;
  payload: Uint8Array;
}

/** Reads one unmasked server frame, or null when the server closed first. */
export async function readWsFrame(
  c: RawClient,
  timeout?: number,
): Promise<WsFrame | null> {
  const need = async (n: number): Promise<boolean> => {
    while (c.available < n) if (!(await c.fill(timeout))) return false;
    return true;
  };
  if (!(await need(2))) return null;
  let b = bytes(c.peek().slice(0, 10));
  let len = b[1] & 0x7f;
  const hl = len === 126 ? 4 : len === 127 ? 10 : 2;
  if (!(await need(hl))) return null;
  b = bytes(c.peek().slice(0, hl));
  if (len === 126) len = (b[2] << 8) | b[3];
  else if (len === 127) {
    len = ((b[6] << 24) | (b[7] << 16) | (b[8] << 8) | b[9]) >>> 0;
  }
  if (!(await need(hl + len))) return null;
  const payload = bytes(c.peek().slice(hl, hl + len));
  c.consume(hl + len);
  return { fin: (b[0] & 0x80) !== 0, op: b[0] & 0x0f, payload };
}

/** The code of a close frame (1005 when it has none). */
export function wsCloseCode(f: WsFrame): number {
  return f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
}

// ---------------------------------------------------------------------------
// Streamed request bodies (`streamBody`).

/**
 * {@linkcode withServer} for a handler that gets streamed bodies: the
 * options default to `streamBody: true`.
 */
export function withStreamServer(
  handler: Handler<StreamingRequest>,
  options: ServerOptions,
  fn: (t: TestServer) => Promise<void>,
): Promise<void> {
  return withServer(
    handler as unknown as Handler,
    { streamBody: true, ...options },
    fn,
  );
}

/**
 * Reads a socket in the background and keeps everything it received, so a
 * test can tell that nothing arrived (yet) without a read timing out.
 */
export class Tap {
  readonly conn: Deno.Conn;
  /** Everything received so far, as latin1. */
  text = "";
  /** The server closed the connection (FIN or reset). */
  eof = false;
  /** Settles when the read loop ends. */
  readonly done: Promise<void>;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.done = this.#loop();
  }

  /** Connects to 127.0.0.1:`port` and starts reading. */
  static async connect(port: number): Promise<Tap> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new Tap(conn);
  }

  async #loop(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await this.conn.read(buf);
        if (n === null) break;
        this.text += latin1(buf.subarray(0, n));
      }
    } catch {
      // reset, or closed by close()
    } finally {
      this.eof = true;
    }
  }

  /** Writes all of `data` (a string as latin1). */
  async write(data: string | Uint8Array): Promise<void> {
    const b = typeof data === "string" ? bytes(data) : data;
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }

  /** Waits until the received text holds `s`. */
  async waitFor(s: string, timeout = READ_TIMEOUT): Promise<void> {
    await until(
      () => this.text.includes(s) || (this.eof && !this.text.includes(s)),
      `${JSON.stringify(s)} from the server`,
      timeout,
    );
    if (!this.text.includes(s)) {
      throw new Error(
        `Connection closed without ${JSON.stringify(s)}; got ${
          JSON.stringify(this.text.slice(0, 300))
        }`,
      );
    }
  }

  /** Waits until the server closes the connection. */
  waitClose(timeout = READ_TIMEOUT): Promise<void> {
    return until(() => this.eof, "the server to close", timeout);
  }

  /**
   * The complete responses received so far (heads and Content-Length or
   * chunked bodies; a 1xx has no body).
   */
  responses(): RawResponse[] {
    const out: RawResponse[] = [];
    let s = this.text;
    for (;;) {
      const he = s.indexOf("\r\n\r\n");
      if (he < 0) return out;
      const head = s.slice(0, he + 4);
      const fields = parseFields(head);
      const probe = new RawResponse(head, fields, new Uint8Array(0), false);
      let rest = s.slice(he + 4);
      let body = "";
      let chunked = false;
      if (probe.status >= 200 && probe.status !== 204 && probe.status !== 304) {
        const te = probe.header("transfer-encoding");
        if (te !== null && /chunked\s*$/i.test(te)) {
          chunked = true;
          for (;;) {
            const le = rest.indexOf("\r\n");
            if (le < 0) return out;
            const size = parseInt(rest.slice(0, le).split(";")[0], 16);
            if (size === 0) {
              const end = rest.indexOf("\r\n\r\n", le - 2);
              if (end < 0) return out;
              rest = rest.slice(end + 4);
              break;
            }
            if (rest.length < le + 2 + size + 2) return out;
            body += rest.slice(le + 2, le + 2 + size);
            rest = rest.slice(le + 2 + size + 2);
          }
        } else {
          const n = Number(probe.header("content-length") ?? "0");
          if (rest.length < n) return out;
          body = rest.slice(0, n);
          rest = rest.slice(n);
        }
      }
      out.push(new RawResponse(head, fields, bytes(body), chunked));
      s = rest;
    }
  }

  /** Waits until `n` complete responses arrived and returns them. */
  async waitResponses(
    n: number,
    timeout = READ_TIMEOUT,
  ): Promise<RawResponse[]> {
    await until(
      () => this.responses().length >= n || this.eof,
      `${n} responses`,
      timeout,
    );
    const out = this.responses();
    if (out.length < n) {
      throw new Error(
        `Connection closed after ${out.length} of ${n} responses; got ${
          JSON.stringify(this.text.slice(0, 300))
        }`,
      );
    }
    return out;
  }

  /** Closes the socket and waits for the read loop to end. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.done;
  }
}

/** Peak resident set size (VmHWM) of a process, in bytes. */
export function peakRss(pid: number | "self" = "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (m === null) throw new Error(`No VmHWM in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/**
 * Resets the peak RSS of a process (Linux 4.0+: writing 5 to clear_refs);
 * false when the kernel does not allow it.
 */
export function resetPeakRss(pid: number | "self" = "self"): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}
