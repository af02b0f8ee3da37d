// The fetch road at full speed: the Request a serve() handler gets is light
// (url, method, headers from the parsed head) but a Request to anyone who
// checks; Responses with complete bodies are read without their stream; and
// Deno.upgradeWebSocket works on serve(), so code written for Deno.serve
// (Hono's hono/deno helper) runs unchanged.

import assert from "node:assert/strict";
import { Hono } from "npm:hono@4";
import { upgradeWebSocket as honoUpgrade } from "npm:hono@4/deno";
import { type HttpServer, serve, type ServeOptions } from "../mod.ts";
import type { FetchHandler } from "../mod.ts";
import { requestUrl } from "../adapter/_request.ts";
import { QUICK, quickParts } from "../adapter/_response.ts";
import { ringRequest } from "./_helpers.ts";
import { needs, peerPath } from "./_peers.ts";

const quiet: ServeOptions = { port: 0, hostname: "127.0.0.1", onListen() {} };

async function withServe(
  handler: FetchHandler,
  fn: (base: string, s: HttpServer) => Promise<void>,
): Promise<void> {
  const s = serve(quiet, handler);
  try {
    await fn(`http://127.0.0.1:${s.addr.port}`, s);
  } finally {
    await s.shutdown();
  }
}

Deno.test("serve() hands a Request that is a Request to anyone who checks", async () => {
  let seen: Record<string, unknown> = {};
  await withServe(async (request) => {
    const clone = request.clone();
    const rebuilt = new Request(request.clone()).method;
    seen = {
      instance: request instanceof Request,
      tag: Object.prototype.toString.call(request),
      method: request.method,
      url: request.url,
      header: request.headers.get("x-test"),
      headersInstance: request.headers instanceof Headers,
      cache: request.cache,
      credentials: request.credentials,
      redirect: request.redirect,
      mode: request.mode,
      keepalive: request.keepalive,
      integrity: request.integrity,
      bodyUsedBefore: request.bodyUsed,
      bodyIsStream: request.body instanceof ReadableStream,
      text: await request.text(),
      bodyUsedAfter: request.bodyUsed,
      cloneInstance: clone instanceof Request,
      cloneText: await clone.text(),
      signal: request.signal instanceof AbortSignal,
      rebuilt,
    };
    return new Response("ok");
  }, async (base) => {
    const res = await fetch(`${base}/p?q=1`, {
      method: "PATCH",
      headers: { "x-test": "yes" },
      body: "the body",
    });
    assert.equal(await res.text(), "ok");
  });
  const real = new Request("http://x/", { method: "PATCH", body: "b" });
  assert.deepEqual(seen, {
    instance: true,
    tag: Object.prototype.toString.call(real),
    method: "PATCH",
    url: seen.url,
    header: "yes",
    headersInstance: true,
    cache: real.cache,
    credentials: real.credentials,
    redirect: real.redirect,
    mode: real.mode,
    keepalive: real.keepalive,
    integrity: real.integrity,
    bodyUsedBefore: false,
    bodyIsStream: true,
    text: "the body",
    bodyUsedAfter: true,
    cloneInstance: true,
    cloneText: "the body",
    signal: true,
    rebuilt: "PATCH",
  });
  assert.match(String(seen.url), /^http:\/\/127\.0\.0\.1:\d+\/p\?q=1$/);
});

Deno.test("serve() Request can be passed on to fetch(), body and all (a proxy)", async () => {
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (r) =>
      new Response(`${r.method} ${new URL(r.url).pathname} ${await r.text()}`),
  );
  const target = `http://127.0.0.1:${upstream.addr.port}`;
  try {
    await withServe(
      (request) =>
        fetch(new Request(target + new URL(request.url).pathname, request)),
      async (base) => {
        const res = await fetch(`${base}/via`, {
          method: "POST",
          body: "data",
        });
        assert.equal(await res.text(), "POST /via data");
      },
    );
  } finally {
    await upstream.shutdown();
  }
});

