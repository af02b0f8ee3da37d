// Memory per idle connection: opens N keep-alive connections (each sends one
// request first, then stays idle) and N WebSockets (each echoes one message
// first), reads the server's VmRSS before and after, then checks every
// connection is still served by sending one more request / message on each.
//
//   deno run -A bench/many_conns.ts [--http=10000,20000] [--ws=5000]
//     [--ws-deflate=true,false] [--compare=raw,hold,deno-serve] [--addrs=8]
//     [--clients=3] [--settle=last-resort|full]
//
// --compare adds rows for the first --http count served by a bare
// Deno.listen loop (one pending read per connection: the floor on Deno), by
// Deno.serve, and (`hold`) by sockets kept open with no read pending, to tell
// our cost from the runtime's.
//
// The server and the clients run as subprocesses under `bash -c "ulimit -n
// <hard limit> && exec deno run ..."` (Deno cannot call setrlimit), the
// server with --expose-gc so both readings follow a garbage collection. By
// default (--settle=last-resort) it is V8's memory-reducing one, which also
// gives back the young generation that grew while thousands of connections
// opened: V8's memory reducer does the same by itself to a server left idle
// for some seconds (measured: 20 s idle, then a plain collection, gave the
// same figure within 1 KiB per connection), so the reading is what idle
// connections keep. --settle=full does a plain full collection right after
// the burst, which keeps the grown young generation (about 4 KiB per
// connection more at 5,000). A count above
// what the fd limit allows is lowered to fit, and the table says so. The
// server binds 0.0.0.0 and the clients connect to 127.0.0.1..127.0.0.<addrs>
// in turn (all loopback), which multiplies the ephemeral ports available.
//
// Roles (used by the script itself): --role=server --kind=http|ws|raw|hold|deno-serve
// [--deflate=false] [--settle=full]; --role=client --kind=http|ws --port=P --count=N
// --addrs=K [--deflate=false].

import { asChannel, runServer, websocket } from "../mod.ts";
import type { Channel, ClientChannel, RingRequest } from "../mod.ts";
import { Proc, sleep } from "../tests/fixtures/fleet_process.ts";
import v8 from "node:v8";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SELF = new URL(import.meta.url).pathname;
/** Connections opened at once by one client process. */
const BATCH = 256;

function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const arg of args) {
    const m = arg.match(/^--([\w-]+)(?:=(.*))?$/);
    if (!m) throw new Error(`bad flag ${arg} (expected --name=value)`);
    flags[m[1]] = m[2] ?? "true";
  }
  return flags;
}

// ---------------------------------------------------------------- server

