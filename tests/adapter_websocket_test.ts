// Tests of upgradeWebSocket(): Deno.upgradeWebSocket-style sockets on
// httpkit's WebSocket channels, driven by Deno's WebSocket client.

import assert from "node:assert/strict";
import { type HttpServer, serve } from "../adapter/serve.ts";
import type { FetchHandler } from "../adapter/convert.ts";
import { upgradeWebSocket } from "../adapter/websocket.ts";
import { RawClient, wsUpgrade } from "./_helpers.ts";

async function withWs(
  handler: FetchHandler,
  fn: (s: HttpServer, url: string) => Promise<void>,
): Promise<void> {
  const s = serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, handler);
  try {
    await fn(s, `ws://127.0.0.1:${s.addr.port}/ws`);
  } finally {
    await s.shutdown();
  }
}

function open(url: string, protocols?: string[]): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "arraybuffer";
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = (e) => reject(new Error(`WebSocket error: ${e.type}`));
  });
}

function next(ws: WebSocket): Promise<MessageEvent> {
  return new Promise((r) => ws.addEventListener("message", r, { once: true }));
}

function closed(ws: WebSocket): Promise<CloseEvent> {
  return new Promise((r) => ws.addEventListener("close", r, { once: true }));
}

Deno.test("upgradeWebSocket() echoes text and binary messages", async () => {
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.onmessage = (e) => {
      if (typeof e.data === "string") socket.send(`echo ${e.data}`);
      else socket.send(new Uint8Array(e.data as ArrayBuffer).reverse());
    };
    return response;
  }, async (_s, url) => {
    const ws = await open(url);
    ws.send("hi");
    assert.equal((await next(ws)).data, "echo hi");
    ws.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual(
      new Uint8Array((await next(ws)).data as ArrayBuffer),
      new Uint8Array([3, 2, 1]),
    );
    ws.close();
    await closed(ws);
  });
});

Deno.test("upgradeWebSocket() socket goes CONNECTING, OPEN, CLOSING, CLOSED", async () => {
  const states: number[] = [];
  let serverClose!: (e: CloseEvent) => void;
  const serverClosed = new Promise<CloseEvent>((r) => (serverClose = r));
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request);
    states.push(socket.readyState);
    assert.throws(
      () => socket.send("too early"),
      (e: unknown) =>
        e instanceof DOMException && e.name === "InvalidStateError",
    );
    socket.addEventListener("open", () => {
      states.push(socket.readyState);
      socket.close(4000, "bye");
      states.push(socket.readyState);
    });
    socket.onclose = (e) => {
      states.push(socket.readyState);
      serverClose(e);
    };
    return response;
  }, async (_s, url) => {
    const ws = await open(url);
    const ev = await closed(ws);
    assert.equal(ev.code, 4000);
    assert.equal(ev.reason, "bye");
    const sev = await serverClosed;
    assert.equal(sev.code, 4000);
    assert.equal(sev.wasClean, true);
    assert.deepEqual(states, [0, 1, 2, 3]);
  });
});

Deno.test("upgradeWebSocket() reports the client's close code", async () => {
  let got!: (e: CloseEvent) => void;
  const serverClosed = new Promise<CloseEvent>((r) => (got = r));
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.onclose = got;
    return response;
  }, async (_s, url) => {
    const ws = await open(url);
    ws.close(3001, "done");
    await closed(ws);
    const e = await serverClosed;
    assert.equal(e.code, 3001);
    assert.equal(e.wasClean, true);
  });
});

Deno.test("upgradeWebSocket() delivers Blobs with binaryType blob and sends in order", async () => {
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.binaryType = "blob";
    socket.onmessage = async (e) => {
      assert.ok(e.data instanceof Blob);
      const text = await (e.data as Blob).text();
      socket.send(new Blob([`blob ${text}`]));
      socket.send(`text after blob`);
      socket.send(new TextEncoder().encode("view").subarray(1, 3));
    };
    return response;
  }, async (_s, url) => {
    const ws = await open(url);
    const got: unknown[] = [];
    const three = new Promise<void>((r) =>
      ws.onmessage = (e) => {
        got.push(
          typeof e.data === "string"
            ? e.data
            : new TextDecoder().decode(e.data as ArrayBuffer),
        );
        if (got.length === 3) r();
      }
    );
    ws.send(new TextEncoder().encode("x"));
    await three;
    assert.deepEqual(got, ["blob x", "text after blob", "ie"]);
    ws.close();
    await closed(ws);
  });
});

