// The WebSocket channel: drives the sans-IO codec over a socket (a server
// connection after the 101, or a client socket), with the same Channel
// vocabulary and lifecycle as HTTP channels.

import type { ByteConn } from "../_byteconn.ts";
import { describe } from "../_describe.ts";
import {
  ChannelBase,
  Closing,
  Done,
  type ErrorSink,
  Open,
} from "../_channel.ts";
import { type ChannelData, type CloseStatus, closeStatus } from "../channel.ts";
import type { ChannelHandlers } from "../channel.ts";
import {
  OP_BINARY,
  OP_TEXT,
  WsDecoder,
  WsEncoder,
  type WsEvent,
} from "./codec.ts";
import type { PerMessageDeflate } from "./deflate.ts";
import { WsProtocolError } from "./errors.ts";
import { DELIVER, type Prepared } from "../_hooks.ts";

const encoder = new TextEncoder();

/** Settings of one WebSocket channel. */
export interface WsChannelOptions {
  role: "server" | "client";
  /** Largest message (after decompression). Default 4 MiB. */
  maxWs?: number;
  /** Most bytes queued for the peer. Default 16 MiB. */
  maxQueue?: number;
  /** Negotiated compression, or null. */
  deflate?: PerMessageDeflate | null;
  /** How long to wait for the peer's close frame after ours. Default 2000 ms. */
  closeTimeout?: number;
  /** The negotiated subprotocol, or null. */
  protocol?: string | null;
  /** The negotiated Sec-WebSocket-Extensions value, or null. */
  extensions?: string | null;
  /** The peer's address. */
  remoteAddr: string;
  /** Gets errors thrown by the channel's callbacks. */
  onError: ErrorSink;
}

/** A WebSocket connection as a {@linkcode Channel}. */
export class WsChannel extends ChannelBase {
  readonly isWebSocket = true;
  /** The negotiated subprotocol, or null. */
  readonly protocol: string | null;
  /** The negotiated extensions (permessage-deflate parameters), or null. */
  readonly extensions: string | null;
  #socket: ByteConn;
  #dec: WsDecoder;
  #enc: WsEncoder;
  #role: "server" | "client";
  #deflate: PerMessageDeflate | null;
  #closeTimeout: number;
  #timer = 0;
  #ended!: () => void;
  readonly #endedP: Promise<void>;

