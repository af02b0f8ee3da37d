// One connection's loop: read into one buffer, parse every complete request
// in it, call the handler, queue the responses and write them in one go.
// Everything that can be synchronous is: an await happens only for a read, a
// write, an async handler or a streamed body.

import { ChunkedDecoder } from "../http1/chunked.ts";
import { ProtocolError } from "../http1/errors.ts";
import {
  checkPartialHead,
  findHeadEnd,
  type HeadLimits,
  parseRequestHead,
  type RequestHead,
  skipEmptyLines,
} from "../http1/head.ts";
import {
  latin1Bytes,
  newFlags,
  statusLine,
  userHeaders,
} from "../http1/serialize.ts";
import { hasToken } from "../http1/_chars.ts";
import { STATUS_TEXT } from "../http1/status.ts";
import type { GateEntry, ReadGate } from "./_gate.ts";
import { type HeadCache, MAX_REPLY, type ReplyCache, Variant } from "./_hot.ts";
import { openBody, pump, type StreamingBody } from "./_body.ts";
import { parseProxyHeader, proxyPrefix } from "./_proxy.ts";
import type { Handler, RingRequest, RingResponse } from "./types.ts";
import { concat } from "../_bytes.ts";
import type { Linked, LinkedSet } from "./_linked.ts";

const encoder = new TextEncoder();

/** Read buffer of a quiet connection; grows on demand, shrinks when idle. */
const SMALL_BUFFER = 1024;
/** Responses with bodies up to this size are merged into one write. */
const MERGE_LIMIT = 16 * 1024;

/** Connection states, for timeouts and graceful stop. */
export const State = {
  /** Waiting for the first byte of a request on a kept-alive connection. */
  Idle: 0,
  /** A request head is arriving (or a new connection has sent nothing yet). */
  Head: 1,
  /** A request body is arriving. */
  Body: 2,
  /** The handler runs. */
  Handler: 3,
  /** Waiting for the peer to take written bytes. */
  Write: 4,
  /** Handed over to a channel or an upgrade. */
  Taken: 5,
} as const;

/** Server-wide settings and shared state the connections use. */
export interface Core {
  handler: Handler;
  limits: HeadLimits;
  maxBody: number;
  serverLine: string;
  port: number;
  hostname: string;
  scheme: "http" | "https";
  gate: ReadGate;
  /** The last request head parsed and the last response sent. */
  heads: HeadCache;
  replies: ReplyCache;
  /** A coarse clock (ms), advanced by the server's sweep timer. */
  now: number;
  /** The `Date` header line, renewed by the sweep timer (at most 500 ms old). */
  date: string;
  stopping: boolean;
  conns: LinkedSet<Connection>;
  /** Connection loops still running, and who waits for them all to end. */
  loops: number;
  loopsDone: (() => void) | null;
  /** PROXY protocol handling: off, when present, or required. */
  proxyProtocol: "disable" | "optional" | "enable";
  /** Proxy hops whose X-Forwarded-For/-Proto are trusted (0: none). */
  trustProxy: number;
  /** Most handler calls whose Promise is pending; more get 503. */
  queueSize: number;
  /** Handler calls whose Promise is pending now. */
  pending: number;
  error(err: unknown, req: RingRequest | null): void;
  warn(message: string, err?: unknown): void;
}

/** Key of the hidden link from a request map to its connection. */
export const CONN: unique symbol = Symbol("httpkit.connection");

/**
 * Key of a response map that takes the connection over (channels,
 * WebSocket). The function gets the connection once everything before it is
 * written and returns whether the connection goes on serving requests.
 */
export const TAKEOVER: unique symbol = Symbol("httpkit.takeover");

/** A response map that takes the connection over. */
export interface TakeoverResponse extends RingResponse {
  [TAKEOVER]: (c: Connection, req: RingRequest) => Promise<boolean>;
}

const LOWER_METHODS: Record<string, string> = {};

function lowerMethod(m: string): string {
  return LOWER_METHODS[m] ??= m.toLowerCase();
}

