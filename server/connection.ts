// One connection's request loop: read into one buffer, parse every complete
// request in it, read its body, call the handler, queue the responses and
// write them in one go. Everything that can be synchronous is: an await
// happens only for a read, a write, an async handler or a streamed body.
// What goes out lives in _output.ts and _respond.ts, the request map in
// _ring.ts, bodies in _request_body.ts, the read that channels and bodies
// share with the loop in _shared_read.ts.

import { isDisconnect } from "../_byteconn.ts";
import { ProtocolError } from "../http1/errors.ts";
import { Framing, requestBodyFraming } from "../http1/framing.ts";
import {
  checkPartialHead,
  parseRequestHead,
  type RequestHead,
  skipEmptyLines,
} from "../http1/head.ts";
import { type Core, State, type Swept } from "./_core.ts";
import { type ServerLink, TAKEOVER, type TakeoverResponse } from "./_link.ts";
import type { Linked } from "./_linked.ts";
import { parseProxyHeader, proxyPrefix } from "./_proxy.ts";
import {
  CONTINUE,
  readChunked,
  readLength,
  StreamedBody,
} from "./_request_body.ts";
import { type HeadStart, queueResponse, responseHead } from "./_respond.ts";
import { type Forwarded, ringRequest } from "./_ring.ts";
import { badResponse } from "./_check.ts";
import { SharedRead } from "./_shared_read.ts";
import type { RingRequest, RingResponse } from "./types.ts";

const NOT_FOUND: RingResponse = { status: 404, body: "Not Found" };
const QUEUE_FULL: RingResponse = {
  status: 503,
  headers: { "retry-after": "1", "content-type": "text/plain" },
  body: "Server busy",
};
const SERVER_ERROR: RingResponse = {
  status: 500,
  body: "Internal Server Error",
};

