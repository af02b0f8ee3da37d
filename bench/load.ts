// Load benchmark: our server against Deno.serve, Hono, node:http (under Deno
// and under Node) and Bun.serve, driven by wrk, after http-kit's own suite.
//
//   deno run -A bench/load.ts [--quick] [--peers=ours,deno,...]
//     [--scenarios=c64,close,...|all] [--duration=3] [--rounds=3]
//     [--warmup=1] [--out=file.json] [--charts[=dir]] [--note=text]
//   deno run -A bench/load.ts --help     lists peers, scenarios and presets
//
// Fairness: each measurement starts a fresh server pinned to CPU 0 and runs
// wrk pinned to CPU 1, so they never share a core; peer order alternates per
// round so no peer always runs on a "warmer" or "cooler" machine; a warm-up
// run precedes every measured run so JIT and connection setup don't count.
// Before measuring, every peer must answer each route with the same bytes,
// so no peer wins by doing less work.

import { type LoadResults, renderCharts, type SummaryRow } from "./charts.ts";
import {
  deadline,
  median,
  npmInstall,
  readPort,
  stopChild,
  tryRun,
} from "./_servers.ts";

interface Scenario {
  name: string;
  /** One line for tables and charts. */
  desc: string;
  conns: number;
  path: "/" | "/async" | "/big" | "/echo";
  /** BODY env of the server: size of the `/` and `/async` body in bytes. */
  body: number;
  /** How wrk shapes requests: one by one, 16-deep pipelined, one request
   * per connection, or a 64 KiB POST. */
  mode: "plain" | "pipeline" | "close" | "post";
}

type Runtime = "deno" | "node" | "bun";

interface Peer {
  name: string;
  label: string;
  file: string;
  runtime: Runtime;
}

interface Options {
  duration: number;
  warmup: number;
  rounds: number;
  scenarios: Scenario[];
  peers: Peer[];
  out: string;
  /** Directory for SVG charts, or null for none. */
  charts: string | null;
  note: string;
}

interface WrkResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  errors: { connect: number; read: number; write: number; timeout: number };
  non2xx: number;
}

interface Run extends WrkResult {
  scenario: string;
  peer: string;
  round: number;
  /** Why the run produced no figures (server did not start, wrk failed). */
  failure?: string;
  raw: string;
}

interface Server {
  port: number;
  stop(): Promise<void>;
}

const KIB = 1024;

function hello(conns: number, body = 128): Scenario {
  return {
    name: `c${conns}`,
    desc: `GET /, ${body} B, ${conns} conns`,
    conns,
    path: "/",
    body,
    mode: "plain",
  };
}

const SCENARIOS: Record<string, Scenario> = {
  c32: hello(32),
  c64: hello(64),
  c128: hello(128),
  c256: hello(256),
  "1280b": { ...hello(64, 1280), name: "1280b" },
  close: {
    ...hello(64),
    name: "close",
    desc: "GET /, 128 B, 64 conns, Connection: close",
    mode: "close",
  },
  pipe16: {
    ...hello(64),
    name: "pipe16",
    desc: "GET /, 128 B, 64 conns, 16 pipelined",
    mode: "pipeline",
  },
  async: {
    ...hello(64),
    name: "async",
    desc: "GET /async (1 ms timer), 128 B, 64 conns",
    path: "/async",
  },
  big: {
    ...hello(32),
    name: "big",
    desc: "GET /big, 1 MiB, 32 conns",
    path: "/big",
  },
  echo: {
    ...hello(32),
    name: "echo",
    desc: "POST /echo, 64 KiB echoed, 32 conns",
    path: "/echo",
    mode: "post",
  },
  // The scenario this script had before the suite grew; kept so earlier
  // command lines and result files stay comparable.
  c50: { ...hello(50, 13), desc: "GET /, 13 B, 50 conns (legacy)" },
};

