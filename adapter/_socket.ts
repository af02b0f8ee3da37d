// The WebSocket objects a fetch handler gets on serve(): a driver that runs
// a WebSocket-shaped EventTarget from a WebSocket channel (state, sends in
// order, the close handshake, the idle ping, events), and the
// ServerWebSocket class upgradeWebSocket returns.

import type { Channel, ChannelHandlers, CloseStatus } from "../channel.ts";
import { unrefInterval } from "../_timers.ts";

const encoder = new TextEncoder();

const CONNECTING = 0, OPEN = 1, CLOSING = 2, CLOSED = 3;

export const HANDLERS: unique symbol = Symbol("httpkit.wsHandlers");

type Listener = ((this: ServerWebSocket, ev: Event) => unknown) | null;
type MessageListener =
  | ((this: ServerWebSocket, ev: MessageEvent) => unknown)
  | null;
type CloseListener =
  | ((this: ServerWebSocket, ev: CloseEvent) => unknown)
  | null;

/** What a driven socket must offer: events, and the binary type it wants. */
interface SocketTarget extends EventTarget {
  binaryType: BinaryType;
}

/**
 * Drives a WebSocket-shaped object from a WebSocket channel: the state,
 * sends (Blobs in order), the close handshake, the idle ping, and the
 * events. It drives our own `ServerWebSocket`, and also a `WebSocket` made
 * by `Deno.upgradeWebSocket` on a request from serve() (see
 * {@linkcode adoptDenoWebSocket}).
 */
export class SocketDriver {
  readonly handlers: ChannelHandlers;
  state = CONNECTING;
  #target: SocketTarget;
  #origin: string;
  #ch: Channel | null = null;
  #chain: Promise<void> | null = null;
  #pendingClose: [number, string] | null = null;
  #idle: number;
  #timer = 0;
  #heard = true;
  #pinged = false;

  constructor(target: SocketTarget, url: string, idleTimeout: number) {
    this.#target = target;
    this.#origin = new URL(url).origin;
    this.#idle = idleTimeout;
    this.handlers = {
      onOpen: (ch) => this.#opened(ch),
      onReceive: (_ch, m) => this.#received(m),
      onPong: () => (this.#heard = true),
      onPing: () => (this.#heard = true),
      onClose: (_ch, status, code) => this.#closed(status, code),
      onHandshakeError: (status, reason) => this.#refused(status, reason),
    };
  }

  get bufferedAmount(): number {
    return this.#ch?.bufferedAmount ?? 0;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.state !== OPEN) {
      throw new DOMException("'readyState' not OPEN", "InvalidStateError");
    }
    let msg: string | Uint8Array | Promise<ArrayBuffer>;
    if (typeof data === "string") msg = data;
    else if (data instanceof Blob) msg = data.arrayBuffer();
    else if (ArrayBuffer.isView(data)) {
      msg = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else if (
      data instanceof ArrayBuffer ||
      (typeof SharedArrayBuffer !== "undefined" &&
        data instanceof SharedArrayBuffer)
    ) msg = new Uint8Array(data);
    else msg = String(data);
    if (this.#chain === null && !(msg instanceof Promise)) {
      this.#ch!.send(msg);
      return;
    }
    // A Blob is read asynchronously; later messages wait behind it.
    const ch = this.#ch!;
    const next: Promise<void> = (this.#chain ?? Promise.resolve()).then(
      async () => {
        const m = msg instanceof Promise ? new Uint8Array(await msg) : msg;
        ch.send(m);
      },
    ).catch((err) => this.#error(`Could not send a Blob: ${err}`)).finally(
      () => {
        if (this.#chain === next) this.#chain = null;
      },
    );
    this.#chain = next;
  }

  close(code?: number, reason?: string): void {
    if (
      code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999)
    ) {
      throw new DOMException(
        `The close code must be either 1000 or in the range of 3000 to 4999: received ${code}`,
        "InvalidAccessError",
      );
    }
    const r = reason ?? "";
    if (encoder.encode(r).length > 123) {
      throw new DOMException(
        "The close reason may not be longer than 123 bytes",
        "SyntaxError",
      );
    }
    const c = code ?? (r !== "" ? 1000 : 0);
    if (this.state === CONNECTING) {
      this.#pendingClose = [c, r];
      this.state = CLOSING;
    } else if (this.state === OPEN) {
      this.state = CLOSING;
      const ch = this.#ch!;
      if (this.#chain !== null) this.#chain.then(() => ch.close(c, r));
      else ch.close(c, r);
    }
  }

  #opened(ch: Channel): void {
    this.#ch = ch;
    if (this.#pendingClose !== null) {
      ch.close(...this.#pendingClose);
      return;
    }
    this.state = OPEN;
    if (this.#idle > 0) {
      this.#timer = unrefInterval(() => this.#tick(), this.#idle * 1000);
    }
    this.#target.dispatchEvent(new Event("open"));
  }

  #tick(): void {
    if (this.#heard) {
      this.#heard = false;
      this.#pinged = false;
      return;
    }
    if (!this.#pinged) {
      this.#pinged = true;
      this.#ch?.ping();
      return;
    }
    this.#ch?.close(1001, "No response from ping frame.");
  }

  #received(m: string | Uint8Array): void {
    this.#heard = true;
    if (this.state !== OPEN) return;
    let data: string | ArrayBuffer | Blob;
    if (typeof m === "string") data = m;
    else if (this.#target.binaryType === "blob") {
      data = new Blob([m as BlobPart]);
    } else if (m.byteOffset === 0 && m.byteLength === m.buffer.byteLength) {
      data = m.buffer as ArrayBuffer;
    } else data = m.slice().buffer;
    this.#target.dispatchEvent(
      new MessageEvent("message", { data, origin: this.#origin }),
    );
  }

  #closed(status: CloseStatus, code: number | undefined): void {
    if (this.#timer !== 0) clearInterval(this.#timer);
    this.#timer = 0;
    this.state = CLOSED;
    const c = code === undefined || code === 0 ? 1005 : code;
    const wasClean = c !== 1006 && status !== "abnormal";
    if (!wasClean) this.#error("WebSocket closed abnormally");
    this.#target.dispatchEvent(
      new CloseEvent("close", { code: c, reason: "", wasClean }),
    );
  }

  #refused(status: number, reason: string): void {
    this.state = CLOSED;
    this.#error(`WebSocket handshake failed: ${status} ${reason}`);
    this.#target.dispatchEvent(
      new CloseEvent("close", { code: 1006, reason: "", wasClean: false }),
    );
  }

  #error(message: string): void {
    this.#target.dispatchEvent(new ErrorEvent("error", { message }));
  }
}

