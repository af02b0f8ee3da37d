// Client load benchmark: keep-alive GETs against Deno.serve, our client vs
// fetch, node:http(s) and npm undici, in the same run, over plain HTTP and
// over TLS.
//
//   deno run -A bench/client_load.ts [--duration=3] [--rounds=3]
//     [--peers=ours,fetch,node,undici]
//     [--scenarios=seq,c50,seq-close,c50-close] [--schemes=http,https]
//
// seq is one request at a time, c50 fifty at once; the -close variants turn
// keep-alive off, so every request opens (and for https, handshakes) a new
// connection.
//
// The server (this file with --serve, Deno.serve answering "Hello, World!")
// runs pinned to CPU 0 and each client run in its own process pinned to CPU 1
// (taskset); peer order alternates every round; the table shows the median
// requests/s of the rounds and the ratio to fetch in the same scheme.
//
// For https the run makes a throwaway CA and a 127.0.0.1 certificate with
// openssl (tests/fixtures/certs.ts); the server uses Deno.serve({ cert, key })
// and every peer trusts the CA explicitly: ours with `caCerts`, fetch with
// Deno.createHttpClient({ caCerts }) (stable in Deno 2, no flag), node with
// an https.Agent({ keepAlive, ca }), undici with an Agent({ connect: { ca } }).
// fetch negotiates HTTP/2 by ALPN over TLS (Deno.serve offers h2); the other
// peers speak HTTP/1.1. The optional peer `fetch-h1` is fetch with
// `http2: false`, for a like-for-like HTTP/1.1 comparison.
//
// The "conns" column is the median number of TCP connections the server saw
// per client run (distinct remote ports, warm-up included), which shows that
// keep-alive works: 1 for seq, about 50 for c50 on HTTP/1.1, 1 over h2, and
// one per request for the -close scenarios.

import { HttpClient } from "../client/mod.ts";
import { makeCerts } from "../tests/fixtures/certs.ts";

const PEERS = ["ours", "fetch", "node", "undici"];
const SCHEMES = ["http", "https"];
/** Concurrency, and whether connections are kept alive between requests. */
const SCENARIOS: Record<string, { conc: number; keepAlive: boolean }> = {
  seq: { conc: 1, keepAlive: true },
  c50: { conc: 50, keepAlive: true },
  "seq-close": { conc: 1, keepAlive: false },
  "c50-close": { conc: 50, keepAlive: false },
};

function arg(name: string, def: string): string {
  const hit = Deno.args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? def : hit.slice(name.length + 3);
}

type Get = () => Promise<void>;

// Each peer's own way to turn keep-alive off: ours `keepalive: -1` (sends
// Connection: close), fetch a pool that keeps no idle connection, node an
// Agent without keepAlive, undici `pipelining: 0`.
async function makeGet(
  peer: string,
  url: string,
  ca: string | undefined,
  keepAlive: boolean,
): Promise<[Get, () => void]> {
  if (peer === "ours") {
    const client = new HttpClient();
    const caCerts = ca === undefined ? undefined : [ca];
    const keepalive = keepAlive ? undefined : -1;
    return [async () => {
      const r = await client.request({ url, as: "bytes", caCerts, keepalive });
      if (r.error) throw r.error;
    }, () => client.close()];
  }
  if (peer === "fetch" || peer === "fetch-h1") {
    const client = Deno.createHttpClient({
      caCerts: ca === undefined ? undefined : [ca],
      http2: peer === "fetch",
      poolMaxIdlePerHost: keepAlive ? undefined : 0,
    });
    return [async () => {
      const r = await fetch(url, { client });
      await r.arrayBuffer();
    }, () => client.close()];
  }
  if (peer === "node") {
    const mod = url.startsWith("https:")
      ? await import("node:https")
      : await import("node:http");
    const agent = new mod.Agent({ keepAlive, maxSockets: 64, ca });
    return [() =>
      new Promise<void>((resolve, reject) => {
        mod.get(url, { agent, ca }, (res) => {
          res.on("data", () => {});
          res.on("end", () => resolve());
          res.on("error", reject);
        }).on("error", reject);
      }), () => agent.destroy()];
  }
  const undici = await import("npm:undici@7");
  const pool = new undici.Agent({
    connections: 64,
    pipelining: keepAlive ? 1 : 0,
    connect: ca === undefined ? undefined : { ca },
  });
  return [async () => {
    const r = await undici.request(url, { dispatcher: pool });
    await r.body.arrayBuffer();
  }, () => pool.close()];
}

