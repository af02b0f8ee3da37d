// Smoke tests of examples/: each runs with `deno run` on a free port, is
// requested, and is killed again.

import assert from "node:assert/strict";
import { startExample as start } from "./fixtures/examples.ts";

async function wsRoundTrip(url: string, message: string): Promise<unknown> {
  const ws = new WebSocket(url);
  await new Promise((r, j) => {
    ws.onopen = r;
    ws.onerror = j;
  });
  ws.send(message);
  const reply = await new Promise((r) => (ws.onmessage = (e) => r(e.data)));
  const closed = new Promise((r) => (ws.onclose = r));
  ws.close();
  await closed;
  return reply;
}

Deno.test("examples/hello.ts answers", async () => {
  const app = await start("hello.ts");
  try {
    const res = await fetch(`${app.base}/there`);
    assert.match(await res.text(), /Hello, World! You asked for \/there/);
  } finally {
    await app.stop();
  }
});

Deno.test("examples/echo.ts echoes HTTP requests and WebSocket messages", async () => {
  const app = await start("echo.ts");
  try {
    const res = await fetch(`${app.base}/e?x=1`, {
      method: "POST",
      body: "hey",
    });
    const echo = await res.json();
    assert.equal(echo.method, "POST");
    assert.equal(echo.uri, "/e");
    assert.equal(echo.query, "x=1");
    assert.equal(echo.body, "hey");
    assert.equal(
      await wsRoundTrip(`${app.base.replace("http", "ws")}/ws`, "ping"),
      "ping",
    );
  } finally {
    await app.stop();
  }
});

Deno.test("examples/file_server.ts serves a directory with ranges and gzip", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/index.html`, "<h1>index</h1>");
  await Deno.writeTextFile(`${dir}/big.txt`, "0123456789".repeat(500));
  const app = await start("file_server.ts", ["--allow-read"], [dir]);
  try {
    const index = await fetch(`${app.base}/`);
    assert.equal(await index.text(), "<h1>index</h1>");
    assert.match(index.headers.get("content-type")!, /text\/html/);
    const range = await fetch(`${app.base}/big.txt`, {
      headers: { range: "bytes=10-14" },
    });
    assert.equal(range.status, 206);
    assert.equal(await range.text(), "01234");
    const missing = await fetch(`${app.base}/nope`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await app.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("examples/fetch_app.ts serves routes, a stream, a WebSocket and a Ring mount", async () => {
  const app = await start("fetch_app.ts");
  try {
    assert.match(await (await fetch(`${app.base}/`)).text(), /fetch handler/);
    assert.deepEqual(await (await fetch(`${app.base}/json?a=1`)).json(), {
      method: "GET",
      query: "?a=1",
    });
    const echo = await fetch(`${app.base}/echo`, {
      method: "POST",
      body: "back",
    });
    assert.equal(await echo.text(), "back");
    const clock = await fetch(`${app.base}/clock`);
    const reader = clock.body!.getReader();
    const first = await reader.read();
    assert.match(new TextDecoder().decode(first.value), /^\d{4}-\d\d-\d\dT/);
    await reader.cancel();
    assert.equal(
      await (await fetch(`${app.base}/ring/x`)).text(),
      "Ring handler saw /ring/x\n",
    );
    assert.equal(
      await wsRoundTrip(`${app.base.replace("http", "ws")}/ws`, "hi"),
      "hi",
    );
  } finally {
    await app.stop();
  }
});

Deno.test("examples/chat/server.ts takes a post and answers a long poll", async () => {
  const app = await start("chat/server.ts", ["--allow-read"]);
  try {
    const page = await fetch(`${app.base}/`);
    assert.match(await page.text(), /httpkit chat/);
    const first = await (await fetch(`${app.base}/poll?since=-1`)).json();
    const waiting = fetch(`${app.base}/poll?since=${first.last}`);
    const sent = await fetch(`${app.base}/send`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "tester", text: "hello" }),
    });
    assert.equal(sent.status, 204);
    // The poll's response is the message published while it waited (or,
    // when the post came before the poll was subscribed, the history since).
    const polled = await (await waiting).json();
    const [got] = Array.isArray(polled.messages) ? polled.messages : [polled];
    assert.equal(got.text, "hello");
    assert.equal(got.name, "tester");
    // Later polls catch up from the history.
    const again = await (await fetch(`${app.base}/poll?since=${first.last}`))
      .json();
    assert.deepEqual(again.messages.map((m: { text: string }) => m.text), [
      "hello",
    ]);
    assert.equal(again.last, got.id);
  } finally {
    await app.stop();
  }
});
