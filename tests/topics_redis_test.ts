// The Redis transport of topics against a real redis-server (Debian's, on a
// Unix socket in a temp dir): two hubs with their own connections in this
// process, two real processes, subscriptions on Redis only while local
// subscribers exist, exactly-once local delivery, a Redis restart with the
// messages published meanwhile reported, and messages from redis-cli.

import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import WebSocket from "npm:ws@8";
import {
  asChannel,
  type Channel,
  runServer,
  type Server,
  type TopicMessage,
  Topics,
} from "../mod.ts";
import { redisTransport } from "../topics/redis.ts";
import { sleep, until } from "./_helpers.ts";
import { needs } from "./_peers.ts";
import { Proc } from "./fixtures/fleet_process.ts";
import { RedisServer } from "./fixtures/redis.ts";

const redis = needs("redis-server");

interface WsPeer {
  ws: WebSocket;
  got: string[];
  closed: Promise<void>;
}

async function wsPeer(url: string): Promise<WsPeer> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const got: string[] = [];
  ws.on("message", (data: Buffer) => got.push(data.toString()));
  const closed = new Promise<void>((r) => ws.on("close", () => r()));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, got, closed };
}

/** Polls an async condition every 25 ms; fails after `timeout` ms. */
async function eventually(
  cond: () => Promise<boolean>,
  what: string,
  timeout = 5000,
): Promise<void> {
  const end = performance.now() + timeout;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`Timed out waiting: ${what}`);
    await sleep(25);
  }
}

async function closeWs(p: WsPeer): Promise<void> {
  p.ws.close();
  await p.closed;
}

interface Undelivered {
  topic: string;
  message: TopicMessage;
  error: Error;
}

/** A hub over Redis and a server whose WebSockets join `?t=` (default "room"). */
interface Node {
  hub: Topics;
  server: Server;
  url: string;
  undelivered: Undelivered[];
  errors: Error[];
  stop(): Promise<void>;
}

async function node(r: RedisServer, name: string): Promise<Node> {
  const undelivered: Undelivered[] = [];
  const errors: Error[] = [];
  const hub = new Topics({
    transport: redisTransport({
      path: r.path,
      maxRetryDelay: 100,
      onError: (e) => errors.push(e),
    }),
    onUndelivered: (topic, message, error) =>
      undelivered.push({ topic, message, error }),
  });
  await hub.ready;
  const server = runServer((req) => {
    const topic = new URLSearchParams(req.queryString ?? "").get("t") ??
      "room";
    return asChannel(req, {
      onOpen: (ch) => hub.subscribe(ch, topic),
      onReceive: (_ch, m) => hub.publish(topic, `${name}: ${m}`),
    });
  }, { ip: "127.0.0.1", port: 0 });
  return {
    hub,
    server,
    url: `ws://127.0.0.1:${server.port}/`,
    undelivered,
    errors,
    async stop() {
      await server.stop({ timeout: 200 });
      await hub.close();
    },
  };
}

redis.test("redisTransport: two hubs with their own connections reach each other's subscribers, and their own exactly once", async () => {
  const r = await RedisServer.start();
  const a = await node(r, "a");
  const b = await node(r, "b");
  const peers: WsPeer[] = [];
  try {
    for (const n of [a, a, b, b]) peers.push(await wsPeer(n.url));
    await until(
      () => a.hub.subscribers("room") === 2 && b.hub.subscribers("room") === 2,
      "local subscribers",
    );
    await eventually(
      async () => (await r.channels()).length === 1,
      "SUBSCRIBE",
    );
    peers[0].ws.send("one");
    peers[2].ws.send("two");
    for (const p of peers) {
      await until(() => p.got.length === 2, "2 messages");
    }
    await sleep(200); // nothing more arrives: exactly once
    for (const p of peers) assert.deepEqual(p.got.sort(), ["a: one", "b: two"]);
    // publish counts the local subscribers only.
    assert.equal(a.hub.publish("room", "direct").delivered, 2);
    for (const p of peers) await until(() => p.got.length === 3, "direct");
    // Bytes stay bytes across Redis.
    const bin = new Uint8Array([0, 1, 2, 255]);
    const got = Promise.withResolvers<Uint8Array>();
    const raw = new WebSocket(b.url, { perMessageDeflate: false });
    raw.on("message", (data: Buffer, binary: boolean) => {
      if (binary) got.resolve(new Uint8Array(data));
    });
    await new Promise((resolve) => raw.once("open", resolve));
    await until(() => b.hub.subscribers("room") === 3, "raw subscribed");
    a.hub.publish("room", bin);
    assert.deepEqual(await got.promise, bin);
    raw.close();
    await new Promise((resolve) => raw.once("close", resolve));
    assert.deepEqual(a.undelivered, []);
    assert.deepEqual(b.undelivered, []);
  } finally {
    for (const p of peers) p.ws.terminate();
    await a.stop();
    await b.stop();
    await r.stop();
  }
});

