// A fleet of two server processes behind HAProxy on loopback: balancing, the
// client address through the PROXY protocol, health checks, and a rolling
// restart under load that loses no request.

import assert from "node:assert/strict";
import { HttpClient } from "../mod.ts";
import { runCommand } from "./_helpers.ts";
import { freePort, sleep } from "./fixtures/fleet_process.ts";
import { type Answer, load, rollingRestart } from "./fixtures/fleet_load.ts";
import {
  FleetServer,
  Haproxy,
  type HaproxyOptions,
  haproxyPath,
} from "./fixtures/fleet_haproxy.ts";
import { needs, peerPath } from "./_peers.ts";

const haproxy = needs("haproxy");
// start.sh checks the apps with curl too.
const haproxyAndCurl = needs("haproxy", "curl");

interface Fleet {
  haproxy: Haproxy;
  servers: FleetServer[];
  url: string;
}

async function withFleet(
  options: Partial<HaproxyOptions>,
  fn: (f: Fleet) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "httpkit-fleet-" });
  const servers = [
    new FleetServer("app1", freePort()),
    new FleetServer("app2", freePort()),
  ];
  let haproxy: Haproxy | null = null;
  try {
    await Promise.all(servers.map((s) => s.start()));
    const port = freePort();
    haproxy = await Haproxy.start({
      port,
      dir,
      servers: servers.map((s) => ({ name: s.id, port: s.port })),
      ...options,
    });
    for (const s of servers) await haproxy.waitState(s.id, "UP");
    await fn({ haproxy, servers, url: `http://127.0.0.1:${port}` });
  } finally {
    await haproxy?.stop();
    for (const s of servers) await s.crash();
    await Deno.remove(dir, { recursive: true });
  }
}

// One request with curl from a chosen source address, on a new connection.
async function curl(url: string, from = "127.0.0.1"): Promise<Answer> {
  const out = await runCommand(peerPath("curl"), [
    "-sS",
    "--fail",
    "--max-time",
    "10",
    "--interface",
    from,
    url,
  ]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout);
}

function tally(ids: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const id of ids) t[id] = (t[id] ?? 0) + 1;
  return t;
}

haproxyAndCurl.test("fleet: HAProxy (mode http, PROXY v2) balances both servers, which see the real client address", async () => {
  await withFleet({ mode: "http", proxy: 2 }, async ({ url }) => {
    const answers: Answer[] = [];
    for (let i = 0; i < 10; i++) {
      answers.push(await curl(`${url}/who/${i}`, `127.0.0.${10 + i}`));
    }
    assert.deepEqual(tally(answers.map((a) => a.id)), { app1: 5, app2: 5 });
    answers.forEach((a, i) => {
      assert.equal(a.remoteAddr, `127.0.0.${10 + i}`);
      assert.equal(a.forwardedFor, `127.0.0.${10 + i}`);
    });
    // Keep-alive from the client side: HAProxy still balances per request.
    const client = new HttpClient();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await client.request({ url: `${url}/ka`, as: "text" });
        assert.equal(res.error, undefined);
        if (res.error) continue;
        assert.equal(res.status, 200);
        const a = JSON.parse(res.body as string) as Answer;
        assert.equal(a.remoteAddr, "127.0.0.1");
        ids.push(a.id);
      }
      assert.deepEqual(tally(ids), { app1: 10, app2: 10 });
    } finally {
      client.close();
    }
  });
});

haproxyAndCurl.test("fleet: HAProxy (mode tcp, PROXY v1) balances connections and passes the client address", async () => {
  await withFleet({ mode: "tcp", proxy: 1 }, async ({ url }) => {
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++) {
      answers.push(await curl(`${url}/who/${i}`, `127.0.0.${20 + i}`));
    }
    assert.deepEqual(tally(answers.map((a) => a.id)), { app1: 3, app2: 3 });
    answers.forEach((a, i) => assert.equal(a.remoteAddr, `127.0.0.${20 + i}`));
  });
});

