// Topics over real sockets: every kind of channel subscribed (WebSocket via
// npm `ws`, HTTP streaming, SSE and long-poll via fetch), the counts publish
// returns, unsubscribe and close (no leak), encode-once, permessage-deflate
// once per parameter set, the backpressure policies against clients that
// never read, user-made channels, and a server with 2 workers.

import assert from "node:assert/strict";
import type { Buffer } from "node:buffer";
import WebSocket from "npm:ws@8";
import {
  asChannel,
  broadcastTransport,
  type Channel,
  type ChannelData,
  type CloseStatus,
  defaultTopics,
  publish,
  runServer,
  type Server,
  sse,
  subscribe,
  Topics,
  type TopicsOptions,
  unsubscribe,
} from "../mod.ts";
import { builds } from "../topics/_outgoing.ts";
import {
  decoder,
  get,
  RawClient,
  sleep,
  until,
  wsUpgrade,
} from "./_helpers.ts";
import { Proc } from "./fixtures/fleet_process.ts";

interface Closed {
  path: string;
  status: CloseStatus;
  code?: number;
}

interface Hub {
  hub: Topics;
  server: Server;
  base: string;
  /** Server-side channels by path, in the order they opened. */
  opened: Map<string, Channel[]>;
  closes: Closed[];
}

/**
 * A server whose channels subscribe to `?t=` (default "room") of `hub`:
 * `/ws` (WebSocket; a received message is published), `/ws-ctx` (the same
 * with deflate context takeover), `/stream` (chunked HTTP: head first, then
 * one chunk per message), `/sse` (one event per message) and `/poll` (the
 * message is the response).
 */
async function withHub(
  options: TopicsOptions,
  fn: (h: Hub) => Promise<void>,
): Promise<void> {
  const hub = new Topics({ transport: null, ...options });
  const opened = new Map<string, Channel[]>();
  const closes: Closed[] = [];
  const note = (path: string, ch: Channel): void => {
    opened.set(path, [...(opened.get(path) ?? []), ch]);
  };
  const server = runServer((req) => {
    const path = req.uri;
    const topic = new URLSearchParams(req.queryString ?? "").get("t") ??
      "room";
    const onClose = (_ch: Channel, status: CloseStatus, code?: number) =>
      closes.push({ path, status, code });
    switch (path) {
      case "/ws":
      case "/ws-ctx":
        return asChannel(req, {
          onOpen(ch) {
            note(path, ch);
            hub.subscribe(ch, topic);
          },
          onReceive: (_ch, m) => hub.publish(topic, m),
          onClose,
        }, {
          deflate: path === "/ws-ctx"
            ? { serverNoContextTakeover: false, clientNoContextTakeover: false }
            : true,
        });
      case "/stream":
        return asChannel(req, {
          onOpen(ch) {
            note(path, ch);
            ch.send({ headers: { "content-type": "text/plain" } }, false);
            hub.subscribe(ch, topic);
          },
          onClose,
        });
      case "/sse":
        return sse(req, {
          onOpen(ch) {
            note(path, ch);
            hub.subscribe(ch, topic);
          },
          onClose,
        }, { keepAlive: 0 });
      case "/poll":
        return asChannel(req, {
          onOpen(ch) {
            note(path, ch);
            hub.subscribe(ch, topic);
          },
          onClose,
        });
    }
    return { status: 404 };
  }, { ip: "127.0.0.1", port: 0, errorLogger: (e) => console.error(e) });
  try {
    await fn({
      hub,
      server,
      base: `127.0.0.1:${server.port}`,
      opened,
      closes,
    });
  } finally {
    await server.stop({ timeout: 200 });
    await hub.close();
  }
}

/** An npm `ws` client that records what it receives. */
interface WsPeer {
  ws: WebSocket;
  got: (string | Uint8Array)[];
  closed: Promise<{ code: number; reason: string }>;
}