Deno.test("upgradeWebSocket() agrees on the subprotocol the client offers", async () => {
  let serverProtocol = "";
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request, {
      protocol: "chat.v2",
    });
    serverProtocol = socket.protocol;
    return response;
  }, async (_s, url) => {
    const ws = await open(url, ["chat.v1", "chat.v2"]);
    assert.equal(ws.protocol, "chat.v2");
    assert.equal(serverProtocol, "chat.v2");
    ws.close();
    await closed(ws);
  });
});

Deno.test("upgradeWebSocket() sends its headers option with the 101", async () => {
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request, {
      headers: { "x-greeting": "hi" },
    });
    socket.onopen = () => socket.close();
    return response;
  }, async (s) => {
    const c = await RawClient.connect(s.addr.port);
    await c.write(wsUpgrade("/ws"));
    const head = await c.readHead();
    c.close();
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /\r\nx-greeting: hi\r\n/i);
  });
});

Deno.test("upgradeWebSocket() validates close codes and reasons", async () => {
  let checked!: () => void;
  const done = new Promise<void>((r) => (checked = r));
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.onopen = () => {
      assert.throws(
        () => socket.close(1001),
        (e: unknown) =>
          e instanceof DOMException && e.name === "InvalidAccessError",
      );
      assert.throws(
        () => socket.close(1000, "x".repeat(124)),
        (e: unknown) => e instanceof DOMException && e.name === "SyntaxError",
      );
      assert.equal(socket.readyState, socket.OPEN);
      assert.equal(
        socket.url,
        `ws://127.0.0.1:${new URL(request.url).port}/ws`,
      );
      assert.equal(socket.bufferedAmount, 0);
      socket.close();
      checked();
    };
    return response;
  }, async (_s, url) => {
    const ws = await open(url);
    await done;
    const e = await closed(ws);
    assert.equal(e.code, 1005);
  });
});

Deno.test("upgradeWebSocket() throws for requests that are not upgrades", async () => {
  await withWs((request) => {
    try {
      upgradeWebSocket(request);
      return new Response("upgraded?");
    } catch (err) {
      return new Response(String(err), { status: 400 });
    }
  }, async (s) => {
    const res = await fetch(`http://127.0.0.1:${s.addr.port}/`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /TypeError: Invalid Header: 'upgrade'/);
  });
  assert.throws(
    () => upgradeWebSocket(new Request("http://x/")),
    /needs a Request passed in by httpkit's serve/,
  );
});

Deno.test("upgradeWebSocket() socket sees error and close when the handshake fails", async () => {
  const events: string[] = [];
  let done!: () => void;
  const closedP = new Promise<void>((r) => (done = r));
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.onerror = () => events.push("error");
    socket.onclose = (e) => {
      events.push(`close ${e.code} ${e.wasClean}`);
      done();
    };
    return response;
  }, async (s) => {
    const c = await RawClient.connect(s.addr.port);
    await c.write(
      "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
        "Sec-WebSocket-Version: 12\r\n\r\n",
    );
    const res = await c.readResponse();
    c.close();
    assert.equal(res.status, 426);
    await closedP;
    assert.deepEqual(events, ["error", "close 1006 false"]);
  });
});

Deno.test("upgradeWebSocket() sockets close with 1001 when the server shuts down", async () => {
  const s = serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const { response } = upgradeWebSocket(req);
    return response;
  });
  const ws = await open(`ws://127.0.0.1:${s.addr.port}/`);
  const c = closed(ws);
  await s.shutdown();
  assert.equal((await c).code, 1001);
});

Deno.test("upgradeWebSocket() works when the Response is re-created by a framework", async () => {
  await withWs((request) => {
    const { socket, response } = upgradeWebSocket(request);
    socket.onmessage = (e) => socket.send(e.data as string);
    // what frameworks do to make headers mutable
    return new Response(response.body, response);
  }, async (_s, url) => {
    const ws = await open(url);
    ws.send("still works");
    assert.equal((await next(ws)).data, "still works");
    ws.close();
    await closed(ws);
  });
});
