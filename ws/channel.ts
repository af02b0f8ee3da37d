// The WebSocket channel: drives the sans-IO codec over any transport (a
// server connection after the 101, or a client socket), with the same
// Channel vocabulary as HTTP channels.

import {
  type Channel,
  type ChannelData,
  type ChannelHandlers,
  type CloseStatus,
  closeStatus,
} from "../channel.ts";
import { WriteQueue } from "../_queue.ts";
import {
  OP_BINARY,
  OP_TEXT,
  WsDecoder,
  WsEncoder,
  type WsEvent,
  WsProtocolError,
} from "./codec.ts";
import type { PerMessageDeflate } from "./deflate.ts";

const encoder = new TextEncoder();

/** What a WebSocket channel runs over. */
export interface WsTransport {
  /** Next bytes from the peer (valid until the next call), or null at EOF. */
  read(): Promise<Uint8Array | null>;
  /**
   * Optional: the caller keeps the bytes the last `read` returned, so the
   * next read must go into new memory. A transport that has it lets the
   * channel hand out large messages without copying them.
   */
  keep?(): void;
  /** Writes all of `b`. */
  write(b: Uint8Array): Promise<void>;
  /** Closes the socket. */
  close(): void;
  /** The peer's address. */
  remoteAddr: string;
}

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
}

/** A WebSocket connection as a {@linkcode Channel}. */
export class WsChannel implements Channel {
  readonly isWebSocket = true;
  readonly remoteAddr: string;
  /** The negotiated subprotocol, or null. */
  readonly protocol: string | null;
  /** The negotiated extensions (permessage-deflate parameters), or null. */
  readonly extensions: string | null;
  #t: WsTransport;
  #h: ChannelHandlers;
  #dec: WsDecoder;
  #enc: WsEncoder;
  #q: WriteQueue;
  #role: "server" | "client";
  #deflate: PerMessageDeflate | null;
  #closeTimeout: number;
  // open: both ways; closing: our close frame is out; done: onClose called.
  #state: "open" | "closing" | "done" = "open";
  #timer = 0;
  #ended!: () => void;
  readonly #endedP: Promise<void>;

