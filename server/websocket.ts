// The server side of a WebSocket upgrade: checks the handshake, writes the
// 101 and runs a WebSocket channel over the connection, starting with any
// bytes that arrived together with the upgrade request.

import type { ChannelHandlers } from "../channel.ts";
import { encodeHead, statusLine } from "../http1/serialize.ts";
import { isFieldValue, isToken } from "../http1/_chars.ts";
import type { RequestHead } from "../http1/head.ts";
import { WsChannel } from "../ws/channel.ts";
import { checkUpgrade } from "../ws/handshake.ts";
import type { DeflateOptions } from "../ws/extensions.ts";
import type { ServerLink } from "./_link.ts";
import type { RingRequest } from "./types.ts";

/** Limits and negotiation settings of a WebSocket upgrade. */
export interface UpgradeOptions {
  protocols?: string[];
  deflate?: boolean | DeflateOptions;
  maxWs?: number;
  maxQueue?: number;
  headers?: Record<string, string>;
}

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
 * Accepts a WebSocket upgrade on a server connection and serves the
 * channel until it closes.
 *
 * @returns `false`: the connection is never handed back to HTTP.
 */
export async function acceptWebSocket(
  c: ServerLink,
  head: RequestHead,
  req: RingRequest<unknown>,
  handlers: ChannelHandlers,
  options: UpgradeOptions,
): Promise<boolean> {
  const r = checkUpgrade(head.method, req.protocol, req.headers, {
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
      c.reportError(err, req);
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
      c.reportError(
        new TypeError(`Invalid 101 header ${JSON.stringify(name)}`),
        req,
      );
      continue;
    }
    h += `${name}: ${value}\r\n`;
  }
  await c.write(encodeHead(h + "\r\n"));
  const socket = c.detach();
  const ch = new WsChannel(socket, handlers, {
    role: "server",
    maxWs: options.maxWs ?? c.maxWs,
    maxQueue: options.maxQueue,
    deflate: r.deflate,
    protocol: r.protocol,
    extensions: r.extensions,
    remoteAddr: c.remoteAddr,
    onError: (err) => c.reportError(err, null),
  });
  c.adopt(ch);
  serve(c, ch);
  return false;
}

// The channel's own loop, apart from the request that upgraded: it keeps
// only the connection and the channel alive.
function serve(c: ServerLink, ch: WsChannel): void {
  ch.run().catch((err) => c.reportError(err, null)).finally(() => {
    c.adopt(null);
    c.close();
  });
}
