// Broadcast benchmark, after Bun's WebSocket chat benchmark: 32 clients in
// one room; each sends messages that the server broadcasts to all 32 (the
// sender too); a round ends when every message has reached every client.
//
//   deno run -A bench/broadcast.ts [--duration=4] [--rounds=3] [--clients=32]
//     [--batches=1,16] [--size=32] [--samples=400]
//     [--peers=ours,bun,deno,node,ours-redis] [--out=file.json]
//
// Peers (bench/servers/broadcast_*):
//   ours        runServer + asChannel, subscribe/publish on the default hub
//   bun         Bun.serve with ws.subscribe + server.publish
//   deno        Deno.serve + Deno.upgradeWebSocket, a loop over a Set
//   node        npm ws on node:http, a loop over wss.clients
//   ours-redis  ours as 2 processes with a Redis transport: half the clients
//               on each, every publish goes through redis-server
//
// Every server process runs pinned to CPU 0 (for ours-redis: both processes
// and redis-server); the client driver is this script in `--client` mode,
// the same for every peer, pinned to CPU 1: raw TCP, frames pre-built and
// masked, one write per client per round, frames counted without decoding.
// `batch` is how many messages each client sends per round (1: a message
// at a time; 16: bursts, where merging a socket's writes pays). Each run
// has a 1 s warm-up, then counts rounds for `duration` seconds; the table
// shows medians over `rounds` runs, peer order alternating per round, with
// the servers' CPU time (utime + stime from /proc) per 1000 deliveries.
//
// Latency: a second phase per peer sends `samples` messages one at a time
// (the next once the previous reached all clients), each carrying its send
// time; every client notes when it arrives: p50/p99 over all deliveries.
// ours vs ours-redis gives what going through Redis adds.
//
// Bun comes from npm into bench/.bun/ (as for load.ts; BUN=/path/to/bun
// overrides), npm ws into bench/.ws/; a peer whose runtime is missing is
// skipped with a message.

import {
  clockTicks,
  cpuTicks,
  machineLine,
  median,
  npmInstall,
  parseFlags,
  type Server,
  startServer,
  tryRun,
} from "./_servers.ts";
import { RedisServer } from "../tests/fixtures/redis.ts";

const BENCH_DIR = new URL(".", import.meta.url);
const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// The client driver

/** Counts server frames in a byte stream; hands out small payloads on ask. */
class FrameReader {
  #hdr = new Uint8Array(10);
  #hl = 0;
  #left = 0;
  #data = false;
  #payload: number[] | null = null;
  readonly #want: boolean;
  readonly #onPayload: (p: number[]) => void;

  constructor(want: boolean, onPayload: (p: number[]) => void = () => {}) {
    this.#want = want;
    this.#onPayload = onPayload;
  }

