// The server side of a WebSocket upgrade: checks the handshake, writes the
// 101 and runs a WebSocket channel over the connection, starting with any
// bytes that arrived together with the upgrade request.

import type { ChannelHandlers } from "../channel.ts";
import { encodeHead, statusLine } from "../http1/serialize.ts";
import { isFieldValue, isToken } from "../http1/_chars.ts";
import { WsChannel, type WsTransport } from "../ws/channel.ts";
import { checkUpgrade } from "../ws/handshake.ts";
import type { DeflateOptions } from "../ws/deflate.ts";
import type { Connection } from "./connection.ts";
import type { RingRequest } from "./types.ts";

/** Limits and negotiation settings of a WebSocket upgrade. */
export interface UpgradeOptions {
  protocols?: string[];
  deflate?: boolean | DeflateOptions;
  maxWs?: number;
  maxQueue?: number;
  headers?: Record<string, string>;
}

const MAX_READ = 64 * 1024;

/**
 * permessage-deflate as the server offers it by default: no context
 * takeover either way, so no connection keeps zlib windows between messages
 * (one shared stream does the work; an idle WebSocket costs no zlib memory),
 * fast level 1, and messages under 1 KiB sent as they are.
 */
const SERVER_DEFLATE: DeflateOptions = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  level: 1,
  threshold: 1024,
};

/**
 * Upgrades the connection and serves the channel until it closes.
 *
 * @returns `false`: the connection is never handed back to HTTP.
 */
export async function upgradeWebSocket(
  c: Connection,
  method: string,
  req: RingRequest,
  handlers: ChannelHandlers,
  options: UpgradeOptions,
): Promise<boolean> {
  const r = checkUpgrade(method, req.protocol, req.headers, {
    protocols: options.protocols,
    deflate: options.deflate === false ? false : {
      ...SERVER_DEFLATE,
      ...(typeof options.deflate === "object" ? options.deflate : {}),
    },
  });
  if (!r.ok) {
    try {
      handlers.onHandshakeError?.(r.status, r.reason);
    } catch (err) {
      c.core.error(err, req);
    }
    await c.sendError(r.status, r.reason, r.headers);
    return false;
  }
  let h = statusLine(101) + "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${r.accept}\r\n`;
  if (r.protocol !== null) h += `Sec-WebSocket-Protocol: ${r.protocol}\r\n`;
  if (r.extensions !== null) {
    h += `Sec-WebSocket-Extensions: ${r.extensions}\r\n`;
  }
  for (const name in options.headers) {
    const value = options.headers[name];
    if (!isToken(name) || !isFieldValue(value)) {
      c.core.error(
        new TypeError(`Invalid 101 header ${JSON.stringify(name)}`),
        req,
      );
      continue;
    }
    h += `${name}: ${value}\r\n`;
  }
  await c.write(encodeHead(h + "\r\n"));
  const initial = c.buf.slice(c.start, c.end);
  c.start = c.end;
  const ch = new WsChannel(transport(c), handlers, {
    role: "server",
    maxWs: options.maxWs,
    maxQueue: options.maxQueue,
    deflate: r.deflate,
    protocol: r.protocol,
    extensions: r.extensions,
  });
  c.channel = ch;
  c.detached = true;
  c.current = null;
  serve(c, ch, initial);
  return false;
}

// The channel's own loop, apart from the request that upgraded: it keeps
// only the connection and the channel alive.
function serve(c: Connection, ch: WsChannel, initial: Uint8Array): void {
  ch.run(initial).catch((err) => c.core.error(err, null)).finally(() => {
    c.channel = null;
    c.destroy();
  });
}

// Reads go into the connection's own buffer; it doubles while reads fill it,
// so large messages need few reads. The channel may keep a chunk (large
// messages are handed out as views of it): the next read then goes into a
// new buffer.
function transport(c: Connection): WsTransport {
  // The buffer the last chunk came from, and whether the channel keeps it.
  let last: Uint8Array | null = null;
  let kept = false;
  return {
    remoteAddr: c.remoteAddr,
    keep() {
      kept = true;
    },
    async read() {
      if (kept) {
        kept = false;
        if (c.buf === last) c.buf = new Uint8Array(c.buf.length);
      }
      c.start = c.end = 0;
      const n = await c.readMore();
      if (n === null) return null;
      last = c.buf;
      const chunk = c.buf.subarray(c.start, c.end);
      // The next read gets a new buffer (this one stays with `chunk`):
      // twice as big while reads fill it, small again once the peer is
      // quiet, so an idle WebSocket does not keep a 64 KiB buffer.
      if (n === c.buf.length && c.buf.length < MAX_READ) {
        c.buf = new Uint8Array(c.buf.length * 2);
        c.start = c.end = 0;
      } else if (n < 256 && c.buf.length > 4096) {
        c.buf = new Uint8Array(1024);
        c.start = c.end = 0;
      }
      return chunk;
    },
    write: (b) => c.write(b),
    close: () => c.destroy(),
  };
}
