// serve() always streams request bodies: `request.body` is pulled from the
// socket as the fetch handler reads it. Real sockets: as it arrives, 100
// Continue on the first read, limits, unread bodies, clients that leave.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type HttpServer, serve, type ServeOptions } from "../adapter/serve.ts";
import type { FetchHandler } from "../adapter/convert.ts";
import { request as httpRequest } from "../mod.ts";
import { bytes, RawClient, runCommand, sleep, Tap, until } from "./_helpers.ts";

const quiet: ServeOptions = {
  port: 0,
  hostname: "127.0.0.1",
  onListen() {},
};

/** A serve() server, its port, and what reached onError. */
interface Served {
  s: HttpServer;
  port: number;
  base: string;
  errors: unknown[];
  /** Opens a raw client that is closed when the test ends. */
  connect(): Promise<RawClient>;
}

async function withServe(
  handler: FetchHandler,
  fn: (t: Served) => Promise<void>,
  options: ServeOptions = {},
): Promise<void> {
  const errors: unknown[] = [];
  const s = serve({
    ...quiet,
    onError: (err) => {
      errors.push(err);
      return new Response("Internal Server Error", { status: 500 });
    },
    ...options,
  }, handler);
  const port = s.addr.port;
  const clients: RawClient[] = [];
  try {
    await fn({
      s,
      port,
      base: `http://127.0.0.1:${port}`,
      errors,
      connect: async () => {
        const c = await RawClient.connect(port);
        clients.push(c);
        return c;
      },
    });
  } finally {
    for (const c of clients) c.close();
    await s.shutdown();
  }
}