Deno.test("requestUrl() equals what new URL() makes of the same request line", () => {
  const cases: [string, string | null, Record<string, string>][] = [
    ["/a/b", "c=1", { host: "example.com" }],
    ["/a/../b", null, { host: "example.com" }],
    ["/%2e%2e/x", null, { host: "example.com" }],
    ["/sp ace", null, { host: "example.com" }],
    ["/é", null, { host: "Example.COM:80" }],
    ["/x", "a='b'&c=d e", { host: "example.com:8080" }],
    ["/x", null, { host: "[::1]:8000" }],
    ["/x\\y", null, { host: "h" }],
    ["/.well-known/x", null, { host: "h:443" }],
    ["/", "", { host: "h" }],
  ];
  for (const [uri, query, headers] of cases) {
    const req = ringRequest({ uri, queryString: query, headers });
    const raw = `http://${headers.host}${uri}${
      query === null ? "" : "?" + query
    }`;
    assert.equal(requestUrl(req), new URL(raw).href, raw);
  }
});

Deno.test("quickParts() reads complete Responses as the public API would", async () => {
  assert.ok(QUICK, "the runtime's Response is not understood: slow path only");
  const responses: (() => Response)[] = [
    () => new Response("text"),
    () => new Response("text", { status: 201, headers: { "x-a": "1" } }),
    () => Response.json({ a: [1, 2] }),
    () => new Response(new Uint8Array([1, 2, 3])),
    () => new Response(null, { status: 204 }),
    () => {
      const h = new Headers();
      h.append("set-cookie", "a=1");
      h.append("set-cookie", "b=2");
      return new Response("c", { headers: h });
    },
  ];
  for (const make of responses) {
    const quick = quickParts(make());
    assert.ok(quick !== null);
    const slow = make();
    assert.equal(quick.status, slow.status);
    // Headers iterate sorted by name; the pairs keep the order given.
    const sorted = (h: [string, string][]): string[] =>
      h.map(([n, v]) => `${n.toLowerCase()}: ${v}`).sort();
    assert.deepEqual(
      sorted(quick.headers),
      sorted(
        [...slow.headers].filter(([n]) => n !== "set-cookie").concat(
          slow.headers.getSetCookie().map((v) => ["set-cookie", v]),
        ),
      ),
    );
    const body = new Uint8Array(await slow.arrayBuffer());
    const got = typeof quick.body === "string"
      ? new TextEncoder().encode(quick.body)
      : quick.body ?? new Uint8Array(0);
    assert.deepEqual([...got], [...body]);
  }
  assert.equal(
    quickParts(new Response(ReadableStream.from([new Uint8Array([120])]))),
    null,
  );
  assert.equal(quickParts(new Response(new Blob(["x"]))), null);
  const used = new Response("x");
  await used.text();
  assert.equal(quickParts(used), null);
});

Deno.test("serve() sends what each kind of Response holds, the same over the quick and the stream way", async () => {
  const cases: Record<string, () => Response> = {
    "/text": () => new Response("héllo"),
    "/json": () => Response.json({ ok: true }),
    "/bytes": () => new Response(new Uint8Array([0, 255, 7])),
    "/blob": () => new Response(new Blob(["blob"])),
    "/stream": () =>
      new Response(
        ReadableStream.from([new Uint8Array([97]), new Uint8Array([98])]),
      ),
    "/cookies": () => {
      const h = new Headers({ "content-type": "text/plain" });
      h.append("set-cookie", "a=1");
      h.append("set-cookie", "b=2");
      return new Response("c", { status: 202, headers: h });
    },
    "/empty": () => new Response(null, { status: 204 }),
  };
  await withServe((request) => {
    const make = cases[new URL(request.url).pathname];
    return make ? make() : new Response("no", { status: 404 });
  }, async (base) => {
    for (const [path, make] of Object.entries(cases)) {
      const want = make();
      const res = await fetch(base + path);
      assert.equal(res.status, want.status, path);
      assert.deepEqual(
        new Uint8Array(await res.arrayBuffer()),
        new Uint8Array(await want.arrayBuffer()),
        path,
      );
      assert.equal(
        res.headers.get("content-type"),
        want.headers.get("content-type"),
        path,
      );
      assert.deepEqual(
        res.headers.getSetCookie(),
        want.headers.getSetCookie(),
        path,
      );
    }
  });
});

const python = needs("websockets");

