// runServer(moduleUrl, { workers }) end to end: a child process serves
// tests/fixtures/worker_handler.ts with n workers, so this test process needs
// no --unstable-net itself.

import assert from "node:assert/strict";
import { get, RawClient } from "./_helpers.ts";
import { Proc } from "./fixtures/fleet_process.ts";

const FIXTURE = new URL("./fixtures/worker_handler.ts", import.meta.url)
  .pathname;

function startWorkers(n: number, flags = ["--unstable-net"]): Proc {
  return Proc.spawn(Deno.execPath(), ["run", "-A", ...flags, FIXTURE, `${n}`], {
    stdin: true,
  });
}

// One request on a new connection (closed after), so SO_REUSEPORT picks a
// worker afresh each time.
async function once(port: number, path = "/"): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    await c.write(get(path, "Connection: close\r\n"));
    const res = await c.readResponse({ timeout: 10_000 });
    assert.equal(res.status, 200, res.head);
    return res.text;
  } finally {
    c.close();
  }
}

Deno.test("runServer() with workers: 2 serves new connections from both workers", async () => {
  const p = startWorkers(2);
  try {
    const port = Number((await p.waitFor(/^listening (\d+)$/, 20_000))[1]);
    const ids = new Map<string, number>();
    for (let i = 0; i < 64; i++) {
      const id = await once(port);
      ids.set(id, (ids.get(id) ?? 0) + 1);
    }
    assert.equal(
      ids.size,
      2,
      `64 new connections should reach both workers: ${
        JSON.stringify([...ids])
      }`,
    );
    for (const [id, n] of ids) {
      assert.match(id, /^[0-9a-f-]{36}$/);
      assert.ok(n >= 8, `worker ${id} served only ${n} of 64`);
    }
    // Keep-alive: one connection stays with one worker.
    const c = await RawClient.connect(port);
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) {
        await c.write(get("/"));
        seen.add((await c.readResponse()).text);
      }
      assert.equal(seen.size, 1);
    } finally {
      c.close();
    }
    await p.send("stop 1000");
    await p.waitFor(/^stopped stopped$/);
    assert.equal((await p.status).code, 0, p.output());
  } finally {
    await p.close();
  }
});

Deno.test("runServer() with workers: stop() drains in-flight requests of every worker", async () => {
  const p = startWorkers(2);
  try {
    const port = Number((await p.waitFor(/^listening (\d+)$/, 20_000))[1]);
    // Find which worker answers each of several fresh connections, then start
    // a slow request on one connection per worker.
    const conns: RawClient[] = [];
    const byWorker = new Map<string, RawClient>();
    try {
      for (let i = 0; i < 64 && byWorker.size < 2; i++) {
        const c = await RawClient.connect(port);
        conns.push(c);
        await c.write(get("/"));
        const id = (await c.readResponse()).text;
        if (!byWorker.has(id)) byWorker.set(id, c);
      }
      assert.equal(byWorker.size, 2, "both workers must hold a connection");
      const slow = [...byWorker].map(async ([id, c]) => {
        await c.write(get("/slow?ms=1500"));
        const res = await c.readResponse({ timeout: 10_000 });
        return { id, status: res.status, body: res.text, head: res.head };
      });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      await p.send("stop 5000");
      // New connections are refused once every worker has closed its
      // listener; the slow requests still complete.
      const results = await Promise.all(slow);
      for (const r of results) {
        assert.equal(r.status, 200, r.head);
        assert.equal(r.body, `slow ${r.id}`);
        assert.match(r.head, /\r\nconnection: close\r\n/i);
      }
      await p.waitFor(/^stopped stopped$/, 10_000);
      const took = performance.now() - t0;
      assert.ok(took >= 1000, `stop() returned after ${took} ms`);
      assert.ok(took < 5000, `stop() waited out its timeout: ${took} ms`);
      assert.equal((await p.status).code, 0, p.output());
    } finally {
      for (const c of conns) c.close();
    }
  } finally {
    await p.close();
  }
});

Deno.test("runServer() with workers without --unstable-net exits with a clear error", async () => {
  const p = startWorkers(2, []);
  try {
    const status = await p.status;
    await p.close();
    const output = p.output();
    assert.notEqual(status.code, 0, output);
    assert.notEqual(status.code, 70, `Deno's silent exit 70:\n${output}`);
    assert.match(output, /--unstable-net/);
    assert.doesNotMatch(output, /^listening/m);
  } finally {
    await p.close();
  }
});

Deno.test("runServer() with workers: onListen runs in the main thread once all listen", async () => {
  const p = startWorkers(3);
  try {
    const port = (await p.waitFor(/^listening (\d+)$/, 20_000))[1];
    assert.deepEqual(p.out.slice(0, 2), [
      `onListen ${port}`,
      `listening ${port}`,
    ]);
    const ids = new Set<string>();
    for (let i = 0; i < 64; i++) ids.add(await once(Number(port)));
    assert.equal(ids.size, 3, "64 new connections should reach 3 workers");
    await p.send("stop 100");
    await p.waitFor(/^stopped stopped$/);
  } finally {
    await p.close();
  }
});

Deno.test("runServer() with workers: a module without a handler rejects ready, and the workers stop", async () => {
  const q = Proc.spawn(
    Deno.execPath(),
    ["run", "-A", "--unstable-net", FIXTURE, "2", "../../channel.ts"],
    { stdin: true },
  );
  try {
    const m = await q.waitFor(/^not ready: (.*)$/, 20_000);
    assert.match(m[1], /channel\.ts must export the handler as default/);
    await q.waitFor(/^stopped stopped$/);
    const status = await q.status;
    assert.equal(status.code, 0, q.output());
    assert.doesNotMatch(q.output(), /^onListen/m);
  } finally {
    await q.close();
  }
});

Deno.test("serve() with workers runs a { fetch } module on every worker", async () => {
  const fixture =
    new URL("./fixtures/worker_fetch_app.ts", import.meta.url).pathname;
  const p = Proc.spawn(Deno.execPath(), [
    "run",
    "-A",
    "--unstable-net",
    fixture,
    "2",
  ], {
    stdin: true,
  });
  try {
    const port = Number((await p.waitFor(/^listening (\d+)$/, 20_000))[1]);
    const ids = new Set<string>();
    for (let i = 0; i < 48; i++) {
      const [id, path] = (await once(port, `/p${i}`)).split(" ");
      assert.equal(path, `/p${i}`);
      ids.add(id);
    }
    assert.equal(ids.size, 2, "both workers answer");
    await p.send("stop");
    await p.waitFor(/^stopped$/, 10_000);
    assert.equal((await p.status).code, 0, p.output());
  } finally {
    await p.close();
  }
});
