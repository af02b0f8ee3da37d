// Tests of serve(): fetch handlers on httpkit's server, over real sockets.

import assert from "node:assert/strict";
import { type HttpServer, serve, type ServeOptions } from "../adapter/serve.ts";
import type { FetchHandler } from "../adapter/convert.ts";
import { RawClient, sleep } from "./_helpers.ts";

const quiet: ServeOptions = {
  port: 0,
  hostname: "127.0.0.1",
  onListen() {},
};

async function withServe(
  handler: FetchHandler,
  fn: (s: HttpServer, base: string) => Promise<void>,
  options: ServeOptions = {},
): Promise<void> {
  const s = serve({ ...quiet, ...options }, handler);
  try {
    await fn(s, `http://127.0.0.1:${s.addr.port}`);
  } finally {
    await s.shutdown();
  }
}

Deno.test("serve() passes method, URL, headers and body to the handler", async () => {
  let seen:
    | { method: string; url: string; ct: string | null; body: string }
    | null = null;
  await withServe(async (request) => {
    seen = {
      method: request.method,
      url: request.url,
      ct: request.headers.get("content-type"),
      body: await request.text(),
    };
    return new Response("ok");
  }, async (_s, base) => {
    const res = await fetch(`${base}/a/b?c=1&d=2`, {
      method: "PUT",
      headers: { "content-type": "text/plain" },
      body: "payload",
    });
    assert.equal(await res.text(), "ok");
    assert.deepEqual(seen, {
      method: "PUT",
      url: `${base}/a/b?c=1&d=2`,
      ct: "text/plain",
      body: "payload",
    });
  });
});

Deno.test("serve() gives info.remoteAddr with the client's port", async () => {
  await withServe(
    (_req, info) => Response.json(info.remoteAddr),
    async (_s, base) => {
      const c = await RawClient.connect(Number(new URL(base).port));
      await c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      const res = await c.readResponse();
      const local = c.conn.localAddr as Deno.NetAddr;
      c.close();
      assert.deepEqual(JSON.parse(res.text), {
        transport: "tcp",
        hostname: "127.0.0.1",
        port: local.port,
      });
    },
  );
});