async function wsPeer(url: string, perMessageDeflate = false): Promise<WsPeer> {
  const ws = new WebSocket(url, { perMessageDeflate });
  const got: (string | Uint8Array)[] = [];
  ws.on("message", (data: Buffer, binary: boolean) => {
    got.push(binary ? new Uint8Array(data) : data.toString());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on(
      "close",
      (code: number, reason: Buffer) =>
        resolve({ code, reason: reason.toString() }),
    )
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, got, closed };
}

async function closeWs(p: WsPeer): Promise<void> {
  p.ws.close();
  await p.closed;
}

/** Reads a fetch body as text chunks as they come. */
class BodyReader {
  text = "";
  done: Promise<void>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(res: Response) {
    this.#reader = res.body!.getReader();
    this.done = this.#pump();
  }

  async #pump(): Promise<void> {
    const dec = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await this.#reader.read();
        if (done) return;
        this.text += dec.decode(value, { stream: true });
      }
    } catch {
      // cancelled
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
    await this.done;
  }
}

/** The data of each SSE event in a stream's text. */
function sseData(text: string): string[] {
  return text.split("\n\n").filter((e) => e.includes("data:")).map((e) =>
    e.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6))
      .join("\n")
  );
}

Deno.test("Topics.publish() reaches WebSocket, HTTP stream, SSE and long-poll subscribers, and counts them", async () => {
  await withHub({}, async ({ hub, base }) => {
    const ws = await wsPeer(`ws://${base}/ws`);
    const stream = new BodyReader(await fetch(`http://${base}/stream`));
    const events = await fetch(`http://${base}/sse`);
    assert.equal(
      events.headers.get("content-type"),
      "text/event-stream; charset=utf-8",
    );
    const sseBody = new BodyReader(events);
    const poll = fetch(`http://${base}/poll`);
    await until(() => hub.subscribers("room") === 4, "4 subscribers");

    assert.deepEqual(hub.publish("room", "one\ntwo lines"), {
      delivered: 4,
      skipped: 0,
      closed: 0,
    });
    // The long-poll got its whole response, and left.
    const answer = await poll;
    assert.equal(
      answer.headers.get("content-type"),
      "text/plain; charset=utf-8",
    );
    assert.equal(answer.headers.get("cache-control"), "no-store");
    assert.equal(await answer.text(), "one\ntwo lines");
    assert.equal(hub.subscribers("room"), 3);

    const bin = new Uint8Array([0, 1, 2, 250]);
    assert.deepEqual(hub.publish("room", bin), {
      delivered: 3,
      skipped: 0,
      closed: 0,
    });
    assert.equal(hub.publish("elsewhere", "nobody").delivered, 0);
    await until(() => ws.got.length === 2, "2 WebSocket messages");
    assert.deepEqual(ws.got, ["one\ntwo lines", bin]);
    await until(
      () => stream.text.length === "one\ntwo lines".length + 4,
      "stream chunks",
    );
    assert.equal(stream.text, "one\ntwo lines" + decoder.decode(bin));
    await until(() => sseData(sseBody.text).length === 2, "2 SSE events");
    assert.deepEqual(sseData(sseBody.text), [
      "one\ntwo lines",
      decoder.decode(bin),
    ]);
    // A WebSocket subscriber publishes too: everyone, itself included.
    ws.ws.send("from ws");
    await until(() => ws.got.length === 3, "its own message");
    await until(() => sseData(sseBody.text).length === 3, "3 SSE events");
    assert.equal(ws.got[2], "from ws");
    await closeWs(ws);
    await stream.cancel();
    await sseBody.cancel();
  });
});

