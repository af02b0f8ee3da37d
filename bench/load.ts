// Load benchmark: our server against Deno.serve, Hono, node:http (under Deno
// and under Node), Bun.serve, nginx and a do-nothing Deno.listen floor,
// driven by wrk, after http-kit's own suite.
//
//   deno run -A bench/load.ts [--quick] [--peers=ours,deno,...]
//     [--scenarios=c64,close,...|all] [--duration=3] [--rounds=3]
//     [--warmup=1] [--out=file.json] [--charts[=dir]] [--note=text]
//   deno run -A bench/load.ts --help     lists peers, scenarios and presets
//
// Besides req/s and latency it reports the server's CPU time per request
// (utime + stime from /proc around the measured run), which tells fast
// servers apart when one wrk thread is the bottleneck. The scenario
// `upload` hands over to upload.ts (4 concurrent 50 MB uploads).
//
// Fairness: each measurement starts a fresh server pinned to CPU 0 and runs
// wrk pinned to CPU 1, so they never share a core; peer order alternates per
// round so no peer always runs on a "warmer" or "cooler" machine; a warm-up
// run precedes every measured run so JIT and connection setup don't count.
// Before measuring, every peer must answer each route with the same bytes,
// so no peer wins by doing less work.

import { type LoadResults, renderCharts, type SummaryRow } from "./charts.ts";
import { findNginx, nginxLaunch, nginxVersion } from "./_nginx.ts";
import {
  clockTicks,
  commandName,
  cpuTicks,
  type Launch,
  machineLine,
  median,
  npmInstall,
  parseFlags,
  type Server,
  startServer,
  tryRun,
} from "./_servers.ts";
import { runUpload, UPLOAD_PEERS } from "./upload.ts";

type Route = "/" | "/async" | "/big" | "/echo";

interface Scenario {
  name: string;
  /** One line for tables and charts. */
  desc: string;
  conns: number;
  path: Route;
  /** BODY env of the server: size of the `/` and `/async` body in bytes. */
  body: number;
  /** How wrk shapes requests: one by one, 16-deep pipelined, one request
   * per connection, or a 64 KiB POST. */
  mode: "plain" | "pipeline" | "close" | "post";
}

type Runtime = "deno" | "node" | "bun" | "nginx";

interface Peer {
  name: string;
  label: string;
  /** Server file in servers/; nginx has none (its config is generated). */
  file?: string;
  runtime: Runtime;
  /** The routes it answers correctly; all four when absent. */
  routes?: Route[];
  /** False for a peer that answers each read rather than each request. */
  pipelines?: boolean;
}

/** Starts nothing: gives the command line (and maybe a port and a temp
 * dir) of one server of a peer, for a `/` body of that many bytes. */
type Launcher = (body: number) => Promise<Launch>;

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
  /** Added to every server's environment (`--malloc=fixed`). */
  env: Record<string, string>;
  /** Whether `--scenarios` asked for the upload benchmark too. */
  upload: boolean;
}

interface WrkResult {
  /** Responses wrk counted in the run ("N requests in Xs"). */
  requests: number;
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
  /** Server CPU (user + system, its whole process tree) during the
   * measured run, in clock ticks. */
  cpuTicks: number;
  /** Server CPU per request in µs: cpuTicks over `requests`. */
  cpu: number;
  /** Why the run produced no figures (server did not start, wrk failed). */
  failure?: string;
  raw: string;
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
  "fetch-ours": {
    name: "fetch-ours",
    label: "Deno.serve's handler on serve()",
    file: "fetch_ours.ts",
    runtime: "deno",
  },
  "hono-ours": {
    name: "hono-ours",
    label: "Hono on serve()",
    file: "hono_ours.ts",
    runtime: "deno",
  },
  // The reference points below do not run JavaScript per request (nginx)
  // or do no HTTP work (floor), so they serve only some routes.
  nginx: {
    name: "nginx",
    label: "nginx, 1 worker",
    runtime: "nginx",
    routes: ["/", "/big"],
  },
  floor: {
    name: "floor",
    label: "floor (canned reply per read)",
    file: "floor.ts",
    runtime: "deno",
    routes: ["/"],
    pipelines: false,
  },
};

