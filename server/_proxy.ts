// Sans-IO parsing of the PROXY protocol header (HAProxy's spec, versions 1
// and 2) that a load balancer sends before the first request, so the server
// learns the real client address.

import { ProtocolError } from "../http1/errors.ts";

/** What a PROXY header says about the original connection. */
export interface ProxyInfo {
  /** Client address, or null for `UNKNOWN` / `LOCAL` (use the socket's). */
  srcAddr: string | null;
  srcPort: number | null;
  dstAddr: string | null;
  dstPort: number | null;
  /** The v2 header carried an SSL TLV with the client-connected-over-TLS bit. */
  ssl: boolean;
  /** Bytes the header took. */
  length: number;
}

const V1_PREFIX = [0x50, 0x52, 0x4f, 0x58, 0x59, 0x20]; // "PROXY "
const V2_SIG = [
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
];
const V1_MAX = 107;

function bad(message: string): never {
  throw new ProtocolError(400, `Malformed PROXY header: ${message}`);
}

/**
 * Tells whether the bytes start (or may start, when few have arrived) with a
 * PROXY header: `"yes"`, `"no"` or `"maybe"` (need more bytes to know).
 */
export function proxyPrefix(
  b: Uint8Array,
  start: number,
  end: number,
): "yes" | "no" | "maybe" {
  const n = end - start;
  const v1 = matches(b, start, n, V1_PREFIX);
  const v2 = matches(b, start, n, V2_SIG);
  if (v1 === "yes" || v2 === "yes") return "yes";
  if (v1 === "maybe" || v2 === "maybe") return "maybe";
  return "no";
}

function matches(
  b: Uint8Array,
  start: number,
  n: number,
  sig: number[],
): "yes" | "no" | "maybe" {
  const m = Math.min(n, sig.length);
  for (let i = 0; i < m; i++) if (b[start + i] !== sig[i]) return "no";
  return n >= sig.length ? "yes" : "maybe";
}

/**
 * Parses a PROXY header at `start`.
 *
 * @returns The header, or null when more bytes are needed.
 * @throws {ProtocolError} 400 for a malformed header.
 */
export function parseProxyHeader(
  b: Uint8Array,
  start: number,
  end: number,
): ProxyInfo | null {
  if (proxyPrefix(b, start, end) === "maybe") return null;
  if (b[start] === 0x50) return parseV1(b, start, end);
  return parseV2(b, start, end);
}

function parseV1(b: Uint8Array, start: number, end: number): ProxyInfo | null {
  let lf = -1;
  for (let i = start; i < end && i < start + V1_MAX; i++) {
    if (b[i] === 0x0a) {
      lf = i;
      break;
    }
  }
  if (lf === -1) {
    if (end - start >= V1_MAX) bad("v1 line too long");
    return null;
  }
  if (b[lf - 1] !== 0x0d) bad("v1 line must end with CRLF");
  const line = String.fromCharCode(...b.subarray(start, lf - 1));
  const parts = line.split(" ");
  const length = lf + 1 - start;
  if (parts[1] === "UNKNOWN") return unknown(length);
  if (parts.length !== 6) bad("v1 needs 6 fields");
  const [, proto, src, dst, sport, dport] = parts;
  if (proto === "TCP4") {
    if (!isIPv4(src) || !isIPv4(dst)) bad("v1 TCP4 address");
  } else if (proto === "TCP6") {
    if (!isIPv6(src) || !isIPv6(dst)) bad("v1 TCP6 address");
  } else bad(`v1 protocol ${JSON.stringify(proto.slice(0, 16))}`);
  return {
    srcAddr: src,
    srcPort: port(sport),
    dstAddr: dst,
    dstPort: port(dport),
    ssl: false,
    length,
  };
}

function port(s: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s) || Number(s) > 65535) bad("v1 port");
  return Number(s);
}

function isIPv4(s: string): boolean {
  const parts = s.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) < 256);
}

function isIPv6(s: string): boolean {
  return s.length >= 2 && s.length <= 45 && /^[0-9a-fA-F:.]+$/.test(s) &&
    s.includes(":");
}

function unknown(length: number): ProxyInfo {
  return {
    srcAddr: null,
    srcPort: null,
    dstAddr: null,
    dstPort: null,
    ssl: false,
    length,
  };
}

function parseV2(b: Uint8Array, start: number, end: number): ProxyInfo | null {
  if (end - start < 16) return null;
  const verCmd = b[start + 12];
  if (verCmd >> 4 !== 2) bad("v2 version");
  const cmd = verCmd & 0x0f;
  if (cmd > 1) bad("v2 command");
  const fam = b[start + 13];
  const len = (b[start + 14] << 8) | b[start + 15];
  const length = 16 + len;
  if (end - start < length) return null;
  const body = b.subarray(start + 16, start + length);
  // LOCAL (health checks from the balancer itself): keep the socket address.
  if (cmd === 0) return unknown(length);
  const family = fam >> 4, transport = fam & 0x0f;
  if (transport !== 1 && transport !== 0) bad("v2 transport");
  let info: ProxyInfo;
  let tlv: number;
  if (family === 1) {
    if (len < 12) bad("v2 IPv4 block too short");
    info = {
      srcAddr: `${body[0]}.${body[1]}.${body[2]}.${body[3]}`,
      dstAddr: `${body[4]}.${body[5]}.${body[6]}.${body[7]}`,
      srcPort: (body[8] << 8) | body[9],
      dstPort: (body[10] << 8) | body[11],
      ssl: false,
      length,
    };
    tlv = 12;
  } else if (family === 2) {
    if (len < 36) bad("v2 IPv6 block too short");
    info = {
      srcAddr: ipv6(body.subarray(0, 16)),
      dstAddr: ipv6(body.subarray(16, 32)),
      srcPort: (body[32] << 8) | body[33],
      dstPort: (body[34] << 8) | body[35],
      ssl: false,
      length,
    };
    tlv = 36;
  } else if (family === 0 || family === 3) {
    // UNSPEC or a Unix socket: no usable IP address.
    return unknown(length);
  } else {
    return bad("v2 address family");
  }
  info.ssl = sslTlv(body, tlv);
  return info;
}

// TLVs are skipped except PP2_TYPE_SSL (0x20), whose first byte tells
// whether the client spoke TLS to the balancer.
function sslTlv(body: Uint8Array, i: number): boolean {
  while (i + 3 <= body.length) {
    const type = body[i];
    const n = (body[i + 1] << 8) | body[i + 2];
    if (i + 3 + n > body.length) bad("v2 TLV overruns the header");
    if (type === 0x20 && n >= 1 && (body[i + 3] & 0x01) === 1) return true;
    i += 3 + n;
  }
  return false;
}

// RFC 5952 text: lower-case hex, the longest run of 2+ zero groups as "::".
function ipv6(b: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(":");
  return hex.slice(0, best).join(":") + "::" +
    hex.slice(best + bestLen).join(":");
}
