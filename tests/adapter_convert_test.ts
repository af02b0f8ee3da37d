// Tests of the Ring <-> Fetch converters.

import assert from "node:assert/strict";
import {
  fetchToRing,
  ringRequestOf,
  ringToFetch,
  toRequest,
  toRingRequest,
} from "../adapter/convert.ts";
import { fromResponse, toResponse } from "../adapter/response.ts";
import { serve } from "../adapter/serve.ts";
import { asChannel } from "../server/channel.ts";
import type { RingRequest } from "../server/types.ts";
import { ringRequest, withServer } from "./_helpers.ts";

const enc = new TextEncoder();

function ring(over: Partial<RingRequest> = {}): RingRequest {
  return ringRequest({
    serverPort: 8090,
    serverName: "example.com",
    remoteAddr: "10.0.0.1",
    uri: "/p",
    headers: { host: "example.com:8090" },
    ...over,
  });
}

Deno.test("toRequest() builds the URL from Host, uri and queryString", () => {
  const r = toRequest(ring({ uri: "/a%20b", queryString: "x=1&y" }));
  assert.equal(r.url, "http://example.com:8090/a%20b?x=1&y");
  assert.equal(r.method, "GET");
  assert.equal(
    toRequest(ring({ queryString: "" })).url,
    "http://example.com:8090/p?",
  );
});

Deno.test("toRequest() falls back to serverName:serverPort without Host", () => {
  const r = toRequest(ring({ headers: {}, serverName: "::1", serverPort: 9 }));
  assert.equal(r.url, "http://[::1]:9/p");
  const star = toRequest(ring({ uri: "*", requestMethod: "options" }));
  assert.equal(star.url, "http://example.com:8090/*");
  const abs = toRequest(ring({ uri: "http://other/q" }));
  assert.equal(abs.url, "http://example.com:8090/q");
});

Deno.test("toRequest() carries the body and headers, and remembers the map", async () => {
  const req = ring({
    requestMethod: "post",
    headers: { host: "h", "content-type": "text/plain", "x-a": "1,2" },
    body: enc.encode("body!"),
  });
  const r = toRequest(req);
  assert.equal(r.method, "POST");
  assert.equal(r.headers.get("x-a"), "1,2");
  assert.equal(await r.text(), "body!");
  assert.equal(ringRequestOf(r), req);
  assert.equal(ringRequestOf(new Request("http://x/")), undefined);
  // GET bodies are dropped: the Fetch API refuses them
  assert.equal(toRequest(ring({ body: enc.encode("x") })).body, null);
});

Deno.test("toRingRequest() makes the Ring map from a Request", async () => {
  const req = await toRingRequest(
    new Request("https://example.com/a/b?c=1", {
      method: "PATCH",
      headers: {
        "Content-Type": "Application/JSON; charset=UTF-8",
        "content-length": "2",
        cookie: "a=1",
        Upgrade: "websocket",
        Connection: "Upgrade",
      },
      body: "{}",
    }),
    { remoteAddr: { hostname: "1.2.3.4", port: 5 } },
  );
  assert.deepEqual({ ...req, body: new TextDecoder().decode(req.body!) }, {
    serverPort: 443,
    serverName: "example.com",
    remoteAddr: "1.2.3.4",
    uri: "/a/b",
    queryString: "c=1",
    scheme: "https",
    requestMethod: "patch",
    protocol: "HTTP/1.1",
    headers: {
      "content-type": "Application/JSON; charset=UTF-8",
      "content-length": "2",
      cookie: "a=1",
      upgrade: "websocket",
      connection: "Upgrade",
      host: "example.com",
    },
    contentType: "application/json",
    contentLength: 2,
    characterEncoding: "utf-8",
    body: "{}",
    websocket: true,
  });
  const bare = await toRingRequest(new Request("http://h:81/"));
  assert.equal(bare.queryString, null);
  assert.equal(bare.body, null);
  assert.equal(bare.serverPort, 81);
  assert.equal(bare.remoteAddr, "");
});

