// Load benchmark: our server vs Deno.serve, driven by wrk.
//
//   deno run -A bench/load.ts [--duration=5] [--rounds=3]
//     [--scenarios=c50,c256,pipe16] [--peers=ours,deno] [--out=file.json]
//
// The server is pinned to CPU 0 and wrk to CPU 1 so they don't fight over a
// core, and peer order alternates per round so neither peer always runs on a
// "warmer" or "cooler" machine.

interface Scenario {
  name: string;
  conns: number;
  pipeline: boolean;
}

interface Peer {
  name: string;
  label: string;
  file: string;
}

interface Options {
  duration: number;
  rounds: number;
  scenarios: Scenario[];
  peers: Peer[];
  out: string;
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
  raw: string;
}

interface Server {
  port: number;
  stop(): Promise<void>;
}

const SCENARIOS: Record<string, Scenario> = {
  c50: { name: "c50", conns: 50, pipeline: false },
  c256: { name: "c256", conns: 256, pipeline: false },
  pipe16: { name: "pipe16", conns: 50, pipeline: true },
};

const PEERS: Record<string, Peer> = {
  ours: { name: "ours", label: "ours", file: "servers/ours.ts" },
  deno: { name: "deno", label: "Deno.serve", file: "servers/deno_serve.ts" },
};

const BASELINE = "deno";

// wrk counts the requests in the string request() returns, so one write of
// 16 requests makes each connection keep 16 in flight.
const PIPELINE_LUA =
  "init = function(args) local r = {} for i=1,16 do r[i] = wrk.format() end req = table.concat(r) end\n" +
  "request = function() return req end\n";

const BENCH_DIR = new URL(".", import.meta.url);

function pick<T>(table: Record<string, T>, csv: string, what: string): T[] {
  return csv.split(",").map((key) => {
    const item = table[key.trim()];
    if (!item) throw new Error(`unknown ${what}: ${key}`);
    return item;
  });
}

