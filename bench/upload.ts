// Upload benchmark: 4 concurrent 50 MB POSTs (Content-Length, curl
// streaming a temp file) that each server streams into a file; reports the
// throughput, how much the server's memory grew, and its CPU time.
//
//   deno run -A bench/upload.ts [--peers=deno,node,fetch-ours,ours]
//     [--rounds=3] [--size=50] [--uploads=4] [--out=file.json] [--note=text]
//
// Also run by `deno task load --scenarios=upload` (or `all`). Each answer is
// the size of the file the server wrote, and a run where one differs from
// the size sent fails, so no server wins by dropping bytes. A server that
// reads a whole body into memory before writing it shows that as memory
// growth of about uploads x size.
//
// Fairness as in load.ts: a fresh server per run pinned to CPU 0, the curl
// clients on CPU 1, peer order alternating per round, a warm-up of small
// uploads before each measured run. Needs curl and taskset; node for the
// `node` peer.

import {
  clockTicks,
  cpuTicks,
  machineLine,
  median,
  memoryOf,
  parseFlags,
  resetPeakRss,
  type Server,
  startServer,
  tryRun,
} from "./_servers.ts";

interface UploadPeer {
  label: string;
  file: string;
  runtime: "deno" | "node";
}

/** Named like the load.ts peers with the same server underneath. */
export const UPLOAD_PEERS: Record<string, UploadPeer> = {
  ours: {
    label: "runServer, streamBody",
    file: "upload_ours.ts",
    runtime: "deno",
  },
  deno: {
    label: "Deno.serve, body.pipeTo(file)",
    file: "upload_deno.ts",
    runtime: "deno",
  },
  "fetch-ours": {
    label: "serve(), body.pipeTo(file)",
    file: "upload_fetch_ours.ts",
    runtime: "deno",
  },
  node: {
    label: "node:http, req.pipe(file)",
    file: "upload_node.mjs",
    runtime: "node",
  },
};

/** What runUpload needs; the rest has defaults. */
export interface UploadOptions {
  /** Keys of UPLOAD_PEERS. */
  peers: string[];
  rounds: number;
  /** MB (10^6 bytes) per upload. Default 50. */
  size?: number;
  /** Concurrent uploads per run. Default 4. */
  uploads?: number;
  /** Results file; default bench/results/upload-<time>.json. */
  out?: string;
  note?: string;
  /** The command line stored with the results; default this script's. */
  command?: string;
}

interface UploadRun {
  peer: string;
  round: number;
  /** Wall time from starting the clients to the last answer. */
  seconds: number;
  /** Bytes sent by all clients / seconds, in MB/s (10^6 bytes). */
  mbps: number;
  /** VmRSS of the server after the warm-up, before the run. */
  idleRss: number;
  /** VmHWM after the run: the peak RSS during the run when the reset of
   * the peak worked (`peakReset`), else the peak since the server started. */
  peakRss: number;
  peakReset: boolean;
  /** peakRss - idleRss in MB. */
  growth: number;
  /** Server CPU (user + system) during the run, in ms. Clock ticks are
   * 10 ms, so a run of a fraction of a second gives a coarse figure. */
  cpuMs: number;
  failure?: string;
}

interface UploadSummary {
  peer: string;
  label: string;
  rounds: number;
  mbps: number;
  growth: number;
  cpuMs: number;
}

const MB = 1e6;
const KIB = 1024;
/** Size of each warm-up upload, to compile the hot paths before the run. */
const WARMUP_BYTES = 4 * MB;

/** Files the clients send: the measured one and the warm-up one. */
interface Sources {
  dir: string;
  big: string;
  warm: string;
}

/** Writes `bytes` of random data, one 64 KiB block repeated, so a 50 MB
 * file costs no 50 MB of memory here. */
async function writeSource(path: string, bytes: number): Promise<void> {
  const block = crypto.getRandomValues(new Uint8Array(64 * KIB));
  using file = await Deno.open(path, { write: true, createNew: true });
  for (let left = bytes; left > 0; left -= block.length) {
    let chunk = block.subarray(0, Math.min(left, block.length));
    while (chunk.length > 0) chunk = chunk.subarray(await file.write(chunk));
  }
}

async function makeSources(size: number): Promise<Sources> {
  const dir = await Deno.makeTempDir({ prefix: "bench-upload-src-" });
  const sources = { dir, big: `${dir}/big`, warm: `${dir}/warm` };
  await writeSource(sources.big, size);
  await writeSource(sources.warm, WARMUP_BYTES);
  return sources;
}

/** One POST of the file with curl on CPU 1; resolves with the answer.
 * `-T` streams the file with a Content-Length; `Expect:` turns off curl's
 * 100-continue wait, which would add up to a second to each upload. */
async function curlUpload(port: number, file: string): Promise<string> {
  const args = ["-c", "1", "curl", "-sS", "--fail", "-X", "POST", "-T", file];
  args.push("-H", "Expect:", "-H", "Content-Type: application/octet-stream");
  args.push(`http://127.0.0.1:${port}/upload`);
  const out = await new Deno.Command("taskset", { args }).output();
  const text = new TextDecoder();
  if (!out.success) throw new Error(`curl: ${text.decode(out.stderr).trim()}`);
  return text.decode(out.stdout).trim();
}

