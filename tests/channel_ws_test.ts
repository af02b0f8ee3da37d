// WebSocket channels (asChannel on an upgrade request) over real sockets,
// driven by a raw client written here from RFC 6455 (not the library's
// codec), so the exact frames, close codes and TCP closes can be checked and
// malformed frames sent on purpose.

import assert from "node:assert/strict";
import {
  asChannel,
  type Channel,
  type ChannelHandlers,
  type ChannelOptions,
  type CloseStatus,
  closeStatus,
  runServer,
  type Server,
} from "../mod.ts";
import { concatBytes, sleep, until } from "./_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const KEY = "dGhlIHNhbXBsZSBub25jZQ==";

async function expectedAccept(key: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(d)));
}

const join = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

function latin1(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

// ---------------------------------------------------------------------------
// Frames, written from RFC 6455 section 5.2

const OP = { cont: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };

interface FrameOptions {
  fin?: boolean;
  /** RSV bits as 0-7 (RSV1 = 4). */
  rsv?: number;
  mask?: boolean;
  /** Force the 16-bit or 64-bit length form. */
  lengthForm?: 16 | 64;
  /** Lie about the payload length (for control frames over 125). */
  len7?: number;
}

/** One client frame (masked unless told otherwise). */
function frame(
  op: number,
  payload: Uint8Array | string = new Uint8Array(0),
  o: FrameOptions = {},
): Uint8Array {
  const data = typeof payload === "string" ? encoder.encode(payload) : payload;
  const mask = o.mask ?? true;
  const n = data.length;
  const head: number[] = [
    ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | op,
  ];
  const m = mask ? 0x80 : 0;
  if (o.lengthForm === 64 || (o.lengthForm === undefined && n > 0xffff)) {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
  } else if (o.lengthForm === 16 || n > 125) {
    head.push(m | 126, (n >>> 8) & 255, n & 255);
  } else {
    head.push(m | n);
  }
  const key = mask ? crypto.getRandomValues(new Uint8Array(4)) : null;
  if (key) head.push(...key);
  const out = new Uint8Array(head.length + n);
  out.set(head);
  for (let i = 0; i < n; i++) {
    out[head.length + i] = key ? data[i] ^ key[i & 3] : data[i];
  }
  return out;
}

function closePayload(code: number, reason = ""): Uint8Array {
  return join(new Uint8Array([code >> 8, code & 255]), encoder.encode(reason));
}

/** A frame read from the server. */
interface Frame {
  fin: boolean;
  rsv: number;
  op: number;
  masked: boolean;
  payload: Uint8Array;
}

/** The close code of a close frame's payload (1005 when empty). */
function codeOf(f: Frame): number {
  return f.payload.length >= 2 ? (f.payload[0] << 8) | f.payload[1] : 1005;
}

/** A raw WebSocket client on one TCP connection. */
class WsClient {
  readonly conn: Deno.TcpConn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;
  eof = false;
  closed = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  static async connect(port: number): Promise<WsClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new WsClient(conn);
  }

  async write(data: Uint8Array | string): Promise<void> {
    const b = typeof data === "string" ? encoder.encode(data) : data;
    let off = 0;
    while (off < b.length) off += await this.conn.write(b.subarray(off));
  }

  /** Reads once more; false at EOF (or reset). */
  async fill(timeout = 3000): Promise<boolean> {
    if (this.eof) return false;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.length) {
      const live = this.#buf.subarray(this.#start, this.#end);
      const next = new Uint8Array(Math.max(this.#buf.length, live.length * 2));
      next.set(live);
      this.#buf = next;
      this.#start = 0;
      this.#end = live.length;
    }
    let timedOut = false;
    const id = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeout);
    try {
      const n = await this.conn.read(this.#buf.subarray(this.#end));
      if (n === null) {
        this.eof = true;
        return false;
      }
      this.#end += n;
      return true;
    } catch (err) {
      if (timedOut) throw new Error(`Nothing from the server in ${timeout} ms`);
      if (err instanceof Deno.errors.ConnectionReset) {
        this.eof = true;
        return false;
      }
      throw err;
    } finally {
      clearTimeout(id);
    }
  }

  get available(): number {
    return this.#end - this.#start;
  }

  async #need(n: number, what: string, timeout?: number): Promise<void> {
    while (this.available < n) {
      if (!(await this.fill(timeout))) {
        throw new Error(`Connection closed before ${what}`);
      }
    }
  }

  #take(n: number): Uint8Array {
    const b = this.#buf.slice(this.#start, this.#start + n);
    this.#start += n;
    return b;
  }

  /** Sends an upgrade request and reads the response head. */
  async handshake(
    extra = "",
    path = "/ws",
  ): Promise<{ status: number; head: string; headers: Map<string, string> }> {
    await this.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
        `Sec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    return await this.readHead();
  }

  async readHead(): Promise<
    { status: number; head: string; headers: Map<string, string> }
  > {
    for (;;) {
      const text = latin1(this.#buf.subarray(this.#start, this.#end));
      const i = text.indexOf("\r\n\r\n");
      if (i >= 0) {
        const head = text.slice(0, i + 4);
        this.#start += i + 4;
        const lines = head.split("\r\n");
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const c = line.indexOf(":");
          if (c > 0) {
            headers.set(
              line.slice(0, c).toLowerCase(),
              line.slice(c + 1).trim(),
            );
          }
        }
        return { status: Number(lines[0].split(" ")[1]), head, headers };
      }
      if (!(await this.fill())) {
        throw new Error(`EOF before a response head: ${text}`);
      }
    }
  }

  /** Reads the rest of a response body of `n` bytes as text. */
  async readBody(n: number): Promise<string> {
    await this.#need(n, "the body");
    return decoder.decode(this.#take(n));
  }

  /** Reads one frame, or null at EOF. */
  async readFrame(timeout?: number): Promise<Frame | null> {
    if (this.available < 2 && !(await this.#fillTo(2, timeout))) return null;
    const b0 = this.#buf[this.#start];
    const b1 = this.#buf[this.#start + 1];
    let len = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;
    const ext = len === 126 ? 2 : len === 127 ? 8 : 0;
    const hl = 2 + ext + (masked ? 4 : 0);
    await this.#need(hl, "a frame header", timeout);
    const h = this.#buf.subarray(this.#start, this.#start + hl);
    if (len === 126) len = (h[2] << 8) | h[3];
    else if (len === 127) {
      len = ((h[6] << 24) | (h[7] << 16) | (h[8] << 8) | h[9]) >>> 0;
    }
    await this.#need(hl + len, "a frame payload", timeout);
    this.#start += hl;
    const payload = this.#take(len);
    return {
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 7,
      op: b0 & 15,
      masked,
      payload,
    };
  }

  async #fillTo(n: number, timeout?: number): Promise<boolean> {
    while (this.available < n) if (!(await this.fill(timeout))) return false;
    return true;
  }

  /** Reads a whole data message (joining fragments), skipping nothing. */
  async readMessage(): Promise<{ op: number; data: Uint8Array }> {
    const parts: Uint8Array[] = [];
    let op = -1;
    for (;;) {
      const f = await this.readFrame();
      if (f === null) throw new Error("EOF before a message");
      if (f.op >= 8) throw new Error(`Unexpected control frame ${f.op}`);
      if (op === -1) op = f.op;
      parts.push(f.payload);
      if (f.fin) return { op, data: join(...parts) };
    }
  }

  async readText(): Promise<string> {
    const m = await this.readMessage();
    assert.equal(m.op, OP.text, "expected a text frame");
    return decoder.decode(m.data);
  }

  /**
   * Expects a close frame with `code`, then the TCP close, with no other
   * frame before it.
   */
  async expectClose(code: number): Promise<Frame> {
    const f = await this.readFrame();
    assert.ok(f !== null, `expected a close frame ${code}, got EOF`);
    assert.equal(f.op, OP.close, `expected a close frame, got opcode ${f.op}`);
    assert.equal(f.masked, false, "server frames must not be masked");
    assert.equal(codeOf(f), code);
    await this.expectEof();
    return f;
  }

  /** Expects the server to close TCP without sending more. */
  async expectEof(): Promise<void> {
    const more = await this.readFrame(3000);
    assert.equal(more, null, "expected the TCP close");
  }

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

// ---------------------------------------------------------------------------
// Servers

interface Log {
  opened: Channel[];
  received: (string | Uint8Array)[];
  pings: Uint8Array[];
  pongs: Uint8Array[];
  closes: { status: CloseStatus; code: number | undefined }[];
  handshakeErrors: { status: number; reason: string }[];
  drains: number;
}

interface WsTest {
  server: Server;
  port: number;
  log: Log;
  connect(): Promise<WsClient>;
  /** Connects and completes the handshake. */
  open(extra?: string): Promise<WsClient>;
}

/**
 * Runs a server whose every request goes to asChannel with `handlers` and
 * `options` (plus logging), then stops it and closes every client.
 */
async function withWs(
  handlers: ChannelHandlers,
  options: ChannelOptions,
  fn: (t: WsTest) => Promise<void>,
): Promise<void> {
  const log: Log = {
    opened: [],
    received: [],
    pings: [],
    pongs: [],
    closes: [],
    handshakeErrors: [],
    drains: 0,
  };
  const errors: unknown[] = [];
  const server = runServer((req) =>
    asChannel(req, {
      onOpen(ch) {
        log.opened.push(ch);
        handlers.onOpen?.(ch);
      },
      onReceive(ch, m) {
        log.received.push(m);
        handlers.onReceive?.(ch, m);
      },
      onPing(ch, d) {
        log.pings.push(d);
        handlers.onPing?.(ch, d);
      },
      onPong(ch, d) {
        log.pongs.push(d);
        handlers.onPong?.(ch, d);
      },
      onClose(ch, status, code) {
        log.closes.push({ status, code });
        handlers.onClose?.(ch, status, code);
      },
      onHandshakeError(status, reason) {
        log.handshakeErrors.push({ status, reason });
      },
      onDrain(ch) {
        log.drains++;
        handlers.onDrain?.(ch);
      },
    }, options), {
    ip: "127.0.0.1",
    port: 0,
    errorLogger: (e) => errors.push(e),
    warnLogger: () => {},
  });
  const clients: WsClient[] = [];
  const t: WsTest = {
    server,
    port: server.port,
    log,
    async connect() {
      const c = await WsClient.connect(server.port);
      clients.push(c);
      return c;
    },
    async open(extra = "") {
      const c = await t.connect();
      const r = await c.handshake(extra);
      assert.equal(r.status, 101, r.head);
      return c;
    },
  };
  try {
    await fn(t);
    assert.deepEqual(errors, []);
  } finally {
    for (const c of clients) c.close();
    await server.stop();
  }
}

const echo: ChannelHandlers = {
  onReceive(ch, m) {
    ch.send(m);
  },
};

// ---------------------------------------------------------------------------
// Handshake

Deno.test("asChannel() upgrades a valid request with 101 and the right accept key", async () => {
  await withWs(echo, {}, async (t) => {
    const c = await t.connect();
    const r = await c.handshake();
    assert.equal(r.status, 101);
    assert.match(r.head, /^HTTP\/1\.1 101 /);
    assert.equal(r.headers.get("upgrade")?.toLowerCase(), "websocket");
    assert.equal(r.headers.get("connection")?.toLowerCase(), "upgrade");
    assert.equal(
      r.headers.get("sec-websocket-accept"),
      await expectedAccept(KEY),
    );
    assert.equal(r.headers.has("sec-websocket-protocol"), false);
    assert.equal(r.headers.has("sec-websocket-extensions"), false);
    await until(() => t.log.opened.length === 1, "onOpen");
    const ch = t.log.opened[0];
    assert.equal(ch.isWebSocket, true);
    assert.equal(ch.isOpen, true);
    assert.equal(ch.remoteAddr, "127.0.0.1");
    await c.write(frame(OP.text, "hi"));
    assert.equal(await c.readText(), "hi");
  });
});

Deno.test("asChannel() accepts Upgrade and Connection as tokens of lists, any case", async () => {
  await withWs(echo, {}, async (t) => {
    const c = await t.connect();
    await c.write(
      `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: foo/1, WebSocket\r\n` +
        `Connection: keep-alive, UPGRADE\r\nSec-WebSocket-Key: ${KEY}\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    );
    assert.equal((await c.readHead()).status, 101);
  });
});

