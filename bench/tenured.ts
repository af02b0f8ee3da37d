// What a full garbage collection under load does to a Deno.listen server:
// old-space growth per scavenge before and after one forced full GC, for
// the floor peer (a bare Deno.listen loop) and ours.
//
//   deno run -A bench/tenured.ts [--peers=floor,ours] [--seconds=6] [--async]
//
// --async: every request waits for a 1 ms timer (GET /async; the floor
// waits for the same timer before its canned reply), which shows the same
// churn in the runtime's timers once they are old.
//
// Found while measuring this session: once a connection object has been
// promoted to the old generation, the Set in which Deno's `Conn.read()`
// tracks its pending read (add before the read, delete after) is old too,
// and V8 allocates an old hash table's new backing stores in the old space.
// Every few reads leave such a table behind as old-space garbage, and the
// dead tables keep young objects alive through scavenges, so a server that
// answered a request per read before its first full GC runs a mark-compact
// every second or so after it. `Deno.serve` does not read through
// `Conn.read()` and does not pay it. The script shows the growth directly:
// each server runs with `--trace-gc-verbose`, under wrk on the other core,
// and gets one `gc()` a third of the way in.

import { median } from "./_servers.ts";

const flags = Object.fromEntries(
  Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]),
);
const seconds = Number(flags.seconds ?? 6);
const peers = (flags.peers ?? "floor,ours").split(",");
const timed = "async" in flags;
const SERVERS = new URL("servers/", import.meta.url);

interface Growth {
  peer: string;
  before: number;
  after: number;
  markCompacts: number;
}

async function measure(peer: string): Promise<Growth> {
  const dir = await Deno.makeTempDir();
  const wrapper = `${dir}/wrapper.ts`;
  // The server module starts listening when imported; the wrapper only
  // schedules the one full GC, a third of the way into the run.
  await Deno.writeTextFile(
    wrapper,
    `setTimeout(() => (globalThis as any).gc(), ${
      Math.round(seconds * 1000 / 3) + 1000
    });\n` +
      `await import(${JSON.stringify(new URL(`${peer}.ts`, SERVERS).href)});\n`,
  );
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      "0",
      Deno.execPath(),
      "run",
      "-A",
      "--v8-flags=--expose-gc,--trace-gc-verbose",
      wrapper,
    ],
    env: timed
      ? { PORT: "0", BODY: "128", SLEEP_MS: "1" }
      : { PORT: "0", BODY: "128" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let port = 0;
  const reader = (async () => {
    for await (
      const text of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      lines.push(...text.split("\n"));
      const m = /LISTENING (\d+)/.exec(text);
      if (m !== null) port = Number(m[1]);
    }
  })();
  while (port === 0) await new Promise((r) => setTimeout(r, 50));
  const wrk = await new Deno.Command("taskset", {
    args: [
      "-c",
      "1",
      "wrk",
      "-t1",
      "-c64",
      `-d${seconds}s`,
      `http://127.0.0.1:${port}/${timed && peer !== "floor" ? "async" : ""}`,
    ],
    stdout: "null",
  }).output();
  if (!wrk.success) throw new Error("wrk failed");
  child.kill("SIGKILL");
  await child.status;
  await reader.catch(() => {});
  await child.stderr.cancel();
  await Deno.remove(dir, { recursive: true });
  return growth(peer, lines);
}

// Old-space "used" KB at each GC, and where the forced full GC falls.
function growth(peer: string, lines: string[]): Growth {
  const used: number[] = [];
  let forced = -1;
  let markCompacts = 0;
  for (const line of lines) {
    const m = /Old space,\s+used:\s+(\d+) KB/.exec(line);
    if (m !== null) used.push(Number(m[1]));
    if (/Mark-Compact/.test(line)) {
      markCompacts++;
      if (/testing|gc\(\)|external/.test(line) || forced < 0) {
        forced = used.length;
      }
    }
  }
  const steps = (from: number, to: number): number[] => {
    const out: number[] = [];
    for (let i = from + 1; i < to; i++) {
      const d = used[i] - used[i - 1];
      if (d >= 0) out.push(d);
    }
    return out;
  };
  const cut = forced < 0 ? used.length : forced;
  return {
    peer,
    before: median(steps(0, cut)),
    after: median(steps(cut, used.length)),
    markCompacts,
  };
}

console.log(
  "| peer | old-space growth per scavenge before the full GC (KB) | after (KB) | mark-compacts in the run |",
);
console.log("|---|--:|--:|--:|");
for (const peer of peers) {
  const g = await measure(peer);
  console.log(
    `| ${g.peer} | ${g.before.toFixed(0)} | ${
      g.after.toFixed(0)
    } | ${g.markCompacts} |`,
  );
}