/** One accepted connection and its request loop. */
export class Connection extends SharedRead
  implements ServerLink, Linked, Swept {
  linkPrev: Linked | null = null;
  linkNext: Linked | null = null;
  linked = false;
  /** The channel that owns the connection, told when the server stops. */
  channel: { serverClose(): void } | null = null;
  /** The request whose response is being made, or null. */
  #current: RequestHead | null = null;
  // Set when a channel takes the socket over for good (a WebSocket).
  #detached = false;
  // A PROXY header may still come first.
  #proxyPending: boolean;
  // What the PROXY header said, put into the request maps.
  #forwarded: Forwarded | null = null;
  // The streamed body of the request being handled, if it has one.
  #body: StreamedBody | null = null;

  constructor(conn: Deno.Conn, core: Core) {
    super(conn, core);
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remoteAddr = addr.hostname ?? "";
    this.#proxyPending = core.proxyProtocol !== "disable";
  }

  /** Serves requests until the peer leaves or the connection must close. */
  async run(): Promise<void> {
    try {
      for (;;) {
        // A read started by a channel is joined; else the loop reads itself,
        // as read() and fill() do but inline: their async frames would cost
        // two Promises per request.
        let n: number | null;
        const ahead = this.ahead;
        if (ahead !== null) n = await ahead;
        else {
          const dst = this.room();
          const gate = this.core.gate;
          this.reading = true;
          const wait = gate.acquire(this);
          if (wait !== undefined) await wait;
          try {
            n = await this.readRaw(dst);
          } finally {
            gate.release(this);
            this.reading = false;
          }
          if (n !== 0) this.end += n;
          else {
            n = null;
            this.eof = true;
          }
        }
        if (n === null || this.closed) break;
        if (this.state === State.Idle) this.enter(State.Head);
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
        // Every response made ready by this read goes out in one write.
        const one = this.takeSingle();
        if (one !== null) {
          const prev = this.beginWrite();
          const w = await this.conn.write(one);
          if (w < one.length) await this.writeRest(one, w);
          this.endWrite(prev);
        } else if (this.hasQueued) await this.flush();
        if (!more) break;
      }
    } catch (err) {
      if (!isDisconnect(err)) this.core.warn("Connection failed", err);
    } finally {
      // A WebSocket detaches: its channel owns the socket from then on.
      if (!this.#detached) this.close();
      const core = this.core;
      if (--core.loops === 0 && core.loopsDone !== null) core.loopsDone();
    }
  }

  /** Handles every complete request in the buffer. */
  #process(): boolean | Promise<boolean> {
    if (this.#proxyPending) {
      try {
        if (!this.#readProxy()) return true;
      } catch (err) {
        return this.refuse(err);
      }
    }
    const core = this.core;
    for (;;) {
      const s = skipEmptyLines(this.buf, this.start, this.end);
      this.start = s;
      if (s === this.end) {
        this.enter(State.Idle);
        this.shrink();
        break;
      }
      let head = core.heads.get(this.buf, s, this.end);
      if (head === null) {
        const he = this.headEnd();
        try {
          if (he < 0) {
            checkPartialHead(this.buf, s, this.end, core.limits);
            break;
          }
          head = parseRequestHead(this.buf, s, he, core.limits);
        } catch (err) {
          return this.refuse(err);
        }
        core.heads.set(this.buf, s, he, head);
      }
      this.resetScan();
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
    const framing = requestBodyFraming(head);
    if (framing === Framing.None) return this.#dispatch(head, null);
    const core = this.core;
    const cl = head.contentLength;
    if (cl > core.maxBody) {
      return this.refuse(new ProtocolError(413, "Request body too large"));
    }
    // The map a streamBody predicate looks at is the one the handler gets.
    let req: RingRequest | null = null;
    if (core.streamBody !== false) {
      req = this.#ringRequest(head, null);
      let stream: boolean;
      try {
        stream = core.streamBody === true ||
          core.streamBody(req as RingRequest<null>);
      } catch (err) {
        // The body was neither read nor dropped: the connection must end
        // with this response, or its bytes would be read as a request.
        head.keepAlive = false;
        return this.#handlerFailed(err, req, head);
      }
      if (stream) return this.#streamed(req, head, framing);
    }
    if (framing === Framing.Length && this.end - this.start >= cl) {
      const body = this.buf.slice(this.start, this.start + cl);
      this.start += cl;
      return this.#dispatch(head, body, req);
    }
    return this.#slowBody(head, framing, req);
  }

  async #slowBody(
    head: RequestHead,
    framing: Framing,
    req: RingRequest | null,
  ): Promise<boolean> {
    await this.flush();
    if (head.expectContinue && this.start === this.end) {
      await this.write(CONTINUE);
    }
    let body: Uint8Array;
    try {
      body = framing === Framing.Chunked
        ? await readChunked(this)
        : await readLength(this, head.contentLength);
    } catch (err) {
      if (err instanceof ProtocolError) return this.refuse(err);
      throw err;
    }
    const r = this.#dispatch(head, body, req);
    return r === true || r === false ? r : await r;
  }

  // The handler gets the body as a stream it pulls; what it leaves unread
  // is dropped after the response (up to a bound), or the connection closes.
  async #streamed(
    req: RingRequest,
    head: RequestHead,
    framing: Framing,
  ): Promise<boolean> {
    await this.flush();
    const body = new StreamedBody(this, head, framing === Framing.Chunked);
    (req as { body: unknown }).body = body.stream;
    this.#body = body;
    let more: boolean;
    try {
      const r = this.#handle(req, head);
      more = r === true || r === false ? r : await r;
    } finally {
      this.#body = null;
    }
    if (more && !body.done) more = await body.discard();
    return more;
  }

  #ringRequest(head: RequestHead, body: Uint8Array | null): RingRequest {
    return ringRequest(this.core, this, this.#forwarded, head, body);
  }

  // `req` is the map already made for a streamBody predicate, if any.
  #dispatch(
    head: RequestHead,
    body: Uint8Array | null,
    req: RingRequest | null = null,
  ): boolean | Promise<boolean> {
    if (req === null) req = this.#ringRequest(head, body);
    else req.body = body;
    return this.#handle(req, head);
  }

  /** Calls the handler and queues (or awaits) its response. */
  #handle(req: RingRequest, head: RequestHead): boolean | Promise<boolean> {
    const core = this.core;
    this.#current = head;
    if (core.pending >= core.queueSize) {
      // Overloaded: refuse at once rather than queue without bound.
      core.warn(
        `Handler queue full (${core.queueSize}): 503 to ${this.remoteAddr}`,
      );
      return this.#respond(req, head, QUEUE_FULL);
    }
    this.enter(State.Handler);
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
      return this.#awaitHandler(res as Promise<unknown>, req, head);
    }
    return this.#respond(req, head, res);
  }

  async #awaitHandler(
    p: Promise<unknown>,
    req: RingRequest,
    head: RequestHead,
  ): Promise<boolean> {
    let flushing: Promise<void> | null = null;
    let res;
    this.core.pending++;
    try {
      if (this.hasQueued) {
        // Queued responses of earlier pipelined requests go out while the
        // handler waits, but not for a promise that settles within a few
        // microtask turns (an `async` handler that never waits, serve()'s
        // reaction on it): those stay in one write.
        let settled = false;
        const done = (): void => {
          settled = true;
        };
        p.then(done, done);
        for (let turn = 0; turn < 3 && !settled; turn++) await null;
        if (!settled) flushing = this.flush();
      }
      res = await p;
    } catch (err) {
      if (flushing !== null) await flushing;
      return this.#handlerFailed(err, req, head);
    } finally {
      this.core.pending--;
    }
    if (flushing !== null) await flushing;
    const r = this.#respond(req, head, res);
    return r === true || r === false ? r : await r;
  }

  #handlerFailed(
    err: unknown,
    req: RingRequest,
    head: RequestHead,
  ): boolean | Promise<boolean> {
    // A handler that failed because its streamed body did is not a bug of
    // the handler: the body's own failure answers (413, or nothing).
    const body = this.#body;
    if (body === null || err !== body.error) this.core.error(err, req);
    return this.#respond(req, head, SERVER_ERROR);
  }

  /**
   * Queues (or streams) what the handler returned. Returns whether the
   * connection stays open for more requests.
   */
  #respond(
    req: RingRequest,
    head: RequestHead,
    result: unknown,
  ): boolean | Promise<boolean> {
    const res = (result ?? NOT_FOUND) as RingResponse;
    const body = this.#body;
    if (body !== null && !body.done) {
      // A body that broke a limit answers for itself; one whose client left
      // gets no answer; one left unread may cost the connection.
      if (body.error instanceof ProtocolError) return this.refuse(body.error);
      if (body.error !== null) return false;
      if (!body.keepable()) head.keepAlive = false;
    }
    let r: boolean | Promise<boolean>;
    if (typeof res === "object" && TAKEOVER in res) {
      r = this.#takeover(res as TakeoverResponse, req);
    } else {
      const bad = badResponse(result);
      try {
        if (bad !== null) throw new TypeError(bad);
        r = queueResponse(this, head, res);
      } catch (err) {
        this.core.error(err, req);
        if (res === SERVER_ERROR) return false;
        r = queueResponse(this, head, SERVER_ERROR);
      }
    }
    if (r === true || r === false) {
      this.#current = null;
      return r;
    }
    return r.finally(() => {
      if (this.#current === head) this.#current = null;
    });
  }

  async #takeover(res: TakeoverResponse, req: RingRequest): Promise<boolean> {
    await this.flush();
    this.enter(State.Taken);
    const more = await res[TAKEOVER](this, req);
    if (more) this.enter(State.Idle);
    return more && !this.core.stopping;
  }

  // ServerLink: what channels and upgrades may do with the connection.

  get maxWs(): number {
    return this.core.maxWs;
  }

  responseHead(
    head: RequestHead,
    status: number,
    headers: RingResponse["headers"],
  ): HeadStart {
    return responseHead(this.core, head, status, headers);
  }

  reportError(err: unknown, req: RingRequest | null): void {
    this.core.error(err, req);
  }

  responding(head: RequestHead): boolean {
    return this.#current === head && !this.closed;
  }

  adopt(channel: { serverClose(): void } | null): void {
    this.channel = channel;
  }

  detach(): Connection {
    this.#detached = true;
    this.#current = null;
    return this;
  }

  /** A request that did not arrive in time: 408, then close. */
  timeout(): void {
    if (this.start === this.end && this.state !== State.Body) {
      this.close();
      return;
    }
    this.enter(State.Write);
    this.sendError(408, "Request timeout").catch(() => {}).finally(() =>
      this.close()
    );
  }

  /** Closes the socket and leaves the server (idempotent). */
  override close(): void {
    if (this.closed) return;
    super.close();
    this.core.gate.release(this);
    this.core.conns.delete(this);
  }
}
