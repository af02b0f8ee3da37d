// WebSocket load benchmark: echo throughput of our asChannel server vs
// Deno.upgradeWebSocket on Deno.serve, in the same run.
//
//   deno run -A bench/ws_load.ts [--duration=5] [--rounds=3] [--conns=100]
//     [--inflight=8] [--sizes=64,16384] [--peers=ours,deno,node]
//     [--out=file.json]
//
// Peers: ours, Deno.upgradeWebSocket (the baseline) and npm `ws` on Node's
// node:http, run by `node` (installed into bench/.ws/ on first use; skipped
// with a message when node or npm is missing). Each peer runs in its own process pinned to CPU 0; the load client is this
// script in `--client` mode, pinned to CPU 1. The client is written here on
// raw TCP (no WebSocket library, so it costs little per message): it opens
// `conns` connections, keeps `inflight` masked binary messages in flight on
// each, sends one more for every echo, and counts the echoes that arrive in
// `duration` seconds (after a one-second warm-up). Peer order alternates per
// round; the table shows medians of the rounds.

import {
  deadline,
  median,
  npmInstall,
  readPort,
  stopChild,
  tryRun,
} from "./_servers.ts";

interface Peer {
  name: string;
  label: string;
  file: string;
  /** Deno unless given. */
  runtime?: "node";
}

const PEERS: Record<string, Peer> = {
  ours: { name: "ours", label: "ours (asChannel)", file: "servers/ws_ours.ts" },
  deno: {
    name: "deno",
    label: "Deno.upgradeWebSocket",
    file: "servers/ws_deno.ts",
  },
  node: {
    name: "node",
    label: "npm ws (Node)",
    file: "servers/ws_node.mjs",
    runtime: "node",
  },
};
const BASELINE = "deno";
const BENCH_DIR = new URL(".", import.meta.url);

interface Options {
  duration: number;
  rounds: number;
  conns: number;
  inflight: number;
  sizes: number[];
  peers: Peer[];
  out: string;
}

interface ClientResult {
  messages: number;
  seconds: number;
  rate: number;
  bytes: number;
  errors: number;
}

interface Run extends ClientResult {
  size: number;
  peer: string;
  round: number;
}

function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const m = arg.match(/^--([\w-]+)(?:=(.*))?$/);
    if (!m) throw new Error(`bad flag ${arg} (expected --name=value)`);
    out[m[1]] = m[2] ?? "true";
  }
  return out;
}

function parseOptions(f: Record<string, string>): Options {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const o: Options = {
    duration: Number(f.duration ?? 5),
    rounds: Number(f.rounds ?? 3),
    conns: Number(f.conns ?? 100),
    inflight: Number(f.inflight ?? 8),
    sizes: (f.sizes ?? "64,16384").split(",").map(Number),
    peers: (f.peers ?? "ours,deno,node").split(",").map((p) => {
      const peer = PEERS[p.trim()];
      if (!peer) throw new Error(`unknown peer ${p}`);
      return peer;
    }),
    out: f.out ?? new URL(`results/ws-load-${stamp}.json`, BENCH_DIR).pathname,
  };
  if (
    !(o.duration > 0 && o.rounds >= 1 && o.conns >= 1 && o.inflight >= 1) ||
    o.sizes.some((s) => !(s >= 0))
  ) throw new Error("bad options");
  return o;
}

// ---------------------------------------------------------------------------
// The load client

const encoder = new TextEncoder();