function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
} {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Fails when `p` has not settled within `ms` (the test must not hang). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let id: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    id = setTimeout(
      () => reject(new Error(`Still waiting after ${ms} ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(id);
  }
}

/** Reproducible pseudo-random bytes (xorshift32 from `seed`). */
function pattern(n: number, seed = 1): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, n);
}

function hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function join(parts: (string | Uint8Array)[]): Uint8Array {
  const bs = parts.map((p) => typeof p === "string" ? bytes(p) : p);
  const out = new Uint8Array(bs.reduce((a, b) => a + b.length, 0));
  let off = 0;
  for (const b of bs) {
    out.set(b, off);
    off += b.length;
  }
  return out;
}

function post(path: string, extra: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: t\r\n${extra}\r\n`;
}

const GET_NEXT = "GET /next HTTP/1.1\r\nHost: t\r\n\r\n";

Deno.test("serve() hands request.body over as it arrives, before the rest is sent", async () => {
  const data = pattern(300_000, 21);
  const firstSeen = deferred<number>();
  await withServe(async (request) => {
    const r = request.body!.getReader();
    const h = createHash("sha256");
    let n = 0;
    for (;;) {
      const { done, value } = await r.read();
      if (done) break;
      if (n === 0) firstSeen.resolve(value.length);
      n += value.length;
      h.update(value);
    }
    return new Response(`${n} ${h.digest("hex")}`);
  }, async (t) => {
    const c = await t.connect();
    await c.write(join([
      post("/up", `Content-Length: ${data.length}\r\n`),
      data.subarray(0, 1000),
    ]));
    // the handler reads while most of the body is still to come
    const first = await within(firstSeen.promise, 5000, "the first chunk");
    assert.ok(first > 0 && first <= 1000, `first chunk ${first}`);
    await c.write(data.subarray(1000));
    const res = await c.readResponse();
    assert.equal(res.text, `${data.length} ${hex(data)}`);
    assert.deepEqual(t.errors, []);
  });
});

Deno.test("serve() reads a streamed upload from fetch (duplex half) with text(), arrayBuffer() and the stream", async () => {
  const data = pattern(2 * 1024 * 1024 + 5, 22);
  const seen: string[] = [];
  await withServe(async (request) => {
    const how = new URL(request.url).pathname;
    let n: number;
    if (how === "/array") n = (await request.arrayBuffer()).byteLength;
    else if (how === "/bytes") n = (await request.bytes()).length;
    else if (how === "/text") {
      n = (await request.text()).length;
    } else {
      n = 0;
      for await (const c of request.body!) n += c.length;
    }
    seen.push(`${how} ${n}`);
    return new Response(String(n));
  }, async (t) => {
    for (const how of ["/array", "/bytes", "/stream"]) {
      const body = new ReadableStream<Uint8Array>({
        start(ctrl) {
          for (let off = 0; off < data.length; off += 100_000) {
            ctrl.enqueue(data.slice(off, off + 100_000));
          }
          ctrl.close();
        },
      });
      const res = await fetch(t.base + how, {
        method: "POST",
        body,
        duplex: "half",
      } as RequestInit);
      assert.equal(await res.text(), String(data.length));
    }
    const res = await fetch(t.base + "/text", {
      method: "POST",
      body: "text ".repeat(1000),
    });
    assert.equal(await res.text(), "5000");
    assert.deepEqual(seen, [
      `/array ${data.length}`,
      `/bytes ${data.length}`,
      `/stream ${data.length}`,
      "/text 5000",
    ]);
    assert.deepEqual(t.errors, []);
  });
});

Deno.test("serve() echoes request.body back as the response body while it streams", async () => {
  const data = pattern(3 * 1024 * 1024, 23);
  await withServe((request) => new Response(request.body), async (t) => {
    const res = await httpRequest({
      method: "POST",
      url: `${t.base}/echo`,
      body: (async function* () {
        for (let off = 0; off < data.length; off += 256 * 1024) {
          yield data.slice(off, off + 256 * 1024);
        }
      })(),
      as: "bytes",
      keepalive: -1,
    });
    if (res.error) throw res.error;
    assert.equal(res.status, 200);
    const body = res.body as Uint8Array;
    assert.equal(body.length, data.length);
    assert.equal(hex(body), hex(data));
    assert.deepEqual(t.errors, []);
  });
});

Deno.test("serve() sends 100 Continue only once the handler reads request.body", async () => {
  const started = deferred();
  const release = deferred();
  await withServe(async (request) => {
    started.resolve();
    await release.promise;
    return new Response(`got ${await request.text()}`);
  }, async (t) => {
    const tap = await Tap.connect(t.port);
    try {
      await tap.write(
        post("/up", "Expect: 100-continue\r\nContent-Length: 5\r\n"),
      );
      await within(started.promise, 5000, "the handler to be called");
      await sleep(200);
      assert.equal(tap.text, "", "nothing goes out before the handler reads");
      release.resolve();
      await tap.waitFor("\r\n\r\n");
      assert.equal(tap.text, "HTTP/1.1 100 Continue\r\n\r\n");
      await tap.write("hello");
      const [, res] = await tap.waitResponses(2);
      assert.equal(res.status, 200);
      assert.equal(res.text, "got hello");
    } finally {
      await tap.close();
    }
  });
});

Deno.test("serve() sends no 100 Continue and closes when the handler answers without reading", async () => {
  await withServe(
    () => new Response("no thanks", { status: 403 }),
    async (t) => {
      const tap = await Tap.connect(t.port);
      try {
        await tap.write(
          post("/up", "Expect: 100-continue\r\nContent-Length: 5000\r\n"),
        );
        const [res] = await tap.waitResponses(1);
        assert.equal(res.status, 403);
        assert.equal(res.text, "no thanks");
        assert.equal(res.header("connection"), "close");
        await tap.waitClose();
        assert.ok(!tap.text.includes("100 Continue"), tap.text);
      } finally {
        await tap.close();
      }
    },
  );
});

Deno.test("serve() aborts request.signal when the client leaves after a body read whole while the signal's watch waited on a full buffer", async () => {
  // maxHeaderBytes is what the watch lets pile up before it waits for a
  // reader; the head's first read fills more than that with body bytes.
  const aborted = deferred<string>();
  await withServe(async (request) => {
    const signal = request.signal;
    const body = await request.arrayBuffer();
    signal.addEventListener("abort", () => aborted.resolve("aborted"));
    await within(aborted.promise, 5000, "request.signal to abort")
      .catch(() => aborted.resolve("not aborted"));
    return new Response(String(body.byteLength));
  }, async (t) => {
    const c = await t.connect();
    await c.write(join([
      post("/up", "Content-Length: 100000\r\n"),
      pattern(100_000, 32),
    ]));
    await sleep(100);
    c.close();
    assert.equal(await within(aborted.promise, 8000, "the handler"), "aborted");
    assert.deepEqual(t.errors, []);
  }, { maxHeaderBytes: 256 });
});

for (const signalFirst of [true, false]) {
  Deno.test({
    name:
      `serve() aborts request.signal and rejects request.arrayBuffer() when the client leaves mid-body (signal read ${
        signalFirst ? "before" : "after"
      } the body)`,
  }, async () => {
    const outcome = deferred<{ err: unknown; signal: AbortSignal }>();
    await withServe(async (request) => {
      if (request.method === "GET") return new Response("next");
      let signal = signalFirst ? request.signal : null;
      let err: unknown = null;
      try {
        await request.arrayBuffer();
      } catch (e) {
        err = e;
      }
      signal ??= request.signal;
      outcome.resolve({ err, signal });
      return new Response("too late");
    }, async (t) => {
      const c = await t.connect();
      await c.write(join([
        post("/up", "Content-Length: 200000\r\n"),
        pattern(100_000, 24),
      ]));
      await sleep(50);
      c.close();
      const { err, signal } = await within(
        outcome.promise,
        5000,
        "request.arrayBuffer() to settle",
      );
      assert.ok(err instanceof Error, `arrayBuffer() gave ${String(err)}`);
      await within(
        until(() => signal.aborted, "request.signal to abort"),
        5000,
        "request.signal to abort",
      );
      assert.equal((signal.reason as DOMException).name, "AbortError");
      assert.deepEqual(t.errors, []);
      // the server goes on
      const res = await fetch(`${t.base}/next`);
      assert.equal(await res.text(), "next");
    });
  });
}

Deno.test("serve() passes the body's error to onError when the handler lets it through, and keeps serving", async () => {
  const failed = deferred();
  await withServe(async (request) => {
    if (request.method === "GET") return new Response("next");
    try {
      return new Response(String((await request.arrayBuffer()).byteLength));
    } finally {
      failed.resolve();
    }
  }, async (t) => {
    const c = await t.connect();
    await c.write(join([
      post("/up", "Transfer-Encoding: chunked\r\n"),
      "10000\r\n",
      pattern(30_000, 25),
    ]));
    await sleep(50);
    c.close();
    await within(failed.promise, 5000, "the handler to fail");
    await until(() => t.errors.length === 1, "onError");
    assert.ok(t.errors[0] instanceof Error, String(t.errors[0]));
    const res = await fetch(`${t.base}/next`);
    assert.equal(await res.text(), "next");
  });
});

Deno.test("serve() reads a chunked body of uneven chunks whole, sent in odd pieces, and serves the next request", async () => {
  const data = pattern(200_000, 31);
  const wire: (string | Uint8Array)[] = [
    post("/up", "Transfer-Encoding: chunked\r\n"),
  ];
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min([1, 7, 4096, 333, 20_000][i % 5], data.length - at);
    wire.push(`${n.toString(16)}\r\n`, data.subarray(at, at + n), "\r\n");
    at += n;
  }
  wire.push("0\r\n\r\n", GET_NEXT);
  const bytesIn = join(wire);
  await withServe(async (request) => {
    if (request.method === "GET") return new Response("next");
    return new Response(hex(new Uint8Array(await request.arrayBuffer())));
  }, async (t) => {
    const c = await t.connect();
    for (let at = 0; at < bytesIn.length; at += 9_999) {
      await c.write(bytesIn.subarray(at, at + 9_999));
    }
    const rs = await c.readResponses(2);
    assert.deepEqual(rs.map((r) => r.text), [hex(data), "next"]);
    assert.deepEqual(t.errors, []);
  });
});

Deno.test("serve() answers 413 when a chunked request.body crosses maxBody and rejects its read", async () => {
  const failed = deferred<unknown>();
  await withServe(async (request) => {
    try {
      await request.arrayBuffer();
      failed.resolve("no error");
    } catch (err) {
      failed.resolve(err);
    }
    return new Response("fine");
  }, async (t) => {
    const c = await t.connect();
    await c.write(join([
      post("/up", "Transfer-Encoding: chunked\r\n"),
      "3e8\r\n",
      pattern(1000, 26),
      "\r\n3e8\r\n",
    ]));
    const res = await c.readResponse();
    assert.equal(res.status, 413);
    assert.equal(res.header("connection"), "close");
    await c.expectClose();
    const err = await within(failed.promise, 5000, "the read to fail");
    assert.ok(err instanceof Error, String(err));
  }, { maxBody: 1500 });
});

Deno.test("serve() answers 408 to a client that stalls mid-body and keeps serving", async () => {
  const failed = deferred<unknown>();
  await withServe(async (request) => {
    if (request.method === "GET") return new Response("next");
    try {
      await request.text();
      failed.resolve("no error");
    } catch (err) {
      failed.resolve(err);
    }
    return new Response("late");
  }, async (t) => {
    const c = await t.connect();
    await c.write(post("/up", "Content-Length: 10000\r\n") + "x".repeat(100));
    const res = await c.readResponse();
    assert.equal(res.status, 408);
    await c.expectClose();
    const err = await within(failed.promise, 5000, "the read to fail");
    assert.ok(err instanceof Error, String(err));
    const next = await fetch(`${t.base}/next`);
    assert.equal(await next.text(), "next");
  }, { bodyTimeout: 300 });
});

Deno.test("serve() answers pipelined requests behind a body the handler did not read", async () => {
  await withServe(
    (request) => new Response(`at ${new URL(request.url).pathname}`),
    async (t) => {
      const c = await t.connect();
      await c.write(join([
        post("/a", "Content-Length: 100000\r\n"),
        pattern(100_000, 27),
        post("/b", "Transfer-Encoding: chunked\r\n"),
        "5\r\nhello\r\n0\r\n\r\n",
        GET_NEXT,
      ]));
      const rs = await c.readResponses(3);
      assert.deepEqual(rs.map((r) => r.text), ["at /a", "at /b", "at /next"]);
      for (const r of rs) assert.equal(r.header("connection"), null);
      assert.deepEqual(t.errors, []);
    },
  );
});

Deno.test("serve() takes a curl upload with Expect: 100-continue whole", async () => {
  const dir = await Deno.makeTempDir({ prefix: "httpkit_serve_" });
  const file = `${dir}/up.bin`;
  const data = pattern(2 * 1024 * 1024 + 9, 28);
  await Deno.writeFile(file, data);
  try {
    await withServe(async (request) => {
      const h = createHash("sha256");
      let n = 0;
      for await (const c of request.body!) {
        n += c.length;
        h.update(c);
      }
      return new Response(`${n} ${h.digest("hex")}`);
    }, async (t) => {
      const out = await runCommand("/usr/bin/curl", [
        "-sS",
        "-v",
        "--max-time",
        "20",
        "--data-binary",
        `@${file}`,
        "-H",
        "Expect: 100-continue",
        `${t.base}/up`,
      ]);
      assert.equal(out.code, 0, out.stderr);
      assert.equal(out.stdout, `${data.length} ${hex(data)}`);
      assert.match(out.stderr, /< HTTP\/1\.1 100 Continue/);
      assert.doesNotMatch(out.stderr, /Done waiting for 100-continue/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