// The floor under any server on Deno: a bare accept loop whose connections
// each keep one pending read into their own 256-byte buffer. With `hold`,
// a connection answers its first request and is then kept with no read
// pending (never served again): what an open socket costs by itself.
function serveRaw(hold = false): { port: number; stop(): Promise<void> } {
  const listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const held = new Set<Deno.Conn>();
  const serveConn = async (conn: Deno.Conn): Promise<void> => {
    const buf = new Uint8Array(256);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        const line = decoder.decode(buf.subarray(0, n));
        const path = line.slice(4, line.indexOf(" ", 4));
        const body = `ok ${path}`;
        await writeAll(
          conn,
          encoder.encode(
            `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
          ),
        );
        if (hold) {
          held.add(conn);
          return;
        }
      }
    } catch {
      // peer gone
    } finally {
      try {
        if (!held.has(conn)) conn.close();
      } catch {
        // closed
      }
    }
  };
  (async () => {
    for await (const conn of listener) serveConn(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    stop: () => {
      for (const conn of held) conn.close();
      return Promise.resolve(listener.close());
    },
  };
}

function serveDeno(): { port: number; stop(): Promise<void> } {
  const server = Deno.serve(
    { hostname: "0.0.0.0", port: 0, onListen() {} },
    (req) => new Response(`ok ${new URL(req.url).pathname}`),
  );
  return { port: server.addr.port, stop: () => server.shutdown() };
}

function serve(kind: string, deflate: boolean, settle: string): void {
  let requests = 0;
  const server = kind === "raw" || kind === "hold"
    ? serveRaw(kind === "hold")
    : kind === "deno-serve"
    ? serveDeno()
    : runServer((req: RingRequest) => {
      requests++;
      if (kind === "ws" && req.websocket) {
        return asChannel(req, {
          onReceive: (ch: Channel, m) => ch.send(m),
        }, { deflate });
      }
      return { body: `ok ${req.uri}` };
    }, {
      ip: "0.0.0.0",
      port: 0,
      idleTimeout: 3_600_000,
      maxConnections: 1_000_000,
    });
  console.log(`listening ${server.port} ${Deno.pid}`);
  const gc = (globalThis as { gc?: (o?: Record<string, string>) => void }).gc;
  const collect = (): void =>
    settle === "full"
      ? gc?.()
      : gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
  (async () => {
    let text = "";
    for await (const chunk of Deno.stdin.readable) {
      text += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = text.indexOf("\n")) >= 0) {
        const cmd = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (cmd === "mem") {
          collect();
          await sleep(100);
          collect();
          const m = Deno.memoryUsage();
          console.log(
            `mem ${
              JSON.stringify({
                heapUsed: m.heapUsed,
                heapTotal: m.heapTotal,
                external: m.external,
                requests,
                spaces: Object.fromEntries(
                  v8.getHeapSpaceStatistics().filter((x) => x.space_size > 0)
                    .map((x) => [x.space_name, x.space_size]),
                ),
              })
            }`,
          );
        }
      }
    }
    await server.stop();
  })();
}

// ---------------------------------------------------------------- clients

function request(path: string): Uint8Array {
  return encoder.encode(`GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`);
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

// Reads one Content-Length-framed response; returns its status and body.
async function readResponse(
  conn: Deno.Conn,
  buf: Uint8Array,
): Promise<{ status: number; body: string } | null> {
  let n = 0;
  for (;;) {
    const r = await conn.read(buf.subarray(n));
    if (r === null) return null;
    n += r;
    const text = decoder.decode(buf.subarray(0, n));
    const end = text.indexOf("\r\n\r\n");
    if (end < 0) continue;
    const cl = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
    const len = cl ? Number(cl[1]) : 0;
    if (n < end + 4 + len) continue;
    return {
      status: Number(text.slice(9, 12)),
      body: text.slice(end + 4, end + 4 + len),
    };
  }
}

async function exchange(conn: Deno.Conn, path: string): Promise<boolean> {
  await writeAll(conn, request(path));
  const res = await readResponse(conn, new Uint8Array(1024));
  return res !== null && res.status === 200 && res.body === `ok ${path}`;
}

async function inBatches(
  count: number,
  fn: (i: number) => Promise<boolean>,
): Promise<number> {
  let ok = 0;
  for (let i = 0; i < count; i += BATCH) {
    const batch = [];
    for (let k = i; k < Math.min(count, i + BATCH); k++) {
      batch.push(fn(k).catch(() => false));
    }
    for (const r of await Promise.all(batch)) if (r) ok++;
  }
  return ok;
}

interface Held {
  check(i: number): Promise<boolean>;
  close(): Promise<void>;
}

async function holdHttp(
  port: number,
  count: number,
  addrs: number,
  offset: number,
): Promise<{ ok: number; held: Held }> {
  const conns: Deno.TcpConn[] = [];
  const ok = await inBatches(count, async (i) => {
    const conn = await Deno.connect({
      hostname: `127.0.0.${1 + ((offset + i) % addrs)}`,
      port,
    });
    conns[i] = conn;
    return await exchange(conn, `/first/${i}`);
  });
  return {
    ok,
    held: {
      check: (i) =>
        conns[i] ? exchange(conns[i], `/again/${i}`) : Promise.resolve(false),
      close: () => {
        for (const c of conns) {
          try {
            c?.close();
          } catch {
            // gone already
          }
        }
        return Promise.resolve();
      },
    },
  };
}

async function holdWs(
  port: number,
  count: number,
  addrs: number,
  offset: number,
  deflate: boolean,
): Promise<{ ok: number; held: Held }> {
  const chans: ClientChannel[] = [];
  const waiting = new Map<Channel, (m: string | Uint8Array) => void>();
  const echo = (ch: ClientChannel, msg: string): Promise<boolean> => {
    const got = new Promise<string | Uint8Array>((resolve, reject) => {
      waiting.set(ch, resolve);
      setTimeout(() => reject(new Error("no echo")), 30_000);
    });
    ch.send(msg);
    return got.then((m) => m === msg);
  };
  const ok = await inBatches(count, async (i) => {
    const ch = await websocket(
      `ws://127.0.0.${1 + ((offset + i) % addrs)}:${port}/ws`,
      {
        onReceive: (c, m) => {
          const f = waiting.get(c);
          waiting.delete(c);
          f?.(m);
        },
      },
      { deflate },
    );
    chans[i] = ch;
    return await echo(ch, `first ${i}`);
  });
  return {
    ok,
    held: {
      check: (i) =>
        chans[i] ? echo(chans[i], `again ${i}`) : Promise.resolve(false),
      close: async () => {
        for (const ch of chans) ch?.close();
        await Promise.all(chans.map((ch) => ch?.closed));
      },
    },
  };
}

