// Unknown option names are errors where they are given: runServer, serve,
// asChannel and upgradeWebSocket throw a TypeError naming the option and the
// known one it most likely meant (see tests/options_test.ts for the matching
// itself).

import assert from "node:assert/strict";
import {
  asChannel,
  request,
  runServer,
  serve,
  upgradeWebSocket,
  websocket,
} from "../mod.ts";
import type { ServeOptions, ServerOptions } from "../mod.ts";

Deno.test("runServer() refuses an unknown option before binding, naming the known one", () => {
  assert.throws(
    () =>
      runServer(() => ({ body: "x" }), {
        host: "127.0.0.1",
        port: 0,
      } as unknown as ServerOptions),
    (e) =>
      e instanceof TypeError && /unknown option "host"/.test(e.message) &&
      /"ip"/.test(e.message),
  );
  assert.throws(
    () =>
      runServer(() => ({ body: "x" }), {
        ip: "127.0.0.1",
        port: 0,
        maxBodySize: 10,
      } as unknown as ServerOptions),
    (e) => e instanceof TypeError && /"maxBody"/.test(e.message),
  );
});

Deno.test("serve() refuses an unknown option, naming the known one", () => {
  assert.throws(
    () =>
      serve(
        {
          hostnam: "127.0.0.1",
          port: 0,
          onListen() {},
        } as unknown as ServeOptions,
        () => new Response("x"),
      ),
    (e) => e instanceof TypeError && /"hostname"/.test(e.message),
  );
});

Deno.test("asChannel() and upgradeWebSocket() refuse unknown options: the handler's error is logged and answered 500", async () => {
  const errors: unknown[] = [];
  const server = runServer(
    (req) => asChannel(req, {}, { maxws: 10 } as never),
    { ip: "127.0.0.1", port: 0, errorLogger: (e) => errors.push(e) },
  );
  const res = await fetch(`http://127.0.0.1:${server.port}/`);
  assert.equal(res.status, 500);
  await res.body?.cancel();
  await server.stop();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /asChannel: unknown option "maxws".*"maxWs"/);

  const logged: unknown[] = [];
  const s2 = serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      onError(e) {
        logged.push(e);
        return new Response("bad", { status: 500 });
      },
    },
    (request) =>
      upgradeWebSocket(request, { protocols: ["a"] } as never).response,
  );
  const r2 = await fetch(`http://127.0.0.1:${s2.addr.port}/`, {
    headers: {
      upgrade: "websocket",
      connection: "upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
    },
  });
  assert.equal(r2.status, 500);
  await r2.body?.cancel();
  await s2.shutdown();
  assert.match(
    String(logged[0]),
    /upgradeWebSocket: unknown option "protocols".*"protocol"/,
  );
});

Deno.test("request() answers an unknown option with a bad-option error value naming the known one; its promise does not reject", async () => {
  const res = await request({
    url: "http://127.0.0.1:1/",
    query: { q: 1 },
  } as never);
  assert.ok(res.error);
  assert.equal(res.error.code, "bad-option");
  assert.match(res.error.message, /unknown option "query".*"queryParams"/);
  const json = await request({ url: "http://127.0.0.1:1/", json: {} } as never);
  assert.equal(json.error?.code, "bad-option");
  assert.match(json.error!.message, /"body"/);
});

Deno.test("request() takes back the opts a response carries (traceRedirects and all)", async () => {
  const server = runServer(
    (req) =>
      req.uri === "/from"
        ? { status: 302, headers: { location: "/to" } }
        : { body: "here" },
    { ip: "127.0.0.1", port: 0 },
  );
  const first = await request({
    url: `http://127.0.0.1:${server.port}/from`,
    as: "text",
  });
  assert.ok(!first.error && first.opts.traceRedirects?.length === 2);
  const again = await request(first.opts);
  assert.ok(!again.error, String(again.error));
  await server.stop();
});

Deno.test("websocket() refuses an unknown option with a TypeError naming the known one", async () => {
  await assert.rejects(
    () => websocket("ws://127.0.0.1:1/", {}, { protocol: ["a"] } as never),
    (e) => e instanceof TypeError && /"protocols"/.test((e as Error).message),
  );
});
