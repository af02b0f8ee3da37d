// Channels against a real browser: headless Chromium (driven by
// playwright-core) loads a page from the server, opens a WebSocket to it and
// reads an HTTP stream chunk by chunk with fetch, and reports what it got.

import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1";
import {
  asChannel,
  type Channel,
  type CloseStatus,
  type RingRequest,
  type RingResponse,
  runServer,
} from "../mod.ts";
import { until } from "./_helpers.ts";
import { needs, peerPath } from "./_peers.ts";

const chromiumPeer = needs("chromium");

const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<title>httpkit channels</title></head><body>channels</body></html>`;

interface Log {
  received: (string | Uint8Array)[];
  closes: { path: string; status: CloseStatus; code: number | undefined }[];
  acks: number;
}

function handler(log: Log): (req: RingRequest) => RingResponse {
  let stream: Channel | null = null;
  return (req) => {
    const path = req.uri;
    if (path === "/") {
      return {
        headers: { "content-type": "text/html; charset=utf-8" },
        body: PAGE,
      };
    }
    if (path === "/favicon.ico") return { status: 404 };
    if (path === "/ack") {
      // the page read chunk n: send the next one, the fourth ends the stream
      const n = ++log.acks;
      if (n <= 3) stream?.send(`chunk-${n}`, n === 3);
      return { headers: { "cache-control": "no-store" }, body: "ok" };
    }
    return asChannel(req, {
      onOpen(ch) {
        if (path === "/ws") ch.send("welcome");
        if (path === "/stream") {
          stream = ch;
          ch.send({
            status: 200,
            headers: {
              "content-type": "text/plain; charset=utf-8",
              "cache-control": "no-store",
              "x-stream": "yes",
            },
            body: "chunk-0",
          }, false);
        }
        if (path === "/poll") {
          setTimeout(() => ch.send({ body: "polled" }), 50);
        }
      },
      onReceive(ch, m) {
        log.received.push(m);
        if (m === "close-now") ch.close();
        else ch.send(m);
      },
      onClose(_ch, status, code) {
        log.closes.push({ path, status, code });
      },
    }, { protocols: ["chat"] });
  };
}

chromiumPeer.test("asChannel() with headless Chromium: WebSocket, HTTP stream and long-poll", async (t) => {
  const log: Log = { received: [], closes: [], acks: 0 };
  const server = runServer(handler(log), {
    ip: "127.0.0.1",
    port: 0,
    warnLogger: () => {},
  });
  const browser = await chromium.launch({
    executablePath: peerPath("chromium"),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
    ],
  });
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    await page.goto(`http://127.0.0.1:${server.port}/`);

    await t.step(
      "WebSocket echo of text and binary, client close",
      async () => {
        const r = await page.evaluate(async () => {
          const ws = new WebSocket(`ws://${location.host}/ws`, ["chat", "x"]);
          ws.binaryType = "arraybuffer";
          const messages: (string | number[])[] = [];
          let want = 4;
          let done: () => void = () => {};
          const all = new Promise<void>((r) => (done = r));
          ws.onmessage = (e) => {
            messages.push(
              typeof e.data === "string"
                ? e.data
                : Array.from(new Uint8Array(e.data as ArrayBuffer)),
            );
            if (messages.length === want) done();
          };
          await new Promise((resolve, reject) => {
            ws.onopen = resolve;
            ws.onerror = () => reject(new Error("WebSocket error"));
          });
          ws.send("hello from chromium");
          ws.send(new Uint8Array([1, 2, 3, 255]));
          ws.send("é".repeat(50_000));
          await all;
          want = -1;
          const closed = new Promise<
            { code: number; reason: string; wasClean: boolean }
          >((resolve) =>
            ws.onclose = (e) =>
              resolve({
                code: e.code,
                reason: e.reason,
                wasClean: e.wasClean,
              })
          );
          ws.close(4000, "page done");
          return {
            protocol: ws.protocol,
            extensions: ws.extensions,
            first: messages.slice(0, 3),
            big: messages[3] === "é".repeat(50_000),
            close: await closed,
          };
        });
        assert.equal(r.protocol, "chat");
        assert.match(r.extensions, /permessage-deflate/);
        assert.deepEqual(r.first, [
          "welcome",
          "hello from chromium",
          [1, 2, 3, 255],
        ]);
        assert.equal(r.big, true);
        // the reason is the server's echo, which need not repeat it
        assert.equal(r.close.code, 4000);
        assert.equal(r.close.wasClean, true);
        await until(() => log.closes.length === 1, "onClose");
        assert.deepEqual(log.closes[0], {
          path: "/ws",
          status: "unknown",
          code: 4000,
        });
        assert.deepEqual(log.received[1], new Uint8Array([1, 2, 3, 255]));
      },
    );

    await t.step("WebSocket closed by the server", async () => {
      const r = await page.evaluate(async () => {
        const ws = new WebSocket(`ws://${location.host}/ws`);
        await new Promise((r) => (ws.onopen = r));
        const closed = new Promise<{ code: number; wasClean: boolean }>((
          resolve,
        ) =>
          ws.onclose = (e) => resolve({ code: e.code, wasClean: e.wasClean })
        );
        ws.send("close-now");
        return await closed;
      });
      assert.deepEqual(r, { code: 1000, wasClean: true });
      await until(() => log.closes.length === 2, "onClose");
      assert.equal(log.closes[1].status, "server-close");
    });

    await t.step("fetch reads a chunked stream chunk by chunk", async () => {
      const r = await page.evaluate(async () => {
        const res = await fetch("/stream", { cache: "no-store" });
        const reader = res.body!.getReader();
        const dec = new TextDecoder();
        const chunks: string[] = [];
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          chunks.push(dec.decode(value));
          // the server sends the next chunk only after this
          await (await fetch("/ack", { cache: "no-store" })).text();
        }
        return {
          status: res.status,
          type: res.headers.get("content-type"),
          x: res.headers.get("x-stream"),
          chunks,
        };
      });
      assert.equal(r.status, 200);
      assert.equal(r.type, "text/plain; charset=utf-8");
      assert.equal(r.x, "yes");
      assert.deepEqual(r.chunks, [
        "chunk-0",
        "chunk-1",
        "chunk-2",
        "chunk-3",
      ]);
      await until(() => log.closes.length === 3, "onClose");
      assert.deepEqual(log.closes[2], {
        path: "/stream",
        status: "server-close",
        code: undefined,
      });
    });

    await t.step("long-poll answered from a timer", async () => {
      const r = await page.evaluate(async () => {
        const t0 = performance.now();
        const res = await fetch("/poll", { cache: "no-store" });
        return {
          text: await res.text(),
          length: res.headers.get("content-length"),
          ms: performance.now() - t0,
        };
      });
      assert.equal(r.text, "polled");
      assert.equal(r.length, "6");
      assert.ok(r.ms >= 40, `answered after ${r.ms} ms`);
    });
    await page.close();
  } finally {
    await browser.close();
    await server.stop();
  }
});