Deno.test("Topics.unsubscribe() of one topic and of all; closed channels of every kind leave their topics", async () => {
  await withHub({}, async ({ hub, base, opened }) => {
    const a = await wsPeer(`ws://${base}/ws?t=a`);
    const b = await wsPeer(`ws://${base}/ws?t=b`);
    const stream = new BodyReader(await fetch(`http://${base}/stream?t=a`));
    const events = new BodyReader(await fetch(`http://${base}/sse?t=b`));
    await until(() => hub.stats().channels === 4, "4 channels");
    const [chA, chB] = opened.get("/ws")!;
    assert.ok(hub.subscribe(chA, "b"));
    assert.ok(!hub.subscribe(chA, "b"), "already subscribed");
    assert.deepEqual(hub.stats(), {
      topics: 2,
      channels: 4,
      subscriptions: 5,
    });
    assert.deepEqual(hub.topicsOf(chA).sort(), ["a", "b"]);
    assert.ok(hub.unsubscribe(chA, "a"));
    assert.ok(!hub.unsubscribe(chA, "a"), "no longer subscribed");
    assert.equal(hub.publish("a", "x").delivered, 1, "the stream only");
    assert.equal(hub.publish("b", "y").delivered, 3);
    assert.ok(hub.unsubscribe(chB));
    assert.deepEqual(hub.topicsOf(chB), []);
    assert.equal(hub.publish("b", "z").delivered, 2);

    // Closing: by the peer (WebSocket, stream, SSE) and by the server.
    await closeWs(a);
    await stream.cancel();
    await events.cancel();
    await until(() => hub.stats().channels === 0, "every channel left");
    assert.deepEqual(hub.stats(), {
      topics: 0,
      channels: 0,
      subscriptions: 0,
    });
    assert.deepEqual(hub.topics(), []);
    // b was unsubscribed from everything; it can join again, and leaves
    // when the server closes it.
    assert.ok(hub.subscribe(chB, "c"));
    chB.close();
    await b.closed;
    await until(() => hub.stats().channels === 0, "b left");
    assert.ok(!hub.subscribe(chB, "c"), "a closed channel is refused");
    assert.equal(hub.stats().channels, 0);
  });
});

Deno.test("Topics.publish() builds one frame, chunk and SSE event per message, whatever the number of subscribers", async () => {
  await withHub({}, async ({ hub, base }) => {
    const peers = await Promise.all(
      [1, 2, 3, 4, 5].map(() => wsPeer(`ws://${base}/ws`)),
    );
    const streams = await Promise.all(
      [1, 2].map(async () =>
        new BodyReader(await fetch(`http://${base}/stream`))
      ),
    );
    const events = await Promise.all(
      [1, 2].map(async () => new BodyReader(await fetch(`http://${base}/sse`))),
    );
    await until(() => hub.subscribers("room") === 9, "9 subscribers");
    const before = { ...builds };
    for (let i = 0; i < 10; i++) {
      assert.equal(hub.publish("room", `message ${i}`).delivered, 9);
    }
    assert.deepEqual(
      {
        frame: builds.frame - before.frame,
        chunk: builds.chunk - before.chunk,
        sse: builds.sse - before.sse,
        deflate: builds.deflate - before.deflate,
      },
      { frame: 10, chunk: 10, sse: 10, deflate: 0 },
    );
    const expected = Array.from({ length: 10 }, (_, i) => `message ${i}`);
    for (const p of peers) {
      await until(() => p.got.length === 10, "10 messages");
      assert.deepEqual(p.got, expected);
    }
    for (const s of streams) {
      await until(() => s.text === expected.join(""), "stream text");
    }
    for (const e of events) {
      await until(() => sseData(e.text).length === 10, "10 events");
      assert.deepEqual(sseData(e.text), expected);
    }
    await Promise.all(peers.map(closeWs));
    for (const s of [...streams, ...events]) await s.cancel();
  });
});

Deno.test("Topics.publish() compresses once per deflate parameter set; context takeover compresses per channel; every client reads right", async () => {
  await withHub({}, async ({ hub, base }) => {
    const deflating = [
      await wsPeer(`ws://${base}/ws`, true),
      await wsPeer(`ws://${base}/ws`, true),
    ];
    const plain = await wsPeer(`ws://${base}/ws`, false);
    const takeover = await wsPeer(`ws://${base}/ws-ctx`, true);
    for (const p of [...deflating, takeover]) {
      assert.match(p.ws.extensions, /permessage-deflate/);
    }
    assert.equal(plain.ws.extensions, "");
    await until(() => hub.subscribers("room") === 4, "4 subscribers");
    // Over the server's 1 KiB threshold: compressed. One small one: not.
    const messages: (string | Uint8Array)[] = [
      "compress me, ".repeat(400),
      new Uint8Array(8192).map((_, i) => i % 7),
      "small",
      "again: " + "compress me, ".repeat(400),
    ];
    const before = { ...builds };
    for (const m of messages) {
      assert.equal(hub.publish("room", m).delivered, 4);
    }
    // 3 compressed once each for the two no-takeover channels (the
    // takeover one compresses on its own); the plain frames: one per
    // message for the plain channel, and "small" for everyone.
    assert.equal(builds.deflate - before.deflate, 3);
    assert.equal(builds.frame - before.frame, 4);
    for (const p of [...deflating, plain, takeover]) {
      await until(() => p.got.length === messages.length, "4 messages");
      assert.deepEqual(p.got, messages);
    }
    for (const p of [...deflating, plain, takeover]) await closeWs(p);
  });
});

