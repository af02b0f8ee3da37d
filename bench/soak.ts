// Soak test: runs the server in a subprocess and, for `--seconds`, mixes
// keep-alive traffic (our client and raw sockets), pipelined bursts,
// WebSocket echo sessions, abrupt client resets and slow readers against it.
// Every request is counted as answered, cleanly refused (503/408/413...) or
// failed. At the end it checks that the server is alive, that no connection
// is stuck, and that its RSS came back near the start, and prints a summary.
//
//   deno run -A bench/soak.ts --seconds=60
//
// Flags: --seconds=N (default 60), --keepalive=N client loops (4), --raw=N
// raw-socket loops (4), --pipeline=N (2), --ws=N (4), --resets=N (1),
// --slow=N (1). Exit code 0 when every check passes.

import {
  asChannel,
  HttpClient,
  request,
  type RingRequest,
  runServer,
  websocket,
} from "../mod.ts";
import { established, get, RawClient } from "../tests/_helpers.ts";

const SERVER_OPTIONS = {
  headerTimeout: 2000,
  idleTimeout: 5000,
  bodyTimeout: 2000,
  writeTimeout: 1000,
};
const BIG = 4 * 1024 * 1024;

function flag(name: string, dflt: number): number {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a === undefined ? dflt : Number(a.slice(name.length + 3));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------
// The server side (run as `soak.ts --serve` in the subprocess)

function serve(): void {
  const stats = { errors: 0, warnings: 0, ws: 0 };
  const big = new Uint8Array(BIG).fill(0x78);
  async function* streamed() {
    const chunk = new Uint8Array(64 * 1024).fill(0x79);
    for (let sent = 0; sent < BIG; sent += chunk.length) yield chunk;
  }
  const server = runServer((req: RingRequest) => {
    if (req.websocket) {
      stats.ws++;
      return asChannel(req, { onReceive: (ch, m) => ch.send(m) });
    }
    switch (req.uri) {
      case "/":
        return { body: "Hello, World!" };
      case "/async":
        return sleep(1).then(() => ({ body: "async" }));
      case "/echo":
        return { body: req.body };
      case "/big":
        return { body: big };
      case "/stream":
        return { body: streamed() };
      case "/__gc": {
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        gc?.();
        const mem = Deno.memoryUsage();
        return {
          body: JSON.stringify({
            ...stats,
            heapUsed: mem.heapUsed,
            heapTotal: mem.heapTotal,
            external: mem.external,
          }),
        };
      }
    }
    return null;
  }, {
    ...SERVER_OPTIONS,
    ip: "127.0.0.1",
    port: 0,
    errorLogger: (err) => {
      stats.errors++;
      console.error("server error:", err);
    },
    warnLogger: () => stats.warnings++,
  });
  console.log(`LISTENING ${server.port}`);
}

// ---------------------------------------------------------------------------
// The load side

interface Counts {
  answered: number;
  refused: number;
  failed: number;
  /** Extra per-kind counters (messages, resets, cuts...). */
  [k: string]: number;
}

const counts: Record<string, Counts> = {};
const failures: string[] = [];

function bump(kind: string, what: string, n = 1): void {
  const c = counts[kind] ??= { answered: 0, refused: 0, failed: 0 };
  c[what] = (c[what] ?? 0) + n;
}

function fail(kind: string, why: unknown): void {
  bump(kind, "failed");
  if (failures.length < 20) {
    failures.push(`${kind}: ${why instanceof Error ? why.message : why}`);
  }
}

/** Counts a response status: 2xx answered, a clean 4xx/5xx refusal. */
function status(kind: string, s: number): void {
  if (s >= 200 && s < 300) bump(kind, "answered");
  else if ([408, 413, 429, 503].includes(s)) bump(kind, "refused");
  else fail(kind, `status ${s}`);
}

function randomBody(max: number): Uint8Array {
  const n = Math.floor(Math.random() * max);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) {
    crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  }
  return b;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function keepaliveLoop(
  base: string,
  client: HttpClient,
  live: () => boolean,
): Promise<void> {
  const kind = "keep-alive (client)";
  for (let i = 0; live(); i++) {
    try {
      if (i % 3 === 1) {
        const body = randomBody(64 * 1024);
        const r = await request({
          client,
          url: `${base}/echo`,
          method: "POST",
          body,
          as: "bytes",
          timeout: 5000,
        });
        if (r.error) fail(kind, r.error);
        else {
          status(kind, r.status);
          if (r.status === 200 && !same(r.body as Uint8Array, body)) {
            fail(kind, "echo mismatch");
          }
        }
      } else {
        const path = i % 3 === 0 ? "/" : "/async";
        const r = await request({
          client,
          url: base + path,
          as: "text",
          timeout: 5000,
        });
        if (r.error) fail(kind, r.error);
        else status(kind, r.status);
      }
    } catch (err) {
      fail(kind, err);
    }
  }
}

async function rawLoop(port: number, live: () => boolean): Promise<void> {
  const kind = "keep-alive (raw)";
  while (live()) {
    let c: RawClient | null = null;
    try {
      c = await RawClient.connect(port);
      for (let i = 0; i < 200 && live(); i++) {
        await c.write(get(i % 2 ? "/" : "/async"));
        const r = await c.readResponse({ timeout: 5000 });
        status(kind, r.status);
      }
    } catch (err) {
      fail(kind, err);
    } finally {
      c?.close();
    }
  }
}

async function pipelineLoop(port: number, live: () => boolean): Promise<void> {
  const kind = "pipelined bursts";
  while (live()) {
    let c: RawClient | null = null;
    try {
      c = await RawClient.connect(port);
      const n = 8 + Math.floor(Math.random() * 56);
      let burst = "";
      for (let i = 0; i < n; i++) {
        burst += i % 4 === 3
          ? `POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nab${
            i % 10
          }cd`
          : get(i % 2 ? "/" : "/async");
      }
      await c.write(burst);
      for (let i = 0; i < n; i++) {
        const r = await c.readResponse({ timeout: 5000 });
        status(kind, r.status);
        if (i % 4 === 3 && r.text !== `ab${i % 10}cd`) {
          fail(kind, `pipelined echo ${i}: ${r.text}`);
        }
      }
      bump(kind, "bursts");
    } catch (err) {
      fail(kind, err);
    } finally {
      c?.close();
    }
  }
}

async function wsLoop(port: number, live: () => boolean): Promise<void> {
  const kind = "websocket echo";
  while (live()) {
    try {
      let waiting: PromiseWithResolvers<string | Uint8Array> | null = null;
      const closed = Promise.withResolvers<void>();
      const ch = await websocket(`ws://127.0.0.1:${port}/ws`, {
        onReceive: (_ch, m) => waiting?.resolve(m),
        onClose: () => closed.resolve(),
      }, { connectTimeout: 5000 });
      bump(kind, "sessions");
      for (let i = 0; i < 50 && live(); i++) {
        const msg: string | Uint8Array = i % 2
          ? "x".repeat(Math.floor(Math.random() * 2000)) + `#${i}`
          : randomBody(32 * 1024);
        waiting = Promise.withResolvers();
        const timer = setTimeout(
          () => waiting?.reject(new Error("no echo within 5 s")),
          5000,
        );
        ch.send(msg);
        try {
          const got = await waiting.promise;
          const ok = typeof msg === "string"
            ? got === msg
            : got instanceof Uint8Array && same(got, msg);
          if (ok) bump(kind, "answered");
          else fail(kind, "echo mismatch");
        } finally {
          clearTimeout(timer);
        }
      }
      ch.close();
      await ch.closed;
      await closed.promise;
    } catch (err) {
      fail(kind, err);
    }
  }
}

async function resetLoop(port: number, live: () => boolean): Promise<void> {
  const kind = "abrupt resets";
  const starts = [
    "GET / HTTP/1.1\r\nHo",
    "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\nabc",
    "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nab",
    get("/big"),
    get("/stream") + get("/stream"),
    "",
  ];
  for (let i = 0; live(); i++) {
    try {
      const c = await RawClient.connect(port);
      const s = starts[i % starts.length];
      if (s !== "") await c.write(s);
      if (i % 2) await sleep(2);
      c.close();
      bump(kind, "resets");
    } catch (err) {
      fail(kind, err);
    }
    await sleep(5);
  }
}

async function slowLoop(port: number, live: () => boolean): Promise<void> {
  const kind = "slow readers";
  for (let i = 0; live(); i++) {
    let c: RawClient | null = null;
    try {
      c = await RawClient.connect(port);
      await c.write(get(i % 2 ? "/big" : "/stream"));
      await c.readHead(5000);
      // stop reading past the server's writeTimeout, then drain
      await sleep(SERVER_OPTIONS.writeTimeout + 1500);
      const rest = await c.readToEnd(5000);
      if (c.received >= BIG) bump(kind, "completed");
      else {
        bump(kind, "cut");
        bump(kind, "refused");
      }
      if (rest.length < 0) fail(kind, "impossible");
    } catch (err) {
      fail(kind, err);
    } finally {
      c?.close();
    }
  }
}

function rssKiB(pid: number): number {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(s);
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

/** Established connections to `port`, or -1 when `ss` cannot be run. */
function connsNow(port: number): Promise<number> {
  return established(port).catch(() => -1);
}

async function readPort(child: Deno.ChildProcess): Promise<number> {
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`server exited before listening: ${text}`);
    text += value;
    const m = /LISTENING (\d+)/.exec(text);
    if (m !== null) {
      // keep draining stdout so the child never blocks on it
      (async () => {
        try {
          while (!(await reader.read()).done);
        } catch {
          // closed
        }
      })();
      return Number(m[1]);
    }
  }
}