haproxyAndCurl.test("fleet: a crashed server is marked down by the health check and traffic moves to the other", async () => {
  await withFleet({}, async ({ haproxy, servers, url }) => {
    const [app1, app2] = servers;
    await app2.crash();
    // Before the check notices, retries with redispatch still answer.
    const early = [];
    for (let i = 0; i < 10; i++) early.push((await curl(`${url}/e${i}`)).id);
    assert.deepEqual(tally(early), { app1: 10 });
    const took = await haproxy.waitState("app2", "DOWN", 5000);
    assert.ok(took < 5000);
    const down = [];
    for (let i = 0; i < 10; i++) down.push((await curl(`${url}/d${i}`)).id);
    assert.deepEqual(tally(down), { app1: 10 });
    // Back up: the check marks it UP and it gets its share again.
    await app2.start();
    await haproxy.waitState("app2", "UP", 5000);
    const up = [];
    for (let i = 0; i < 10; i++) up.push((await curl(`${url}/u${i}`)).id);
    assert.deepEqual(tally(up), { app1: 5, app2: 5 });
    assert.equal((await haproxy.states())["app1"], "UP");
    void app1;
  });
});

haproxy.test("fleet: a rolling restart under load (graceful stop + HAProxy retries) loses no request", async () => {
  await withFleet({}, async ({ haproxy, servers, url }) => {
    const before = servers.map((s) => `${s.id}:${s.pid}`);
    const ac = new AbortController();
    const running = load(url, 20, ac.signal);
    try {
      await sleep(1000);
      await rollingRestart(haproxy, servers);
      await sleep(500);
    } finally {
      ac.abort();
    }
    const r = await running;
    const after = servers.map((s) => `${s.id}:${s.pid}`);
    assert.deepEqual(
      r.failures,
      [],
      `${r.failures.length} of ${r.ok + r.failures.length} failed`,
    );
    assert.ok(r.ok > 500, `only ${r.ok} requests`);
    for (const k of [...before, ...after]) {
      assert.ok(
        (r.byPid[k] ?? 0) > 0,
        `${k} served nothing: ${JSON.stringify(r.byPid)}`,
      );
    }
  });
});

haproxy.test("fleet: haproxy -c accepts the example config", async () => {
  const out = await new Deno.Command(haproxyPath(), {
    args: [
      "-c",
      "-f",
      new URL("../examples/fleet/haproxy.cfg", import.meta.url).pathname,
    ],
    env: {
      FLEET_BIND: "127.0.0.1:8080",
      FLEET_STATS: "127.0.0.1:8404",
      APP1: "127.0.0.1:9001",
      APP2: "127.0.0.1:9002",
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  assert.doesNotMatch(text, /\[WARNING\]/, text);
});

haproxyAndCurl.test("fleet: examples/fleet/start.sh starts, rolls under load without a failed request, and stops", async () => {
  const dir = await Deno.makeTempDir({ prefix: "httpkit-fleet-example-" });
  const bind = freePort();
  const env = {
    FLEET_BIND: `127.0.0.1:${bind}`,
    FLEET_STATS: `127.0.0.1:${freePort()}`,
    APP1_PORT: String(freePort()),
    APP2_PORT: String(freePort()),
    FLEET_RUN: dir,
    DENO: Deno.execPath(),
    HAPROXY: haproxyPath(),
  };
  const script = new URL("../examples/fleet/start.sh", import.meta.url)
    .pathname;
  const run = async (cmd: string): Promise<string> => {
    const out = await new Deno.Command("bash", {
      args: [script, cmd],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `start.sh ${cmd}: ${text}`);
    return text;
  };
  try {
    assert.match(await run("start"), /fleet up/);
    const ac = new AbortController();
    const running = load(`http://127.0.0.1:${bind}`, 10, ac.signal, "text");
    let rolled = "";
    try {
      await sleep(300);
      rolled = await run("roll");
      await sleep(300);
    } finally {
      ac.abort();
    }
    const r = await running;
    assert.match(rolled, /app1 restarted[\s\S]*app2 restarted/);
    assert.deepEqual(r.failures, []);
    assert.ok(r.ok > 100, `only ${r.ok} requests`);
    assert.equal(await run("status"), "app1: UP\napp2: UP\n");
  } finally {
    await run("stop").catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