/** A WebSocket client that upgrades and then never reads. */
async function deafWebSocket(port: number, path: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.write(wsUpgrade(path));
  const head = await c.readHead();
  assert.match(head, /^HTTP\/1\.1 101 /);
  return c;
}

/** An HTTP stream client that asks and then never reads. */
async function deafStream(port: number, path: string): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.write(get(path));
  return c;
}

const MAX_BUFFERED = 64 * 1024;
const BIG = new Uint8Array(32 * 1024).fill(120);

Deno.test("Topics onSlow: skip leaves messages out for a subscriber that does not read, and the others get all", async () => {
  await withHub(
    { maxBuffered: MAX_BUFFERED },
    async ({ hub, server, opened }) => {
      const deaf = await deafWebSocket(server.port, "/ws");
      const deafHttp = await deafStream(server.port, "/stream");
      const reader = await wsPeer(`ws://127.0.0.1:${server.port}/ws`);
      await until(() => hub.subscribers("room") === 3, "3 subscribers");
      const [slowWs, readerCh] = opened.get("/ws")!;
      const [slowHttp] = opened.get("/stream")!;
      let delivered = 0, skipped = 0, sent = 0;
      // Until both deaf clients are over the limit (the kernel's socket
      // buffers fill first), and a while more.
      for (let i = 0; i < 20_000 && skipped < 200; i++) {
        const r = hub.publish("room", BIG);
        sent++;
        delivered += r.delivered;
        skipped += r.skipped;
        assert.equal(r.closed, 0);
        assert.ok(r.delivered >= 1, "the reader always gets it");
        // Paced by the reader, which keeps up.
        await readerCh.drained();
      }
      assert.ok(skipped >= 200, `skipped only ${skipped} of ${sent}`);
      // Neither deaf channel holds more than the limit plus one message.
      for (const ch of [slowWs, slowHttp]) {
        assert.ok(ch.isOpen);
        assert.ok(
          ch.bufferedAmount <= MAX_BUFFERED + BIG.length + 64,
          `${ch.bufferedAmount} bytes queued`,
        );
      }
      assert.equal(hub.subscribers("room"), 3, "skipped, not dropped");
      await until(
        () => reader.got.length === sent,
        "the reader gets all",
        20_000,
      );
      assert.equal(delivered + skipped, sent * 3);
      await closeWs(reader);
      deaf.close();
      deafHttp.close();
    },
  );
});

Deno.test("Topics onSlow: close closes a slow WebSocket with 1008 and a slow HTTP stream, and keeps the reader", async () => {
  await withHub(
    { maxBuffered: MAX_BUFFERED, onSlow: "close" },
    async ({ hub, server, closes, opened }) => {
      const deaf = await deafWebSocket(server.port, "/ws");
      const deafHttp = await deafStream(server.port, "/stream");
      const reader = await wsPeer(`ws://127.0.0.1:${server.port}/ws`);
      await until(() => hub.subscribers("room") === 3, "3 subscribers");
      const readerCh = opened.get("/ws")![1];
      let closed = 0, sent = 0;
      for (let i = 0; i < 20_000 && closed < 2; i++) {
        const r = hub.publish("room", BIG);
        sent++;
        closed += r.closed;
        assert.equal(r.skipped, 0);
        // Paced by the reader, which keeps up.
        await readerCh.drained();
      }
      assert.equal(closed, 2);
      assert.equal(hub.subscribers("room"), 1, "the reader stays");
      // The WebSocket's close (1008) waits behind what is queued; the
      // server gives up on the peer's answer and ends it.
      await until(
        () => closes.some((c) => c.path === "/ws" && c.code === 1008),
        "onClose with 1008",
        10_000,
      );
      await until(
        () => reader.got.length === sent,
        "the reader gets all",
        20_000,
      );
      await closeWs(reader);
      deaf.close();
      deafHttp.close();
    },
  );
});