const mib = (kib: number) => (kib / 1024).toFixed(1);

interface ServerStats {
  errors: number;
  warnings: number;
  ws: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** Makes the server collect garbage twice, then reads its counters. */
async function serverStats(base: string): Promise<ServerStats> {
  const r = await request({
    url: `${base}/__gc`,
    as: "text",
    keepalive: -1,
    timeout: 5000,
  });
  if (r.error || r.status !== 200) {
    return {
      errors: -1,
      warnings: -1,
      ws: -1,
      heapUsed: 0,
      heapTotal: 0,
      external: 0,
    };
  }
  return JSON.parse(r.body as string);
}

async function main(): Promise<number> {
  const seconds = flag("seconds", 60);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--v8-flags=--expose-gc",
      new URL(import.meta.url).pathname,
      "--serve",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let alive = true;
  const exit = child.status.then((s) => {
    alive = false;
    return s;
  });
  const port = await readPort(child);
  const base = `http://127.0.0.1:${port}`;
  await sleep(500);
  const before = await serverStats(base);
  const rssStart = rssKiB(child.pid);
  let rssPeak = rssStart;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  let connPeak = 0;
  // RSS while the traffic runs: the second half must not keep growing
  const samples: [number, number][] = [];
  const sampler = setInterval(async () => {
    const rss = rssKiB(child.pid);
    if (performance.now() < deadline) samples.push([performance.now(), rss]);
    rssPeak = Math.max(rssPeak, rss);
    connPeak = Math.max(connPeak, await connsNow(port));
  }, 500);

  console.log(
    `soak: server pid ${child.pid} on :${port}, ${seconds} s, RSS at start ${
      mib(rssStart)
    } MiB`,
  );
  const live = () => performance.now() < deadline && alive;
  const client = new HttpClient();
  const loops: Promise<void>[] = [];
  for (let i = 0; i < flag("keepalive", 4); i++) {
    loops.push(keepaliveLoop(base, client, live));
  }
  for (let i = 0; i < flag("raw", 4); i++) loops.push(rawLoop(port, live));
  for (let i = 0; i < flag("pipeline", 2); i++) {
    loops.push(pipelineLoop(port, live));
  }
  for (let i = 0; i < flag("ws", 4); i++) loops.push(wsLoop(port, live));
  for (let i = 0; i < flag("resets", 1); i++) loops.push(resetLoop(port, live));
  for (let i = 0; i < flag("slow", 1); i++) loops.push(slowLoop(port, live));
  const progress = setInterval(() => {
    const total = Object.values(counts).reduce((n, c) => n + c.answered, 0);
    const failed = Object.values(counts).reduce((n, c) => n + c.failed, 0);
    console.log(
      `  ${
        ((performance.now() - t0) / 1000).toFixed(0)
      } s: ${total} answered, ${failed} failed, RSS ${
        mib(rssKiB(child.pid))
      } MiB, ${connPeak} conns peak`,
    );
  }, 10_000);
  await Promise.all(loops);
  clearInterval(progress);
  client.close();
  const elapsed = (performance.now() - t0) / 1000;

  // after the clients stop: connections drain, memory comes back
  const drainStart = performance.now();
  let left = await connsNow(port);
  while (left > 0 && performance.now() - drainStart < 10_000) {
    await sleep(100);
    left = await connsNow(port);
  }
  const drainMs = performance.now() - drainStart;
  let after = await serverStats(base);
  for (let i = 0; i < 2; i++) {
    await sleep(500);
    after = await serverStats(base);
  }
  await sleep(1000);
  const rssEnd = rssKiB(child.pid);
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, rssEnd);
  const leftAfter = await connsNow(port);