const NOT_FOUND: RingResponse = { status: 404, body: "Not Found" };
const BUSY: RingResponse = {
  status: 503,
  headers: { "retry-after": "1", "content-type": "text/plain" },
  body: "Server busy",
};

/** The client address `hops` proxies back in an X-Forwarded-For list. */
function forwardedFor(xff: string | undefined, hops: number): string | null {
  if (xff === undefined) return null;
  const list = xff.split(",");
  const pick = list[Math.max(0, list.length - hops)].trim();
  return pick === "" ? null : pick;
}

/** One accepted connection and its request loop. */
export class Connection implements GateEntry, Linked {
  gateAt = -1;
  gatePrev: GateEntry | null = null;
  gateNext: GateEntry | null = null;
  linkPrev: Linked | null = null;
  linkNext: Linked | null = null;
  linked = false;
  /** The channel that owns the connection, told when the server stops. */
  channel: { serverClose(): void } | null = null;
  /** Read buffer; bytes `[start, end)` are received and not yet parsed. */
  buf: Uint8Array = new Uint8Array(SMALL_BUFFER);
  start = 0;
  end = 0;
  // Where the search for the end of a partial head resumes.
  #scan = 0;
  // A read under way, shared by the request loop and channels.
  #ahead: Promise<number | null> | null = null;
  state: number = State.Head;
  /** When the state began, on the core's coarse clock. */
  since: number;
  closed = false;
  // Responses queued for one merged write: text not yet encoded, then parts.
  #text = "";
  #parts: Uint8Array[] = [];
  readonly conn: Deno.Conn;
  readonly core: Core;
  /** The client's address: the socket peer, or the PROXY header's source. */
  remoteAddr: string;
  // A PROXY header may still come first.
  #proxyPending: boolean;
  // What the PROXY header said, put into the request maps.
  #forwarded: { for: string; port: string; proto: string } | null = null;

  constructor(conn: Deno.Conn, core: Core) {
    this.conn = conn;
    this.core = core;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddr = addr.hostname ?? "";
    this.#proxyPending = core.proxyProtocol !== "disable";
    this.since = core.now;
  }

