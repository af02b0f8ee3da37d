// Bad peers: slow-loris heads, readers that stop reading, stalled and
// dribbled uploads, idle crowds, a full connection table, peers that vanish
// mid-request, and connection churn. Each time the server must cut the bad
// peer at its timeout and go on serving everyone else promptly, with no
// connection left behind.

import assert from "node:assert/strict";
import {
  established,
  get,
  RawClient,
  sleep,
  type TestServer,
  withServer,
} from "./_helpers.ts";
import type { RingRequest } from "../mod.ts";
import { needs } from "./_peers.ts";

const ss = needs("ss");

const hello = (req: RingRequest) => ({ body: `hello ${req.uri}` });

/** Waits until `ss` shows at most `n` established connections. */
async function settles(port: number, n: number, ms = 2000): Promise<number> {
  const deadline = performance.now() + ms;
  let now = await established(port);
  while (now > n && performance.now() < deadline) {
    await sleep(25);
    now = await established(port);
  }
  return now;
}

/**
 * A well-behaved client doing requests back to back on one connection until
 * `stop()`; records every latency.
 */
function normalTraffic(t: TestServer, pauseMs = 10) {
  const latencies: number[] = [];
  let running = true;
  const done = (async () => {
    const c = await t.connect();
    let i = 0;
    while (running) {
      const t0 = performance.now();
      await c.write(get(`/normal${i}`));
      const r = await c.readResponse({ timeout: 2000 });
      latencies.push(performance.now() - t0);
      assert.equal(r.text, `hello /normal${i}`);
      i++;
      await sleep(pauseMs);
    }
    c.close();
  })();
  return {
    latencies,
    async stop(): Promise<number[]> {
      running = false;
      await done;
      return latencies;
    },
  };
}

