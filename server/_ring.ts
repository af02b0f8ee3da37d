// The Ring request map: plain data made from a parsed request head, the body
// and what the connection knows (client address, PROXY header, trusted
// X-Forwarded-* fields).

import { hasToken } from "../http1/_chars.ts";
import type { RequestHead } from "../http1/head.ts";
import { mediaType } from "../http1/media.ts";
import type { Core } from "./_core.ts";
import { CONN, type ServerLink } from "./_link.ts";
import type { RingRequest } from "./types.ts";

/** What a PROXY protocol header said about the client. */
export interface Forwarded {
  for: string;
  port: string;
  proto: string;
}

const LOWER_METHODS: Record<string, string> = {};

function lowerMethod(m: string): string {
  return LOWER_METHODS[m] ??= m.toLowerCase();
}

/** Builds the request map a handler gets. */
export function ringRequest(
  core: Core,
  link: ServerLink,
  forwarded: Forwarded | null,
  head: RequestHead,
  body: RingRequest["body"],
): RingRequest {
  const h = head.headers;
  const media = mediaType(h["content-type"]);
  let remoteAddr = link.remoteAddr;
  let scheme = core.scheme;
  if (forwarded !== null) {
    // The balancer's word replaces anything the client claimed.
    h["x-forwarded-for"] = forwarded.for;
    h["x-forwarded-port"] = forwarded.port;
    h["x-forwarded-proto"] = forwarded.proto;
  } else if (core.trustProxy > 0) {
    remoteAddr = forwardedFor(h["x-forwarded-for"], core.trustProxy) ??
      remoteAddr;
    const proto = h["x-forwarded-proto"];
    if (proto === "https" || proto === "http") scheme = proto;
  }
  return {
    serverPort: core.port,
    serverName: serverName(core, head.authority),
    remoteAddr,
    uri: head.path,
    queryString: head.query,
    scheme,
    requestMethod: lowerMethod(head.method),
    protocol: head.http10 ? "HTTP/1.0" : "HTTP/1.1",
    headers: h,
    contentType: media.type,
    contentLength: head.contentLength >= 0 ? head.contentLength : null,
    characterEncoding: media.charset,
    body,
    websocket: h["upgrade"] !== undefined &&
      hasToken(h["upgrade"], "websocket") &&
      hasToken(head.connection ?? undefined, "upgrade"),
    [CONN]: { conn: link, head },
  } as RingRequest;
}

/** The client address `hops` proxies back in an X-Forwarded-For list. */
function forwardedFor(xff: string | undefined, hops: number): string | null {
  if (xff === undefined) return null;
  const list = xff.split(",");
  const pick = list[Math.max(0, list.length - hops)].trim();
  return pick === "" ? null : pick;
}

// The host name of the authority (Host header) without its port. Clients
// send the same Host again and again: the server keeps the last one, split.
function serverName(core: Core, authority: string | null): string {
  if (authority === null) return core.hostname;
  if (authority === core.lastAuthority) return core.lastName;
  let name: string;
  if (authority.charCodeAt(0) === 0x5b) {
    const close = authority.indexOf("]");
    name = authority.slice(0, close + 1);
  } else {
    const colon = authority.indexOf(":");
    name = colon === -1 ? authority : authority.slice(0, colon);
  }
  core.lastAuthority = authority;
  core.lastName = name;
  return name;
}