async function worker(): Promise<void> {
  const peer = arg("worker", "ours");
  const url = arg("url", "");
  const conc = Number(arg("conc", "1"));
  const keepAlive = arg("keep-alive", "true") === "true";
  const duration = Number(arg("duration", "3")) * 1000;
  const caFile = arg("ca", "");
  const ca = caFile === "" ? undefined : await Deno.readTextFile(caFile);
  const [get, close] = await makeGet(peer, url, ca, keepAlive);
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

/** The server process: "/" answers like bench/servers/deno_serve.ts and
 * notes the client's port; "/conns" answers how many distinct client ports
 * (connections) it has seen since the last "/conns", and forgets them. */
async function serve(): Promise<void> {
  const certFile = arg("cert", "");
  const tls = certFile === "" ? {} : {
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(arg("key", "")),
  };
  const ports = new Set<number>();
  const TEXT = { "content-type": "text/plain" };
  const server = Deno.serve({
    port: 0,
    hostname: "127.0.0.1",
    ...tls,
    onListen: ({ port }): void => console.log(`LISTENING ${port}`),
  }, (req, info) => {
    if (req.url.endsWith("/conns")) {
      const n = ports.size;
      ports.clear();
      return new Response(String(n), { headers: TEXT });
    }
    ports.add(info.remoteAddr.port);
    return new Response("Hello, World!", { headers: TEXT });
  });
  const stop = async (): Promise<void> => {
    await server.shutdown();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
}

interface Server {
  url: string;
  /** Connections seen since the last call. */
  conns(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(
  scheme: string,
  certs: { dir: string; ca: string } | null,
): Promise<Server> {
  const tlsArgs = certs === null
    ? []
    : [`--cert=${certs.dir}/server.pem`, `--key=${certs.dir}/server.key`];
  const child = new Deno.Command("taskset", {
    args: [
      "-c",
      "0",
      Deno.execPath(),
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      `--serve=${scheme}`,
      ...tlsArgs,
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
  const url = `${scheme}://127.0.0.1:${port}/`;
  const client = Deno.createHttpClient({
    caCerts: certs === null ? undefined : [certs.ca],
  });
  return {
    url,
    async conns(): Promise<number> {
      const r = await fetch(url + "conns", { client });
      return Number(await r.text());
    },
    async stop(): Promise<void> {
      client.close();
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

async function runOne(
  peer: string,
  url: string,
  caFile: string | null,
  scenario: { conc: number; keepAlive: boolean },
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
      `--conc=${scenario.conc}`,
      `--keep-alive=${scenario.keepAlive}`,
      `--duration=${duration}`,
      ...(caFile === null ? [] : [`--ca=${caFile}`]),
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
  const scenarios = arg("scenarios", Object.keys(SCENARIOS).join(","))
    .split(",");
  for (const s of scenarios) {
    if (!(s in SCENARIOS)) throw new Error(`unknown scenario: ${s}`);
  }
  const schemes = arg("schemes", SCHEMES.join(",")).split(",");
  for (const s of schemes) {
    if (!SCHEMES.includes(s)) throw new Error(`unknown scheme: ${s}`);
  }
  const certs = schemes.includes("https") ? await makeCerts() : null;
  // results[scheme][scenario][peer]: req/s and connections of each round.
  const results: Record<
    string,
    Record<string, Record<string, { rps: number[]; conns: number[] }>>
  > = {};
  try {
    for (const scheme of schemes) {
      const tls = scheme === "https" ? certs : null;
      const caFile = tls === null ? null : `${tls.dir}/ca.pem`;
      const server = await startServer(scheme, tls);
      results[scheme] = {};
      try {
        for (const sc of scenarios) {
          const res: Record<string, { rps: number[]; conns: number[] }> =
            results[scheme][sc] = {};
          for (let round = 0; round < rounds; round++) {
            const order = round % 2 === 0 ? peers : [...peers].reverse();
            for (const peer of order) {
              await server.conns(); // forget earlier connections
              const rps = await runOne(
                peer,
                server.url,
                caFile,
                SCENARIOS[sc],
                duration,
              );
              const conns = await server.conns();
              const r = res[peer] ??= { rps: [], conns: [] };
              r.rps.push(rps);
              r.conns.push(conns);
              console.error(
                `${scheme} ${sc} round ${
                  round + 1
                } ${peer}: ${rps} req/s, ${conns} conns`,
              );
            }
          }
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    if (certs !== null) await Deno.remove(certs.dir, { recursive: true });
  }
  console.log(
    "\n| scheme | scenario | client | median req/s | rounds | conns | vs fetch |",
  );
  console.log("| --- | --- | --- | ---: | --- | ---: | ---: |");
  for (const scheme of schemes) {
    for (const sc of scenarios) {
      const res = results[scheme][sc];
      const base = res["fetch"] ? median(res["fetch"].rps) : NaN;
      for (const peer of peers) {
        const m = median(res[peer].rps);
        console.log(
          `| ${scheme} | ${sc} | ${peer} | ${m} | ${
            res[peer].rps.join(", ")
          } | ${median(res[peer].conns)} | ${(m / base).toFixed(2)}x |`,
        );
      }
    }
  }
}

if (Deno.args.some((a) => a.startsWith("--worker="))) await worker();
else if (Deno.args.some((a) => a.startsWith("--serve="))) await serve();
else await main();
