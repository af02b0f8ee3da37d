// runServer's options: defaults (http-kit's), checks, and the listener they
// ask for. A wrong value is an error here, before anything is bound.

import { dateHeader } from "../http1/serialize.ts";
import { HeadMemo } from "../http1/memo.ts";
import { ReadGate } from "./_gate.ts";
import { LinkedSet } from "./_linked.ts";
import { ReplyCache } from "./_reply_cache.ts";
import type { Core } from "./_core.ts";
import { REUSE_PORT_NEEDS, unstableNet } from "./workers.ts";
import type { AnyHandler, RingRequest, ServerOptions } from "./types.ts";

/** The defaults of {@linkcode ServerOptions}. */
export const DEFAULTS = {
  ip: "0.0.0.0",
  port: 8090,
  maxBody: 8 * 1024 * 1024,
  maxLine: 8192,
  maxHeaderBytes: 64 * 1024,
  maxWs: 4 * 1024 * 1024,
  serverHeader: "http-kit",
  headerTimeout: 30_000,
  idleTimeout: 60_000,
  bodyTimeout: 60_000,
  writeTimeout: 60_000,
  queueSize: 20_480,
  maxConnections: 50_000,
};

/** Every option name runServer knows. */
export const SERVER_OPTIONS: readonly string[] = [
  "ip",
  "port",
  "maxBody",
  "maxLine",
  "maxHeaderBytes",
  "maxWs",
  "streamBody",
  "serverHeader",
  "headerTimeout",
  "idleTimeout",
  "bodyTimeout",
  "writeTimeout",
  "maxConnections",
  "queueSize",
  "proxyProtocol",
  "trustProxy",
  "cert",
  "key",
  "workers",
  "reusePort",
  "unixSocket",
  "errorLogger",
  "warnLogger",
  "onListen",
  "signal",
];

/** The timeouts the server's sweep enforces, in ms. */
export interface Timeouts {
  header: number;
  idle: number;
  body: number;
  write: number;
}

function defaultError(err: unknown, req: RingRequest | null): void {
  const where = req ? ` (${req.requestMethod.toUpperCase()} ${req.uri})` : "";
  console.error(`httpkit: error${where}:`, err);
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !(v > 0)) {
    throw new RangeError(
      `Option ${name} must be a positive number: received ${v}`,
    );
  }
  return v;
}

/** The timeouts of `options`, checked. */
export function timeoutsOf(o: ServerOptions): Timeouts {
  return {
    header: positive("headerTimeout", o.headerTimeout, DEFAULTS.headerTimeout),
    idle: positive("idleTimeout", o.idleTimeout, DEFAULTS.idleTimeout),
    body: positive("bodyTimeout", o.bodyTimeout, DEFAULTS.bodyTimeout),
    write: positive("writeTimeout", o.writeTimeout, DEFAULTS.writeTimeout),
  };
}

/** The most connections the server keeps open, checked. */
export function maxConnectionsOf(options: ServerOptions): number {
  return positive(
    "maxConnections",
    options.maxConnections,
    DEFAULTS.maxConnections,
  );
}

/**
 * The shared state of a new server's connections, from its options (checked
 * before anything is bound: the address fields are filled in by the caller
 * once it is).
 */
export function coreOf(
  handler: AnyHandler,
  options: ServerOptions,
): Core {
  const header = options.serverHeader === undefined
    ? DEFAULTS.serverHeader
    : options.serverHeader;
  const streamBody = options.streamBody ?? false;
  if (typeof streamBody !== "boolean" && typeof streamBody !== "function") {
    throw new TypeError(
      `Option streamBody must be a boolean or a function: received ${
        JSON.stringify(streamBody)
      }`,
    );
  }
  return {
    handler,
    limits: {
      maxLine: positive("maxLine", options.maxLine, DEFAULTS.maxLine),
      maxHeaderBytes: positive(
        "maxHeaderBytes",
        options.maxHeaderBytes,
        DEFAULTS.maxHeaderBytes,
      ),
    },
    maxBody: positive("maxBody", options.maxBody, DEFAULTS.maxBody),
    maxWs: positive("maxWs", options.maxWs, DEFAULTS.maxWs),
    streamBody,
    serverLine: header === null ? "" : `Server: ${header}\r\n`,
    port: 0,
    hostname: "",
    scheme: "http",
    gate: new ReadGate(),
    heads: new HeadMemo(),
    replies: new ReplyCache(),
    tick: 0,
    date: dateHeader(),
    stopping: false,
    conns: new LinkedSet(),
    loops: 0,
    loopsDone: null,
    proxyProtocol: options.proxyProtocol ?? "disable",
    trustProxy: options.trustProxy === true ? 1 : options.trustProxy || 0,
    queueSize: positive("queueSize", options.queueSize, DEFAULTS.queueSize),
    pending: 0,
    lastAuthority: "",
    lastName: "",
    error: options.errorLogger ?? defaultError,
    warn: options.warnLogger ?? (() => {}),
  };
}

/** Checks the options that must be right before anything is bound. */
export function checkListenOptions(options: ServerOptions): void {
  const header = options.serverHeader;
  if (
    header !== undefined && header !== null &&
    !/^[\x21-\x7e][\x20-\x7e]*$/.test(String(header))
  ) {
    throw new TypeError(`Invalid serverHeader: ${JSON.stringify(header)}`);
  }
  const proxyProtocol = options.proxyProtocol ?? "disable";
  if (!["disable", "optional", "enable"].includes(proxyProtocol)) {
    throw new TypeError(
      `proxyProtocol must be "disable", "optional" or "enable": received ${
        JSON.stringify(proxyProtocol)
      }`,
    );
  }
  if ((options.cert === undefined) !== (options.key === undefined)) {
    throw new TypeError("TLS needs both cert and key");
  }
  if (options.reusePort && !unstableNet()) throw new Error(REUSE_PORT_NEEDS);
}

/** A bound listener of any kind, with what the request maps report. */
export interface Bound {
  listener: Deno.Listener;
  hostname: string;
  port: number;
  scheme: "http" | "https";
}

/** Binds TCP, TLS (cert + key) or a Unix socket, as the options say. */
export function listen(options: ServerOptions): Bound {
  if (options.unixSocket !== undefined) {
    const listener = Deno.listen({
      transport: "unix",
      path: options.unixSocket,
    });
    return { listener, hostname: "localhost", port: 0, scheme: "http" };
  }
  const base = {
    hostname: options.ip ?? DEFAULTS.ip,
    port: options.port ?? DEFAULTS.port,
    ...(options.reusePort ? { reusePort: true } : {}),
  };
  const tls = options.cert !== undefined;
  const listener = tls
    ? Deno.listenTls({
      ...base,
      cert: options.cert!,
      key: options.key!,
      alpnProtocols: ["http/1.1"],
    })
    : Deno.listen({ ...base, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  return {
    listener,
    hostname: addr.hostname,
    port: addr.port,
    scheme: tls ? "https" : "http",
  };
}