const PEERS: Record<string, Peer> = {
  ours: { name: "ours", label: "ours", file: "ours.ts", runtime: "deno" },
  deno: {
    name: "deno",
    label: "Deno.serve",
    file: "deno_serve.ts",
    runtime: "deno",
  },
  hono: {
    name: "hono",
    label: "Hono on Deno.serve",
    file: "hono_deno.ts",
    runtime: "deno",
  },
  "deno-node": {
    name: "deno-node",
    label: "node:http on Deno",
    file: "node_http.mjs",
    runtime: "deno",
  },
  node: {
    name: "node",
    label: "node:http on Node",
    file: "node_http.mjs",
    runtime: "node",
  },
  bun: {
    name: "bun",
    label: "Bun.serve",
    file: "bun_serve.mjs",
    runtime: "bun",
  },
};

/** Ratios in the tables and charts are to this peer when it ran. */
const BASELINE = "deno";

const ALL_PEERS = "ours,deno,hono,deno-node,node,bun";
const PRESETS = {
  // About 10 minutes on 2 cores: 8 scenarios x 6 peers x 3 rounds x ~4.3 s.
  default: {
    scenarios: "c64,c256,1280b,close,pipe16,async,big,echo",
    duration: 3,
    warmup: 1,
    rounds: 3,
  },
  // About 2.5 minutes: one round, shorter runs, no medians to speak of.
  quick: {
    scenarios: "c64,c256,close,pipe16,async,big,echo",
    duration: 2,
    warmup: 1,
    rounds: 1,
  },
};
const ALL_SCENARIOS = "c32,c64,c128,c256,1280b,close,pipe16,async,big,echo";

const BENCH_DIR = new URL(".", import.meta.url);
const SERVERS_DIR = new URL("servers/", BENCH_DIR);

// wrk counts the requests in the string request() returns, so one write of
// 16 requests makes each connection keep 16 in flight.
const PIPELINE_LUA =
  "init = function(args) local r = {} for i=1,16 do r[i] = wrk.format() end req = table.concat(r) end\n" +
  "request = function() return req end\n";

const POST_LUA = 'wrk.method = "POST"\n' +
  `wrk.body = string.rep("x", ${64 * KIB})\n` +
  'wrk.headers["Content-Type"] = "application/octet-stream"\n';

const HELP = `deno run -A bench/load.ts [flags]
  --quick                 preset: ${PRESETS.quick.scenarios}, 1 round, 2 s
  --peers=a,b             ${ALL_PEERS} (default: all)
  --scenarios=a,b|all     default: ${PRESETS.default.scenarios}
  --duration=S            seconds per measured run (default 3)
  --warmup=S              seconds of warm-up before each run (default 1)
  --rounds=N              repetitions; medians are reported (default 3)
  --out=file.json         default bench/results/load-<time>.json
  --charts[=dir]          also render SVG charts (default dir bench/charts)
  --note=text             stored with the results and shown on the charts
scenarios:
${
  Object.values(SCENARIOS).map((s) => `  ${s.name.padEnd(8)}${s.desc}`).join(
    "\n",
  )
}
peers:
${
  Object.values(PEERS).map((p) => `  ${p.name.padEnd(10)}${p.label}`).join("\n")
}`;

function pick<T>(table: Record<string, T>, csv: string, what: string): T[] {
  return csv.split(",").map((key) => {
    const item = table[key.trim()];
    if (!item) throw new Error(`unknown ${what}: ${key}`);
    return item;
  });
}

/** `--name=value` pairs; a bare `--name` is "true". */
function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const arg of args) {
    const m = arg.match(/^--([\w-]+)(?:=(.*))?$/);
    if (!m) throw new Error(`bad flag ${arg} (expected --name=value)`);
    flags[m[1]] = m[2] ?? "true";
  }
  return flags;
}