  /** Serves requests until the peer leaves or the connection must close. */
  async run(): Promise<void> {
    const gate = this.core.gate;
    try {
      for (;;) {
        // The read is inlined here (not readMore) to save a Promise per
        // request; a read started by a channel is joined instead.
        let n: number | null;
        if (this.#ahead !== null) n = await this.#ahead;
        else {
          this.#makeRoom();
          const wait = gate.acquire(this);
          if (wait !== undefined) await wait;
          try {
            n = await this.conn.read(
              this.end === 0 ? this.buf : this.buf.subarray(this.end),
            );
          } finally {
            gate.release(this);
          }
          if (n !== null) this.end += n;
        }
        if (n === null || this.closed) break;
        if (this.state === State.Idle) this.#enter(State.Head);
        let more = this.#process();
        // An async step (handler, body, takeover) pauses the batch; the
        // requests still buffered behind it are handled once it is done.
        while (more !== true && more !== false) {
          if (!(await more)) {
            more = false;
            break;
          }
          more = this.#process();
        }
        // Every response made ready by this read goes out in one write. The
        // most common output, one response already encoded, is written here:
        // going through flush() would cost two Promises more per request.
        const parts = this.#parts;
        if (parts.length === 1 && this.#text === "") {
          // pop() keeps the array's room for the next push; length = 0
          // would drop it.
          const b = parts.pop()!;
          const prev = this.#writing();
          const n = await this.conn.write(b);
          if (n < b.length) await this.#writeRest(b, n);
          this.#written(prev);
        } else if (this.#text !== "" || parts.length > 0) await this.flush();
        if (!more) break;
      }
    } catch (err) {
      if (!isDisconnect(err)) this.core.warn("Connection failed", err);
    } finally {
      // A WebSocket detaches: its channel owns the socket from then on.
      if (!this.detached) this.destroy();
      const core = this.core;
      if (--core.loops === 0 && core.loopsDone !== null) core.loopsDone();
    }
  }

  /**
   * Set when a channel takes the socket over for good (a WebSocket): the
   * request loop ends without closing it, so nothing of the request that
   * upgraded stays referenced for the channel's lifetime.
   */
  detached = false;

  /**
   * Reads ahead while `active()` holds, so a peer that leaves is noticed
   * while the request loop waits (channels, streamed responses, slow
   * handlers). Bytes of a pipelined next request stay in the buffer.
   *
   * @returns `true` when the peer left (EOF or reset) while still active.
   */
  async watchPeer(active: () => boolean): Promise<boolean> {
    try {
      while (
        active() && this.end - this.start < this.core.limits.maxHeaderBytes
      ) {
        if ((await this.readMore()) === null) return active();
      }
      return false;
    } catch {
      return active();
    }
  }

  /** The request whose response is being made, or null. */
  current: RequestHead | null = null;

  /** Closes the socket (idempotent). */
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.core.gate.release(this);
    this.core.conns.delete(this);
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  /**
   * Reads more bytes into the buffer (joining a read already under way), so
   * a channel can notice a peer that leaves while the request loop waits.
   *
   * @returns The count read, or null at EOF.
   */
  readMore(): Promise<number | null> {
    return this.#ahead ??= this.#read();
  }

  async #read(): Promise<number | null> {
    this.#makeRoom();
    const gate = this.core.gate;
    const wait = gate.acquire(this);
    if (wait !== undefined) await wait;
    try {
      const n = await this.conn.read(this.buf.subarray(this.end));
      if (n !== null) this.end += n;
      return n;
    } finally {
      gate.release(this);
      this.#ahead = null;
    }
  }

  #makeRoom(): void {
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.buf.length > SMALL_BUFFER && this.state === State.Idle) {
        this.buf = new Uint8Array(SMALL_BUFFER);
      }
      return;
    }
    if (this.end < this.buf.length) return;
    if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
      this.end -= this.start;
      this.#scan = Math.max(0, this.#scan - this.start);
      this.start = 0;
      return;
    }
    const bigger = new Uint8Array(this.buf.length * 2);
    bigger.set(this.buf.subarray(0, this.end));
    this.buf = bigger;
  }

  #enter(state: number): void {
    this.state = state;
    this.since = this.core.now;
  }

  /** Handles every complete request in the buffer. */
  #process(): boolean | Promise<boolean> {
    const b = this.buf;
    if (this.#proxyPending) {
      try {
        if (!this.#readProxy()) return true;
      } catch (err) {
        return this.refuse(err);
      }
    }
    for (;;) {
      const s = skipEmptyLines(b, this.start, this.end);
      this.start = s;
      if (s === this.end) {
        this.#enter(State.Idle);
        break;
      }
      const heads = this.core.heads;
      let head = heads.get(b, s, this.end);
      if (head === null) {
        const he = findHeadEnd(b, Math.max(s, this.#scan), this.end);
        try {
          if (he < 0) {
            checkPartialHead(b, s, this.end, this.core.limits);
            this.#scan = Math.max(s, this.end - 3);
            break;
          }
          head = parseRequestHead(b, s, he, this.core.limits);
        } catch (err) {
          return this.refuse(err);
        }
        heads.set(b, s, he, head);
      }
      this.#scan = 0;
      this.start = head.headEnd;
      const r = this.#request(head);
      if (r !== true) return r;
    }
    return true;
  }

  // Consumes a PROXY header at the start of the connection; false when more
  // bytes are needed to tell.
  #readProxy(): boolean {
    const seen = proxyPrefix(this.buf, this.start, this.end);
    if (seen === "maybe") return false;
    if (seen === "no") {
      if (this.core.proxyProtocol === "enable") {
        throw new ProtocolError(400, "PROXY protocol header required");
      }
      this.#proxyPending = false;
      return true;
    }
    const info = parseProxyHeader(this.buf, this.start, this.end);
    if (info === null) return false;
    this.start += info.length;
    this.#proxyPending = false;
    if (info.srcAddr !== null) {
      this.remoteAddr = info.srcAddr;
      this.#forwarded = {
        for: info.srcAddr,
        port: String(info.dstPort),
        proto: info.ssl ? "https" : this.core.scheme,
      };
    }
    return true;
  }

  /** Reads the body (if any), runs the handler and queues its response. */
  #request(head: RequestHead): boolean | Promise<boolean> {
    const cl = head.contentLength;
    if (cl > this.core.maxBody) {
      return this.refuse(new ProtocolError(413, "Request body too large"));
    }
    if (head.chunked || cl > 0) {
      if (!head.chunked && this.end - this.start >= cl) {
        const body = this.buf.slice(this.start, this.start + cl);
        this.start += cl;
        return this.#dispatch(head, body);
      }
      return this.#slowBody(head);
    }
    return this.#dispatch(head, null);
  }

  async #slowBody(head: RequestHead): Promise<boolean> {
    await this.flush();
    if (head.expectContinue && this.start === this.end && !head.http10) {
      await this.write(CONTINUE);
    }
    let body: Uint8Array;
    try {
      body = head.chunked
        ? await this.#readChunked()
        : await this.#readLength(head.contentLength);
    } catch (err) {
      if (err instanceof ProtocolError) return this.refuse(err);
      throw err;
    }
    const r = this.#dispatch(head, body);
    return r === true || r === false ? r : await r;
  }

  async #readLength(length: number): Promise<Uint8Array> {
    const body = new Uint8Array(length);
    let have = Math.min(length, this.end - this.start);
    body.set(this.buf.subarray(this.start, this.start + have));
    this.start += have;
    this.#enter(State.Body);
    while (have < length) {
      const n = await this.#readInto(body.subarray(have));
      if (n === null) throw new Disconnect();
      have += n;
      this.since = this.core.now;
    }
    return body;
  }

  async #readChunked(): Promise<Uint8Array> {
    const dec = new ChunkedDecoder(
      this.core.limits.maxLine,
      this.core.limits.maxHeaderBytes,
      this.core.maxBody,
    );
    const parts: Uint8Array[] = [];
    let total = 0;
    const max = this.core.maxBody;
    const sink = (d: Uint8Array): void => {
      total += d.length;
      if (total > max) throw new ProtocolError(413, "Request body too large");
      parts.push(d.slice());
    };
    this.#enter(State.Body);
    for (;;) {
      this.start = dec.decode(this.buf, this.start, this.end, sink);
      if (dec.done) break;
      this.start = this.end = 0;
      const n = await this.#readInto(this.buf);
      if (n === null) throw new Disconnect();
      this.end = n;
      this.since = this.core.now;
    }
    return concat(parts, total);
  }

  async #readInto(target: Uint8Array): Promise<number | null> {
    const gate = this.core.gate;
    const wait = gate.acquire(this);
    if (wait !== undefined) await wait;
    try {
      return await this.conn.read(target);
    } finally {
      gate.release(this);
    }
  }

  #dispatch(
    head: RequestHead,
    body: Uint8Array | null,
  ): boolean | Promise<boolean> {
    const req = this.ringRequest(head, body);
    this.current = head;
    const core = this.core;
    if (core.pending >= core.queueSize) {
      // Overloaded: refuse at once rather than queue without bound.
      core.warn(
        `Handler queue full (${core.queueSize}): 503 to ${this.remoteAddr}`,
      );
      return this.respond(req, head, BUSY);
    }
    this.#enter(State.Handler);
    let res;
    try {
      res = core.handler(req);
    } catch (err) {
      return this.#handlerFailed(err, req, head);
    }
    if (
      res !== null && typeof res === "object" &&
      typeof (res as Promise<unknown>).then === "function"
    ) {
      return this.#awaitHandler(
        res as Promise<RingResponse | null | undefined>,
        req,
        head,
      );
    }
    return this.respond(req, head, res as RingResponse | null | undefined);
  }

  async #awaitHandler(
    p: Promise<RingResponse | null | undefined | void>,
    req: RingRequest,
    head: RequestHead,
  ): Promise<boolean> {
    // Queued responses of earlier pipelined requests go out meanwhile.
    const flushing = this.#text !== "" || this.#parts.length > 0
      ? this.flush()
      : null;
    let res;
    this.core.pending++;
    try {
      res = await p;
    } catch (err) {
      if (flushing !== null) await flushing;
      return this.#handlerFailed(err, req, head);
    } finally {
      this.core.pending--;
    }
    if (flushing !== null) await flushing;
    const r = this.respond(req, head, res ?? null);
    return r === true || r === false ? r : await r;
  }

  #handlerFailed(
    err: unknown,
    req: RingRequest,
    head: RequestHead,
  ): boolean | Promise<boolean> {
    this.core.error(err, req);
    return this.respond(req, head, {
      status: 500,
      body: "Internal Server Error",
    });
  }

  /** Builds the Ring request map. */
  ringRequest(head: RequestHead, body: Uint8Array | null): RingRequest {
    const h = head.headers;
    const ct = h["content-type"];
    let contentType: string | null = null;
    let charset: string | null = null;
    if (ct !== undefined) {
      const semi = ct.indexOf(";");
      contentType = (semi === -1 ? ct : ct.slice(0, semi)).trim().toLowerCase();
      if (semi !== -1) {
        const m = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(ct);
        if (m !== null) charset = m[1].toLowerCase();
      }
    }
    const core = this.core;
    let remoteAddr = this.remoteAddr;
    let scheme = core.scheme;
    const fwd = this.#forwarded;
    if (fwd !== null) {
      // The balancer's word replaces anything the client claimed.
      h["x-forwarded-for"] = fwd.for;
      h["x-forwarded-port"] = fwd.port;
      h["x-forwarded-proto"] = fwd.proto;
    } else if (core.trustProxy > 0) {
      remoteAddr = forwardedFor(h["x-forwarded-for"], core.trustProxy) ??
        remoteAddr;
      const proto = h["x-forwarded-proto"];
      if (proto === "https" || proto === "http") scheme = proto;
    }
    return {
      serverPort: core.port,
      serverName: serverName(head.authority, core.hostname),
      remoteAddr,
      uri: head.path,
      queryString: head.query,
      scheme,
      requestMethod: lowerMethod(head.method),
      protocol: head.http10 ? "HTTP/1.0" : "HTTP/1.1",
      headers: h,
      contentType,
      contentLength: head.contentLength >= 0 ? head.contentLength : null,
      characterEncoding: charset,
      body,
      websocket: h["upgrade"] !== undefined &&
        hasToken(h["upgrade"], "websocket") &&
        hasToken(head.connection ?? undefined, "upgrade"),
      [CONN]: { conn: this, head },
    } as RingRequest;
  }

  /**
   * Queues (or streams) the response to `head`. Returns whether the
   * connection stays open for more requests.
   */
  respond(
    req: RingRequest | null,
    head: RequestHead,
    res: RingResponse | null | undefined | void,
  ): boolean | Promise<boolean> {
    if (res === null || res === undefined) res = NOT_FOUND;
    let r: boolean | Promise<boolean>;
    if (TAKEOVER in res) r = this.#takeover(res as TakeoverResponse, req!);
    else {
      try {
        r = this.#queue(head, res);
      } catch (err) {
        this.core.error(err, req);
        if (res.status === 500 && res.body === "Internal Server Error") {
          return false;
        }
        r = this.#queue(head, { status: 500, body: "Internal Server Error" });
      }
    }
    if (r === true || r === false) {
      this.current = null;
      return r;
    }
    return r.finally(() => {
      if (this.current === head) this.current = null;
    });
  }

  async #takeover(res: TakeoverResponse, req: RingRequest): Promise<boolean> {
    await this.flush();
    this.#enter(State.Taken);
    const more = await res[TAKEOVER](this, req);
    if (more) this.#enter(State.Idle);
    return more && !this.core.stopping;
  }

  /**
   * Starts a response head: status line, user headers, Date, Server and
   * Connection. The caller adds the framing field and the blank line.
   *
   * @throws {ProtocolError} 500 for an invalid status or header.
   */
  startHead(
    head: RequestHead,
    status: number,
    headers: RingResponse["headers"],
  ): { text: string; keepAlive: boolean; userLength: number; latin1: boolean } {
    const flags = newFlags();
    let h = statusLine(status) + userHeaders(headers, flags);
    if (!flags.date) h += this.core.date;
    if (!flags.server) h += this.core.serverLine;
    const keepAlive = head.keepAlive && !flags.close && !this.core.stopping;
    if (!keepAlive) h += "Connection: close\r\n";
    else if (head.http10) h += "Connection: keep-alive\r\n";
    return {
      text: h,
      keepAlive,
      userLength: flags.contentLength,
      latin1: flags.latin1,
    };
  }

  #queue(head: RequestHead, res: RingResponse): boolean | Promise<boolean> {
    const body0 = res.body;
    if (
      (typeof body0 === "string" && body0.length <= MAX_REPLY / 2) ||
      body0 === null || body0 === undefined
    ) {
      return this.#queueText(head, res, body0 ?? "");
    }
    return this.#queueAny(head, res);
  }

  // A response with a short text body, from the server's reply cache when it
  // repeats the last one.
  #queueText(
    head: RequestHead,
    res: RingResponse,
    body: string,
  ): boolean | Promise<boolean> {
    const core = this.core;
    const variant = (head.method === "HEAD" ? Variant.Head : 0) |
      (head.keepAlive && !core.stopping ? Variant.KeepAlive : 0) |
      (head.http10 ? Variant.Http10 : 0);
    const cache = core.replies;
    const seen = cache.matches(res, body, variant, core.date);
    if (seen && cache.bytes !== null) {
      this.#queueBytes(cache.bytes);
      return this.#queued(cache.keepAlive);
    }
    const before = this.#text.length;
    const parts = this.#parts.length;
    const more = this.#queueAny(head, res);
    if (typeof more !== "boolean" || this.#parts.length !== parts) return more;
    if (seen) {
      // Seen twice in a row: keep it encoded. The text just queued is it,
      // and goes out as those bytes rather than being encoded again.
      const text = this.#text.slice(before);
      if (text.length <= MAX_REPLY) {
        cache.bytes = encoder.encode(text);
        cache.keepAlive = more;
        this.#text = this.#text.slice(0, before);
        this.#queueBytes(cache.bytes);
      }
    } else cache.remember(res, body, variant, core.date);
    return more;
  }

  // Whether the connection goes on after a queued response; large queues
  // and the last response go out now.
  #queued(keepAlive: boolean): boolean | Promise<boolean> {
    if (!keepAlive) return this.flush().then(() => false);
    if (this.#text.length + this.#partsLength() > MERGE_LIMIT) {
      return this.flush().then(() => true);
    }
    return true;
  }

  #queueAny(head: RequestHead, res: RingResponse): boolean | Promise<boolean> {
    const status = res.status ?? 200;
    const start = this.startHead(head, status, res.headers);
    let h = start.text;
    const keepAlive = start.keepAlive;
    const flags = { contentLength: start.userLength };
    const noBody = head.method === "HEAD" || status < 200 || status === 204 ||
      status === 205 || status === 304;
    let body = res.body;
    if (typeof body === "string" && body.length > MERGE_LIMIT / 4) {
      body = encoder.encode(body);
    } else if (body instanceof ArrayBuffer) body = new Uint8Array(body);
    if (
      body === null || body === undefined || typeof body === "string" ||
      body instanceof Uint8Array
    ) {
      const len = body === null || body === undefined
        ? 0
        : typeof body === "string"
        ? utf8Length(body)
        : body.length;
      h += fixedFraming(
        status,
        head.method === "HEAD",
        len,
        flags.contentLength,
        body != null,
      ) + "\r\n";
      this.#queueHead(h, start.latin1);
      if (!noBody && len > 0) {
        if (typeof body === "string") this.#text += body;
        else this.#queueBytes(body as Uint8Array);
      }
      return this.#queued(keepAlive);
    }
    return this.#stream(
      head,
      h,
      body as StreamingBody,
      noBody,
      keepAlive,
      flags.contentLength,
      start.latin1,
    );
  }

  async #stream(
    head: RequestHead,
    h: string,
    body: StreamingBody,
    noBody: boolean,
    keepAlive: boolean,
    userLength: number,
    latin1: boolean,
  ): Promise<boolean> {
    const src = await openBody(body);
    const length = src.length >= 0 ? src.length : userLength;
    if (noBody) {
      await src.cancel();
      const cl = length >= 0 && head.method === "HEAD"
        ? `Content-Length: ${length}\r\n`
        : "";
      this.#queueHead(h + cl + "\r\n", latin1);
      await this.flush();
      return keepAlive;
    }
    let chunked = false;
    let more = keepAlive;
    if (length >= 0) h += `Content-Length: ${length}\r\n`;
    else if (head.http10) {
      // HTTP/1.0 has no chunked coding: the body ends when the connection does.
      if (more) {
        h = h.replace("Connection: keep-alive\r\n", "Connection: close\r\n");
      }
      more = false;
    } else {
      h += "Transfer-Encoding: chunked\r\n";
      chunked = true;
    }
    this.#queueHead(h + "\r\n", latin1);
    try {
      await this.flush();
      await pump(src, this, chunked, length);
    } catch (err) {
      // The head is out, so no error response can follow: cut the connection
      // and let the peer see a truncated body. The source is let go of even
      // when the head itself could not be written (a file stays not open).
      await src.cancel();
      if (!isDisconnect(err)) this.core.error(err, null);
      return false;
    }
    return more;
  }

  #queueHead(h: string, latin1: boolean): void {
    if (latin1) this.#queueBytes(latin1Bytes(h));
    else this.#text += h;
  }

  #queueBytes(b: Uint8Array): void {
    if (this.#text !== "") {
      this.#parts.push(encoder.encode(this.#text));
      this.#text = "";
    }
    this.#parts.push(b);
  }

  #partsLength(): number {
    let n = 0;
    for (const p of this.#parts) n += p.length;
    return n;
  }

  /** Writes everything queued, merged into one write. */
  flush(): Promise<void> {
    let out: Uint8Array;
    if (this.#parts.length === 0) {
      const text = this.#text;
      if (text === "") return Promise.resolve();
      this.#text = "";
      if (text.length <= POOLED / 3) return this.#writePooled(text);
      out = encoder.encode(text);
    } else {
      if (this.#text !== "") this.#parts.push(encoder.encode(this.#text));
      const parts = this.#parts;
      this.#parts = [];
      this.#text = "";
      if (parts.length === 1) return this.write(parts[0]);
      return this.#writeParts(parts);
    }
    this.#text = "";
    return this.write(out);
  }

  // Small parts are merged into one write; a large body goes out as it is:
  // copying it next to its head would cost a large allocation per response
  // (and the garbage collections that follow) to save one write.
  async #writeParts(parts: Uint8Array[]): Promise<void> {
    let run: Uint8Array[] = [];
    let runBytes = 0;
    for (const p of parts) {
      if (p.length > MERGE_LIMIT) {
        if (run.length > 0) await this.write(concat(run, runBytes));
        run = [];
        runBytes = 0;
        await this.write(p);
      } else {
        run.push(p);
        runBytes += p.length;
      }
    }
    if (run.length > 0) await this.write(concat(run, runBytes));
  }

  // Encodes into a pooled buffer: allocating a fresh ArrayBuffer per
  // response costs more than everything else of a small response together.
  // A buffer goes back to the pool only once its write has finished.
  async #writePooled(text: string): Promise<void> {
    const buf = pool.pop() ?? new Uint8Array(POOLED);
    const len = encoder.encodeInto(text, buf).written;
    try {
      await this.write(buf.subarray(0, len));
    } finally {
      if (pool.length < POOL_MAX) pool.push(buf);
    }
  }

  /** Writes all of `b`, looping on partial writes. */
  async write(b: Uint8Array): Promise<void> {
    const prev = this.#writing();
    const n = await this.conn.write(b);
    if (n < b.length) await this.#writeRest(b, n);
    this.#written(prev);
  }

  // The write timeout applies while a write is under way; the state before
  // it comes back after.
  #writing(): number {
    const prev = this.state;
    this.#enter(State.Write);
    return prev;
  }

  #written(prev: number): void {
    if (this.state === State.Write) {
      this.state = prev;
      this.since = this.core.now;
    }
  }

  async #writeRest(b: Uint8Array, off: number): Promise<void> {
    while (off < b.length) {
      // A peer that keeps taking bytes is slow, not stuck: writeTimeout
      // counts from the last progress.
      this.since = performance.now();
      off += await this.conn.write(b.subarray(off));
    }
  }

  /**
   * Answers a request that cannot be served (bad input, limits) with a short
   * reason and `Connection: close`, then closes.
   */
  refuse(err: unknown): Promise<boolean> {
    if (!(err instanceof ProtocolError)) throw err;
    this.core.warn(
      `Refused request from ${this.remoteAddr}: ${err.status} ${err.message}`,
    );
    return this.sendError(err.status, err.message).then(() => false);
  }

  /** Writes a complete error response with `Connection: close`. */
  sendError(
    status: number,
    reason: string,
    headers?: Record<string, string>,
  ): Promise<void> {
    const text = `${reason || STATUS_TEXT[status] || "Error"}\n`;
    let extra = "";
    for (const name in headers) extra += `${name}: ${headers[name]}\r\n`;
    const h = statusLine(status) + this.core.date + this.core.serverLine +
      extra +
      "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n" +
      `Content-Length: ${utf8Length(text)}\r\n\r\n`;
    this.#queueHead(h, false);
    this.#text += text;
    return this.flush();
  }
}