  // summary
  const rows = Object.entries(counts).sort();
  const extraKeys = [
    ...new Set(
      rows.flatMap(([, c]) =>
        Object.keys(c).filter((k) =>
          !["answered", "refused", "failed"].includes(k)
        )
      ),
    ),
  ];
  const header = ["traffic", "answered", "refused", "failed", ...extraKeys];
  const table = rows.map(([k, c]) => [
    k,
    String(c.answered),
    String(c.refused),
    String(c.failed),
    ...extraKeys.map((x) => c[x] === undefined ? "" : String(c[x])),
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...table.map((r) => r[i].length))
  );
  const line = (r: string[]) =>
    "| " + r.map((x, i) =>
      i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i])
    )
      .join(" | ") +
    " |";
  console.log(`\nsoak summary (${elapsed.toFixed(1)} s)`);
  console.log(line(header));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of table) console.log(line(r));
  const totalAnswered = rows.reduce((n, [, c]) => n + c.answered, 0);
  const totalFailed = rows.reduce((n, [, c]) => n + c.failed, 0);
  console.log(
    `total: ${totalAnswered} answered (${
      (totalAnswered / elapsed).toFixed(0)
    }/s), ${totalFailed} failed`,
  );
  console.log(
    `server RSS: start ${mib(rssStart)} MiB, peak ${mib(rssPeak)} MiB, end ${
      mib(rssEnd)
    } MiB (after gc)`,
  );
  console.log(
    `connections: peak ${connPeak} established, ${left} left ${
      drainMs.toFixed(0)
    } ms after the clients stopped, ${leftAfter} at the end`,
  );
  console.log(
    `server: ${after.errors} handler/write errors logged, ${after.warnings} warnings, ${after.ws} WebSocket sessions`,
  );
  console.log(
    `server JS heap after gc: start ${mib(before.heapUsed / 1024)} MiB, end ${
      mib(after.heapUsed / 1024)
    } MiB; external start ${mib(before.external / 1024)} MiB, end ${
      mib(after.external / 1024)
    } MiB`,
  );
  if (failures.length > 0) {
    console.log("first failures:");
    for (const f of failures) console.log(`  ${f}`);
  }
  // RSS at the middle of the run against the end of the traffic
  const mid = samples.find(([t]) => t >= t0 + (deadline - t0) / 2)?.[1] ??
    rssStart;
  const last = samples.at(-1)?.[1] ?? rssEnd;
  console.log(
    `server RSS during traffic: ${mib(mid)} MiB at half time, ${
      mib(last)
    } MiB at the end; V8 heap committed ${
      mib(after.heapTotal / 1024)
    } MiB after gc`,
  );
  // Informational: V8 and the allocator keep freed pages, so RSS after the
  // load stays above the idle start even without a leak.
  const rssNearStart = rssEnd <= rssStart + 64 * 1024;
  const checks: [string, boolean][] = [
    ["server process alive", alive],
    ["no failed requests", totalFailed === 0],
    ["no server errors logged", after.errors === 0],
    [
      "JS heap back near start (end <= start + 16 MiB)",
      after.heapUsed <= before.heapUsed + 16 * 1024 * 1024,
    ],
    ["connections drained (<= 1 left)", left <= 1],
    [
      "RSS stopped growing (end of traffic <= half time + 10% + 16 MiB)",
      last <= mid * 1.1 + 16 * 1024,
    ],
    ["traffic flowed", totalAnswered > seconds * 100],
  ];
  console.log("checks:");
  for (const [name, ok] of checks) {
    console.log(`  ${ok ? "PASS" : "FAIL"} ${name}`);
  }
  console.log(
    `  ${
      rssNearStart ? "PASS" : "WARN"
    } RSS back near start (end <= start + 64 MiB; ` +
      "informational: JS heap and RSS growth are the leak checks)",
  );
  try {
    child.kill("SIGTERM");
  } catch {
    // already gone
  }
  await exit;
  return checks.every(([, ok]) => ok) ? 0 : 1;
}

if (import.meta.main) {
  if (Deno.args.includes("--serve")) serve();
  else Deno.exit(await main());
}