async function client(flags: Record<string, string>): Promise<void> {
  const port = Number(flags.port);
  const count = Number(flags.count);
  const addrs = Number(flags.addrs ?? 8);
  const offset = Number(flags.offset ?? 0);
  const t0 = performance.now();
  const { ok, held } = flags.kind === "ws"
    ? await holdWs(port, count, addrs, offset, flags.deflate !== "false")
    : await holdHttp(port, count, addrs, offset);
  console.log(
    `open ok=${ok} of=${count} ms=${(performance.now() - t0).toFixed(0)}`,
  );
  let text = "";
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes("check\n")) {
      text = text.replace("check\n", "");
      const t1 = performance.now();
      const good = await inBatches(count, (i) => held.check(i));
      console.log(
        `checked ok=${good} of=${count} ms=${
          (performance.now() - t1).toFixed(0)
        }`,
      );
    }
    if (text.includes("close\n")) break;
  }
  await held.close();
  Deno.exit(0);
}

// ---------------------------------------------------------------- driver

function hardLimit(): number {
  const out = new Deno.Command("bash", { args: ["-c", "ulimit -Hn"] })
    .outputSync();
  const v = decoder.decode(out.stdout).trim();
  return v === "unlimited" ? 1 << 20 : Number(v);
}

function limited(args: string[], fds: number, stdin = true): Proc {
  const quoted = args.map((a) => `'${a}'`).join(" ");
  return Proc.spawn("bash", [
    "-c",
    `ulimit -n ${fds} && exec '${Deno.execPath()}' ${quoted}`,
  ], { stdin });
}

