// Floor peer for bench/load.ts: what a Deno server costs when it does no
// HTTP work at all. Each connection reads into one reused buffer and answers
// every read with the same pre-encoded `GET /` response; nothing is parsed.
// So it is only right for one request per read: load.ts runs it on the plain
// `GET /` scenarios and not on pipelining, /async, /big or /echo.
// With SLEEP_MS set, every reply waits for a timer of that many ms first (the
// /async handler's timer, without the server): bench/tenured.ts --async.
// Protocol: see ours.ts.

const port = Number(Deno.env.get("PORT") ?? "0");
const sleepMs = Deno.env.get("SLEEP_MS");
const bodyBytes = Deno.env.get("BODY");
const body = bodyBytes === undefined
  ? "Hello, World!"
  : "x".repeat(Number(bodyBytes));

// A fixed Date keeps the head as long as the other peers' heads.
const head = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" +
  `Content-Length: ${body.length}\r\nDate: ${new Date().toUTCString()}\r\n`;
const encoder = new TextEncoder();
const KEEP_ALIVE = encoder.encode(`${head}\r\n${body}`);
const CLOSE = encoder.encode(`${head}Connection: close\r\n\r\n${body}`);

// "Connection: close" in either spelling of its first letter is what wrk
// and curl send; a cheap byte search, not header parsing.
const NEEDLE = encoder.encode("onnection: close");

function asksToClose(buf: Uint8Array, n: number): boolean {
  const last = n - NEEDLE.length;
  for (let i = 1; i <= last; i++) {
    if (buf[i] !== NEEDLE[0]) continue;
    let j = 1;
    while (j < NEEDLE.length && buf[i + j] === NEEDLE[j]) j++;
    if (j === NEEDLE.length && (buf[i - 1] | 0x20) === 0x63) return true;
  }
  return false;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await conn.write(bytes.subarray(done));
}

async function serve(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      if (sleepMs !== undefined) {
        await new Promise((r) => setTimeout(r, Number(sleepMs)));
      }
      const close = asksToClose(buf, n);
      await writeAll(conn, close ? CLOSE : KEEP_ALIVE);
      if (close) break;
    }
  } catch {
    // Reset by the client, as wrk does at the end of a run.
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

const listener = Deno.listen({ hostname: "127.0.0.1", port });
console.log(`LISTENING ${listener.addr.port}`);

Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
Deno.addSignalListener("SIGINT", () => Deno.exit(0));

for await (const conn of listener) serve(conn);