Deno.test("toResponse() maps status, repeated headers and bodies", async () => {
  const r = toResponse({
    status: 201,
    headers: { "x-n": 5, "set-cookie": ["a=1", "b=2"], "x-skip": null },
    body: "made",
  });
  assert.equal(r.status, 201);
  assert.equal(r.headers.get("x-n"), "5");
  assert.equal(r.headers.has("x-skip"), false);
  assert.deepEqual(r.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(await r.text(), "made");

  assert.equal(await toResponse({ body: ["a", enc.encode("b")] }).text(), "ab");
  async function* gen(): AsyncGenerator<string> {
    yield "x";
    yield "y";
  }
  assert.equal(await toResponse({ body: gen() }).text(), "xy");
  assert.equal(
    await toResponse({ body: ReadableStream.from(["s", "t"]) }).text(),
    "st",
  );
  assert.equal(
    await toResponse({ body: new ArrayBuffer(3) }).bytes().then((b) =>
      b.length
    ),
    3,
  );
  assert.equal(await toResponse({ body: new Blob(["bl"]) }).text(), "bl");
  const none = toResponse({ status: 204, body: "dropped" });
  assert.equal(none.body, null);
  const nf = toResponse(null);
  assert.equal(nf.status, 404);
  await nf.body?.cancel();
  const h = toResponse({ headers: new Headers({ a: "b" }) });
  assert.equal(h.headers.get("a"), "b");
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(file, "from a file");
  try {
    const f = await Deno.open(file);
    assert.equal(await toResponse({ body: f }).text(), "from a file");
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("fromResponse() keeps status, headers and the body stream", async () => {
  const res = fromResponse(
    new Response("x", { status: 299, headers: { a: "b" } }),
  );
  assert.equal(res.status, 299);
  assert.equal((res.headers as Headers).get("a"), "b");
  assert.ok(res.body instanceof ReadableStream);
  await (res.body as ReadableStream).cancel();
  assert.equal(fromResponse(Response.error()).status, 500);
  assert.equal(fromResponse(new Response(null)).body, null);
});

Deno.test("ringToFetch() and fetchToRing() round-trip a handler", async () => {
  const fetchApp = ringToFetch((req) => ({
    status: 202,
    headers: { "x-uri": req.uri },
    body: req.body ?? "no body",
  }));
  const res = await fetchApp(
    new Request("http://x/r", { method: "POST", body: "b" }),
  );
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("x-uri"), "/r");
  assert.equal(await res.text(), "b");
  const nf = await ringToFetch(() => null)(new Request("http://x/"));
  assert.equal(nf.status, 404);
  await nf.body?.cancel();

  await withServer(
    fetchToRing(fetchApp),
    {},
    async (t) => {
      const r = await fetch(`http://127.0.0.1:${t.port}/deep`);
      assert.equal(r.headers.get("x-uri"), "/deep");
      assert.equal(r.headers.get("content-length"), "7");
      assert.equal(await r.text(), "no body");
    },
  );
});

Deno.test("ringRequestOf() lets a fetch handler long-poll with asChannel", async () => {
  const server = serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (request) => {
      const p = new URL(request.url).pathname;
      if (p === "/poll") {
        return toResponse(asChannel(ringRequestOf(request)!, {
          onOpen(ch) {
            setTimeout(
              () => ch.send({ status: 200, body: "polled" }, true),
              20,
            );
          },
        }));
      }
      // a Ring handler mounted inside: the map it gets keeps the connection
      return ringToFetch((req) =>
        asChannel(req, {
          onOpen(ch) {
            ch.send(
              { headers: { "content-type": "text/plain" }, body: "s1;" },
              false,
            );
            setTimeout(() => ch.send("s2", true), 10);
          },
        })
      )(request);
    },
  );
  try {
    const poll = await fetch(`http://127.0.0.1:${server.addr.port}/poll`);
    assert.equal(await poll.text(), "polled");
    const s = await fetch(`http://127.0.0.1:${server.addr.port}/stream`);
    assert.equal(s.headers.get("transfer-encoding"), "chunked");
    assert.equal(await s.text(), "s1;s2");
  } finally {
    await server.shutdown();
  }
});