Deno.test("Topics: a channel made elsewhere gets send(), and leaves once it is closed", async () => {
  const hub = new Topics({ transport: null });
  const got: ChannelData[] = [];
  let open = true;
  const mine: Channel = {
    send(data) {
      got.push(data);
      return open;
    },
    close() {
      open = false;
      return true;
    },
    ping: () => false,
    get isOpen() {
      return open;
    },
    isWebSocket: false,
    remoteAddr: "memory",
    bufferedAmount: 0,
    drained: () => Promise.resolve(),
  };
  assert.ok(hub.subscribe(mine, "t"));
  assert.equal(hub.publish("t", "a").delivered, 1);
  assert.equal(hub.publish("t", new Uint8Array([1])).delivered, 1);
  assert.deepEqual(got, ["a", new Uint8Array([1])]);
  mine.close();
  assert.equal(hub.publish("t", "b").delivered, 0);
  assert.equal(hub.stats().channels, 0, "left at the first publish after");
  assert.ok(!hub.subscribe(mine, "t"));
  await hub.close();
});

Deno.test("Topics: bad arguments throw TypeError or RangeError; a closed hub", async () => {
  assert.throws(() => new Topics({ onSlow: "drop" as "skip" }), TypeError);
  assert.throws(() => new Topics({ maxBuffered: -1 }), RangeError);
  assert.throws(
    () => new Topics({ maxBufferd: 1 } as TopicsOptions),
    /did you mean "maxBuffered"/,
  );
  const hub = new Topics({ transport: null });
  assert.throws(() => hub.publish("t", { body: "x" } as never), TypeError);
  assert.throws(() => hub.publish(1 as never, "x"), TypeError);
  assert.throws(() => hub.subscribe({} as Channel, "t"), TypeError);
  await hub.close();
  assert.deepEqual(hub.publish("t", "x"), {
    delivered: 0,
    skipped: 0,
    closed: 0,
  });
  assert.throws(
    () =>
      hub.subscribe(
        { send: () => true, isOpen: true } as unknown as Channel,
        "t",
      ),
    /closed hub/,
  );
});

Deno.test("subscribe(), unsubscribe() and publish() use the default hub; defaultTopics() swaps it", async () => {
  const mine = new Topics({ transport: null });
  const before = defaultTopics();
  assert.equal(defaultTopics(mine), mine);
  try {
    const server = runServer((req) =>
      asChannel(req, {
        onOpen: (ch) => subscribe(ch, "news"),
        onReceive(ch, m) {
          if (m === "leave") unsubscribe(ch, "news");
          else publish("news", m);
        },
      }), { ip: "127.0.0.1", port: 0 });
    try {
      const p = await wsPeer(`ws://127.0.0.1:${server.port}/`);
      await until(() => mine.subscribers("news") === 1, "subscribed");
      p.ws.send("hi");
      await until(() => p.got.length === 1, "hi");
      p.ws.send("leave");
      await until(() => mine.subscribers("news") === 0, "left");
      assert.equal(publish("news", "x").delivered, 0);
      await closeWs(p);
    } finally {
      await server.stop();
    }
  } finally {
    defaultTopics(before);
    await mine.close();
  }
});

// ---------------------------------------------------------------- workers

const WORKERS = new URL("./fixtures/worker_handler.ts", import.meta.url)
  .pathname;

