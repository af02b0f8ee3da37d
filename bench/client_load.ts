// Client load benchmark: keep-alive GETs against Deno.serve, our client vs
// fetch, node:http and npm undici, in the same run.
//
//   deno run -A bench/client_load.ts [--duration=3] [--rounds=3]
//     [--peers=ours,fetch,node,undici] [--scenarios=seq,c50]
//
// The server runs pinned to CPU 0 and each client run in its own process
// pinned to CPU 1 (taskset); peer order alternates every round; the table
// shows the median requests/s of the rounds and the ratio to fetch.

import { HttpClient } from "../client/mod.ts";

const PEERS = ["ours", "fetch", "node", "undici"];
const SCENARIOS: Record<string, number> = { seq: 1, c50: 50 };

function arg(name: string, def: string): string {
  const hit = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? def : hit.slice(name.length + 3);
}

type Get = () => Promise<void>;

async function makeGet(peer: string, url: string): Promise<[Get, () => void]> {
  if (peer === "ours") {
    const client = new HttpClient();
    return [async () => {
      const r = await client.request({ url, as: "bytes" });
      if (r.error) throw r.error;
    }, () => client.close()];
  }
  if (peer === "fetch") {
    return [async () => {
      const r = await fetch(url);
      await r.arrayBuffer();
    }, () => {}];
  }
  if (peer === "node") {
    const http = await import("node:http");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    return [() =>
      new Promise<void>((resolve, reject) => {
        http.get(url, { agent }, (res) => {
          res.on("data", () => {});
          res.on("end", () => resolve());
          res.on("error", reject);
        }).on("error", reject);
      }), () => agent.destroy()];
  }
  const undici = await import("npm:undici@7");
  const pool = new undici.Agent({ connections: 64 });
  return [async () => {
    const r = await undici.request(url, { dispatcher: pool });
    await r.body.arrayBuffer();
  }, () => pool.close()];
}

async function worker(): Promise<void> {
  const peer = arg("worker", "ours");
  const url = arg("url", "");
  const conc = Number(arg("conc", "1"));
  const duration = Number(arg("duration", "3")) * 1000;
  const [get, close] = await makeGet(peer, url);
  for (let i = 0; i < 200; i++) await get(); // warm-up
  let count = 0;
  const end = performance.now() + duration;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (performance.now() < end) {
      await get();
      count++;
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  close();
  console.log(`RPS ${Math.round(count / secs)}`);
  Deno.exit(0);
}

async function startServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      "0",
      Deno.execPath(),
      "run",
      "-A",
      new URL("servers/deno_serve.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/LISTENING (\d+)/.test(text)) {
    const r = await reader.read();
    if (r.done) throw new Error("server did not start");
    text += r.value;
  }
  reader.releaseLock();
  const port = Number(/LISTENING (\d+)/.exec(text)![1]);
  return {
    url: `http://127.0.0.1:${port}/`,
    async stop(): Promise<void> {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function runOne(
  peer: string,
  url: string,
  conc: number,
  duration: number,
): Promise<number> {
  const out = await new Deno.Command("taskset", {
    args: [
      "-c",
      "1",
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      `--worker=${peer}`,
      `--url=${url}`,
      `--conc=${conc}`,
      `--duration=${duration}`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const m = /RPS (\d+)/.exec(new TextDecoder().decode(out.stdout));
  if (m === null) throw new Error(`${peer} run failed`);
  return Number(m[1]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const duration = Number(arg("duration", "3"));
  const rounds = Number(arg("rounds", "3"));
  const peers = arg("peers", PEERS.join(",")).split(",");
  const scenarios = arg("scenarios", "seq,c50").split(",");
  const server = await startServer();
  const results: Record<string, Record<string, number[]>> = {};
  try {
    for (const sc of scenarios) {
      results[sc] = {};
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? peers : [...peers].reverse();
        for (const peer of order) {
          const rps = await runOne(peer, server.url, SCENARIOS[sc], duration);
          (results[sc][peer] ??= []).push(rps);
          console.error(`${sc} round ${round + 1} ${peer}: ${rps} req/s`);
        }
      }
    }
  } finally {
    await server.stop();
  }
  console.log("\n| scenario | client | median req/s | rounds | vs fetch |");
  console.log("| --- | --- | ---: | --- | ---: |");
  for (const sc of scenarios) {
    const base = results[sc]["fetch"] ? median(results[sc]["fetch"]) : NaN;
    for (const peer of peers) {
      const m = median(results[sc][peer]);
      console.log(
        `| ${sc} | ${peer} | ${m} | ${results[sc][peer].join(", ")} | ${
          (m / base).toFixed(2)
        }x |`,
      );
    }
  }
}

if (Deno.args.some((a) => a.startsWith("--worker="))) await worker();
else await main();