/** Ratios in the tables and charts are to this peer when it ran. */
const BASELINE = "deno";

const ALL_PEERS =
  "ours,deno,fetch-ours,hono,hono-ours,deno-node,node,bun,nginx,floor";
const PRESETS = {
  // About 17 minutes on 2 cores: 8 scenarios x 8 peers, plus nginx on 6 and
  // the floor on 4 of them (74 runs a round), x 3 rounds x ~4.5 s.
  default: {
    scenarios: "c64,c256,1280b,close,pipe16,async,big,echo",
    duration: 3,
    warmup: 1,
    rounds: 3,
  },
  // About 4 minutes: one round, shorter runs, no medians to speak of.
  quick: {
    scenarios: "c64,c256,close,pipe16,async,big,echo",
    duration: 2,
    warmup: 1,
    rounds: 1,
  },
};
const ALL_SCENARIOS =
  "c32,c64,c128,c256,1280b,close,pipe16,async,big,echo,upload";

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

// A server that allocates a fresh 1 MiB or 64 KiB buffer per request (the
// fetch handler's `new Response(bytes)` copy; a request body read whole)
// runs in one of three modes, set per process by glibc's malloc: every
// buffer mapped and unmapped (its dynamic mmap threshold not raised yet,
// ~270 page faults a request), the heap grown and trimmed again (tens of
// faults a request), or the heap reused (none). Page faults are dear on this
// VM, so a peer's figure on those scenarios says more about its mode than
// about its code; with the thresholds fixed every peer runs in the last.
const FIXED_MALLOC: Record<string, string> = {
  MALLOC_MMAP_THRESHOLD_: String(8 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(256 * 1024 * 1024),
};

function mallocEnv(flag: string | undefined): Record<string, string> {
  if (flag === undefined) return {};
  if (flag === "fixed") return FIXED_MALLOC;
  throw new Error(`--malloc takes "fixed": received ${flag}`);
}

const HELP = `deno run -A bench/load.ts [flags]
  --quick                 preset: ${PRESETS.quick.scenarios}, 1 round, 2 s
  --peers=a,b             ${ALL_PEERS} (default: all)
  --scenarios=a,b|all     default: ${PRESETS.default.scenarios}
                          (add "upload" for upload.ts; "all" includes it)
  --duration=S            seconds per measured run (default 3)
  --warmup=S              seconds of warm-up before each run (default 1)
  --rounds=N              repetitions; medians are reported (default 3)
  --out=file.json         default bench/results/load-<time>.json
  --charts[=dir]          also render SVG charts (default dir bench/charts)
  --note=text             stored with the results and shown on the charts
  --malloc=fixed          every server runs with glibc's malloc thresholds
                          fixed (${envText(FIXED_MALLOC)}):
                          takes the allocator's mode out of big and echo
scenarios:
${
  Object.values(SCENARIOS).map((s) => `  ${s.name.padEnd(8)}${s.desc}`).join(
    "\n",
  )
}
  upload  4 concurrent POSTs of 50 MB streamed to files (upload.ts)
peers:
${
  Object.values(PEERS).map((p) => `  ${p.name.padEnd(11)}${p.label}`).join("\n")
}`;

function pick<T>(table: Record<string, T>, csv: string, what: string): T[] {
  return csv.split(",").map((key) => {
    const item = table[key.trim()];
    if (!item) throw new Error(`unknown ${what}: ${key}`);
    return item;
  });
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
  const scenarios =
    (flags.scenarios === "all"
      ? ALL_SCENARIOS
      : flags.scenarios ?? preset.scenarios).split(",").map((s) => s.trim());
  // upload.ts measures something else (MB/s, memory), with its own table.
  const wrkScenarios = scenarios.filter((s) => s !== "upload").join(",");
  const charts = flags.charts === undefined
    ? null
    : flags.charts === "true"
    ? new URL("charts", BENCH_DIR).pathname
    : flags.charts;
  return {
    duration,
    warmup,
    rounds,
    scenarios: wrkScenarios ? pick(SCENARIOS, wrkScenarios, "scenario") : [],
    peers: pick(PEERS, flags.peers ?? ALL_PEERS, "peer"),
    out: flags.out ??
      new URL(`results/load-${stamp}.json`, BENCH_DIR).pathname,
    charts,
    note: flags.note ?? "",
    env: mallocEnv(flags.malloc),
    upload: scenarios.includes("upload"),
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
  const nginx = wanted.has("nginx") ? await findNginx() : null;
  return {
    deno: Deno.execPath(),
    node: node ? "node" : new Error("node is not on PATH"),
    bun: bun ?? new Error("bun did not install (npm @oven/bun-*)"),
    nginx: nginx ?? new Error("nginx is not installed"),
  };
}

/** How to start a server of the peer with that executable. */
function launcherOf(peer: Peer, exe: string): Launcher {
  if (peer.runtime === "nginx") return (body) => nginxLaunch(exe, body);
  const file = new URL(peer.file!, SERVERS_DIR).pathname;
  const argv = peer.runtime === "deno"
    ? [exe, "run", "-A", "--unstable-net", file]
    : [exe, file];
  return (body) =>
    Promise.resolve({ argv, env: { PORT: "0", BODY: String(body) } });
}

/** Why the peer cannot run the scenario, or null when it can. */
function unsupported(peer: Peer, sc: Scenario): string | null {
  if (peer.routes && !peer.routes.includes(sc.path)) {
    return `serves only ${peer.routes.join(" and ")}`;
  }
  if (sc.mode === "pipeline" && peer.pipelines === false) {
    return "answers per read, so pipelined requests would go unanswered";
  }
  return null;
}

// ----------------------------------------------------------------- servers

/** Asks every route the peer serves once and compares the bytes, so a
 * peer that skips work (an empty echo, a short /big) is dropped rather than
 * benchmarked. Also makes sure the pid we measure CPU on is the server
 * itself, not the taskset that started it. */
async function verify(peer: Peer, launcher: Launcher): Promise<void> {
  const server = await startServer(await launcher(128));
  const base = `http://127.0.0.1:${server.port}`;
  const post = crypto.getRandomValues(new Uint8Array(64 * KIB));
  const checks: [Route, RequestInit, Uint8Array][] = [
    ["/", {}, new Uint8Array(128).fill(0x78)],
    ["/async", {}, new Uint8Array(128).fill(0x78)],
    ["/big", {}, new Uint8Array(1024 * KIB).fill(0x78)],
    ["/echo", { method: "POST", body: post }, post],
  ];
  try {
    const comm = await commandName(server.pid);
    if (comm === "taskset") throw new Error("taskset did not exec the server");
    for (const [path, init, want] of checks) {
      if (peer.routes && !peer.routes.includes(path)) continue;
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

type Scripts = Record<"pipeline" | "post", string>;

/** What every measured run needs besides the peer and the scenario. */
interface Tools {
  scripts: Scripts;
  /** Clock ticks per second of /proc's CPU times. */
  ticksPerSecond: number;
}

async function wrk(
  port: number,
  sc: Scenario,
  secs: number,
  scripts: Scripts,
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
  const requests = text.match(/(\d+) requests in [\d.]+\w+/);
  return {
    requests: requests ? Number(requests[1]) : NaN,
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

/** µs of server CPU per request. /proc counts CPU in clock ticks of 10 ms:
 * a 3 s run of a server that keeps its core busy uses about 300 ticks, so
 * the figure moves in steps of about 0.3% (0.5% for a 2 s run). */
function cpuPerRequest(
  ticks: number,
  requests: number,
  ticksPerSecond: number,
): number {
  return ticks / ticksPerSecond * 1e6 / requests;
}

/** One fresh server, a warm-up, one measured wrk run with the server's CPU
 * time read just before and just after it (the warm-up does not count). A
 * failure becomes a run without figures so one broken peer can't sink a
 * 10-minute run. */
async function measure(
  peer: Peer,
  launcher: Launcher,
  sc: Scenario,
  round: number,
  opts: Options,
  tools: Tools,
): Promise<Run> {
  const base = { scenario: sc.name, peer: peer.name, round };
  let server: Server | undefined;
  let raw = "";
  try {
    const launch = await launcher(sc.body);
    launch.env = { ...launch.env, ...opts.env };
    server = await startServer(launch);
    const { port, pid } = server;
    if (opts.warmup > 0) await wrk(port, sc, opts.warmup, tools.scripts);
    const before = await cpuTicks(pid);
    raw = await wrk(port, sc, opts.duration, tools.scripts);
    const ticks = await cpuTicks(pid) - before;
    const result = parseWrk(raw);
    // A stalled server is a failed round, not a figure of 0 req/s that
    // would drag a median down (the runs table and JSON still show it).
    if (!(result.rps > 0)) throw new Error("no request completed");
    const cpu = cpuPerRequest(ticks, result.requests, tools.ticksPerSecond);
    return { ...base, raw, ...result, cpuTicks: ticks, cpu };
  } catch (err) {
    const failure = (err as Error).message;
    console.error(`  failed: ${failure}`);
    return { ...base, raw, failure, ...parseWrk(""), cpuTicks: NaN, cpu: NaN };
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
        cpu: median(mine.map((r) => r.cpu)),
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
  const vs = `vs ${baseLabel}`;
  const out = [
    `| scenario | peer | median req/s | p50 ms | p99 ms | CPU µs/req | req/s ${vs} | p99 ${vs} | CPU ${vs} | errors | rounds |`,
    "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const r of rows) {
    const b = rows.find((x) => x.scenario === r.scenario && x.peer === base);
    const ratio = (key: "rps" | "p99" | "cpu"): string =>
      fmt(b ? r[key] / b[key] : NaN);
    out.push(
      `| ${r.scenario} | ${r.label} | ${fmt(r.rps, 0)} | ${fmt(r.p50)} | ${
        fmt(r.p99)
      } | ${fmt(r.cpu)} | ${ratio("rps")} | ${ratio("p99")} | ${
        ratio("cpu")
      } | ${r.errors} | ${r.rounds}/${rounds} |`,
    );
  }
  return out.join("\n");
}

function runsTable(runs: Run[]): string {
  const rows = [
    "| scenario | round | peer | req/s | p50 ms | p90 ms | p99 ms | CPU µs/req | socket errors (c/r/w/t) | non-2xx |",
    "|---|--:|---|--:|--:|--:|--:|--:|---|--:|",
  ];
  for (const r of runs) {
    const e = r.errors;
    const errs = r.failure
      ? `failed: ${r.failure.replaceAll("|", "/").slice(0, 60)}`
      : `${e.connect}/${e.read}/${e.write}/${e.timeout}`;
    rows.push(
      `| ${r.scenario} | ${r.round} | ${PEERS[r.peer].label} | ${
        fmt(r.rps, 0)
      } | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} | ${
        fmt(r.cpu)
      } | ${errs} | ${r.non2xx} |`,
    );
  }
  return rows.join("\n");
}

async function machineInfo(
  runtimes: Record<Runtime, string | Error>,
): Promise<string> {
  const version = async (rt: Runtime): Promise<string> => {
    const exe = runtimes[rt];
    if (exe instanceof Error) return "n/a";
    if (rt === "deno") return Deno.version.deno;
    if (rt === "nginx") return await nginxVersion(exe);
    return (await tryRun(exe, ["--version"]))?.replace(/^v/, "") ?? "n/a";
  };
  return await machineLine({
    deno: await version("deno"),
    node: await version("node"),
    bun: await version("bun"),
    nginx: await version("nginx"),
  });
}

async function writeScripts(): Promise<Scripts> {
  const pipeline = await Deno.makeTempFile({ suffix: ".lua" });
  const post = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(pipeline, PIPELINE_LUA);
  await Deno.writeTextFile(post, POST_LUA);
  return { pipeline, post };
}

/** Peers whose runtime exists and whose routes answer correctly, with how
 * to start each; the others are reported and left out. */
async function usablePeers(
  opts: Options,
  runtimes: Record<Runtime, string | Error>,
  skipped: { peer: string; reason: string }[],
): Promise<Map<Peer, Launcher>> {
  const usable = new Map<Peer, Launcher>();
  for (const peer of opts.peers) {
    const exe = runtimes[peer.runtime];
    try {
      if (exe instanceof Error) throw exe;
      const launcher = launcherOf(peer, exe);
      await verify(peer, launcher);
      usable.set(peer, launcher);
    } catch (err) {
      const reason = (err as Error).message;
      console.error(`skipping ${peer.label}: ${reason}`);
      skipped.push({ peer: peer.name, reason });
    }
  }
  return usable;
}

/** The scenario/peer pairs to run; the pairs a peer cannot serve are
 * reported once and noted in `skipped`. */
function plan(
  opts: Options,
  skipped: { peer: string; reason: string }[],
): Map<Scenario, Peer[]> {
  const pairs = new Map<Scenario, Peer[]>();
  for (const sc of opts.scenarios) {
    pairs.set(sc, []);
    for (const peer of opts.peers) {
      const why = unsupported(peer, sc);
      if (why === null) {
        pairs.get(sc)!.push(peer);
        continue;
      }
      console.error(`not running ${sc.name} on ${peer.label}: it ${why}`);
      skipped.push({ peer: peer.name, reason: `${sc.name}: ${why}` });
    }
  }
  return pairs;
}

/** Every wrk scenario on every peer that can serve it, for the rounds
 * asked; the runs in the order they ran. */
async function runAll(
  pairs: Map<Scenario, Peer[]>,
  launchers: Map<Peer, Launcher>,
  opts: Options,
  tools: Tools,
): Promise<Run[]> {
  const perRound = [...pairs.values()].reduce((n, ps) => n + ps.length, 0);
  const total = perRound * opts.rounds;
  const eta = Math.ceil(total * (opts.duration + opts.warmup + 0.5) / 60);
  console.error(`${total} runs, about ${eta} min`);
  const runs: Run[] = [];
  for (const [sc, peers] of pairs) {
    for (let round = 1; round <= opts.rounds; round++) {
      const order = round % 2 ? peers : [...peers].reverse();
      for (const peer of order) {
        const launcher = launchers.get(peer)!;
        const run = await measure(peer, launcher, sc, round, opts, tools);
        runs.push(run);
        console.error(
          `[${runs.length}/${total}] ${sc.name} round ${round} ${peer.label}: ` +
            `${fmt(run.rps, 0)} req/s, p99 ${fmt(run.p99)} ms, ` +
            `CPU ${fmt(run.cpu)} µs/req`,
        );
      }
    }
  }
  return runs;
}

/** The wrk part: verify the peers, run, print and store the results. */
async function runLoad(opts: Options): Promise<void> {
  const runtimes = await findRuntimes(opts.peers);
  const skipped: { peer: string; reason: string }[] = [];
  const launchers = await usablePeers(opts, runtimes, skipped);
  opts.peers = opts.peers.filter((p) => launchers.has(p));
  if (opts.peers.length === 0) throw new Error("no peer could run");
  const pairs = plan(opts, skipped);

  // Anything else running skews the figures; say so up front.
  const [load1] = Deno.loadavg();
  if (load1 > 0.5) {
    console.error(`warning: load average ${load1.toFixed(2)}; expect noise`);
  }
  const scripts = await writeScripts();
  const tools = { scripts, ticksPerSecond: await clockTicks() };
  let runs: Run[];
  try {
    runs = await runAll(pairs, launchers, opts, tools);
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
    `${results.machine}\n${opts.note}${envLine(opts.env)}\n\n${
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

function envLine(env: Record<string, string>): string {
  const text = envText(env);
  return text === "" ? "" : `\nservers ran with ${text}`;
}

/** `K=V K=V`, as a shell would take them. */
function envText(env: Record<string, string>): string {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ");
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args);
  if (flags.help) return console.log(HELP);
  const opts = parseOptions(flags);
  if (opts.scenarios.length > 0) await runLoad(opts);
  if (!opts.upload) return;
  // The upload peers carry the same names as the peers here.
  const peers = opts.peers.map((p) => p.name).filter((n) => n in UPLOAD_PEERS);
  if (peers.length === 0) {
    console.error(
      `upload: no upload server among the peers; it has ${
        Object.keys(UPLOAD_PEERS).join(", ")
      }`,
    );
    return;
  }
  await runUpload({
    peers,
    rounds: opts.rounds,
    note: opts.note,
    command: `deno task load ${Deno.args.join(" ")}`.trim(),
  });
}

if (import.meta.main) await main();