Deno.test("Topics with runServer({ workers: 2 }): a publish in one worker reaches the subscribers of both", async () => {
  const p = Proc.spawn(Deno.execPath(), [
    "run",
    "-A",
    "--unstable-net",
    WORKERS,
    "2",
    "./topics_worker.ts",
  ], { stdin: true });
  const peers: WsPeer[] = [];
  try {
    const port = Number((await p.waitFor(/^listening (\d+)$/, 20_000))[1]);
    // New connections until one is on each worker (SO_REUSEPORT spreads
    // them); each worker answers "who" with its id.
    const byWorker = new Map<string, WsPeer>();
    for (let i = 0; i < 64 && byWorker.size < 2; i++) {
      const peer = await wsPeer(`ws://127.0.0.1:${port}/ws`);
      peers.push(peer);
      peer.ws.send("who");
      await until(() => peer.got.length === 1, "id");
      const id = String(peer.got.shift());
      if (!byWorker.has(id)) byWorker.set(id, peer);
    }
    assert.equal(byWorker.size, 2, "a client on each worker");
    const [[idA, a], [idB, b]] = [...byWorker];
    a.ws.send("hello from a");
    b.ws.send("hello from b");
    const expected = [`${idA}: hello from a`, `${idB}: hello from b`].sort();
    for (const peer of peers) {
      await until(() => peer.got.length === 2, "both messages", 5000);
    }
    // Exactly once each: nothing more arrives.
    await sleep(100);
    for (const peer of peers) assert.deepEqual([...peer.got].sort(), expected);
    // Each worker holds only its own subscribers.
    a.ws.send("count");
    b.ws.send("count");
    await until(() => a.got.length === 3 && b.got.length === 3, "counts");
    const local = (p: WsPeer) => Number(String(p.got[2]).split(" ")[1]);
    assert.ok(local(a) >= 1 && local(b) >= 1);
    assert.equal(local(a) + local(b), peers.length);
    // Another hub of the workers, with the same topic: a room of its own.
    a.ws.send("other");
    b.ws.send("other");
    await sleep(200);
    for (const peer of peers) {
      assert.ok(!peer.got.includes("leak"), "another hub's message arrived");
    }
    for (const peer of peers) await closeWs(peer);
    await p.send("stop 1000");
    await p.waitFor(/^stopped stopped$/);
    assert.equal((await p.status).code, 0, p.output());
  } finally {
    for (const peer of peers) peer.ws.terminate();
    await p.close();
  }
});

Deno.test("Topics in a worker group: unnamed hubs of one worker get names of their own; broadcastTransport() joins hubs of one name", async () => {
  const GROUP = Symbol.for("httpkit.workerGroup");
  const g = globalThis as Record<symbol, unknown>;
  g[GROUP] = `test-${crypto.randomUUID()}`;
  const got: ChannelData[] = [];
  const mine = (): Channel => ({
    send: (d) => got.push(d) > 0,
    close: () => true,
    ping: () => false,
    isOpen: true,
    isWebSocket: false,
    remoteAddr: "memory",
    bufferedAmount: 0,
    drained: () => Promise.resolve(),
  });
  try {
    const a = new Topics();
    const b = new Topics();
    b.subscribe(mine(), "t");
    a.publish("t", "from a"); // a and b are "topics" and "topics#2"
    await sleep(50);
    assert.deepEqual(got, []);
    // Closing gives the name back: the next unnamed hub is "topics" again,
    // and reaches the "topics" hub of another worker.
    await a.close();
    const c = new Topics();
    const next: ChannelData[] = [];
    const door = new Topics({
      transport: broadcastTransport(`httpkit.topics/${g[GROUP]}/topics`),
    });
    door.subscribe({ ...mine(), send: (d) => next.push(d) > 0 }, "t");
    c.publish("t", "to the worker next door");
    await until(() => next.length === 1, "the message to the other worker");
    assert.deepEqual(next, ["to the worker next door"]);
    assert.deepEqual(got, []);
    await c.close();
    await door.close();
    await b.close();
  } finally {
    delete g[GROUP];
  }
  // Outside a worker group, hubs join only through a transport given.
  const x = new Topics({ transport: broadcastTransport("topics-test") });
  const y = new Topics({ transport: broadcastTransport("topics-test") });
  y.subscribe(mine(), "t");
  assert.equal(x.publish("t", "via broadcast").delivered, 0);
  await until(() => got.length === 1, "the message through the channel");
  assert.deepEqual(got, ["via broadcast"]);
  await x.close();
  await y.close();
});

Deno.test("Topics: a transport that throws on publish, or cannot open, is reported, never thrown at the publisher", async () => {
  const undelivered: string[] = [];
  const hub = new Topics({
    transport: {
      open: () => Promise.reject(new Error("no server")),
      subscribe() {},
      unsubscribe() {},
      publish() {
        throw new Error("cannot send");
      },
      close: () => Promise.resolve(),
    },
    onUndelivered: (topic, message, error) =>
      undelivered.push(`${topic}:${message}:${error.message}`),
  });
  await assert.rejects(hub.ready, /no server/);
  assert.deepEqual(hub.publish("t", "m"), {
    delivered: 0,
    skipped: 0,
    closed: 0,
  });
  assert.deepEqual(undelivered, ["t:m:cannot send"]);
  await hub.close();
});