/** One masked binary frame carrying `size` bytes. */
function clientFrame(size: number): Uint8Array {
  const ext = size > 0xffff ? 8 : size > 125 ? 2 : 0;
  const head = 2 + ext + 4;
  const f = new Uint8Array(head + size);
  f[0] = 0x82;
  if (ext === 0) f[1] = 0x80 | size;
  else if (ext === 2) {
    f[1] = 0x80 | 126;
    f[2] = size >>> 8;
    f[3] = size & 255;
  } else {
    f[1] = 0x80 | 127;
    new DataView(f.buffer).setUint32(6, size);
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  f.set(mask, 2 + ext);
  for (let i = 0; i < size; i++) f[head + i] = (i & 255) ^ mask[i & 3];
  return f;
}

/** Counts complete data frames in a byte stream of server frames. */
class FrameCounter {
  #hdr = new Uint8Array(10);
  #hl = 0;
  #skip = 0;
  #data = false;

  /** Feeds bytes; returns how many data frames they completed. */
  push(b: Uint8Array, n: number): number {
    let done = 0;
    let i = 0;
    while (i < n) {
      if (this.#skip > 0) {
        const t = Math.min(this.#skip, n - i);
        this.#skip -= t;
        i += t;
        if (this.#skip === 0 && this.#data) done++;
        continue;
      }
      this.#hdr[this.#hl++] = b[i++];
      if (this.#hl < 2) continue;
      const l7 = this.#hdr[1] & 127;
      const need = l7 === 126 ? 4 : l7 === 127 ? 10 : 2;
      if (this.#hl < need) continue;
      const h = this.#hdr;
      const len = l7 === 126
        ? (h[2] << 8) | h[3]
        : l7 === 127
        ? ((h[6] << 24) | (h[7] << 16) | (h[8] << 8) | h[9]) >>> 0
        : l7;
      const op = h[0] & 15;
      this.#data = op === 1 || op === 2;
      this.#hl = 0;
      if (op === 8) throw new Error("server closed the WebSocket");
      if (len === 0) {
        if (this.#data) done++;
      } else this.#skip = len;
    }
    return done;
  }
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

async function openWs(port: number): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  await writeAll(
    conn,
    encoder.encode(
      `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  // Read the 101 head byte by byte-ish: the server sends nothing after it
  // until we send a message, so whatever arrives is the head.
  const buf = new Uint8Array(4096);
  let got = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) throw new Error("closed during the handshake");
    got += n;
    const text = new TextDecoder().decode(buf.subarray(0, got));
    if (text.includes("\r\n\r\n")) {
      if (!text.startsWith("HTTP/1.1 101")) {
        throw new Error(`handshake failed: ${text.split("\r\n")[0]}`);
      }
      if (!text.endsWith("\r\n\r\n")) throw new Error("bytes after the 101");
      return conn;
    }
  }
}

async function runClient(f: Record<string, string>): Promise<void> {
  const port = Number(f.port);
  const size = Number(f.size ?? 64);
  const conns = Number(f.conns ?? 100);
  const inflight = Number(f.inflight ?? 8);
  const duration = Number(f.duration ?? 5);
  const warmup = Number(f.warmup ?? 1);
  const frame = clientFrame(size);
  const batches = new Map<number, Uint8Array>();
  const batch = (k: number): Uint8Array => {
    let b = batches.get(k);
    if (b === undefined) {
      b = new Uint8Array(frame.length * k);
      for (let i = 0; i < k; i++) b.set(frame, i * frame.length);
      batches.set(k, b);
    }
    return b;
  };
  const sockets: Deno.TcpConn[] = [];
  for (let i = 0; i < conns; i++) sockets.push(await openWs(port));

  let counting = false;
  let running = true;
  let messages = 0;
  let errors = 0;
  const loop = async (conn: Deno.TcpConn): Promise<void> => {
    const counter = new FrameCounter();
    const buf = new Uint8Array(256 * 1024);
    try {
      await writeAll(conn, batch(inflight));
      while (running) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("server closed the connection");
        const k = counter.push(buf, n);
        if (k === 0) continue;
        if (counting) messages += k;
        if (running) await writeAll(conn, batch(k));
      }
    } catch (err) {
      if (running) {
        errors++;
        console.error(`connection failed: ${(err as Error).message}`);
      }
    }
  };
  const loops = sockets.map(loop);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  counting = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, duration * 1000));
  const seconds = (performance.now() - t0) / 1000;
  const total = messages;
  running = false;
  for (const s of sockets) {
    try {
      s.close();
    } catch { /* closed */ }
  }
  await Promise.allSettled(loops);
  const result: ClientResult = {
    messages: total,
    seconds,
    rate: total / seconds,
    bytes: total * size,
    errors,
  };
  console.log(JSON.stringify(result));
}

// ---------------------------------------------------------------------------
// The runner

const WS_DIR = new URL(".ws/", BENCH_DIR).pathname;

/** Whether npm `ws` can be loaded by node from bench/.ws/, installing it on
 * first use. */
async function nodeWsReady(): Promise<boolean> {
  const probe = [
    "-e",
    `require(require("node:module").createRequire("${WS_DIR}")` +
    `.resolve("ws"))`,
  ];
  if (await tryRun("node", probe) !== null) return true;
  if (await tryRun("node", ["--version"]) === null) return false;
  await npmInstall(WS_DIR, "ws@8");
  return await tryRun("node", probe) !== null;
}

function serverCommand(peer: Peer): string[] {
  const file = new URL(peer.file, BENCH_DIR).pathname;
  return peer.runtime === "node"
    ? ["node", file]
    : [Deno.execPath(), "run", "-A", file];
}

async function measure(
  peer: Peer,
  size: number,
  round: number,
  o: Options,
): Promise<Run> {
  const child = new Deno.Command("taskset", {
    args: ["-c", "0", ...serverCommand(peer)],
    env: { WS_DIR },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const port = await deadline(readPort(child.stdout), 30_000);
    if (port === "timeout") throw new Error(`${peer.label}: no LISTENING`);
    const out = await new Deno.Command("taskset", {
      args: [
        "-c",
        "1",
        Deno.execPath(),
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "--client",
        `--port=${port}`,
        `--size=${size}`,
        `--conns=${o.conns}`,
        `--inflight=${o.inflight}`,
        `--duration=${o.duration}`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error(`${peer.label}: load client failed`);
    const r = JSON.parse(new TextDecoder().decode(out.stdout)) as ClientResult;
    return { ...r, size, peer: peer.name, round };
  } finally {
    await stopChild(child);
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

function sizeLabel(n: number): string {
  return n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`;
}

function summaryTable(runs: Run[], o: Options): string {
  const rows = [
    `| message | peer | median messages/s | median MiB/s | rounds (messages/s) | ratio to ${
      PEERS[BASELINE].label
    } |`,
    "|---|---|--:|--:|---|--:|",
  ];
  for (const size of o.sizes) {
    const rates = (peer: string): number[] =>
      runs.filter((r) => r.size === size && r.peer === peer).map((r) => r.rate);
    const base = median(rates(BASELINE));
    for (const peer of o.peers) {
      const rs = rates(peer.name);
      const m = median(rs);
      rows.push(
        `| ${sizeLabel(size)} | ${peer.label} | ${fmt(m)} | ${
          fmt((m * size) / 1048576, 1)
        } | ${rs.map((x) => fmt(x)).join(", ")} | ${fmt(m / base, 2)} |`,
      );
    }
  }
  return rows.join("\n");
}

async function main(): Promise<void> {
  const f = flags(Deno.args);
  if (f.client) return await runClient(f);
  const o = parseOptions(f);
  if (o.peers.some((p) => p.runtime === "node") && !await nodeWsReady()) {
    console.error("skipping npm ws (Node): node or npm ws is not available");
    o.peers = o.peers.filter((p) => p.runtime !== "node");
  }
  const runs: Run[] = [];
  for (const size of o.sizes) {
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 ? o.peers : [...o.peers].reverse();
      for (const peer of order) {
        console.error(`${sizeLabel(size)} round ${round}: ${peer.label}...`);
        const r = await measure(peer, size, round, o);
        if (r.errors > 0) console.error(`  ${r.errors} connection errors`);
        runs.push(r);
      }
    }
  }
  const info =
    `nproc ${navigator.hardwareConcurrency}, kernel ${Deno.osRelease()}, ` +
    `deno ${Deno.version.deno}, ${o.conns} connections x ${o.inflight} in flight, ` +
    `${o.duration} s per run after 1 s warm-up, server on CPU 0, client on CPU 1, ` +
    `${new Date().toISOString()}`;
  console.log(`${info}\n\n${summaryTable(runs, o)}`);
  const dir = o.out.replace(/\/[^/]*$/, "");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(o.out, JSON.stringify({ info, runs }, null, 2));
  console.error(`wrote ${o.out}`);
}

if (import.meta.main) await main();