Deno.test("asChannel() refuses bad upgrade requests: 400, or 426 for the version, and calls onHandshakeError", async () => {
  const key = `Sec-WebSocket-Key: ${KEY}\r\n`;
  const up = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  const v13 = "Sec-WebSocket-Version: 13\r\n";
  const cases: { name: string; req: string; status: number }[] = [
    {
      name: "POST",
      req:
        `POST /ws HTTP/1.1\r\nHost: x\r\n${up}${key}${v13}Content-Length: 0\r\n\r\n`,
      status: 400,
    },
    {
      name: "HTTP/1.0",
      req: `GET /ws HTTP/1.0\r\nHost: x\r\n${up}${key}${v13}\r\n`,
      status: 400,
    },
    {
      name: "version 12",
      req:
        `GET /ws HTTP/1.1\r\nHost: x\r\n${up}${key}Sec-WebSocket-Version: 12\r\n\r\n`,
      status: 426,
    },
    {
      name: "no version",
      req: `GET /ws HTTP/1.1\r\nHost: x\r\n${up}${key}\r\n`,
      status: 426,
    },
    {
      name: "no key",
      req: `GET /ws HTTP/1.1\r\nHost: x\r\n${up}${v13}\r\n`,
      status: 400,
    },
    {
      name: "key of 15 bytes",
      req: `GET /ws HTTP/1.1\r\nHost: x\r\n${up}${v13}Sec-WebSocket-Key: ${
        btoa("x".repeat(15))
      }\r\n\r\n`,
      status: 400,
    },
    {
      name: "key without padding",
      req: `GET /ws HTTP/1.1\r\nHost: x\r\n${up}${v13}Sec-WebSocket-Key: ${
        KEY.slice(0, 22)
      }\r\n\r\n`,
      status: 400,
    },
    {
      name: "non-canonical key",
      req: `GET /ws HTTP/1.1\r\nHost: x\r\n${up}${v13}Sec-WebSocket-Key: ${
        KEY.slice(0, 21)
      }R==\r\n\r\n`,
      status: 400,
    },
  ];
  await withWs(echo, {}, async (t) => {
    for (const [i, cs] of cases.entries()) {
      const c = await t.connect();
      await c.write(cs.req);
      const r = await c.readHead();
      assert.equal(r.status, cs.status, `${cs.name}: ${r.head}`);
      if (cs.status === 426) {
        assert.equal(r.headers.get("sec-websocket-version"), "13", cs.name);
      }
      await c.readBody(Number(r.headers.get("content-length")));
      await c.expectEof();
      assert.equal(t.log.handshakeErrors.length, i + 1, cs.name);
      assert.equal(t.log.handshakeErrors[i].status, cs.status, cs.name);
    }
    assert.equal(t.log.opened.length, 0);
  });
});