function parseOptions(args: string[]): Options {
  const flags: Record<string, string> = {};
  for (const arg of args) {
    const m = arg.match(/^--([\w-]+)=(.*)$/);
    if (!m) throw new Error(`bad flag ${arg} (expected --name=value)`);
    flags[m[1]] = m[2];
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const duration = Number(flags.duration ?? 5);
  const rounds = Number(flags.rounds ?? 3);
  if (!(duration > 0 && rounds >= 1)) throw new Error("bad duration/rounds");
  return {
    duration,
    rounds,
    scenarios: pick(
      SCENARIOS,
      flags.scenarios ?? "c50,c256,pipe16",
      "scenario",
    ),
    peers: pick(PEERS, flags.peers ?? "ours,deno", "peer"),
    out: flags.out ??
      new URL(`results/load-${stamp}.json`, BENCH_DIR).pathname,
  };
}

/** Reads stdout lines until `LISTENING <port>`, then keeps draining it so a
 * chatty server never blocks on a full pipe. */
async function readPort(stdout: ReadableStream<Uint8Array>): Promise<number> {
  const lines = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (true) {
    const { value, done } = await lines.read();
    if (done) throw new Error("server exited before printing LISTENING");
    buffered += value;
    const m = buffered.match(/^LISTENING (\d+)$/m);
    if (m) {
      (async (): Promise<void> => {
        while (!(await lines.read()).done) { /* drain */ }
      })();
      return Number(m[1]);
    }
  }
}

async function startServer(peer: Peer): Promise<Server> {
  const file = new URL(peer.file, BENCH_DIR).pathname;
  const child = new Deno.Command("taskset", {
    args: ["-c", "0", Deno.execPath(), "run", "-A", "--unstable-net", file],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    // A server that never binds must not hang the whole run.
    const port = await deadline(readPort(child.stdout), 30_000);
    if (port === "timeout") throw new Error("no LISTENING within 30 s");
    return { port, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw new Error(`${peer.label}: ${(err as Error).message}`);
  }
}

/** SIGTERM lets the server close cleanly; SIGKILL after 2 s so a stuck
 * server can't hang the whole benchmark. */
async function stopChild(child: Deno.ChildProcess): Promise<void> {
  const kill = (signal: Deno.Signal): void => {
    try {
      child.kill(signal);
    } catch { /* already exited */ }
  };
  kill("SIGTERM");
  if (await deadline(child.status, 2000) === "timeout") {
    kill("SIGKILL");
    await child.status;
  }
}

async function deadline<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function wrk(
  port: number,
  conns: number,
  secs: number,
  lua: string | null,
): Promise<string> {
  const args = ["-c", "1", "wrk", "-t1", `-c${conns}`, `-d${secs}s`];
  if (lua) args.push("-s", lua);
  args.push("--latency", `http://127.0.0.1:${port}/`);
  const out = await new Deno.Command("taskset", { args }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return text;
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

async function measure(
  peer: Peer,
  scenario: Scenario,
  round: number,
  opts: Options,
  lua: string,
): Promise<Run> {
  const server = await startServer(peer);
  try {
    const script = scenario.pipeline ? lua : null;
    // Warm-up so the JIT and connection setup don't count against a peer.
    await wrk(server.port, scenario.conns, 1, script);
    const raw = await wrk(server.port, scenario.conns, opts.duration, script);
    return {
      scenario: scenario.name,
      peer: peer.name,
      round,
      raw,
      ...parseWrk(raw),
    };
  } finally {
    await server.stop();
  }
}

/** Median of the available figures (NaN when there are none). */
function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function fmt(n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

function summaryTable(runs: Run[], opts: Options): string {
  const rows = [
    "| scenario | peer | median req/s | p50 ms | p99 ms | ratio to Deno.serve (req/s) | p99 ratio |",
    "|---|---|--:|--:|--:|--:|--:|",
  ];
  for (const sc of opts.scenarios) {
    const med = (peer: string, key: "rps" | "p50" | "p99"): number =>
      median(
        runs.filter((r) => r.scenario === sc.name && r.peer === peer)
          .map((r) => r[key]),
      );
    for (const peer of opts.peers) {
      const rps = med(peer.name, "rps");
      const p99 = med(peer.name, "p99");
      rows.push(
        `| ${sc.name} | ${peer.label} | ${fmt(rps, 0)} | ${
          fmt(med(peer.name, "p50"))
        } | ${fmt(p99)} | ${fmt(rps / med(BASELINE, "rps"))} | ${
          fmt(p99 / med(BASELINE, "p99"))
        } |`,
      );
    }
  }
  return rows.join("\n");
}

function runsTable(runs: Run[]): string {
  const rows = [
    "| scenario | round | peer | req/s | p50 ms | p90 ms | p99 ms | socket errors (c/r/w/t) | non-2xx |",
    "|---|--:|---|--:|--:|--:|--:|---|--:|",
  ];
  for (const r of runs) {
    const e = r.errors;
    rows.push(
      `| ${r.scenario} | ${r.round} | ${PEERS[r.peer].label} | ${
        fmt(r.rps, 0)
      } | ${fmt(r.p50)} | ${fmt(r.p90)} | ${
        fmt(r.p99)
      } | ${e.connect}/${e.read}/${e.write}/${e.timeout} | ${r.non2xx} |`,
    );
  }
  return rows.join("\n");
}

function machineInfo(): string {
  return `nproc ${navigator.hardwareConcurrency}, kernel ${Deno.osRelease()}, ` +
    `deno ${Deno.version.deno}, ${new Date().toISOString()}`;
}

async function main(): Promise<void> {
  const opts = parseOptions(Deno.args);
  const lua = await Deno.makeTempFile({ suffix: ".lua" });
  await Deno.writeTextFile(lua, PIPELINE_LUA);
  const runs: Run[] = [];
  try {
    for (const sc of opts.scenarios) {
      for (let round = 1; round <= opts.rounds; round++) {
        const order = round % 2 ? opts.peers : [...opts.peers].reverse();
        for (const peer of order) {
          console.error(`${sc.name} round ${round}: ${peer.label}...`);
          runs.push(await measure(peer, sc, round, opts, lua));
        }
      }
    }
  } finally {
    await Deno.remove(lua);
  }
  const info = machineInfo();
  console.log(`${info}\n\n${summaryTable(runs, opts)}\n\n${runsTable(runs)}`);
  const dir = opts.out.includes("/") ? opts.out.replace(/\/[^/]*$/, "") : ".";
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    opts.out,
    JSON.stringify({ machine: info, options: opts, runs }, null, 2),
  );
  console.log(`\nraw figures: ${opts.out}`);
}

if (import.meta.main) await main();