function parseOptions(flags: Record<string, string>): Options {
  const preset = flags.quick === "true" ? PRESETS.quick : PRESETS.default;
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const duration = Number(flags.duration ?? preset.duration);
  const warmup = Number(flags.warmup ?? preset.warmup);
  const rounds = Number(flags.rounds ?? preset.rounds);
  // wrk takes whole seconds only.
  const whole = (n: number, min: number): boolean =>
    Number.isInteger(n) && n >= min;
  if (!(whole(duration, 1) && whole(warmup, 0) && whole(rounds, 1))) {
    throw new Error("--duration, --warmup and --rounds take whole numbers");
  }
  const scenarios = flags.scenarios === "all"
    ? ALL_SCENARIOS
    : flags.scenarios ?? preset.scenarios;
  const charts = flags.charts === undefined
    ? null
    : flags.charts === "true"
    ? new URL("charts", BENCH_DIR).pathname
    : flags.charts;
  return {
    duration,
    warmup,
    rounds,
    scenarios: pick(SCENARIOS, scenarios, "scenario"),
    peers: pick(PEERS, flags.peers ?? ALL_PEERS, "peer"),
    out: flags.out ??
      new URL(`results/load-${stamp}.json`, BENCH_DIR).pathname,
    charts,
    note: flags.note ?? "",
  };
}

// ---------------------------------------------------------------- runtimes

/** The npm package holding a bun binary for this machine: the x64 build
 * needs AVX2, so older CPUs get the "baseline" build. */
async function bunPackage(): Promise<string | null> {
  const os = Deno.build.os;
  const arch = Deno.build.arch === "x86_64" ? "x64" : "aarch64";
  if (os !== "linux" && os !== "darwin") return null;
  if (os === "linux" && arch === "x64") {
    const cpu = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
    if (!/\bavx2\b/.test(cpu)) return "@oven/bun-linux-x64-baseline";
  }
  return `@oven/bun-${os}-${arch}`;
}

/** Finds bun: $BUN, then bench/.bun/ (installed by an earlier run), then an
 * `npm install` into bench/.bun/. Null when none of them works, so the run
 * goes on without the Bun peer instead of failing. */
async function findBun(): Promise<string | null> {
  const fromEnv = Deno.env.get("BUN");
  if (fromEnv) return fromEnv;
  const pkg = await bunPackage();
  if (!pkg) return null;
  const dir = new URL(".bun/", BENCH_DIR).pathname;
  const bin = `${dir}node_modules/${pkg}/bin/bun`;
  if (await tryRun(bin, ["--version"]) !== null) return bin;
  await npmInstall(dir, pkg);
  return await tryRun(bin, ["--version"]) !== null ? bin : null;
}

/** Executable per runtime, or the reason it is missing. */
async function findRuntimes(
  peers: Peer[],
): Promise<Record<Runtime, string | Error>> {
  const wanted = new Set(peers.map((p) => p.runtime));
  const node = wanted.has("node") && await tryRun("node", ["--version"]);
  const bun = wanted.has("bun") ? await findBun() : null;
  return {
    deno: Deno.execPath(),
    node: node ? "node" : new Error("node is not on PATH"),
    bun: bun ?? new Error("bun did not install (npm @oven/bun-*)"),
  };
}

function commandLine(peer: Peer, exe: string): string[] {
  const file = new URL(peer.file, SERVERS_DIR).pathname;
  return peer.runtime === "deno"
    ? [exe, "run", "-A", "--unstable-net", file]
    : [exe, file];
}

// ----------------------------------------------------------------- servers

/** Keeps the last 2 KB a server wrote to stderr: shown when it fails to
 * start, and otherwise kept out of the progress output (some peers log every
 * request that wrk cuts off when a run ends). */
function stderrTail(stderr: ReadableStream<Uint8Array>): () => string {
  let tail = "";
  (async (): Promise<void> => {
    for await (const s of stderr.pipeThrough(new TextDecoderStream())) {
      tail = (tail + s).slice(-2048);
    }
  })();
  return () => tail.trim();
}