  /** Feeds bytes; returns the data frames they completed. */
  push(b: Uint8Array, n: number): number {
    let done = 0;
    let i = 0;
    while (i < n) {
      if (this.#left > 0) {
        const t = Math.min(this.#left, n - i);
        if (this.#payload !== null) {
          for (let k = 0; k < t; k++) this.#payload.push(b[i + k]);
        }
        this.#left -= t;
        i += t;
        if (this.#left === 0) done += this.#end();
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
      if (op === 8) throw new Error("the server closed the WebSocket");
      this.#data = op === 1 || op === 2;
      this.#hl = 0;
      this.#payload = this.#want && this.#data ? [] : null;
      this.#left = len;
      if (len === 0) done += this.#end();
    }
    return done;
  }

  #end(): number {
    if (this.#payload !== null) this.#onPayload(this.#payload);
    this.#payload = null;
    return this.#data ? 1 : 0;
  }
}

/** One masked text frame. */
function clientFrame(text: string): Uint8Array {
  const p = encoder.encode(text);
  if (p.length > 125) throw new Error("client messages are under 126 bytes");
  const f = new Uint8Array(6 + p.length);
  f[0] = 0x81;
  f[1] = 0x80 | p.length;
  const mask = crypto.getRandomValues(new Uint8Array(4));
  f.set(mask, 2);
  for (let i = 0; i < p.length; i++) f[6 + i] = p[i] ^ mask[i & 3];
  return f;
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

/** What the client prints for a throughput run. */
interface RateResult {
  deliveries: number;
  seconds: number;
  rate: number;
  rounds: number;
}

/** What the client prints for a latency run (ms). */
interface LatencyResult {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

function pad(text: string, size: number): string {
  return text.length >= size ? text : text + "x".repeat(size - text.length);
}

async function runClient(f: Record<string, string>): Promise<void> {
  const ports = f.ports.split(",").map(Number);
  const clients = Number(f.clients ?? 32);
  const batch = Number(f.batch ?? 1);
  const size = Number(f.size ?? 32);
  const duration = Number(f.duration ?? 4);
  const warmup = Number(f.warmup ?? 1);
  const latency = f.mode === "latency";
  const conns: Deno.TcpConn[] = [];
  for (let i = 0; i < clients; i++) {
    conns.push(await openWs(ports[i % ports.length]));
  }
  // Every client's subscription must be in place before the first round.
  await new Promise((r) => setTimeout(r, 300));

  let got = 0;
  let target = Infinity;
  let roundDone: () => void = () => {};
  const latencies: number[] = [];
  let running = true;
  const loops = conns.map(async (conn) => {
    const reader = new FrameReader(latency, (p) => {
      const t = Number(String.fromCharCode(...p).replace(/x+$/, "").slice(1));
      latencies.push(performance.now() - t);
    });
    const buf = new Uint8Array(256 * 1024);
    try {
      while (running) {
        const n = await conn.read(buf);
        if (n === null) throw new Error("the server closed the connection");
        got += reader.push(buf, n);
        if (got >= target) roundDone();
      }
    } catch (err) {
      if (running) {
        console.error(`connection failed: ${(err as Error).message}`);
        Deno.exit(1);
      }
    }
  });
  const round = (frames: Uint8Array[], expect: number): Promise<void> => {
    got = 0;
    target = expect;
    const p = new Promise<void>((r) => (roundDone = r));
    for (let i = 0; i < frames.length; i++) {
      if (frames[i].length > 0) writeAll(conns[i], frames[i]);
    }
    return p;
  };

  if (latency) {
    const samples = Number(f.samples ?? 400);
    const none = new Uint8Array(0);
    for (let k = 0; k < samples + 20; k++) {
      if (k === 20) latencies.length = 0; // the first ones warm up
      const frames = conns.map((_, i) =>
        i === k % clients
          ? clientFrame(pad(`t${performance.now().toFixed(3)}`, size))
          : none
      );
      await round(frames, clients);
    }
    latencies.sort((a, b) => a - b);
    const q = (p: number): number =>
      latencies[
        Math.min(latencies.length - 1, Math.floor(p * latencies.length))
      ];
    const result: LatencyResult = {
      n: latencies.length,
      p50: q(0.5),
      p99: q(0.99),
      mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
      max: latencies[latencies.length - 1],
    };
    console.log(JSON.stringify(result));
  } else {
    const frames = conns.map((_, i) => {
      const one = clientFrame(pad(`c${i}`, size));
      const b = new Uint8Array(one.length * batch);
      for (let k = 0; k < batch; k++) b.set(one, k * one.length);
      return b;
    });
    const expect = clients * clients * batch;
    const warmEnd = performance.now() + warmup * 1000;
    while (performance.now() < warmEnd) await round(frames, expect);
    console.log("MEASURING");
    let rounds = 0;
    const t0 = performance.now();
    const end = t0 + duration * 1000;
    while (performance.now() < end) {
      await round(frames, expect);
      rounds++;
    }
    const seconds = (performance.now() - t0) / 1000;
    const result: RateResult = {
      deliveries: rounds * expect,
      seconds,
      rate: (rounds * expect) / seconds,
      rounds,
    };
    console.log(JSON.stringify(result));
  }
  running = false;
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
  await Promise.allSettled(loops);
}

// ---------------------------------------------------------------------------
// The runner

interface Peer {
  name: string;
  label: string;
}

const PEERS: Record<string, Peer> = {
  ours: { name: "ours", label: "ours (topics)" },
  bun: { name: "bun", label: "Bun.serve (server.publish)" },
  deno: { name: "deno", label: "Deno.upgradeWebSocket + Set loop" },
  node: { name: "node", label: "npm ws (Node) + loop" },
  "ours-redis": {
    name: "ours-redis",
    label: "ours, 2 processes + Redis",
  },
};

interface Options {
  duration: number;
  rounds: number;
  clients: number;
  batches: number[];
  size: number;
  samples: number;
  peers: Peer[];
  out: string;
}

interface Run extends RateResult {
  peer: string;
  batch: number;
  round: number;
  /** Server CPU (all its processes) per 1000 deliveries, µs. */
  cpuPer1000: number;
}

interface Started {
  ports: number[];
  pids: number[];
  stop(): Promise<void>;
}

const WS_DIR = new URL(".ws/", BENCH_DIR).pathname;

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

/** bun: $BUN, else bench/.bun/ (installed from npm on first use). */
async function findBun(): Promise<string | null> {
  const fromEnv = Deno.env.get("BUN");
  if (fromEnv) return fromEnv;
  const os = Deno.build.os;
  const arch = Deno.build.arch === "x86_64" ? "x64" : "aarch64";
  if (os !== "linux" && os !== "darwin") return null;
  let pkg = `@oven/bun-${os}-${arch}`;
  if (os === "linux" && arch === "x64") {
    const cpu = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
    if (!/\bavx2\b/.test(cpu)) pkg = "@oven/bun-linux-x64-baseline";
  }
  const dir = new URL(".bun/", BENCH_DIR).pathname;
  const bin = `${dir}node_modules/${pkg}/bin/bun`;
  if (await tryRun(bin, ["--version"]) !== null) return bin;
  await npmInstall(dir, pkg);
  return await tryRun(bin, ["--version"]) !== null ? bin : null;
}

function serverFile(name: string): string {
  return new URL(`servers/${name}`, BENCH_DIR).pathname;
}

async function start(peer: Peer, bun: string | null): Promise<Started> {
  const one = (s: Server): Started => ({
    ports: [s.port],
    pids: [s.pid],
    stop: () => s.stop(),
  });
  const deno = [Deno.execPath(), "run", "-A"];
  switch (peer.name) {
    case "ours":
      return one(
        await startServer({ argv: [...deno, serverFile("broadcast_ours.ts")] }),
      );
    case "deno":
      return one(
        await startServer({ argv: [...deno, serverFile("broadcast_deno.ts")] }),
      );
    case "bun":
      return one(
        await startServer({ argv: [bun!, serverFile("broadcast_bun.mjs")] }),
      );
    case "node":
      return one(
        await startServer({
          argv: ["node", serverFile("broadcast_node.mjs")],
          env: { WS_DIR },
        }),
      );
    case "ours-redis": {
      const redis = await RedisServer.start(undefined, ["taskset", "-c", "0"]);
      const servers: Server[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          servers.push(
            await startServer({
              argv: [...deno, serverFile("broadcast_ours.ts")],
              env: { REDIS_PATH: redis.path },
            }),
          );
        }
      } catch (err) {
        for (const s of servers) await s.stop();
        await redis.stop();
        throw err;
      }
      return {
        ports: servers.map((s) => s.port),
        pids: [...servers.map((s) => s.pid), redis.pid],
        async stop() {
          for (const s of servers) await s.stop();
          await redis.stop();
        },
      };
    }
  }
  throw new Error(`unknown peer ${peer.name}`);
}

/** Runs the client on CPU 1; `onMeasuring` runs when it starts counting. */
async function client(
  args: string[],
  onMeasuring: () => Promise<void> = () => Promise.resolve(),
): Promise<string> {
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      "1",
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--client",
      ...args,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let text = "";
  let last = "";
  for await (
    const chunk of child.stdout.pipeThrough(new TextDecoderStream())
  ) {
    text += chunk;
    let nl: number;
    while ((nl = text.indexOf("\n")) >= 0) {
      const line = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (line === "MEASURING") await onMeasuring();
      else if (line.startsWith("{")) last = line;
    }
  }
  const status = await child.status;
  if (!status.success || last === "") throw new Error("the client failed");
  return last;
}

async function measure(
  peer: Peer,
  batch: number,
  round: number,
  o: Options,
  bun: string | null,
  hz: number,
): Promise<Run> {
  const s = await start(peer, bun);
  try {
    const ticks = async (): Promise<number> => {
      let sum = 0;
      for (const pid of s.pids) sum += await cpuTicks(pid);
      return sum;
    };
    let t0 = 0;
    const line = await client([
      `--ports=${s.ports.join(",")}`,
      `--clients=${o.clients}`,
      `--batch=${batch}`,
      `--size=${o.size}`,
      `--duration=${o.duration}`,
    ], async () => {
      t0 = await ticks();
    });
    const used = (await ticks()) - t0;
    const r = JSON.parse(line) as RateResult;
    return {
      ...r,
      peer: peer.name,
      batch,
      round,
      cpuPer1000: (used / hz) * 1e6 / (r.deliveries / 1000),
    };
  } finally {
    await s.stop();
  }
}

async function latencyOf(
  peer: Peer,
  o: Options,
  bun: string | null,
): Promise<LatencyResult> {
  const s = await start(peer, bun);
  try {
    const line = await client([
      `--ports=${s.ports.join(",")}`,
      `--clients=${o.clients}`,
      `--size=${o.size}`,
      "--mode=latency",
      `--samples=${o.samples}`,
    ]);
    return JSON.parse(line) as LatencyResult;
  } finally {
    await s.stop();
  }
}

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n)
    ? n.toFixed(digits).replace(/\B(?=(\d{3})+(?!\d))/g, digits ? "" : ",")
    : "n/a";
}

function rateTable(runs: Run[], o: Options): string {
  const rows = [
    "| batch | peer | median deliveries/s | runs (deliveries/s) | server CPU µs / 1000 deliveries | vs Bun | vs Deno loop |",
    "|--:|---|--:|---|--:|--:|--:|",
  ];
  for (const batch of o.batches) {
    const of = (peer: string): Run[] =>
      runs.filter((r) => r.batch === batch && r.peer === peer);
    const rate = (peer: string): number => median(of(peer).map((r) => r.rate));
    const bun = rate("bun");
    const deno = rate("deno");
    for (const peer of o.peers) {
      const rs = of(peer.name);
      const m = rate(peer.name);
      rows.push(
        `| ${batch} | ${peer.label} | ${fmt(m)} | ${
          rs.map((r) => fmt(r.rate)).join(", ")
        } | ${fmt(median(rs.map((r) => r.cpuPer1000)))} | ${
          fmt(m / bun, 2)
        } | ${fmt(m / deno, 2)} |`,
      );
    }
  }
  return rows.join("\n");
}

function latencyTable(lat: Record<string, LatencyResult>, o: Options): string {
  const rows = [
    "| peer | deliveries | p50 ms | p99 ms | mean ms | max ms |",
    "|---|--:|--:|--:|--:|--:|",
  ];
  for (const peer of o.peers) {
    const l = lat[peer.name];
    if (l === undefined) continue;
    rows.push(
      `| ${peer.label} | ${l.n} | ${fmt(l.p50, 3)} | ${fmt(l.p99, 3)} | ${
        fmt(l.mean, 3)
      } | ${fmt(l.max, 3)} |`,
    );
  }
  const a = lat["ours"], b = lat["ours-redis"];
  if (a !== undefined && b !== undefined) {
    rows.push(
      "",
      `Redis adds ${fmt(b.p50 - a.p50, 3)} ms at p50 and ${
        fmt(b.p99 - a.p99, 3)
      } ms at p99 (ours, 2 processes + Redis vs ours, one process).`,
    );
  }
  return rows.join("\n");
}

async function main(): Promise<void> {
  const f = parseFlags(Deno.args);
  if (f.client) return await runClient(f);
  if (f.help) {
    console.log(
      (await Deno.readTextFile(new URL(import.meta.url))).split("\n\n")[0],
    );
    return;
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const o: Options = {
    duration: Number(f.duration ?? 4),
    rounds: Number(f.rounds ?? 3),
    clients: Number(f.clients ?? 32),
    batches: (f.batches ?? "1,16").split(",").map(Number),
    size: Number(f.size ?? 32),
    samples: Number(f.samples ?? 400),
    peers: (f.peers ?? "ours,bun,deno,node,ours-redis").split(",").map(
      (p) => {
        const peer = PEERS[p.trim()];
        if (!peer) throw new Error(`unknown peer ${p}`);
        return peer;
      },
    ),
    out: f.out ??
      new URL(`results/broadcast-${stamp}.json`, BENCH_DIR).pathname,
  };
  let bun: string | null = null;
  if (o.peers.some((p) => p.name === "bun")) {
    bun = await findBun();
    if (bun === null) {
      console.error("skipping Bun: no bun (npm @oven/bun-*, or set BUN)");
      o.peers = o.peers.filter((p) => p.name !== "bun");
    }
  }
  if (o.peers.some((p) => p.name === "node") && !await nodeWsReady()) {
    console.error("skipping npm ws (Node): node or npm ws is not available");
    o.peers = o.peers.filter((p) => p.name !== "node");
  }
  if (
    o.peers.some((p) => p.name === "ours-redis") &&
    await tryRun("redis-server", ["--version"]) === null
  ) {
    console.error(
      "skipping ours-redis: no redis-server (apt install redis-server)",
    );
    o.peers = o.peers.filter((p) => p.name !== "ours-redis");
  }
  const hz = await clockTicks();
  const runs: Run[] = [];
  for (const batch of o.batches) {
    for (let round = 1; round <= o.rounds; round++) {
      const order = round % 2 ? o.peers : [...o.peers].reverse();
      for (const peer of order) {
        console.error(`batch ${batch}, round ${round}: ${peer.label}...`);
        runs.push(await measure(peer, batch, round, o, bun, hz));
      }
    }
  }
  const latency: Record<string, LatencyResult> = {};
  if (o.samples > 0) {
    for (const peer of o.peers) {
      console.error(`latency: ${peer.label}...`);
      latency[peer.name] = await latencyOf(peer, o, bun);
    }
  }
  const versions: Record<string, string> = { deno: Deno.version.deno };
  if (bun !== null) versions.bun = (await tryRun(bun, ["--version"])) ?? "?";
  const nodeVersion = await tryRun("node", ["--version"]);
  if (nodeVersion !== null) versions.node = nodeVersion;
  const info = `${await machineLine(
    versions,
  )}; ${o.clients} clients, ${o.size} B text messages, ${o.duration} s per run after 1 s warm-up, servers on CPU 0, client on CPU 1`;
  const text =
    `${info}\n\nDelivered messages per second (each message reaches all ${o.clients} clients; batch = messages each client sends per round):\n\n${
      rateTable(runs, o)
    }\n\nPublish-to-delivery latency, one message at a time:\n\n${
      latencyTable(latency, o)
    }`;
  console.log(text);
  const dir = o.out.replace(/\/[^/]*$/, "");
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    o.out,
    JSON.stringify(
      {
        info,
        options: { ...o, peers: o.peers.map((p) => p.name) },
        runs,
        latency,
      },
      null,
      2,
    ),
  );
  console.error(`wrote ${o.out}`);
}

if (import.meta.main) await main();