Deno.test("asChannel() without Upgrade: websocket + Connection: upgrade tokens gives no WebSocket", async () => {
  await withWs(
    {
      onOpen(ch) {
        ch.send("plain");
      },
    },
    {},
    async (t) => {
      for (
        const hs of [
          "Upgrade: websocket\r\n",
          "Connection: Upgrade\r\n",
          "Upgrade: websockets\r\nConnection: Upgrade\r\n",
          "Upgrade: websocket\r\nConnection: upgraded\r\n",
        ]
      ) {
        const c = await t.connect();
        await c.write(
          `GET /ws HTTP/1.1\r\nHost: x\r\n${hs}Sec-WebSocket-Key: ${KEY}\r\n` +
            `Sec-WebSocket-Version: 13\r\n\r\n`,
        );
        const r = await c.readHead();
        assert.notEqual(r.status, 101, hs);
        assert.equal(r.headers.has("sec-websocket-accept"), false, hs);
      }
      assert.ok(t.log.opened.every((ch) => !ch.isWebSocket));
    },
  );
});

Deno.test("asChannel() negotiates a subprotocol from options.protocols", async () => {
  await withWs(echo, { protocols: ["chat", "superchat"] }, async (t) => {
    const c = await t.connect();
    const r = await c.handshake("Sec-WebSocket-Protocol: foo, superchat\r\n");
    assert.equal(r.status, 101);
    assert.equal(r.headers.get("sec-websocket-protocol"), "superchat");
    const d = await t.connect();
    const r2 = await d.handshake("Sec-WebSocket-Protocol: foo, bar\r\n");
    assert.equal(r2.status, 101);
    assert.equal(r2.headers.has("sec-websocket-protocol"), false);
  });
  await withWs(echo, {}, async (t) => {
    const c = await t.connect();
    const r = await c.handshake("Sec-WebSocket-Protocol: chat\r\n");
    assert.equal(r.status, 101);
    assert.equal(r.headers.has("sec-websocket-protocol"), false);
  });
});