python.test("serve() runs Hono's own hono/deno upgradeWebSocket (Deno.upgradeWebSocket) with a Python websockets client", async () => {
  const app = new Hono();
  const events: string[] = [];
  app.get(
    "/ws",
    honoUpgrade(() => ({
      onOpen: () => events.push("open"),
      onMessage(event, ws) {
        ws.send(`echo: ${event.data}`);
      },
      onClose: () => events.push("close"),
    })),
  );
  await withServe(app.fetch, async (base) => {
    const script = `
import asyncio, websockets, sys
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        for m in ["one", "two"]:
            await ws.send(m)
            print(await ws.recv())
asyncio.run(main())
`;
    const out = await new Deno.Command(peerPath("python3"), {
      args: ["-c", script, base.replace("http", "ws") + "/ws"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      new TextDecoder().decode(out.stdout),
      "echo: one\necho: two\n",
      new TextDecoder().decode(out.stderr),
    );
  });
  assert.deepEqual(events, ["open", "close"]);
});

Deno.test("serve() drives a Deno.upgradeWebSocket socket: readyState, protocol, binary messages, close codes", async () => {
  const closed = Promise.withResolvers<[number, boolean]>();
  await withServe((request) => {
    const { socket, response } = Deno.upgradeWebSocket(request, {
      protocol: "chat",
    });
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      assert.equal(socket.readyState, WebSocket.OPEN);
      assert.equal(socket.protocol, "chat");
      socket.send(new Uint8Array([1, 2, 3]));
    };
    socket.onmessage = (e) => {
      socket.send(`got ${new Uint8Array(e.data as ArrayBuffer).length}`);
      socket.close(4000, "bye");
    };
    socket.onclose = (e) => closed.resolve([e.code, e.wasClean]);
    return response;
  }, async (base) => {
    const ws = new WebSocket(base.replace("http", "ws"), ["chat"]);
    ws.binaryType = "arraybuffer";
    const got: unknown[] = [];
    const done = Promise.withResolvers<number>();
    ws.onmessage = (e) => {
      got.push(
        e.data instanceof ArrayBuffer ? [...new Uint8Array(e.data)] : e.data,
      );
      if (got.length === 1) ws.send(new Uint8Array([9, 9]));
    };
    ws.onclose = (e) => done.resolve(e.code);
    assert.equal(await done.promise, 4000);
    assert.equal(ws.protocol, "chat");
    assert.deepEqual(got, [[1, 2, 3], "got 2"]);
  });
  assert.deepEqual(await closed.promise, [4000, true]);
});

Deno.test("serve() Request body methods read the body whole off the socket: text, json, bytes, arrayBuffer, with Content-Length and chunked, a signal watch on or off", async () => {
  const seen: unknown[] = [];
  await withServe(async (request) => {
    const how = new URL(request.url).pathname;
    if (how.startsWith("/signal")) void request.signal;
    const before = request.bodyUsed;
    let value: unknown;
    if (how.endsWith("/json")) value = await request.json();
    else if (how.endsWith("/bytes")) value = [...await request.bytes()];
    else if (how.endsWith("/buffer")) {
      value = (await request.arrayBuffer()).byteLength;
    } else value = await request.text();
    const again = await request.text().then(() => "read twice", (e) => e);
    seen.push([
      how,
      before,
      request.bodyUsed,
      value,
      again instanceof TypeError,
    ]);
    return new Response("ok");
  }, async (base) => {
    const chunked = (s: string) =>
      ReadableStream.from([new TextEncoder().encode(s)]);
    const cases: [string, BodyInit][] = [
      ["/text", "héllo"],
      ["/json", '{"a":[1,2]}'],
      ["/bytes", new Uint8Array([1, 2, 3])],
      ["/buffer", new Uint8Array(100_000)],
      ["/signal/text", "watched"],
      ["/chunked/text", chunked("in chunks")],
      ["/signal/chunked/json", chunked('{"b":true}')],
    ];
    for (const [path, body] of cases) {
      const res = await fetch(base + path, { method: "POST", body });
      assert.equal(await res.text(), "ok", path);
    }
  });
  assert.deepEqual(seen, [
    ["/text", false, true, "héllo", true],
    ["/json", false, true, { a: [1, 2] }, true],
    ["/bytes", false, true, [1, 2, 3], true],
    ["/buffer", false, true, 100_000, true],
    ["/signal/text", false, true, "watched", true],
    ["/chunked/text", false, true, "in chunks", true],
    ["/signal/chunked/json", false, true, { b: true }, true],
  ]);
});