  /**
   * @param socket The socket to run over; bytes already in its buffer (those
   * that came with the handshake) are read first.
   * @param handlers Channel callbacks.
   * @param options Role, limits, compression and the error logger.
   */
  constructor(
    socket: ByteConn,
    handlers: ChannelHandlers,
    options: WsChannelOptions,
  ) {
    super(
      options.remoteAddr,
      handlers,
      (b) => socket.write(b),
      options.maxQueue,
      options.onError,
    );
    this.#socket = socket;
    this.#role = options.role;
    this.protocol = options.protocol ?? null;
    this.extensions = options.extensions ?? null;
    this.#deflate = options.deflate ?? null;
    this.#closeTimeout = options.closeTimeout ?? 2000;
    this.#dec = new WsDecoder({
      role: options.role,
      maxMessage: options.maxWs ?? 4 * 1024 * 1024,
      deflate: this.#deflate,
    });
    this.#enc = new WsEncoder({ role: options.role, deflate: this.#deflate });
    this.#endedP = new Promise((r) => (this.#ended = r));
  }

  /** `true` once the channel has closed. */
  get isDone(): boolean {
    return this.state === Done;
  }

  /** Resolves when the channel has closed and its socket is closed. */
  get closed(): Promise<void> {
    return this.#endedP;
  }

  /**
   * Runs the channel: calls `onOpen`, then feeds everything the peer sends
   * until close.
   */
  async run(): Promise<void> {
    this.fire(this.handlers.onOpen);
    const socket = this.#socket;
    while (this.state !== Done) {
      let chunk: Uint8Array | null;
      try {
        chunk = await socket.readChunk();
      } catch {
        chunk = null;
      }
      if (this.state === Done) break;
      if (chunk === null) {
        // The peer left without a close handshake.
        this.#finish(
          this.state === Closing ? this.#localStatus() : "going-away",
          1006,
        );
        break;
      }
      this.#feed(chunk);
    }
    await this.#endedP;
  }

  #feed(chunk: Uint8Array): void {
    let events: WsEvent[];
    try {
      events = this.#dec.push(chunk, true);
      if (this.#dec.retained) this.#socket.keep();
    } catch (err) {
      const code = err instanceof WsProtocolError ? err.code : 1011;
      const reason = err instanceof Error ? err.message : "";
      this.#sendClose(code, reason);
      this.#finish(closeStatus(code), code);
      return;
    }
    for (const ev of events) {
      if (this.state === Done) return;
      this.#event(ev);
    }
  }

  #event(ev: WsEvent): void {
    switch (ev.type) {
      case "text":
      case "binary":
        if (this.state === Open) this.fire(this.handlers.onReceive, ev.data);
        break;
      case "ping":
        if (this.state === Open) this.queue.push(this.#enc.pong(ev.data));
        this.fire(this.handlers.onPing, ev.data);
        break;
      case "pong":
        this.fire(this.handlers.onPong, ev.data);
        break;
      case "close":
        this.#peerClose(ev.code, ev.reason);
        break;
    }
  }

  // The peer closed: echo its code (unless ours is already out), then end.
  #peerClose(code: number, reason: string): void {
    if (this.state === Open) {
      this.#sendClose(code === 1005 ? 0 : code, "");
      this.#finish(closeStatus(code), code, reason);
    } else {
      this.#finish(this.#localStatus(), code, reason);
    }
  }

  #localStatus(): CloseStatus {
    return this.#role === "server" ? "server-close" : "client-close";
  }

  /**
   * Sends a text (string) or binary (bytes) message; a `{ body }` map (as
   * HTTP channels take) sends its body.
   *
   * @throws {TypeError} For anything else: a WebSocket message is text or
   * bytes (an object is not sent as JSON, nor as an empty frame).
   */
  send(data: ChannelData, closeAfterSend = false): boolean {
    const map = isPlainObject(data);
    const body: unknown = map ? data.body : data;
    const text = typeof body === "string";
    if (!text && !(body instanceof Uint8Array)) {
      throw new TypeError(
        `A WebSocket message must be a string or a Uint8Array: received ${
          map ? `a map whose body is ${describe(body)}` : describe(data)
        }`,
      );
    }
    if (this.state !== Open) return false;
    const queued = text
      ? this.#enc.frame(OP_TEXT, encoder.encode(body), this.#queueFrame)
      : this.#enc.frame(OP_BINARY, body, this.#queueFrame);
    if (!queued) return this.#overflow();
    if (closeAfterSend) this.close();
    return true;
  }

  // A peer that does not read must not grow our memory without bound.
  #overflow(): false {
    this.#sendClose(1008, "Send queue overflow", true);
    this.#finish(this.#localStatus(), 1008);
    return false;
  }

  /**
   * topics/: queues a published message's frame, built once for every
   * subscriber (compressed once per set of deflate parameters without
   * context takeover; per channel with it). A client masks each frame, so
   * it sends as `send` does.
   */
  [DELIVER](m: Prepared): boolean {
    if (this.state !== Open) return false;
    if (this.#role === "client") return this.send(m.value);
    const d = this.#deflate;
    let queued: boolean;
    if (d === null || !d.shouldCompress(m.bytes().length)) {
      queued = this.queue.push(m.frame());
    } else {
      const key = d.shareKey;
      queued = key === null
        ? this.#enc.frame(m.op, m.bytes(), this.#queueFrame)
        : this.queue.push(m.deflatedFrame(key, d));
    }
    return queued || this.#overflow();
  }

  // Frames are copied into the queue, so a sender may reuse its buffer.
  #queueFrame = (head: Uint8Array, body: Uint8Array): boolean =>
    this.queue.pushCopy(head, body);

  override ping(data: string | Uint8Array = new Uint8Array(0)): boolean {
    if (this.state !== Open) return false;
    const b = typeof data === "string" ? encoder.encode(data) : data;
    if (b.length > 125) {
      throw new RangeError(`Ping payload over 125 bytes: ${b.length}`);
    }
    return this.queue.push(this.#enc.ping(b));
  }

  close(code = 1000, reason = ""): boolean {
    if (this.state !== Open) return false;
    this.#sendClose(code, reason);
    this.state = Closing;
    // Wait for the peer's close frame, but not forever.
    this.#timer = setTimeout(
      () => this.#finish(this.#localStatus(), code),
      this.#closeTimeout,
    ) as unknown as number;
    return true;
  }

  /** Closes with 1001 (going away) because the server stops. */
  serverClose(): void {
    this.close(1001, "Server stopping");
  }

  protected writeFailed(): void {
    this.#finish("going-away", 1006);
  }

  #sendClose(code: number, reason: string, force = false): void {
    if (this.state !== Open) return;
    let frame: Uint8Array;
    try {
      frame = this.#enc.close(
        code === 0 ? undefined : code,
        reason.slice(0, 120),
      );
    } catch {
      frame = this.#enc.close(code === 0 ? undefined : 1000);
    }
    // Past the limit (force) the close frame still queues behind the frame
    // being written: writing it directly would cut into that frame.
    this.queue.push(frame, force);
  }

  // Ends the channel once: onClose, then the socket closes after what is
  // queued (the close frame) has gone out.
  #finish(status: CloseStatus, code: number, reason = ""): void {
    if (this.state === Done) return;
    this.state = Done;
    if (this.#timer !== 0) clearTimeout(this.#timer);
    this.#deflate?.close();
    this.reportClose(status, code, reason);
    const socket = this.#socket;
    const grace = setTimeout(() => socket.close(), 1000) as unknown as number;
    this.queue.drained().then(() => {
      clearTimeout(grace);
      socket.close();
      this.#ended();
    });
  }
}

// A `{ body }` map as HTTP channels take, not bytes of another kind.
function isPlainObject(v: unknown): v is { body?: unknown } {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}