Deno.test("asChannel() negotiates permessage-deflate unless deflate: false", async () => {
  const offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
  await withWs(echo, {}, async (t) => {
    const c = await t.connect();
    const r = await c.handshake(offer);
    assert.match(
      r.headers.get("sec-websocket-extensions") ?? "",
      /^permessage-deflate/,
    );
  });
  await withWs(echo, { deflate: false }, async (t) => {
    const c = await t.connect();
    const r = await c.handshake(offer);
    assert.equal(r.status, 101);
    assert.equal(r.headers.has("sec-websocket-extensions"), false);
    // without the extension, RSV1 is a protocol error
    await c.write(frame(OP.text, "x", { rsv: 4 }));
    await c.expectClose(1002);
  });
});

Deno.test("asChannel() keeps frames that arrive in the same write as the upgrade request", async () => {
  await withWs(echo, {}, async (t) => {
    const c = await t.connect();
    await c.write(join(
      encoder.encode(
        `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
          `Sec-WebSocket-Version: 13\r\n\r\n`,
      ),
      frame(OP.text, "early"),
      frame(OP.binary, new Uint8Array([1, 2, 3])),
      frame(OP.ping, "p"),
    ));
    assert.equal((await c.readHead()).status, 101);
    assert.equal(await c.readText(), "early");
    const m = await c.readMessage();
    assert.equal(m.op, OP.binary);
    assert.deepEqual([...m.data], [1, 2, 3]);
    const pong = await c.readFrame();
    assert.equal(pong?.op, OP.pong);
    assert.equal(decoder.decode(pong!.payload), "p");
  });
});

// ---------------------------------------------------------------------------
// Messages

Deno.test("asChannel() WebSocket: string -> text frame, bytes -> binary frame, onReceive in order", async () => {
  await withWs(
    {
      onOpen(ch) {
        ch.send("héllo");
        ch.send(new Uint8Array([0, 255]));
        ch.send({ body: "map" });
      },
      onReceive(ch, m) {
        ch.send(m);
      },
    },
    {},
    async (t) => {
      const c = await t.open();
      const a = await c.readFrame();
      assert.equal(a?.op, OP.text);
      assert.equal(a?.fin, true);
      assert.equal(a?.masked, false);
      assert.equal(decoder.decode(a!.payload), "héllo");
      const b = await c.readFrame();
      assert.equal(b?.op, OP.binary);
      assert.deepEqual([...b!.payload], [0, 255]);
      assert.equal(await c.readText(), "map");

      const sent: (string | Uint8Array)[] = [];
      const out: Uint8Array[] = [];
      for (let i = 0; i < 200; i++) {
        const m = i % 2 === 0
          ? `msg ${i} ${"é".repeat(i)}`
          : new Uint8Array(i * 7).fill(i);
        sent.push(m);
        out.push(frame(typeof m === "string" ? OP.text : OP.binary, m));
      }
      // sizes across the 7-bit, 16-bit and 64-bit length forms
      const big = new Uint8Array(70_000).map((_, i) => i & 255);
      sent.push(big);
      out.push(frame(OP.binary, big));
      await c.write(join(...out));
      for (const m of sent) {
        const got = await c.readMessage();
        if (typeof m === "string") {
          assert.equal(got.op, OP.text);
          assert.equal(decoder.decode(got.data), m);
        } else {
          assert.equal(got.op, OP.binary);
          assert.deepEqual(got.data, m);
        }
      }
      assert.equal(t.log.received.length, sent.length);
      for (const [i, m] of sent.entries()) {
        assert.deepEqual(t.log.received[i], m, `message ${i}`);
      }
    },
  );
});

Deno.test("asChannel() WebSocket: a frame split across many small writes", async () => {
  await withWs(echo, {}, async (t) => {
    const c = await t.open();
    const f = frame(OP.text, "x".repeat(300));
    for (let i = 0; i < f.length; i += 7) {
      await c.write(f.subarray(i, Math.min(f.length, i + 7)));
      if (i < 30) await sleep(2);
    }
    assert.equal(await c.readText(), "x".repeat(300));
  });
});

Deno.test("asChannel() WebSocket: fragmented messages with control frames between fragments", async () => {
  await withWs(echo, {}, async (t) => {
    const c = await t.open();
    const euro = encoder.encode("€"); // three bytes, split across fragments
    await c.write(join(
      frame(OP.text, "Hel", { fin: false }),
      frame(OP.ping, "between"),
      frame(OP.cont, join(encoder.encode("lo "), euro.subarray(0, 1)), {
        fin: false,
      }),
      frame(OP.pong, "unsolicited"),
      frame(OP.cont, euro.subarray(1), { fin: false }),
      frame(OP.cont, "", { fin: false }),
      frame(OP.cont, "!"),
      frame(OP.binary, new Uint8Array([1]), { fin: false }),
      frame(OP.cont, new Uint8Array([2, 3])),
    ));
    const pong = await c.readFrame();
    assert.equal(pong?.op, OP.pong);
    assert.equal(decoder.decode(pong!.payload), "between");
    assert.equal(await c.readText(), "Hello €!");
    const b = await c.readMessage();
    assert.equal(b.op, OP.binary);
    assert.deepEqual([...b.data], [1, 2, 3]);
    assert.deepEqual(t.log.received, ["Hello €!", new Uint8Array([1, 2, 3])]);
    assert.deepEqual(t.log.pings.map((d) => decoder.decode(d)), ["between"]);
    assert.deepEqual(t.log.pongs.map((d) => decoder.decode(d)), [
      "unsolicited",
    ]);
  });
});

Deno.test("asChannel() WebSocket: pings get pongs automatically; onPing, onPong and ch.ping(data)", async () => {
  await withWs({}, {}, async (t) => {
    const c = await t.open();
    await c.write(frame(OP.ping, new Uint8Array([1, 2, 3])));
    const pong = await c.readFrame();
    assert.equal(pong?.op, OP.pong);
    assert.deepEqual([...pong!.payload], [1, 2, 3]);
    await c.write(frame(OP.ping));
    const empty = await c.readFrame();
    assert.equal(empty?.op, OP.pong);
    assert.equal(empty?.payload.length, 0);
    assert.equal(t.log.pings.length, 2);
    assert.deepEqual([...t.log.pings[0]], [1, 2, 3]);

    const ch = t.log.opened[0];
    assert.equal(ch.ping("are you there"), true);
    assert.equal(ch.ping(new Uint8Array([9])), true);
    assert.equal(ch.ping(), true);
    const p1 = await c.readFrame();
    assert.equal(p1?.op, OP.ping);
    assert.equal(decoder.decode(p1!.payload), "are you there");
    const p2 = await c.readFrame();
    assert.deepEqual([...p2!.payload], [9]);
    const p3 = await c.readFrame();
    assert.equal(p3?.op, OP.ping);
    assert.equal(p3?.payload.length, 0);
    assert.throws(() => ch.ping("x".repeat(126)), RangeError);
    await c.write(frame(OP.pong, "yes"));
    await until(() => t.log.pongs.length === 1, "onPong");
    assert.equal(decoder.decode(t.log.pongs[0]), "yes");
  });
});

// ---------------------------------------------------------------------------
// Closing

Deno.test("asChannel() WebSocket: close() sends 1000, onClose server-close after the echo, then TCP closes", async () => {
  await withWs({}, {}, async (t) => {
    const c = await t.open();
    await until(() => t.log.opened.length === 1, "onOpen");
    const ch = t.log.opened[0];
    assert.equal(ch.close(), true);
    assert.equal(ch.isOpen, false);
    assert.equal(ch.close(), false, "second close() returns false");
    assert.equal(ch.send("late"), false, "send after close returns false");
    assert.equal(ch.ping(), false);
    const f = await c.readFrame();
    assert.equal(f?.op, OP.close);
    assert.equal(codeOf(f!), 1000);
    await c.write(frame(OP.close, closePayload(1000)));
    await c.expectEof();
    await until(() => t.log.closes.length === 1, "onClose");
    assert.deepEqual(t.log.closes, [{ status: "server-close", code: 1000 }]);
  });
});

Deno.test("asChannel() WebSocket: close(code, reason) sends them", async () => {
  await withWs(
    {
      onReceive(ch) {
        ch.close(4001, "bye now");
      },
    },
    {},
    async (t) => {
      const c = await t.open();
      await c.write(frame(OP.text, "close please"));
      const f = await c.readFrame();
      assert.equal(f?.op, OP.close);
      assert.equal(codeOf(f!), 4001);
      assert.equal(decoder.decode(f!.payload.subarray(2)), "bye now");
      await c.write(frame(OP.close, closePayload(4001)));
      await c.expectEof();
      await until(() => t.log.closes.length === 1, "onClose");
      assert.equal(t.log.closes[0].status, "server-close");
    },
  );
});

Deno.test("asChannel() WebSocket: send(x, true) sends then closes", async () => {
  await withWs(
    {
      onOpen(ch) {
        assert.equal(ch.send("last words", true), true);
        assert.equal(ch.isOpen, false);
      },
    },
    {},
    async (t) => {
      const c = await t.open();
      assert.equal(await c.readText(), "last words");
      const f = await c.readFrame();
      assert.equal(f?.op, OP.close);
      assert.equal(codeOf(f!), 1000);
      await c.write(frame(OP.close, closePayload(1000)));
      await c.expectEof();
    },
  );
});

Deno.test("asChannel() WebSocket: a client close is echoed and named with closeStatus()", async () => {
  const codes = [1000, 1001, 1003, 1008, 1011, 3000, 4999];
  await withWs({}, {}, async (t) => {
    for (const code of codes) {
      const c = await t.open();
      await c.write(frame(OP.close, closePayload(code, "reason")));
      await c.expectClose(code);
    }
    const c = await t.open();
    await c.write(frame(OP.close)); // no status code
    const f = await c.readFrame();
    assert.equal(f?.op, OP.close);
    await c.expectEof();
    await until(() => t.log.closes.length === codes.length + 1, "onClose");
    assert.deepEqual(
      t.log.closes.slice(0, codes.length),
      codes.map((code) => ({ status: closeStatus(code), code })),
    );
    assert.equal(t.log.closes[0].status, "normal");
    assert.equal(t.log.closes[1].status, "going-away");
    assert.equal(t.log.closes[5].status, "unknown");
    assert.equal(t.log.closes[codes.length].status, "no-status-received");
  });
});

Deno.test("asChannel() WebSocket: a TCP close without a close frame reports going-away", async () => {
  await withWs({}, {}, async (t) => {
    const c = await t.open();
    await c.write(frame(OP.text, "then gone"));
    await until(() => t.log.received.length === 1, "onReceive");
    c.close();
    await until(() => t.log.closes.length === 1, "onClose");
    assert.equal(t.log.closes[0].status, "going-away");
    const ch = t.log.opened[0];
    assert.equal(ch.isOpen, false);
    assert.equal(ch.send("x"), false);
  });
});

Deno.test("asChannel() WebSocket: server.stop() closes open channels with server-close", async () => {
  await withWs({}, {}, async (t) => {
    const c = await t.open();
    await until(() => t.log.opened.length === 1, "onOpen");
    await t.server.stop();
    const f = await c.readFrame();
    assert.equal(f?.op, OP.close);
    assert.equal(codeOf(f!), 1001);
    await c.expectEof();
    assert.deepEqual(t.log.closes.map((x) => x.status), ["server-close"]);
  });
});

// ---------------------------------------------------------------------------
// Protocol errors

Deno.test("asChannel() WebSocket: protocol errors close with 1002 then TCP close", async () => {
  const cases: [string, Uint8Array][] = [
    ["unmasked frame", frame(OP.text, "x", { mask: false })],
    ["RSV1 without deflate", frame(OP.text, "x", { rsv: 4 })],
    ["RSV2", frame(OP.text, "x", { rsv: 2 })],
    ["RSV3", frame(OP.binary, "x", { rsv: 1 })],
    ["opcode 3", frame(3, "x")],
    ["opcode 11", frame(11)],
    ["fragmented ping", frame(OP.ping, "x", { fin: false })],
    ["ping of 126 bytes", frame(OP.ping, new Uint8Array(126))],
    ["close of 126 bytes", frame(OP.close, new Uint8Array(126).fill(65))],
    ["stray continuation", frame(OP.cont, "x")],
    [
      "new message inside a fragmented one",
      join(frame(OP.text, "a", { fin: false }), frame(OP.text, "b")),
    ],
    ["non-minimal 16-bit length", frame(OP.text, "short", { lengthForm: 16 })],
    [
      "non-minimal 64-bit length",
      frame(OP.binary, new Uint8Array(200), { lengthForm: 64 }),
    ],
    ["close code 1005", frame(OP.close, closePayload(1005))],
    ["close code 999", frame(OP.close, closePayload(999))],
    ["close code 1006", frame(OP.close, closePayload(1006))],
    ["close payload of one byte", frame(OP.close, new Uint8Array([3]))],
  ];
  await withWs(echo, {}, async (t) => {
    for (const [name, bad] of cases) {
      const c = await t.open();
      await c.write(frame(OP.text, "ok"));
      assert.equal(await c.readText(), "ok", name);
      await c.write(bad);
      try {
        await c.expectClose(1002);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
      c.close();
    }
    await until(() => t.log.closes.length === cases.length, "onClose");
    for (const [i, x] of t.log.closes.entries()) {
      assert.deepEqual(
        x,
        { status: "protocol-error", code: 1002 },
        cases[i][0],
      );
    }
  });
});

Deno.test("asChannel() WebSocket: invalid UTF-8 closes with 1007", async () => {
  const cases: [string, Uint8Array][] = [
    ["one frame", frame(OP.text, new Uint8Array([0x68, 0xff]))],
    [
      "across fragments",
      join(
        frame(OP.text, new Uint8Array([0xe2, 0x82]), { fin: false }),
        frame(OP.cont, new Uint8Array([0x28])),
      ),
    ],
    [
      "truncated at the end",
      join(
        frame(OP.text, new Uint8Array([0x61, 0xe2, 0x82]), { fin: false }),
        frame(OP.cont, new Uint8Array(0)),
      ),
    ],
    ["surrogate", frame(OP.text, new Uint8Array([0xed, 0xa0, 0x80]))],
    [
      "close reason",
      frame(OP.close, join(closePayload(1000), new Uint8Array([0xff]))),
    ],
  ];
  await withWs(echo, {}, async (t) => {
    for (const [name, bad] of cases) {
      const c = await t.open();
      await c.write(bad);
      try {
        await c.expectClose(1007);
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}`);
      }
    }
    await until(() => t.log.closes.length === cases.length, "onClose");
    assert.ok(
      t.log.closes.every((x) =>
        x.status === "invalid-payload-data" && x.code === 1007
      ),
      JSON.stringify(t.log.closes),
    );
    assert.deepEqual(t.log.received, []);
  });
});