function p(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** Writes, ignoring a peer that has already gone. */
async function tryWrite(c: RawClient, data: string): Promise<boolean> {
  if (c.closed || c.eof) return false;
  try {
    await c.write(data);
    return true;
  } catch {
    return false;
  }
}

ss.test("slow-loris: dribbling heads get 408 at headerTimeout while others are served fast", async () => {
  await withServer(hello, { headerTimeout: 500 }, async (t) => {
    const normal = normalTraffic(t);
    const lorises = await Promise.all(
      Array.from({ length: 12 }, () => t.connect()),
    );
    const t0 = performance.now();
    const results = await Promise.all(lorises.map(async (c, k) => {
      await c.write(`GET /loris${k} HTTP/1.1\r\nHost: t\r\nX-Slow: `);
      // a header byte every 100 ms, forever
      const dribble = (async () => {
        while (await tryWrite(c, "a")) await sleep(100);
      })();
      const r = await c.readResponse({ timeout: 3000 });
      const took = performance.now() - t0;
      await c.expectClose(1000);
      await dribble;
      return { status: r.status, took };
    }));
    const lat = await normal.stop();
    for (const r of results) {
      assert.equal(r.status, 408);
      assert.ok(r.took >= 450 && r.took < 1500, `408 after ${r.took} ms`);
    }
    assert.ok(lat.length >= 20, `only ${lat.length} normal requests`);
    assert.ok(p(lat, 0.99) < 150, `normal p99 ${p(lat, 0.99)} ms`);
    assert.equal(await settles(t.port, 0), 0);
    assert.deepEqual(t.errors, []);
  });
});

Deno.test("maxConnections: slots held by slow-loris peers free up at headerTimeout", async () => {
  await withServer(hello, {
    maxConnections: 4,
    headerTimeout: 400,
  }, async (t) => {
    const lorises = await Promise.all(
      Array.from({ length: 4 }, () => t.connect()),
    );
    for (const c of lorises) await c.write("GET / HTTP/1.1\r\nHost");
    await sleep(50);
    // the table is full: a fifth gets 503 and is closed
    const extra = await t.connect();
    await extra.write(get("/extra"));
    const busy = await extra.readResponse();
    assert.equal(busy.status, 503);
    await extra.expectClose(1500);
    // the lorises time out and their slots come back
    for (const c of lorises) {
      assert.equal((await c.readResponse({ timeout: 2000 })).status, 408);
      await c.expectClose(1000);
    }
    await sleep(20);
    const ok = await t.connect();
    await ok.write(get("/after"));
    assert.equal((await ok.readResponse()).text, "hello /after");
  });
});

ss.test("writeTimeout: a peer that stops reading a big body is cut, others are served", async () => {
  const size = 64 * 1024 * 1024;
  const big = new Uint8Array(size).fill(0x61);
  await withServer(
    (req) => req.uri === "/big" ? { body: big } : hello(req),
    { writeTimeout: 500 },
    async (t) => {
      const stuck = await t.connect();
      await stuck.write(get("/big"));
      const normal = normalTraffic(t);
      await sleep(1300);
      const lat = await normal.stop();
      // the server gave up: reading now drains what was buffered, then EOF
      // or reset, far short of the whole body
      const rest = await stuck.readToEnd(3000).catch(() => new Uint8Array(0));
      assert.ok(stuck.eof, "the stuck connection is still open");
      assert.ok(
        stuck.received < size,
        `got ${stuck.received} of ${size} bytes: never cut`,
      );
      assert.ok(rest.length >= 0);
      assert.ok(lat.length >= 20, `only ${lat.length} normal requests`);
      assert.ok(p(lat, 0.99) < 150, `normal p99 ${p(lat, 0.99)} ms`);
      assert.equal(await settles(t.port, 0), 0);
    },
  );
});

// Small repeated responses go out as the reply cache's bytes, one write per
// request; a peer that stops reading fills the socket buffers until those
// writes are partial, and the rest must follow once it reads again.
Deno.test("a peer that sends many small requests before reading gets every response whole", async () => {
  const body = "r".repeat(2000);
  await withServer(() => ({ body }), {}, async (t) => {
    const c = await t.connect();
    const n = 3000;
    for (let i = 0; i < n; i++) {
      await c.write(get("/"));
      // Apart, so most requests arrive on their own and get their own write.
      if (i % 4 === 3) await sleep(1);
    }
    for (let i = 0; i < n; i++) {
      const res = await c.readResponse();
      assert.equal(res.status, 200, `response ${i}`);
      assert.equal(res.text, body, `response ${i}`);
    }
    c.close();
  });
});

Deno.test("writeTimeout: a streamed body to a peer that stops reading is cut and its source cancelled", async () => {
  let cancelled = false;
  let produced = 0;
  async function* endless() {
    try {
      const chunk = new Uint8Array(64 * 1024).fill(0x62);
      for (;;) {
        produced += chunk.length;
        yield chunk;
        await Promise.resolve();
      }
    } finally {
      cancelled = true;
    }
  }
  await withServer(
    (req) => req.uri === "/stream" ? { body: endless() } : hello(req),
    { writeTimeout: 400 },
    async (t) => {
      const stuck = await t.connect();
      await stuck.write(get("/stream"));
      await sleep(1200);
      assert.ok(cancelled, `the source was not cancelled (${produced} B made)`);
      const before = produced;
      await sleep(100);
      assert.equal(produced, before, "the source is still pulled");
      const ok = await t.connect();
      await ok.write(get("/after"));
      assert.equal((await ok.readResponse()).text, "hello /after");
    },
  );
});

Deno.test("writeTimeout: a slow but steady reader of a big body is not cut", async () => {
  // writeTimeout bounds how long the peer may take no bytes at all, not the
  // whole response: this reader never pauses over ~20 ms but needs about
  // 2 s for the body.
  const size = 24 * 1024 * 1024;
  const big = new Uint8Array(size).fill(0x63);
  await withServer(() => ({ body: big }), { writeTimeout: 500 }, async (t) => {
    const c = await t.connect();
    await c.write(get("/big"));
    const head = await c.readHead();
    assert.match(head, /^HTTP\/1.1 200/);
    const buf = new Uint8Array(64 * 1024);
    let got = c.available;
    c.consume(c.available);
    const t0 = performance.now();
    while (got < size) {
      const n = await c.conn.read(buf);
      if (n === null) break;
      got += n;
      // about 12 MiB/s
      await sleep(5);
    }
    const took = performance.now() - t0;
    assert.equal(
      got,
      size,
      `cut after ${got} of ${size} bytes, ${took.toFixed(0)} ms`,
    );
  });
});

Deno.test("bodyTimeout: a chunked upload stalled mid-chunk gets 408; a dribbled one completes", async () => {
  const bodies: string[] = [];
  await withServer(
    (req) => {
      bodies.push(new TextDecoder().decode(req.body ?? new Uint8Array()));
      return { body: "got it" };
    },
    { bodyTimeout: 500 },
    async (t) => {
      const stalled = await t.connect();
      const dribbler = await t.connect();
      await stalled.write(
        "POST /s HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
          "10\r\nonly half",
      );
      await dribbler.write(
        "POST /d HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\n",
      );
      const t0 = performance.now();
      const dribble = (async () => {
        for (const ch of "abcdef") {
          await sleep(200);
          await dribbler.write(ch);
        }
      })();
      const r = await stalled.readResponse({ timeout: 2000 });
      const took = performance.now() - t0;
      assert.equal(r.status, 408);
      assert.ok(took >= 450 && took < 1200, `408 after ${took} ms`);
      await stalled.expectClose(1000);
      await dribble;
      const d = await dribbler.readResponse({ timeout: 2000 });
      assert.equal(d.text, "got it");
      assert.deepEqual(bodies, ["abcdef"]);
    },
  );
});

ss.test("idleTimeout: a crowd of idle keep-alive peers is closed, a busy one is not", async () => {
  await withServer(hello, { idleTimeout: 400 }, async (t) => {
    const idle = await Promise.all(
      Array.from({ length: 30 }, () => t.connect()),
    );
    for (const c of idle) await c.write(get("/once"));
    for (const c of idle) await c.readResponse();
    const normal = normalTraffic(t, 100);
    const t0 = performance.now();
    await Promise.all(idle.map((c) => c.expectClose(2000)));
    const took = performance.now() - t0;
    assert.ok(took >= 300 && took < 1200, `idle closed after ${took} ms`);
    await sleep(300);
    const lat = await normal.stop();
    assert.ok(lat.length >= 5);
    assert.equal(await settles(t.port, 0), 0);
  });
});

ss.test("peers that vanish mid-request do not disturb others", async () => {
  const big = new Uint8Array(4 * 1024 * 1024).fill(0x64);
  await withServer(
    async (req) => {
      if (req.uri === "/big") return { body: big };
      if (req.uri === "/slow") await sleep(100);
      return hello(req);
    },
    {},
    async (t) => {
      const normal = normalTraffic(t, 5);
      const half = [
        "GET /half HTTP/1.1\r\nHo",
        "POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf",
        "POST /ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "20\r\nhalf",
        "POST /ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
        "4\r\nfull\r\n0\r\n",
        get("/slow"),
        // unread responses in our buffer make close() send a reset
        get("/big") + get("/big"),
      ];
      const until = performance.now() + 600;
      for (let round = 0; round < 10 || performance.now() < until; round++) {
        await Promise.all(half.map(async (h) => {
          const c = await RawClient.connect(t.port);
          await c.write(h);
          if (h.includes("/big")) await sleep(5);
          c.close();
        }));
      }
      const lat = await normal.stop();
      assert.ok(
        lat.length >= 10,
        `normal latencies ${lat.map((x) => x.toFixed(1))}`,
      );
      assert.ok(p(lat, 0.99) < 250, `normal p99 ${p(lat, 0.99)} ms`);
      assert.deepEqual(t.errors, [], "vanished peers were logged as errors");
      assert.equal(await settles(t.port, 0), 0);
      const c = await t.connect();
      await c.write(get("/after"));
      assert.equal((await c.readResponse()).text, "hello /after");
    },
  );
});

ss.test("200 connections opened and dropped in a loop leave the server healthy", async () => {
  await withServer(hello, {}, async (t) => {
    for (let i = 0; i < 200; i++) {
      const c = await RawClient.connect(t.port);
      if (i % 3 === 1) await c.write("GET / HTTP/1.1\r\n");
      if (i % 3 === 2) await c.write(get(`/drop${i}`));
      c.close();
    }
    assert.ok(
      (await settles(t.port, 0)) === 0,
      "connections left established",
    );
    const c = await t.connect();
    await c.write(get("/alive"));
    assert.equal((await c.readResponse()).text, "hello /alive");
    c.close();
    assert.equal(await settles(t.port, 0), 0);
    assert.deepEqual(t.errors, []);
  });
});