redis.test("redisTransport: a process is subscribed on Redis to a topic only while it has local subscribers", async () => {
  const r = await RedisServer.start();
  const a = await node(r, "a");
  try {
    assert.deepEqual(await r.channels(), []);
    const x = await wsPeer(`${a.url}?t=x`);
    const y1 = await wsPeer(`${a.url}?t=y`);
    const y2 = await wsPeer(`${a.url}?t=y`);
    await eventually(
      async () => (await r.channels()).length === 2,
      "2 channels",
    );
    assert.deepEqual(await r.channels(), ["httpkit:x", "httpkit:y"]);
    assert.equal(await r.cli("PUBSUB", "NUMSUB", "httpkit:y"), "httpkit:y\n1");
    await closeWs(x);
    await eventually(
      async () => (await r.channels()).join() === "httpkit:y",
      "x unsubscribed",
    );
    await closeWs(y1);
    await sleep(100);
    assert.deepEqual(await r.channels(), ["httpkit:y"], "y2 is still there");
    await closeWs(y2);
    await eventually(
      async () => (await r.channels()).length === 0,
      "none left",
    );
    assert.deepEqual(a.hub.stats(), {
      topics: 0,
      channels: 0,
      subscriptions: 0,
    });
  } finally {
    await a.stop();
    await r.stop();
  }
});

redis.test("redisTransport: a message PUBLISHed by redis-cli reaches the subscribers as text", async () => {
  const r = await RedisServer.start();
  const a = await node(r, "a");
  try {
    const p = await wsPeer(a.url);
    await eventually(
      async () => (await r.channels()).length === 1,
      "SUBSCRIBE",
    );
    assert.equal(await r.cli("PUBLISH", "httpkit:room", "from outside"), "1");
    await until(() => p.got.length === 1, "the message");
    assert.deepEqual(p.got, ["from outside"]);
    await closeWs(p);
  } finally {
    await a.stop();
    await r.stop();
  }
});

redis.test("redisTransport survives a Redis restart: reconnects, subscribes again, and reports what it could not publish", async () => {
  const r = await RedisServer.start();
  const a = await node(r, "a");
  const b = await node(r, "b");
  const pa = await wsPeer(a.url);
  const pb = await wsPeer(b.url);
  try {
    await eventually(
      async () =>
        (await r.cli("PUBSUB", "NUMSUB", "httpkit:room")) === "httpkit:room\n2",
      "both subscribed",
    );
    pa.ws.send("before");
    await until(() => pb.got.length === 1, "before");

    await r.kill();
    // Both notice the outage (once each, per connection).
    await until(() => a.errors.length >= 1 && b.errors.length >= 1, "onError");
    // Published while Redis is down: local subscribers get it, the other
    // process cannot, and onUndelivered says so with the topic and message.
    assert.equal(a.hub.publish("room", "during").delivered, 1);
    await until(() => pa.got.length === 2, "local during");
    assert.equal(a.undelivered.length, 1);
    assert.equal(a.undelivered[0].topic, "room");
    assert.equal(a.undelivered[0].message, "during");
    assert.ok(a.undelivered[0].error instanceof Error);
    // A topic subscribed during the outage is subscribed once Redis is back.
    const late = await wsPeer(`${b.url}?t=late`);
    await until(() => b.hub.subscribers("late") === 1, "late local");

    await r.restart();
    await eventually(
      async () =>
        (await r.cli("PUBSUB", "NUMSUB", "httpkit:room")) ===
          "httpkit:room\n2" &&
        (await r.channels()).includes("httpkit:late"),
      "subscribed again",
      10_000,
    );
    // The publishers reconnect too.
    for (let i = 0; pb.got.length < 2; i++) {
      assert.ok(i < 100, "b never got a message after the restart");
      pa.ws.send(`after ${i}`);
      await sleep(50);
    }
    assert.match(pb.got[1], /^a: after \d+$/);
    assert.deepEqual(pb.got.slice(0, 1), ["a: before"]);
    assert.ok(!pb.got.includes("during"));
    a.hub.publish("late", "for late");
    await until(() => late.got.length === 1, "late message");
    assert.deepEqual(late.got, ["for late"]);
    await closeWs(late);
  } finally {
    pa.ws.terminate();
    pb.ws.terminate();
    await a.stop();
    await b.stop();
    await r.stop();
  }
});