/** Size of a pooled output buffer; text up to a third of it always fits. */
const POOLED = 16 * 1024;
const POOL_MAX = 64;
const pool: Uint8Array[] = [];

const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");

function fixedFraming(
  status: number,
  isHead: boolean,
  len: number,
  userLength: number,
  hasBody: boolean,
): string {
  if (status < 200 || status === 204) return "";
  if (status === 304) {
    return userLength >= 0 ? `Content-Length: ${userLength}\r\n` : "";
  }
  if (status === 205) return "Content-Length: 0\r\n";
  if (isHead && !hasBody && userLength >= 0) {
    return `Content-Length: ${userLength}\r\n`;
  }
  return `Content-Length: ${len}\r\n`;
}

function serverName(authority: string | null, fallback: string): string {
  if (authority === null) return fallback;
  if (authority === lastAuthority) return lastName;
  let name: string;
  if (authority.charCodeAt(0) === 0x5b) {
    const close = authority.indexOf("]");
    name = authority.slice(0, close + 1);
  } else {
    const colon = authority.indexOf(":");
    name = colon === -1 ? authority : authority.slice(0, colon);
  }
  lastAuthority = authority;
  lastName = name;
  return name;
}

// Clients send the same Host again and again: the last one, split.
let lastAuthority = "";
let lastName = "";

/** UTF-8 length of a string, as TextEncoder would encode it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2;
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/** The peer went away mid-request. */
class Disconnect extends Error {
  constructor() {
    super("Peer closed the connection");
  }
}

/** Errors that only mean the peer is gone. */
export function isDisconnect(err: unknown): boolean {
  return err instanceof Disconnect || err instanceof Deno.errors.BrokenPipe ||
    err instanceof Deno.errors.ConnectionReset ||
    err instanceof Deno.errors.BadResource ||
    err instanceof Deno.errors.Interrupted ||
    err instanceof Deno.errors.NotConnected ||
    err instanceof Deno.errors.ConnectionAborted ||
    err instanceof Deno.errors.UnexpectedEof;
}