Deno.test("asChannel() WebSocket: a message over maxWs closes with 1009", async () => {
  await withWs(echo, { maxWs: 1000 }, async (t) => {
    const ok = await t.open();
    await ok.write(frame(OP.binary, new Uint8Array(1000)));
    assert.equal((await ok.readMessage()).data.length, 1000);

    const one = await t.open();
    await one.write(frame(OP.text, "x".repeat(1001)));
    await one.expectClose(1009);

    const frag = await t.open();
    await frag.write(join(
      frame(OP.binary, new Uint8Array(600), { fin: false }),
      frame(OP.cont, new Uint8Array(600)),
    ));
    await frag.expectClose(1009);
    await until(() => t.log.closes.length === 2, "onClose");
    assert.deepEqual(t.log.closes, [
      { status: "message-too-big", code: 1009 },
      { status: "message-too-big", code: 1009 },
    ]);
  });
});

// ---------------------------------------------------------------------------
// Backpressure

Deno.test("asChannel() WebSocket: with a client that does not read, bufferedAmount grows and send fails past maxQueue with 1008", async () => {
  const maxQueue = 1024 * 1024;
  const chunk = new Uint8Array(64 * 1024).fill(7);
  let sent = 0;
  let refusedAt = -1;
  let bufferedBefore = 0;
  await withWs(
    {
      async onOpen(ch) {
        // a producer on timers, so the socket buffers fill before the queue
        for (let i = 0; i < 2000 && ch.isOpen; i++) {
          bufferedBefore = ch.bufferedAmount;
          if (!ch.send(chunk)) {
            refusedAt = i;
            break;
          }
          sent++;
          await sleep(0);
        }
      },
    },
    { maxQueue },
    async (t) => {
      const c = await t.open();
      await until(() => refusedAt >= 0, "send() to return false", 8000);
      assert.ok(
        bufferedBefore + chunk.length > maxQueue,
        `bufferedAmount ${bufferedBefore} was not near maxQueue`,
      );
      const ch = t.log.opened[0];
      assert.equal(ch.isOpen, false);
      assert.equal(ch.send("x"), false);
      await until(() => t.log.closes.length === 1, "onClose");
      assert.equal(t.log.closes[0].code, 1008);
      // Everything before the refusal arrives intact, then close 1008.
      let got = 0;
      for (;;) {
        const f = await c.readFrame();
        assert.ok(f !== null, `EOF after ${got} of ${sent} messages`);
        if (f.op === OP.close) {
          assert.equal(codeOf(f), 1008);
          break;
        }
        assert.equal(f.op, OP.binary, `frame ${got}: opcode ${f.op}`);
        assert.equal(f.payload.length, chunk.length, `frame ${got} length`);
        assert.ok(f.payload.every((x) => x === 7), `frame ${got} content`);
        got++;
      }
      assert.ok(got <= sent, `${got} of ${sent}`);
    },
  );
});

