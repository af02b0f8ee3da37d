// sse() against a real EventSource: headless Chromium (driven by
// playwright-core) reads typed, multi-line and keep-alive-interleaved events,
// reconnects after the server ends the stream, and sends Last-Event-ID.

import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1";
import { type RingRequest, type RingResponse, runServer, sse } from "../mod.ts";
import { needs, peerPath } from "./_peers.ts";

const chromiumPeer = needs("chromium");

const PAGE = `<!doctype html><html><head><meta charset="utf-8">
<title>httpkit sse</title></head><body>sse</body></html>`;

/** First connection: three events, then the server ends the stream. */
function handler(seen: (string | null)[]): (req: RingRequest) => RingResponse {
  return (req) => {
    if (req.uri === "/") {
      return {
        headers: { "content-type": "text/html; charset=utf-8" },
        body: PAGE,
      };
    }
    if (req.uri !== "/events") return { status: 404 };
    return sse(req, {
      onOpen(ch) {
        seen.push(ch.lastEventId);
        if (ch.lastEventId === null) {
          ch.send({ id: "1", data: "plain" });
          ch.comment("between events");
          ch.send({ event: "note", id: "2", data: "two\nlines" });
          ch.send({ data: "then the server closes" }, true);
        } else {
          ch.send({ data: `resumed after ${ch.lastEventId}` });
        }
      },
    }, { retry: 50, keepAlive: 20 });
  };
}

chromiumPeer.test("sse() with headless Chromium: EventSource events, reconnect and Last-Event-ID", async () => {
  const seen: (string | null)[] = [];
  const server = runServer(handler(seen), {
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
    const got = await page.evaluate(async () => {
      const events: { type: string; data: string; lastEventId: string }[] = [];
      let opens = 0;
      const source = new EventSource("/events");
      await new Promise<void>((resolve, reject) => {
        const record = (e: MessageEvent) => {
          events.push({
            type: e.type,
            data: e.data,
            lastEventId: e.lastEventId,
          });
          if (events.length === 4) resolve();
        };
        source.onopen = () => opens++;
        source.onmessage = record;
        source.addEventListener("note", record);
        // an error between the streams is the reconnect; a closed source is not
        source.onerror = () => {
          if (source.readyState === EventSource.CLOSED) {
            reject(new Error("EventSource closed"));
          }
        };
      });
      source.close();
      return { events, opens };
    });
    assert.deepEqual(got.events, [
      { type: "message", data: "plain", lastEventId: "1" },
      { type: "note", data: "two\nlines", lastEventId: "2" },
      { type: "message", data: "then the server closes", lastEventId: "2" },
      { type: "message", data: "resumed after 2", lastEventId: "2" },
    ]);
    assert.equal(got.opens, 2);
    assert.deepEqual(seen, [null, "2"]);
    await page.close();
  } finally {
    await browser.close();
    await server.stop();
  }
});