function vmRss(pid: number): number {
  const s = Deno.readTextFileSync(`/proc/${pid}/status`);
  const m = /VmRSS:\s+(\d+) kB/.exec(s);
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

interface Mem {
  rssKiB: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Committed bytes per V8 heap space. */
  spaces: Record<string, number>;
}

async function memOf(server: Proc, pid: number): Promise<Mem> {
  const seen = server.out.length;
  await server.send("mem");
  const line = await server.waitFor(/^mem (.*)$/, 30_000, "stdout", seen);
  const m = JSON.parse(line[1]);
  return {
    rssKiB: vmRss(pid),
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    spaces: m.spaces,
  };
}

interface Row {
  what: string;
  asked: number;
  conns: number;
  opened: number;
  openMs: number;
  before: Mem;
  after: Mem;
  served: number;
  checkMs: number;
}

async function warmUp(kind: string, port: number, deflate: boolean) {
  // JIT the paths first so the "before" reading is not a cold process.
  const { held } = kind === "ws"
    ? await holdWs(port, 32, 1, 0, deflate)
    : await holdHttp(port, 32, 1, 0);
  const rounds = kind === "hold" ? 0 : 50;
  for (let r = 0; r < rounds; r++) await inBatches(32, (i) => held.check(i));
  await held.close();
}

type Kind = "http" | "ws" | "raw" | "hold" | "deno-serve";

async function phase(
  kind: Kind,
  asked: number,
  fdLimit: number,
  o: { addrs: number; clients: number; deflate: boolean; settle: string },
): Promise<Row> {
  // The server needs one fd per connection plus its own handful.
  const count = Math.min(asked, fdLimit - 200);
  const server = limited([
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    SELF,
    "--role=server",
    `--kind=${kind}`,
    `--deflate=${o.deflate}`,
    `--settle=${o.settle}`,
  ], fdLimit);
  const clients: Proc[] = [];
  try {
    const m = await server.waitFor(/^listening (\d+) (\d+)$/, 30_000);
    const port = Number(m[1]);
    const pid = Number(m[2]);
    if (pid !== server.pid) throw new Error("bash did not exec the server");
    await warmUp(kind, port, o.deflate);
    await sleep(500);
    const before = await memOf(server, pid);
    const per = Math.ceil(count / o.clients);
    const t0 = performance.now();
    for (let c = 0; c < o.clients; c++) {
      const n = Math.min(per, count - c * per);
      if (n <= 0) break;
      clients.push(limited([
        "run",
        "-A",
        SELF,
        "--role=client",
        `--kind=${kind}`,
        `--port=${port}`,
        `--count=${n}`,
        `--addrs=${o.addrs}`,
        `--offset=${c}`,
        `--deflate=${o.deflate}`,
      ], fdLimit));
    }
    let opened = 0;
    for (const c of clients) {
      const r = await c.waitFor(/^open ok=(\d+) of=(\d+)/, 300_000);
      opened += Number(r[1]);
    }
    const openMs = performance.now() - t0;
    await sleep(1000);
    const after = await memOf(server, pid);
    const t1 = performance.now();
    let served = 0;
    // Held sockets have no read pending, so they would never answer.
    if (kind !== "hold") {
      for (const c of clients) await c.send("check");
      for (const c of clients) {
        served += Number((await c.waitFor(/^checked ok=(\d+)/, 300_000))[1]);
      }
    }
    const checkMs = performance.now() - t1;
    for (const c of clients) await c.send("close");
    const what = kind === "http"
      ? "idle keep-alive"
      : kind === "raw"
      ? "idle keep-alive, bare Deno.listen loop"
      : kind === "hold"
      ? "open socket, no read pending (not served again)"
      : kind === "deno-serve"
      ? "idle keep-alive, Deno.serve"
      : `idle WebSocket (deflate ${o.deflate ? "on" : "off"})`;
    return {
      what,
      asked,
      conns: count,
      opened,
      openMs,
      before,
      after,
      served,
      checkMs,
    };
  } finally {
    for (const c of clients) await c.close(20_000);
    server.kill("SIGTERM");
    await server.close(5000);
  }
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

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args);
  if (flags.role === "server") {
    return serve(
      flags.kind ?? "http",
      flags.deflate !== "false",
      flags.settle ?? "last-resort",
    );
  }
  if (flags.role === "client") return client(flags);
  const fdLimit = hardLimit();
  const o = {
    addrs: Number(flags.addrs ?? 8),
    clients: Number(flags.clients ?? 3),
    settle: flags.settle ?? "last-resort",
  };
  const http = (flags.http ?? "10000,20000").split(",").filter((x) => x)
    .map(Number);
  const ws = (flags.ws ?? "5000").split(",").filter((x) => x).map(Number);
  const compare = (flags.compare ?? "raw,hold,deno-serve").split(",").filter((
    x,
  ) => x) as Kind[];
  const deflates = (flags["ws-deflate"] ?? "true,false").split(",").map((x) =>
    x === "true"
  );
  console.log(
    `fd hard limit ${fdLimit}; server on 0.0.0.0, clients to 127.0.0.1-${o.addrs} ` +
      `from ${o.clients} processes; Deno ${Deno.version.deno}; ` +
      `readings after a ${o.settle} garbage collection`,
  );
  const rows: Row[] = [];
  for (const n of http) {
    rows.push(await phase("http", n, fdLimit, { ...o, deflate: false }));
    console.log(JSON.stringify(rows.at(-1)));
  }
  for (const kind of compare) {
    rows.push(await phase(kind, http[0], fdLimit, { ...o, deflate: false }));
    console.log(JSON.stringify(rows.at(-1)));
  }
  for (const n of ws) {
    for (const deflate of deflates) {
      rows.push(await phase("ws", n, fdLimit, { ...o, deflate }));
      console.log(JSON.stringify(rows.at(-1)));
    }
  }
  const lines = [[
    "connections",
    "count",
    "opened",
    "RSS before KiB",
    "RSS after KiB",
    "KiB/conn (RSS)",
    "heap B/conn",
    "heap committed B/conn",
    "off-heap buffers B/conn",
    "still served",
    "open s",
  ]];
  for (const r of rows) {
    const n = r.opened || 1;
    lines.push([
      r.what,
      r.conns === r.asked ? String(r.conns) : `${r.conns} (asked ${r.asked})`,
      String(r.opened),
      String(r.before.rssKiB),
      String(r.after.rssKiB),
      ((r.after.rssKiB - r.before.rssKiB) / n).toFixed(2),
      ((r.after.heapUsed - r.before.heapUsed) / n).toFixed(0),
      ((r.after.heapTotal - r.before.heapTotal) / n).toFixed(0),
      ((r.after.external - r.before.external) / n).toFixed(0),
      `${r.served}/${r.conns}`,
      (r.openMs / 1000).toFixed(1),
    ]);
  }
  console.log("\n" + table(lines));
}

if (import.meta.main) await main();