Deno.test("asChannel() WebSocket: the 1008 close after a refused send does not cut into a partly written frame", async () => {
  // One message larger than the socket buffers is partly written when the
  // second send is refused; the close frame must come after the whole first
  // frame, never inside it.
  const big = new Uint8Array(12 * 1024 * 1024).fill(7);
  let second: boolean | null = null;
  await withWs(
    {
      onOpen(ch) {
        assert.equal(ch.send(big), true);
        setTimeout(() => (second = ch.send(big)), 100);
      },
    },
    {},
    async (t) => {
      const c = await t.open();
      await until(() => second !== null, "the second send");
      assert.equal(second, false);
      await until(() => t.log.closes.length === 1, "onClose");
      assert.equal(t.log.closes[0].code, 1008);
      const f = await c.readFrame(5000);
      assert.ok(f !== null);
      assert.equal(f.op, OP.binary);
      assert.equal(f.payload.length, big.length);
      const bad = f.payload.findIndex((x) => x !== 7);
      assert.equal(
        bad,
        -1,
        `the frame payload is corrupted at byte ${bad}: ${
          [...f.payload.subarray(bad, bad + 8)].map((x) => x.toString(16))
        }`,
      );
      const after = await c.readFrame(5000);
      if (after !== null) {
        assert.equal(after.op, OP.close);
        assert.equal(codeOf(after), 1008);
      }
    },
  );
});