async function startServer(argv: string[], body: number): Promise<Server> {
  const child = new Deno.Command("taskset", {
    args: ["-c", "0", ...argv],
    env: { PORT: "0", BODY: String(body), DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const tail = stderrTail(child.stderr);
  try {
    // A server that never binds must not hang the whole run.
    const port = await deadline(readPort(child.stdout), 30_000);
    if (port === "timeout") throw new Error("no LISTENING within 30 s");
    return { port, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw new Error(`${(err as Error).message}\n${tail()}`);
  }
}

/** Asks every route once and compares the bytes, so a peer that skips work
 * (an empty echo, a short /big) is dropped rather than benchmarked. */
async function verify(argv: string[]): Promise<void> {
  const server = await startServer(argv, 128);
  const base = `http://127.0.0.1:${server.port}`;
  const post = crypto.getRandomValues(new Uint8Array(64 * KIB));
  const checks: [string, RequestInit, Uint8Array][] = [
    ["/", {}, new Uint8Array(128).fill(0x78)],
    ["/async", {}, new Uint8Array(128).fill(0x78)],
    ["/big", {}, new Uint8Array(1024 * KIB).fill(0x78)],
    ["/echo", { method: "POST", body: post }, post],
  ];
  try {
    for (const [path, init, want] of checks) {
      const res = await fetch(base + path, init);
      const got = new Uint8Array(await res.arrayBuffer());
      if (res.status !== 200 || !sameBytes(got, want)) {
        throw new Error(
          `${path}: status ${res.status}, ${got.length} bytes, want 200 and ${want.length}`,
        );
      }
    }
  } finally {
    await server.stop();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// --------------------------------------------------------------------- wrk

async function wrk(
  port: number,
  sc: Scenario,
  secs: number,
  scripts: Record<"pipeline" | "post", string>,
): Promise<string> {
  // A 10 s timeout (wrk's default is 2 s) keeps slow responses in the
  // latency histogram instead of hiding them as timeout errors.
  const args = ["-c", "1", "wrk", "-t1", `-c${sc.conns}`, `-d${secs}s`];
  args.push("--timeout", "10s", "--latency");
  if (sc.mode === "pipeline") args.push("-s", scripts.pipeline);
  if (sc.mode === "post") args.push("-s", scripts.post);
  if (sc.mode === "close") args.push("-H", "Connection: close");
  args.push(`http://127.0.0.1:${port}${sc.path}`);
  const out = await new Deno.Command("taskset", { args }).output();
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr) ||
      new TextDecoder().decode(out.stdout).slice(0, 200);
    throw new Error(`wrk failed: ${text}`);
  }
  return new TextDecoder().decode(out.stdout);
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 6e4 };

/** NaN when missing. wrk 4.1 prints 0.00us when its coordinated-omission
 * correction has pushed synthetic samples below the recorded minimum, which
 * the pipelined scenario triggers (its "expected interval" is per request, not
 * per 16-deep batch): such a figure is not a latency, so it must not count. */
function percentileMs(text: string, pct: number): number {
  const m = text.match(
    new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"),
  );
  const ms = m ? Number(m[1]) * UNIT_MS[m[2]] : 0;
  return ms > 0 ? ms : NaN;
}

function parseWrk(text: string): WrkResult {
  const rps = text.match(/Requests\/sec:\s+([\d.]+)/);
  const errs = text.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  const non2xx = text.match(/Non-2xx or 3xx responses: (\d+)/);
  return {
    rps: rps ? Number(rps[1]) : NaN,
    p50: percentileMs(text, 50),
    p90: percentileMs(text, 90),
    p99: percentileMs(text, 99),
    // wrk prints these lines only when they are non-zero.
    errors: {
      connect: Number(errs?.[1] ?? 0),
      read: Number(errs?.[2] ?? 0),
      write: Number(errs?.[3] ?? 0),
      timeout: Number(errs?.[4] ?? 0),
    },
    non2xx: Number(non2xx?.[1] ?? 0),
  };
}

/** One fresh server, a warm-up, one measured wrk run. A failure becomes a
 * run without figures so one broken peer can't sink a 10-minute run. */
async function measure(
  peer: Peer,
  argv: string[],
  sc: Scenario,
  round: number,
  opts: Options,
  scripts: Record<"pipeline" | "post", string>,
): Promise<Run> {
  const base = { scenario: sc.name, peer: peer.name, round };
  let server: Server | undefined;
  let raw = "";
  try {
    server = await startServer(argv, sc.body);
    if (opts.warmup > 0) await wrk(server.port, sc, opts.warmup, scripts);
    raw = await wrk(server.port, sc, opts.duration, scripts);
    const result = parseWrk(raw);
    // A stalled server is a failed round, not a figure of 0 req/s that
    // would drag a median down (the runs table and JSON still show it).
    if (!(result.rps > 0)) throw new Error("no request completed");
    return { ...base, raw, ...result };
  } catch (err) {
    const failure = (err as Error).message;
    console.error(`  failed: ${failure}`);
    return { ...base, raw, failure, ...parseWrk("") };
  } finally {
    await server?.stop();
  }
}

// ----------------------------------------------------------------- results

function errorCount(r: Run): number {
  const e = r.errors;
  return e.connect + e.read + e.write + e.timeout + r.non2xx;
}

function summarize(runs: Run[], opts: Options): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const sc of opts.scenarios) {
    for (const peer of opts.peers) {
      const mine = runs.filter((r) =>
        r.scenario === sc.name && r.peer === peer.name
      );
      if (mine.length === 0) continue;
      // wrk times a pipelined batch as one request and then pads the
      // histogram with synthetic samples, so its latencies there mean
      // nothing; the per-run table keeps them for the curious.
      const latency = sc.mode === "pipeline"
        ? () => NaN
        : (key: "p50" | "p99") => median(mine.map((r) => r[key]));
      rows.push({
        scenario: sc.name,
        desc: sc.desc,
        peer: peer.name,
        label: peer.label,
        rounds: mine.filter((r) => Number.isFinite(r.rps)).length,
        rps: median(mine.map((r) => r.rps)),
        p50: latency("p50"),
        p99: latency("p99"),
        errors: mine.reduce((n, r) => n + errorCount(r), 0),
      });
    }
  }
  return rows;
}

function fmt(n: number | null, digits = 2): string {
  return n !== null && Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

function baselineOf(rows: SummaryRow[]): string {
  return rows.some((r) => r.peer === BASELINE) ? BASELINE : rows[0]?.peer;
}

function summaryTable(rows: SummaryRow[], rounds: number): string {
  const base = baselineOf(rows);
  const baseLabel = rows.find((r) => r.peer === base)?.label ?? base;
  const out = [
    `| scenario | peer | median req/s | p50 ms | p99 ms | req/s vs ${baseLabel} | p99 vs ${baseLabel} | errors | rounds |`,
    "|---|---|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const r of rows) {
    const b = rows.find((x) => x.scenario === r.scenario && x.peer === base);
    out.push(
      `| ${r.scenario} | ${r.label} | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${
        fmt(r.p99)
      } | ${fmt(b ? r.rps / b.rps : NaN)} | ${
        fmt(b ? r.p99 / b.p99 : NaN)
      } | ${r.errors} | ${r.rounds}/${rounds} |`,
    );
  }
  return out.join("\n");
}

function runsTable(runs: Run[]): string {
  const rows = [
    "| scenario | round | peer | req/s | p50 ms | p90 ms | p99 ms | socket errors (c/r/w/t) | non-2xx |",
    "|---|--:|---|--:|--:|--:|--:|---|--:|",
  ];
  for (const r of runs) {
    const e = r.errors;
    const errs = r.failure
      ? `failed: ${r.failure.replaceAll("|", "/").slice(0, 60)}`
      : `${e.connect}/${e.read}/${e.write}/${e.timeout}`;
    rows.push(
      `| ${r.scenario} | ${r.round} | ${PEERS[r.peer].label} | ${
        fmt(r.rps, 0)
      } | ${fmt(r.p50)} | ${fmt(r.p90)} | ${
        fmt(r.p99)
      } | ${errs} | ${r.non2xx} |`,
    );
  }
  return rows.join("\n");
}

async function machineInfo(
  runtimes: Record<Runtime, string | Error>,
): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU";
  const version = async (rt: Runtime): Promise<string> => {
    const exe = runtimes[rt];
    if (exe instanceof Error) return "n/a";
    if (rt === "deno") return Deno.version.deno;
    return (await tryRun(exe, ["--version"]))?.replace(/^v/, "") ?? "n/a";
  };
  return `${cpu}, nproc ${navigator.hardwareConcurrency}, ` +
    `kernel ${Deno.osRelease()}, loadavg ${
      Deno.loadavg().map((x) => x.toFixed(2)).join(" ")
    }, ` +
    `deno ${await version("deno")}, node ${await version("node")}, ` +
    `bun ${await version("bun")}, ${new Date().toISOString()}`;
}

async function writeScripts(): Promise<Record<"pipeline" | "post", string>> {
  const pipeline = await Deno.makeTempFile({ suffix: ".lua" });
  const post = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(pipeline, PIPELINE_LUA);
  await Deno.writeTextFile(post, POST_LUA);
  return { pipeline, post };
}

/** Peers whose runtime exists and whose routes answer correctly, with the
 * command line each runs; the others are reported and left out. */
async function usablePeers(
  opts: Options,
  runtimes: Record<Runtime, string | Error>,
  skipped: { peer: string; reason: string }[],
): Promise<Map<Peer, string[]>> {
  const usable = new Map<Peer, string[]>();
  for (const peer of opts.peers) {
    const exe = runtimes[peer.runtime];
    try {
      if (exe instanceof Error) throw exe;
      const argv = commandLine(peer, exe);
      await verify(argv);
      usable.set(peer, argv);
    } catch (err) {
      const reason = (err as Error).message;
      console.error(`skipping ${peer.label}: ${reason}`);
      skipped.push({ peer: peer.name, reason });
    }
  }
  return usable;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args);
  if (flags.help) return console.log(HELP);
  const opts = parseOptions(flags);
  const runtimes = await findRuntimes(opts.peers);
  const skipped: { peer: string; reason: string }[] = [];
  const usable = await usablePeers(opts, runtimes, skipped);
  opts.peers = opts.peers.filter((p) => usable.has(p));
  if (opts.peers.length === 0) throw new Error("no peer could run");

  const total = opts.scenarios.length * opts.rounds * opts.peers.length;
  const eta = Math.ceil(total * (opts.duration + opts.warmup + 0.4) / 60);
  console.error(`${total} runs, about ${eta} min`);
  // Anything else running skews the figures; say so up front.
  const [load1] = Deno.loadavg();
  if (load1 > 0.5) {
    console.error(`warning: load average ${load1.toFixed(2)}; expect noise`);
  }
  const scripts = await writeScripts();
  const runs: Run[] = [];
  try {
    for (const sc of opts.scenarios) {
      for (let round = 1; round <= opts.rounds; round++) {
        const order = round % 2 ? opts.peers : [...opts.peers].reverse();
        for (const peer of order) {
          const run = await measure(
            peer,
            usable.get(peer)!,
            sc,
            round,
            opts,
            scripts,
          );
          runs.push(run);
          console.error(
            `[${runs.length}/${total}] ${sc.name} round ${round} ${peer.label}: ` +
              `${fmt(run.rps, 0)} req/s, p99 ${fmt(run.p99)} ms`,
          );
        }
      }
    }
  } finally {
    await Deno.remove(scripts.pipeline);
    await Deno.remove(scripts.post);
  }

  const summary = summarize(runs, opts);
  const results: LoadResults = {
    machine: await machineInfo(runtimes),
    command: `deno task load ${Deno.args.join(" ")}`.trim(),
    note: opts.note,
    options: opts,
    skipped,
    summary,
    runs,
  };
  console.log(
    `${results.machine}\n${opts.note}\n\n${
      summaryTable(summary, opts.rounds)
    }\n\n${runsTable(runs)}`,
  );
  const dir = opts.out.includes("/") ? opts.out.replace(/\/[^/]*$/, "") : ".";
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(opts.out, JSON.stringify(results, null, 2));
  console.log(`\nraw figures: ${opts.out}`);
  if (opts.charts) {
    for (const file of await renderCharts(results, opts.charts)) {
      console.log(`chart: ${file}`);
    }
  }
}

if (import.meta.main) await main();