/** `count` concurrent uploads of the file; throws when an answer is not
 * the file's size. */
async function uploadAll(
  port: number,
  file: string,
  count: number,
): Promise<void> {
  const { size } = await Deno.stat(file);
  const answers = await Promise.all(
    Array.from({ length: count }, () => curlUpload(port, file)),
  );
  const wrong = answers.find((a) => a !== String(size));
  if (wrong !== undefined) {
    throw new Error(`server stored ${wrong} bytes of ${size}`);
  }
}

function argvOf(peer: UploadPeer, node: string | null): string[] {
  const file = new URL(`servers/${peer.file}`, import.meta.url).pathname;
  if (peer.runtime === "node") {
    if (!node) throw new Error("node is not on PATH");
    return [node, file];
  }
  return [Deno.execPath(), "run", "-A", file];
}

async function startPeer(argv: string[], dir: string): Promise<Server> {
  return await startServer({ argv, env: { PORT: "0", UPLOAD_DIR: dir } });
}

/** One upload of the warm-up file, compared byte for byte with what the
 * server wrote, so a peer that mangles bodies is dropped. */
async function verify(argv: string[], sources: Sources): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-upload-" });
  const server = await startPeer(argv, dir);
  try {
    await uploadAll(server.port, sources.warm, 1);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    const got = await Deno.readFile(`${dir}/${names[0]}`);
    const want = await Deno.readFile(sources.warm);
    if (names.length !== 1 || !sameBytes(got, want)) {
      throw new Error("the file on disk differs from the upload");
    }
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A fresh server and upload dir, a warm-up, then the measured uploads
 * with memory and CPU read around them. A failure becomes a run without
 * figures. */
async function measure(
  name: string,
  argv: string[],
  round: number,
  sources: Sources,
  uploads: number,
  ticksPerSecond: number,
): Promise<UploadRun> {
  const dir = await Deno.makeTempDir({ prefix: "bench-upload-" });
  const base = { peer: name, round };
  let server: Server | undefined;
  try {
    server = await startPeer(argv, dir);
    const { port, pid } = server;
    await uploadAll(port, sources.warm, uploads);
    const idleRss = await memoryOf(pid, "VmRSS");
    const peakReset = await resetPeakRss(pid);
    const ticks = await cpuTicks(pid);
    const start = performance.now();
    await uploadAll(port, sources.big, uploads);
    const seconds = (performance.now() - start) / 1000;
    const cpuMs = (await cpuTicks(pid) - ticks) / ticksPerSecond * 1000;
    const peakRss = await memoryOf(pid, "VmHWM");
    const { size } = await Deno.stat(sources.big);
    return {
      ...base,
      seconds,
      mbps: size * uploads / MB / seconds,
      idleRss,
      peakRss,
      peakReset,
      growth: (peakRss - idleRss) / MB,
      cpuMs,
    };
  } catch (err) {
    const failure = (err as Error).message;
    console.error(`  failed: ${failure}`);
    return { ...base, ...noFigures(), failure };
  } finally {
    await server?.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

function noFigures(): Omit<UploadRun, "peer" | "round"> {
  return {
    seconds: NaN,
    mbps: NaN,
    idleRss: NaN,
    peakRss: NaN,
    peakReset: false,
    growth: NaN,
    cpuMs: NaN,
  };
}

function summarize(runs: UploadRun[], peers: string[]): UploadSummary[] {
  return peers.map((peer) => {
    const mine = runs.filter((r) => r.peer === peer);
    return {
      peer,
      label: UPLOAD_PEERS[peer].label,
      rounds: mine.filter((r) => !r.failure).length,
      mbps: median(mine.map((r) => r.mbps)),
      growth: median(mine.map((r) => r.growth)),
      cpuMs: median(mine.map((r) => r.cpuMs)),
    };
  });
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

function summaryTable(rows: UploadSummary[], rounds: number): string {
  return [
    "| peer | median MB/s | peak RSS growth MB | server CPU ms | rounds |",
    "|---|--:|--:|--:|--:|",
    ...rows.map((r) =>
      `| ${r.label} | ${fmt(r.mbps)} | ${fmt(r.growth)} | ${
        fmt(r.cpuMs, 0)
      } | ${r.rounds}/${rounds} |`
    ),
  ].join("\n");
}

function runsTable(runs: UploadRun[]): string {
  return [
    "| peer | round | s | MB/s | idle RSS MB | peak RSS MB | growth MB | CPU ms | failure |",
    "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ...runs.map((r) =>
      `| ${UPLOAD_PEERS[r.peer].label} | ${r.round} | ${fmt(r.seconds, 2)} | ${
        fmt(r.mbps)
      } | ${fmt(r.idleRss / MB)} | ${fmt(r.peakRss / MB)} | ${
        fmt(r.growth)
      } | ${fmt(r.cpuMs, 0)} | ${r.failure?.replaceAll("|", "/") ?? ""} |`
    ),
  ].join("\n");
}

/** Peers whose runtime exists and whose upload lands intact, with their
 * command lines; the others are reported and left out. */
async function usablePeers(
  names: string[],
  sources: Sources,
  skipped: { peer: string; reason: string }[],
): Promise<Map<string, string[]>> {
  const node = await tryRun("node", ["--version"]) !== null ? "node" : null;
  const usable = new Map<string, string[]>();
  for (const name of names) {
    try {
      const argv = argvOf(UPLOAD_PEERS[name], node);
      await verify(argv, sources);
      usable.set(name, argv);
    } catch (err) {
      const reason = (err as Error).message;
      console.error(`upload: skipping ${UPLOAD_PEERS[name].label}: ${reason}`);
      skipped.push({ peer: name, reason });
    }
  }
  return usable;
}

async function runRounds(
  usable: Map<string, string[]>,
  opts: UploadOptions,
  sources: Sources,
): Promise<UploadRun[]> {
  const uploads = opts.uploads ?? 4;
  const ticksPerSecond = await clockTicks();
  const names = [...usable.keys()];
  const total = names.length * opts.rounds;
  const runs: UploadRun[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 ? names : [...names].reverse();
    for (const name of order) {
      const argv = usable.get(name)!;
      const run = await measure(
        name,
        argv,
        round,
        sources,
        uploads,
        ticksPerSecond,
      );
      runs.push(run);
      console.error(
        `[${runs.length}/${total}] upload round ${round} ${
          UPLOAD_PEERS[name].label
        }: ${fmt(run.mbps)} MB/s, RSS +${fmt(run.growth)} MB, CPU ${
          fmt(run.cpuMs, 0)
        } ms`,
      );
    }
  }
  return runs;
}

/** Verifies the peers, runs the rounds, prints the tables and writes the
 * results file. */
export async function runUpload(opts: UploadOptions): Promise<void> {
  const size = (opts.size ?? 50) * MB;
  const uploads = opts.uploads ?? 4;
  console.error(
    `upload: ${uploads} x ${size / MB} MB per run, ${opts.rounds} rounds`,
  );
  const sources = await makeSources(size);
  const skipped: { peer: string; reason: string }[] = [];
  let runs: UploadRun[];
  let peers: string[];
  try {
    const usable = await usablePeers(opts.peers, sources, skipped);
    peers = [...usable.keys()];
    if (peers.length === 0) throw new Error("upload: no peer could run");
    runs = await runRounds(usable, opts, sources);
  } finally {
    await Deno.remove(sources.dir, { recursive: true });
  }
  const summary = summarize(runs, peers);
  const node = await tryRun("node", ["--version"]);
  const results = {
    machine: await machineLine({
      deno: Deno.version.deno,
      node: node?.replace(/^v/, "") ?? "n/a",
      curl: (await tryRun("curl", ["--version"]))?.split(" ")[1] ?? "n/a",
    }),
    command: opts.command ??
      `deno run -A bench/upload.ts ${Deno.args.join(" ")}`.trim(),
    note: opts.note ?? "",
    options: { ...opts, size: size / MB, uploads },
    skipped,
    summary,
    runs,
  };
  console.log(
    `${results.machine}\n${results.note}\n\n${
      summaryTable(summary, opts.rounds)
    }\n\n${runsTable(runs)}`,
  );
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const out = opts.out ??
    new URL(`results/upload-${stamp}.json`, import.meta.url).pathname;
  const dir = out.includes("/") ? out.replace(/\/[^/]*$/, "") : ".";
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify(results, null, 2));
  console.log(`\nraw figures: ${out}`);
}

const HELP = `deno run -A bench/upload.ts [flags]
  --peers=a,b       ${Object.keys(UPLOAD_PEERS).join(",")} (default: all)
  --rounds=N        repetitions; medians are reported (default 3)
  --size=MB         MB (10^6 bytes) per upload (default 50)
  --uploads=N       concurrent uploads per run (default 4)
  --out=file.json   default bench/results/upload-<time>.json
  --note=text       stored with the results
peers:
${
  Object.entries(UPLOAD_PEERS).map(([k, p]) => `  ${k.padEnd(11)}${p.label}`)
    .join("\n")
}`;

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args);
  if (flags.help) return console.log(HELP);
  const peers = (flags.peers ?? Object.keys(UPLOAD_PEERS).join(","))
    .split(",").map((p) => p.trim());
  const unknown = peers.find((p) => !(p in UPLOAD_PEERS));
  if (unknown) throw new Error(`unknown peer: ${unknown}`);
  const whole = (s: string | undefined, fallback: number): number => {
    const n = Number(s ?? fallback);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bad number: ${s}`);
    return n;
  };
  await runUpload({
    peers,
    rounds: whole(flags.rounds, 3),
    size: whole(flags.size, 50),
    uploads: whole(flags.uploads, 4),
    out: flags.out,
    note: flags.note,
  });
}

if (import.meta.main) await main();