Deno.test("asChannel() WebSocket: drained() resolves and onDrain fires once a slow client reads", async () => {
  const maxQueue = 2 * 1024 * 1024;
  const chunk = new Uint8Array(64 * 1024).fill(1);
  let sent = 0;
  let peak = 0;
  let drainedAt = 0;
  let readingAt = 0;
  await withWs(
    {
      async onOpen(ch) {
        while (ch.bufferedAmount <= maxQueue * 0.6 && sent < 1000) {
          assert.equal(ch.send(chunk), true);
          sent++;
          peak = Math.max(peak, ch.bufferedAmount);
          await sleep(0);
        }
        await ch.drained();
        drainedAt = performance.now();
        assert.equal(ch.bufferedAmount, 0);
        ch.send("end");
      },
    },
    { maxQueue },
    async (t) => {
      const c = await t.open();
      await until(() => peak > maxQueue * 0.6, "the queue to fill", 8000);
      await sleep(50);
      assert.equal(
        drainedAt,
        0,
        "drained() resolved while the client was not reading",
      );
      assert.ok(t.log.opened[0].bufferedAmount > 0);
      readingAt = performance.now();
      for (let i = 0; i < sent; i++) {
        const m = await c.readMessage();
        assert.equal(m.data.length, chunk.length);
      }
      assert.equal(await c.readText(), "end");
      assert.ok(drainedAt >= readingAt);
      assert.equal(t.log.drains, 1, "onDrain");
    },
  );
});

