// The fleet under load: two server processes (tests/fixtures/fleet_server.ts,
// PROXY v2 required) behind HAProxy 2.x in mode http with health checks and
// L7 retries; concurrent keep-alive request loops (our HttpClient, every 10th
// request a 150 ms one) run first with the fleet steady, then while both
// servers are restarted one after the other, over and over (SIGTERM ->
// graceful stop -> start -> HAProxy marks it UP -> next).
//
//   deno run -A bench/fleet.ts [--duration=20] [--loops=50] [--inter=200]
//
// Prints requests, failures and latency percentiles for both phases (the
// percentiles are of the fast requests; the 150 ms ones are shown apart),
// and what each graceful stop drained.

import { freePort, sleep } from "../tests/fixtures/fleet_process.ts";
import { FleetServer, Haproxy } from "../tests/fixtures/fleet_haproxy.ts";
import { load, type LoadResult } from "../tests/fixtures/fleet_load.ts";

function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const arg of args) {
    const m = arg.match(/^--([\w-]+)(?:=(.*))?$/);
    if (!m) throw new Error(`bad flag ${arg} (expected --name=value)`);
    flags[m[1]] = m[2] ?? "true";
  }
  return flags;
}

function pct(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[
    Math.min(sorted.length - 1, Math.floor(q / 100 * sorted.length))
  ];
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => r[i].length))
  );
  return rows.map((r) =>
    r.map((cell, i) =>
      i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
    ).join("  ")
  ).join("\n");
}

interface Phase {
  name: string;
  seconds: number;
  result: LoadResult;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args);
  const duration = Number(flags.duration ?? 20);
  const loops = Number(flags.loops ?? 50);
  const inter = Number(flags.inter ?? 200);
  const dir = await Deno.makeTempDir({ prefix: "httpkit-fleet-bench-" });
  const servers = [
    new FleetServer("app1", freePort(), 10_000),
    new FleetServer("app2", freePort(), 10_000),
  ];
  let haproxy: Haproxy | null = null;
  const phases: Phase[] = [];
  const stops: string[] = [];
  let restarts = 0;
  try {
    await Promise.all(servers.map((s) => s.start()));
    const port = freePort();
    haproxy = await Haproxy.start({
      port,
      dir,
      inter,
      servers: servers.map((s) => ({ name: s.id, port: s.port })),
    });
    for (const s of servers) await haproxy.waitState(s.id, "UP");
    const url = `http://127.0.0.1:${port}`;
    console.log(
      `HAProxy mode http, PROXY v2, checks every ${inter} ms (rise 2 fall 2), ` +
        `retries 3 + redispatch; ${loops} keep-alive loops, ${duration} s per phase`,
    );

    // Warm-up, then the steady phase.
    {
      const ac = new AbortController();
      const warm = load(url, loops, ac.signal);
      await sleep(2000);
      ac.abort();
      await warm;
    }
    for (const name of ["steady", "rolling restarts"]) {
      const ac = new AbortController();
      const t0 = performance.now();
      const running = load(url, loops, ac.signal);
      const end = t0 + duration * 1000;
      if (name === "steady") {
        await sleep(duration * 1000);
      } else {
        while (performance.now() < end) {
          for (const s of servers) {
            if (performance.now() >= end) break;
            await s.stop();
            const drained = s.lastOutput.filter((l) =>
              /^(draining|stopped)/.test(l)
            ).join(", ");
            await s.start();
            const up = await haproxy.waitState(s.id, "UP", 10_000);
            restarts++;
            stops.push(
              `${s.id}: ${drained}; back UP after ${up.toFixed(0)} ms`,
            );
          }
        }
      }
      ac.abort();
      const result = await running;
      phases.push({
        name,
        seconds: (performance.now() - t0) / 1000,
        result,
      });
    }
  } finally {
    await haproxy?.stop();
    for (const s of servers) await s.crash();
    await Deno.remove(dir, { recursive: true });
  }
  const rows = [[
    "phase",
    "requests",
    "failed",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "slow p99/max ms",
    "processes",
  ]];
  for (const p of phases) {
    const r = p.result;
    const lat = [...r.latencies].sort((a, b) => a - b);
    const slow = [...r.slowLatencies].sort((a, b) => a - b);
    rows.push([
      p.name,
      String(r.ok + r.failures.length),
      String(r.failures.length),
      ((r.ok + r.failures.length) / p.seconds).toFixed(0),
      pct(lat, 50).toFixed(1),
      pct(lat, 90).toFixed(1),
      pct(lat, 99).toFixed(1),
      lat.at(-1)!.toFixed(1),
      `${pct(slow, 99).toFixed(0)}/${slow.at(-1)!.toFixed(0)}`,
      String(Object.keys(r.byPid).length),
    ]);
  }
  console.log("\n" + table(rows));
  console.log(`\n${restarts} restarts (graceful stop, start, UP):`);
  for (const s of stops.slice(0, 6)) console.log(`  ${s}`);
  if (stops.length > 6) console.log(`  ... ${stops.length - 6} more`);
  for (const p of phases) {
    for (const f of p.result.failures.slice(0, 10)) {
      console.log(`failure (${p.name}): ${f}`);
    }
  }
}

if (import.meta.main) await main();
