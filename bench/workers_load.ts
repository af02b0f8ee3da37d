// Requests per second of one server thread (plain runServer) against
// runServer(module, { workers: n }), driven by wrk.
//
//   deno run -A bench/workers_load.ts [--configs=plain,w2] [--rounds=3]
//     [--duration=5] [--warmup=1] [--conns=64] [--threads=2]
//
// Every run starts a fresh server process (`deno run -A --unstable-net` of
// this file with --serve=N, 0 meaning plain runServer); wrk is not pinned, so
// on 2 cores the load generator competes with the workers for the CPUs, as it
// would with any co-located client. Configurations alternate per round (the
// order is reversed every other round) and the table shows medians.
//
// As a module imported by a server worker, the default export is the handler.

import { runServer } from "../mod.ts";
import type { RingRequest, RingResponse } from "../mod.ts";
import { Proc } from "../tests/fixtures/fleet_process.ts";

const BODY = "Hello, World!";

/** The benchmarked handler: a 13-byte text response. */
export default function handler(_req: RingRequest): RingResponse {
  return { headers: { "content-type": "text/plain" }, body: BODY };
}

interface Config {
  name: string;
  /** 0: plain runServer in the main thread; n: n workers. */
  workers: number;
}

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const arg of args) {
    const m = arg.match(/^--([\w-]+)(?:=(.*))?$/);
    if (!m) throw new Error(`bad flag ${arg} (expected --name=value)`);
    flags[m[1]] = m[2] ?? "true";
  }
  return flags;
}

function config(name: string): Config {
  if (name === "plain") return { name: "plain runServer", workers: 0 };
  const m = /^w(\d+)$/.exec(name);
  if (m === null) throw new Error(`bad config ${name} (plain or wN)`);
  return { name: `${m[1]} worker${m[1] === "1" ? "" : "s"}`, workers: +m[1] };
}

async function serve(workers: number): Promise<void> {
  const options = { ip: "127.0.0.1", port: 0 };
  const server = workers === 0
    ? runServer(handler, options)
    : runServer(new URL(import.meta.url), { ...options, workers });
  await server.ready;
  console.log(`listening ${server.port}`);
  Deno.addSignalListener("SIGTERM", async () => {
    await server.stop();
    Deno.exit(0);
  });
}

function ms(value: string, unit: string): number {
  const v = Number(value);
  return unit === "us" ? v / 1000 : unit === "s" ? v * 1000 : v;
}

function parseWrk(text: string): Result {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text);
  const p = (q: number): number => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(text);
    return m ? ms(m[1], m[2]) : NaN;
  };
  const errs =
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/
      .exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const errors = (errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0) +
    Number(non2xx?.[1] ?? 0);
  return { rps: rps ? Number(rps[1]) : NaN, p50: p(50), p99: p(99), errors };
}

async function wrk(
  port: number,
  seconds: number,
  conns: number,
  threads: number,
): Promise<Result> {
  const out = await new Deno.Command("wrk", {
    args: [
      `-t${threads}`,
      `-c${conns}`,
      `-d${seconds}s`,
      "--latency",
      `http://127.0.0.1:${port}/`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`wrk failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return parseWrk(text);
}

async function measure(
  c: Config,
  o: { duration: number; warmup: number; conns: number; threads: number },
): Promise<Result> {
  const p = Proc.spawn(Deno.execPath(), [
    "run",
    "-A",
    "--unstable-net",
    new URL(import.meta.url).pathname,
    `--serve=${c.workers}`,
  ]);
  try {
    const port = Number((await p.waitFor(/^listening (\d+)$/, 30_000))[1]);
    if (o.warmup > 0) await wrk(port, o.warmup, o.conns, o.threads);
    return await wrk(port, o.duration, o.conns, o.threads);
  } finally {
    p.kill("SIGTERM");
    await p.close(3000);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => r[i].length))
  );
  return rows.map((r) =>
    r.map((cell, i) =>
      i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
    )
      .join("  ")
  ).join("\n");
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args);
  if (flags.serve !== undefined) return serve(Number(flags.serve));
  const configs = (flags.configs ?? "plain,w2").split(",").map(config);
  const o = {
    rounds: Number(flags.rounds ?? 3),
    duration: Number(flags.duration ?? 5),
    warmup: Number(flags.warmup ?? 1),
    conns: Number(flags.conns ?? 64),
    threads: Number(flags.threads ?? 2),
  };
  console.log(
    `wrk -t${o.threads} -c${o.conns} -d${o.duration}s (unpinned), GET / -> ${BODY.length} B, ` +
      `${o.rounds} rounds alternating, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
  );
  const results = new Map<string, Result[]>(configs.map((c) => [c.name, []]));
  for (let r = 0; r < o.rounds; r++) {
    const order = r % 2 === 0 ? configs : [...configs].reverse();
    for (const c of order) {
      const res = await measure(c, o);
      results.get(c.name)!.push(res);
      console.log(
        `round ${r + 1} ${c.name}: ${res.rps.toFixed(0)} req/s, p99 ${
          res.p99.toFixed(2)
        } ms, errors ${res.errors}`,
      );
    }
  }
  const base = median(results.get(configs[0].name)!.map((x) => x.rps));
  const rows = [[
    "server",
    ...Array.from({ length: o.rounds }, (_, i) => `round ${i + 1}`),
    "median req/s",
    "vs first",
    "p50 ms",
    "p99 ms",
    "errors",
  ]];
  for (const c of configs) {
    const rs = results.get(c.name)!;
    const rps = median(rs.map((x) => x.rps));
    rows.push([
      c.name,
      ...rs.map((x) => x.rps.toFixed(0)),
      rps.toFixed(0),
      `${(rps / base).toFixed(2)}x`,
      median(rs.map((x) => x.p50)).toFixed(2),
      median(rs.map((x) => x.p99)).toFixed(2),
      String(rs.reduce((a, x) => a + x.errors, 0)),
    ]);
  }
  console.log("\n" + table(rows));
}

if (import.meta.main) await main();