/** The server side of an upgraded WebSocket, on a WebSocket channel. */
export class ServerWebSocket extends EventTarget {
  static readonly CONNECTING = CONNECTING;
  static readonly OPEN = OPEN;
  static readonly CLOSING = CLOSING;
  static readonly CLOSED = CLOSED;
  readonly CONNECTING = CONNECTING;
  readonly OPEN = OPEN;
  readonly CLOSING = CLOSING;
  readonly CLOSED = CLOSED;
  readonly url: string;
  readonly protocol: string;
  readonly extensions: string;
  binaryType: BinaryType = "arraybuffer";
  onopen: Listener = null;
  onmessage: MessageListener = null;
  onclose: CloseListener = null;
  onerror: Listener = null;
  readonly #d: SocketDriver;

  constructor(
    url: string,
    protocol: string,
    extensions: string,
    idleTimeout: number,
  ) {
    super();
    this.url = url;
    this.protocol = protocol;
    this.extensions = extensions;
    this.#d = new SocketDriver(this, url, idleTimeout);
    // The on* properties run first, then addEventListener listeners.
    this.addEventListener("open", (e) => this.onopen?.call(this, e));
    this.addEventListener(
      "message",
      (e) => this.onmessage?.call(this, e as MessageEvent),
    );
    this.addEventListener(
      "close",
      (e) => this.onclose?.call(this, e as CloseEvent),
    );
    this.addEventListener("error", (e) => this.onerror?.call(this, e));
  }

  /** The channel callbacks that drive this socket. */
  get [HANDLERS](): ChannelHandlers {
    return this.#d.handlers;
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): number {
    return this.#d.state;
  }

  /** Bytes queued for the client and not yet written. */
  get bufferedAmount(): number {
    return this.#d.bufferedAmount;
  }

  /**
   * Sends a text (string) or binary (buffer, view, Blob) message, in order.
   *
   * @throws {DOMException} InvalidStateError unless the socket is open.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    this.#d.send(data);
  }

  /**
   * Starts the closing handshake.
   *
   * @param code 1000 or 3000-4999; none sends a close frame without a code.
   * @param reason Up to 123 bytes of UTF-8.
   */
  close(code?: number, reason?: string): void {
    this.#d.close(code, reason);
  }
}