// ---------------------------------------------------------------------------
// permessage-deflate on the wire, checked with node:zlib

Deno.test("asChannel() WebSocket: permessage-deflate frames carry RSV1 and are raw DEFLATE both ways", async () => {
  const { deflateRawSync, inflateRawSync, constants } = await import(
    "node:zlib"
  );
  const tail = [0x00, 0x00, 0xff, 0xff];
  const compress = (s: string): Uint8Array => {
    const out = new Uint8Array(
      deflateRawSync(encoder.encode(s), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }),
    );
    assert.deepEqual([...out.subarray(out.length - 4)], tail);
    return out.subarray(0, out.length - 4);
  };
  const inflate = (b: Uint8Array): string =>
    decoder.decode(
      inflateRawSync(join(b, new Uint8Array(tail)), {
        finishFlush: constants.Z_SYNC_FLUSH,
      }),
    );
  await withWs(echo, {}, async (t) => {
    const c = await t.connect();
    const r = await c.handshake(
      "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n",
    );
    assert.equal(r.status, 101);
    const ext = r.headers.get("sec-websocket-extensions") ?? "";
    assert.match(ext, /^permessage-deflate/);
    assert.match(ext, /server_no_context_takeover/);
    const texts = ["a".repeat(5000), "hello ".repeat(1000), "é".repeat(3000)];
    for (const s of texts) {
      await c.write(frame(OP.text, compress(s), { rsv: 4 }));
      const f = await c.readFrame();
      assert.equal(f?.op, OP.text);
      assert.equal(f?.rsv, 4, "a compressed frame sets RSV1");
      assert.ok(f!.payload.length < 200, `${f!.payload.length} bytes`);
      assert.equal(inflate(f!.payload), s);
    }
    // uncompressed frames are still fine on a deflate connection
    await c.write(frame(OP.text, "plain"));
    const m = await c.readFrame();
    assert.equal(m?.op, OP.text);
    const got = m!.rsv === 4 ? inflate(m!.payload) : decoder.decode(m!.payload);
    assert.equal(got, "plain");
    // a compressed message split over fragments, RSV1 on the first only
    const z = compress("fragmented ".repeat(500));
    await c.write(join(
      frame(OP.text, z.subarray(0, 10), { rsv: 4, fin: false }),
      frame(OP.cont, z.subarray(10)),
    ));
    const fr = await c.readFrame();
    assert.equal(inflate(fr!.payload), "fragmented ".repeat(500));
    // RSV1 on a control frame is still a protocol error
    await c.write(frame(OP.ping, "x", { rsv: 4 }));
    await c.expectClose(1002);
    assert.equal(t.log.received.length, 5);
  });
});

Deno.test("asChannel() WebSocket: large messages kept by the handler stay intact while more arrive", async () => {
  const kept: Uint8Array[] = [];
  await withWs(
    {
      onReceive(ch, m) {
        kept.push(m as Uint8Array);
        // Changing one message must not change another, or what is echoed.
        if (kept.length === 3) (m as Uint8Array).fill(0);
        ch.send(m);
      },
    },
    {},
    async (t) => {
      const c = await t.open();
      const sent: Uint8Array[] = [];
      for (let burst = 0; burst < 6; burst++) {
        const frames: Uint8Array[] = [];
        for (let k = 0; k < 5; k++) {
          const i = sent.length;
          const m = new Uint8Array(9000 + i * 1500).map((_, j) =>
            (i * 31 + j) & 0xff
          );
          sent.push(m);
          frames.push(frame(OP.binary, m));
        }
        // Several messages per write, so reads fill the buffer and frames
        // straddle reads.
        await c.write(join(...frames));
        for (let k = sent.length - 5; k < sent.length; k++) {
          const got = await c.readMessage();
          const want = k === 2 ? new Uint8Array(sent[k].length) : sent[k];
          assert.deepEqual(got.data, want, `echo ${k}`);
        }
      }
      assert.equal(kept.length, sent.length);
      for (const [i, m] of kept.entries()) {
        const want = i === 2 ? new Uint8Array(sent[i].length) : sent[i];
        assert.deepEqual(m, want, `kept ${i}`);
      }
    },
  );
});