Deno.test("serve() sends bodies that are ready at once with Content-Length", async () => {
  await withServe((req) => {
    const p = new URL(req.url).pathname;
    if (p === "/json") return Response.json({ a: 1 });
    if (p === "/bytes") return new Response(new Uint8Array(100_000));
    if (p === "/blob") return new Response(new Blob(["blob!"]));
    return new Response("text");
  }, async (s) => {
    const c = await RawClient.connect(s.addr.port);
    await c.write(
      "GET /json HTTP/1.1\r\nHost: x\r\n\r\nGET /text HTTP/1.1\r\nHost: x\r\n\r\n" +
        "GET /blob HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    const [json, text, blob, bytes] = await c.readResponses(4);
    c.close();
    assert.equal(json.header("content-length"), "7");
    assert.equal(json.header("content-type"), "application/json");
    assert.equal(json.text, '{"a":1}');
    assert.equal(text.header("content-length"), "4");
    assert.equal(blob.header("content-length"), "5");
    assert.equal(blob.text, "blob!");
    // over the probe size: streamed, still complete
    assert.equal(bytes.body.length, 100_000);
  });
});

Deno.test("serve() writes a streaming body as it comes, chunked", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await withServe(() => {
    const enc = new TextEncoder();
    return new Response(
      new ReadableStream({
        async start(ctl) {
          ctl.enqueue(enc.encode("first;"));
          await gate;
          ctl.enqueue(enc.encode("second"));
          ctl.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  }, async (_s, base) => {
    const res = await fetch(base);
    assert.equal(res.headers.get("transfer-encoding"), "chunked");
    const reader = res.body!.getReader();
    const first = await reader.read();
    assert.equal(new TextDecoder().decode(first.value), "first;");
    release();
    let rest = "";
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    assert.equal(rest, "second");
  });
});

Deno.test("serve() aborts request.signal when the client goes away", async () => {
  let aborted!: (reason: unknown) => void;
  const abortedP = new Promise<unknown>((r) => (aborted = r));
  await withServe((request) =>
    // answers only once the client has gone
    new Promise<Response>((resolve) => {
      request.signal.addEventListener("abort", () => {
        aborted(request.signal.reason);
        resolve(new Response("too late"));
      });
    }), async (s) => {
    const c = await RawClient.connect(s.addr.port);
    await c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await sleep(30);
    c.close();
    const reason = await abortedP;
    assert.ok(reason instanceof DOMException);
    assert.equal((reason as DOMException).name, "AbortError");
  });
});

Deno.test("serve() answers HEAD, 204 and 304 without a body", async () => {
  await withServe((req) => {
    const p = new URL(req.url).pathname;
    if (p === "/204") return new Response(null, { status: 204 });
    if (p === "/304") return new Response(null, { status: 304 });
    return new Response("hello");
  }, async (s) => {
    const c = await RawClient.connect(s.addr.port);
    await c.write("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    const head = await c.readResponse({ head: true });
    assert.equal(head.header("content-length"), "5");
    await c.write("GET /204 HTTP/1.1\r\nHost: x\r\n\r\n");
    const r204 = await c.readResponse();
    assert.equal(r204.status, 204);
    await c.write("GET /304 HTTP/1.1\r\nHost: x\r\n\r\n");
    const r304 = await c.readResponse();
    assert.equal(r304.status, 304);
    await c.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    const after = await c.readResponse();
    assert.equal(after.text, "hello");
    c.close();
  });
});

Deno.test("serve() keeps repeated Set-Cookie fields", async () => {
  await withServe(() => {
    const h = new Headers();
    h.append("set-cookie", "a=1");
    h.append("set-cookie", "b=2");
    return new Response("c", { headers: h });
  }, async (_s, base) => {
    const res = await fetch(base);
    await res.body?.cancel();
    assert.deepEqual(res.headers.getSetCookie(), ["a=1", "b=2"]);
  });
});

Deno.test("serve() turns handler errors into onError's response", async () => {
  const errors: unknown[] = [];
  await withServe((req) => {
    if (new URL(req.url).pathname === "/null") {
      return null as unknown as Response;
    }
    throw new Error("boom");
  }, async (_s, base) => {
    const res = await fetch(base);
    assert.equal(res.status, 418);
    assert.equal(await res.text(), "caught boom");
    const bad = await fetch(`${base}/null`);
    assert.equal(bad.status, 418);
    await bad.body?.cancel();
    assert.equal(errors.length, 2);
    assert.ok(errors[1] instanceof TypeError);
  }, {
    onError(err) {
      errors.push(err);
      return new Response(`caught ${(err as Error).message}`, { status: 418 });
    },
  });
});

Deno.test("serve() answers 500 by default when the handler throws", async () => {
  const orig = console.error;
  const logged: unknown[] = [];
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    await withServe(() => {
      throw new Error("boom");
    }, async (_s, base) => {
      const res = await fetch(base);
      assert.equal(res.status, 500);
      assert.equal(await res.text(), "Internal Server Error");
    });
  } finally {
    console.error = orig;
  }
  assert.equal(logged.length, 1);
});

Deno.test("serve() accepts the handler inside the options and calls onListen", async () => {
  let listened: Deno.NetAddr | null = null;
  const s = serve({
    port: 0,
    hostname: "127.0.0.1",
    onListen: (addr) => (listened = addr),
    handler: () => new Response("init"),
  });
  try {
    assert.deepEqual(listened, s.addr);
    assert.equal(s.addr.transport, "tcp");
    const res = await fetch(`http://127.0.0.1:${s.addr.port}/`);
    assert.equal(await res.text(), "init");
  } finally {
    await s.shutdown();
  }
  await s.finished;
});

Deno.test("serve() logs the address by default", async () => {
  const orig = console.log;
  const lines: string[] = [];
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  let s: HttpServer;
  try {
    s = serve({ port: 0, hostname: "127.0.0.1" }, () => new Response());
  } finally {
    console.log = orig;
  }
  await s.shutdown();
  assert.deepEqual(lines, [`Listening on http://127.0.0.1:${s.addr.port}/`]);
});

Deno.test("serve() stops when its signal aborts", async () => {
  const ac = new AbortController();
  const s = serve({ ...quiet, signal: ac.signal }, () => new Response("x"));
  ac.abort();
  await s.finished;
  assert.equal(s.server.status, "stopped");
});

Deno.test("serve() works with await using", async () => {
  let port = 0;
  {
    await using s = serve(quiet, () => new Response("x"));
    port = s.addr.port;
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), "x");
  }
  await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
});

Deno.test("serve() passes limits through: maxBody answers 413", async () => {
  await withServe(() => new Response("no"), async (s) => {
    const c = await RawClient.connect(s.addr.port);
    await c.write(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n",
    );
    const res = await c.readResponse();
    c.close();
    assert.equal(res.status, 413);
  }, { maxBody: 10, warnLogger() {} });
});

Deno.test("serve() answers 400 when the Host header does not make a URL", async () => {
  await withServe(() => new Response("no"), async (s) => {
    const c = await RawClient.connect(s.addr.port);
    await c.write("GET / HTTP/1.1\r\nHost: a b\r\n\r\n");
    const res = await c.readResponse();
    c.close();
    assert.ok(res.status === 400);
  }, { warnLogger() {} });
});

Deno.test("serve() resolves info.completed when a stream ends, rejects when cut", async () => {
  const outcomes: string[] = [];
  let done!: () => void;
  const bothSettled = new Promise<void>((r) => (done = r));
  await withServe((req, info) => {
    info.completed.then(
      () => outcomes.push("ok"),
      () => outcomes.push("failed"),
    ).finally(() => outcomes.length === 2 && done());
    const endless = new URL(req.url).pathname === "/endless";
    let n = 0;
    return new Response(
      new ReadableStream({
        async pull(ctl) {
          await sleep(5);
          ctl.enqueue(new Uint8Array(1000));
          if (!endless && ++n === 3) ctl.close();
        },
      }),
    );
  }, async (_s, base) => {
    const res = await fetch(`${base}/short`);
    assert.equal((await res.bytes()).length, 3000);
    const ac = new AbortController();
    const endless = await fetch(`${base}/endless`, { signal: ac.signal });
    const reader = endless.body!.getReader();
    await reader.read();
    ac.abort();
    await reader.closed.catch(() => {});
    await bothSettled;
    assert.deepEqual(outcomes, ["ok", "failed"]);
  });
});