  /**
   * @param transport The socket to run over.
   * @param handlers Channel callbacks.
   * @param options Role, limits and compression.
   */
  constructor(
    transport: WsTransport,
    handlers: ChannelHandlers,
    options: WsChannelOptions,
  ) {
    this.#t = transport;
    this.#h = handlers;
    this.#role = options.role;
    this.remoteAddr = transport.remoteAddr;
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
    this.#q = new WriteQueue(
      (b) => transport.write(b),
      options.maxQueue ?? 16 * 1024 * 1024,
      () => this.#finish("going-away", 1006),
      () => this.#call(() => handlers.onDrain?.(this)),
    );
    this.#endedP = new Promise((r) => (this.#ended = r));
  }

  get isOpen(): boolean {
    return this.#state === "open";
  }

  get bufferedAmount(): number {
    return this.#q.bufferedAmount;
  }

  drained(): Promise<void> {
    return this.#q.drained();
  }

  /** `true` once the channel has closed. */
  get isDone(): boolean {
    return this.#state === "done";
  }

  /** Resolves when the channel has closed and its socket is closed. */
  get closed(): Promise<void> {
    return this.#endedP;
  }

  /**
   * Runs the channel: calls `onOpen`, feeds `initial` bytes (those that came
   * with the handshake) and then everything the peer sends, until close.
   */
  async run(initial: Uint8Array | null = null): Promise<void> {
    this.#call(() => this.#h.onOpen?.(this));
    if (initial !== null && initial.length > 0) this.#feed(initial);
    while (this.#state !== "done") {
      let chunk: Uint8Array | null;
      try {
        chunk = await this.#t.read();
      } catch {
        chunk = null;
      }
      if (this.isDone) break;
      if (chunk === null) {
        // The peer left without a close handshake.
        this.#finish(
          this.#state === "closing" ? this.#localStatus() : "going-away",
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
      const t = this.#t;
      events = this.#dec.push(chunk, t.keep !== undefined);
      if (this.#dec.retained) t.keep!();
    } catch (err) {
      const code = err instanceof WsProtocolError ? err.code : 1011;
      const reason = err instanceof Error ? err.message : "";
      this.#sendClose(code, reason);
      this.#finish(closeStatus(code), code);
      return;
    }
    for (const ev of events) {
      if (this.#state === "done") return;
      this.#event(ev);
    }
  }

  #event(ev: WsEvent): void {
    switch (ev.type) {
      case "text":
      case "binary":
        if (this.#state === "open") {
          this.#call(() => this.#h.onReceive?.(this, ev.data));
        }
        break;
      case "ping":
        if (this.#state === "open") this.#q.push(this.#enc.pong(ev.data));
        this.#call(() => this.#h.onPing?.(this, ev.data));
        break;
      case "pong":
        this.#call(() => this.#h.onPong?.(this, ev.data));
        break;
      case "close":
        this.#peerClose(ev.code, ev.reason);
        break;
    }
  }

  // The peer closed: echo its code (unless ours is already out), then end.
  #peerClose(code: number, reason: string): void {
    if (this.#state === "open") {
      this.#sendClose(code === 1005 ? 0 : code, "");
      this.#finish(closeStatus(code), code, reason);
    } else {
      this.#finish(this.#localStatus(), code, reason);
    }
  }

  #localStatus(): CloseStatus {
    return this.#role === "server" ? "server-close" : "client-close";
  }

  send(data: ChannelData, closeAfterSend = false): boolean {
    if (this.#state !== "open") return false;
    const body = typeof data === "string" || data instanceof Uint8Array
      ? data
      : data.body ?? "";
    const queued = typeof body === "string"
      ? this.#enc.frame(OP_TEXT, encoder.encode(body), this.#queueFrame)
      : this.#enc.frame(OP_BINARY, body, this.#queueFrame);
    if (!queued) {
      // A peer that does not read must not grow our memory without bound.
      this.#sendClose(1008, "Send queue overflow", true);
      this.#finish(this.#localStatus(), 1008);
      return false;
    }
    if (closeAfterSend) this.close();
    return true;
  }

  // Frames are copied into the queue, so a sender may reuse its buffer.
  #queueFrame = (head: Uint8Array, body: Uint8Array): boolean =>
    this.#q.pushCopy(head, body);

  ping(data: string | Uint8Array = new Uint8Array(0)): boolean {
    if (this.#state !== "open") return false;
    const b = typeof data === "string" ? encoder.encode(data) : data;
    if (b.length > 125) {
      throw new RangeError(`Ping payload over 125 bytes: ${b.length}`);
    }
    return this.#q.push(this.#enc.ping(b));
  }

  close(code = 1000, reason = ""): boolean {
    if (this.#state !== "open") return false;
    this.#sendClose(code, reason);
    this.#state = "closing";
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

  #sendClose(code: number, reason: string, force = false): void {
    if (this.#state !== "open") return;
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
    this.#q.push(frame, force);
  }

  // Ends the channel once: onClose, then the socket closes after what is
  // queued (the close frame) has gone out.
  #finish(status: CloseStatus, code: number, reason = ""): void {
    if (this.#state === "done") return;
    this.#state = "done";
    if (this.#timer !== 0) clearTimeout(this.#timer);
    this.#deflate?.close();
    this.#call(() => this.#h.onClose?.(this, status, code, reason));
    const t = this.#t;
    const grace = setTimeout(() => t.close(), 1000) as unknown as number;
    this.#q.drained().then(() => {
      clearTimeout(grace);
      t.close();
      this.#ended();
    });
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      console.error("httpkit: channel callback failed:", err);
    }
  }
}