const FIXTURE = new URL("./fixtures/topics_redis_server.ts", import.meta.url)
  .pathname;

redis.test("redisTransport between two real processes: each client sees the other's messages, once", async () => {
  const r = await RedisServer.start();
  const procs = ["one", "two"].map((name) =>
    Proc.spawn(Deno.execPath(), ["run", "-A", FIXTURE, r.path, name], {
      stdin: true,
    })
  );
  const peers: WsPeer[] = [];
  try {
    const ports = await Promise.all(
      procs.map(async (p) =>
        Number((await p.waitFor(/^listening (\d+)$/, 30_000))[1])
      ),
    );
    for (const port of ports) {
      peers.push(await wsPeer(`ws://127.0.0.1:${port}/ws`));
    }
    await eventually(
      async () =>
        (await r.cli("PUBSUB", "NUMSUB", "httpkit:room")) === "httpkit:room\n2",
      "both subscribed",
      10_000,
    );
    peers[0].ws.send("hello");
    peers[1].ws.send("hi");
    for (const p of peers) await until(() => p.got.length === 2, "2 messages");
    await sleep(200);
    for (const p of peers) {
      assert.deepEqual(p.got.sort(), ["one: hello", "two: hi"]);
    }
    // Each process counts its own subscribers.
    for (const p of peers) p.ws.send("count");
    for (const p of peers) await until(() => p.got.length === 3, "count");
    for (const p of peers) assert.equal(p.got[2], "subscribers 1");
    for (const p of peers) await closeWs(p);
    for (const p of procs) await p.send("stop");
    for (const p of procs) await p.waitFor(/^stopped$/, 10_000);
    for (const p of procs) assert.equal((await p.status).code, 0, p.output());
  } finally {
    for (const p of peers) p.ws.terminate();
    for (const p of procs) await p.close(2000);
    await r.stop();
  }
});

// A channel of our own for the hub tests below: records what it is sent.
function memoryChannel(got: unknown[]): Channel {
  return {
    send: (d) => got.push(d) > 0,
    close: () => true,
    ping: () => false,
    isOpen: true,
    isWebSocket: false,
    remoteAddr: "memory",
    bufferedAmount: 0,
    drained: () => Promise.resolve(),
  };
}

redis.test("redisTransport: a publish before the hub is ready, or after Redis is gone for good, goes to onUndelivered", async () => {
  const r = await RedisServer.start();
  const undelivered: string[] = [];
  const hub = new Topics({
    transport: redisTransport({ path: r.path, onError: () => {} }),
    onUndelivered: (topic, message) => undelivered.push(`${topic}:${message}`),
  });
  const got: unknown[] = [];
  hub.subscribe(memoryChannel(got), "t");
  assert.equal(hub.publish("t", "early").delivered, 1, "local at once");
  await hub.ready;
  hub.publish("t", "ready");
  await sleep(100);
  await r.stop();
  await sleep(100);
  hub.publish("t", "gone");
  await until(() => undelivered.includes("t:gone"), "gone reported");
  assert.deepEqual(undelivered, ["t:early", "t:gone"]);
  assert.deepEqual(got, ["early", "ready", "gone"]);
  await hub.close();
});
