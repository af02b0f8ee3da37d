import assert from "node:assert/strict";
import {
  compose,
  type JsonRequest,
  type JsonResponse,
  type ParamsRequest,
  type RingResponse,
  type Route,
  router,
  type RouterOptions,
  wrapJson,
  wrapParams,
} from "../mod.ts";
import { ringRequest, runCommand, withServer } from "./_helpers.ts";
import { needs, peerPath } from "./_peers.ts";

const hasCurl = needs("curl");

/** Calls `app` with a request map for `method` and `uri`. */
async function call(
  app: ReturnType<typeof router>,
  method: string,
  uri: string,
  over: Parameters<typeof ringRequest>[0] = {},
): Promise<RingResponse> {
  const res = await app(ringRequest({ requestMethod: method, uri, ...over }));
  assert.ok(res, `no response for ${method} ${uri}`);
  return res;
}

const echo =
  (name: string) => (req: { pathParams: Record<string, string> }) => ({
    body: `${name} ${JSON.stringify(req.pathParams)}`,
  });

Deno.test("router() calls the first route whose method and pattern match, in order", async () => {
  const app = router([
    ["GET", "/users/new", echo("new")],
    ["GET", "/users/:id", echo("show")],
    ["post", "/users/:id", echo("update")],
    ["GET", "/users/:id", echo("never")],
  ]);
  assert.equal((await call(app, "get", "/users/new")).body, "new {}");
  assert.equal((await call(app, "get", "/users/7")).body, 'show {"id":"7"}');
  assert.equal((await call(app, "post", "/users/7")).body, 'update {"id":"7"}');
});

Deno.test("router() puts decoded path parameters in pathParams", async () => {
  const app = router([
    ["GET", "/users/:id/posts/:post", echo("post")],
    ["GET", "/files/*", echo("file")],
    ["GET", "/n/:n(\\d+)", echo("number")],
    ["GET", "/docs/:name.:ext", echo("doc")],
  ]);
  const body = async (uri: string) => (await call(app, "get", uri)).body;
  assert.equal(
    await body("/users/ann%20b/posts/%C3%A9t%C3%A9"),
    'post {"id":"ann b","post":"été"}',
  );
  // the server hands over raw bytes as latin1: a raw UTF-8 é decodes too
  assert.equal(
    await body("/users/\u00c3\u00a9/posts/1"),
    'post {"id":"é","post":"1"}',
  );
  // an escaped slash stays inside one parameter; a bad escape is kept
  assert.equal(
    await body("/users/a%2Fb/posts/%zz"),
    'post {"id":"a/b","post":"%zz"}',
  );
  assert.equal(await body("/files/a/b%20c.txt"), 'file {"0":"a/b c.txt"}');
  assert.equal(await body("/n/42"), 'number {"n":"42"}');
  assert.equal((await call(app, "get", "/n/x")).status, 404);
  assert.equal(await body("/docs/guide.md"), 'doc {"name":"guide","ext":"md"}');
});

Deno.test("router() matches the path as sent: case, trailing slash and dot segments", async () => {
  const app = router([
    ["GET", "/admin", echo("admin")],
    ["GET", "/public/:file", echo("public")],
  ]);
  assert.equal((await call(app, "get", "/admin")).body, "admin {}");
  assert.equal((await call(app, "get", "/Admin")).status, 404);
  assert.equal((await call(app, "get", "/admin/")).status, 404);
  for (
    const uri of [
      "/public/../admin",
      "/public/%2e%2E/admin",
      "/public/..",
      "/./admin",
      "/public/.",
    ]
  ) {
    assert.equal((await call(app, "get", uri)).status, 404, uri);
  }
  assert.equal(
    (await call(app, "get", "/public/..x")).body,
    'public {"file":"..x"}',
  );
});

Deno.test("router() agrees with URLPattern on which paths match and what they capture", async () => {
  const patterns = [
    "/",
    "/a",
    "/a/:x",
    "/a/:x/b",
    "/:x.:y",
    "/a b/:x",
    "/caf\u00e9/:x",
    "/a/:x?",
    "/a/*",
    "/v{1}/:x",
  ];
  const paths = [
    "/",
    "/a",
    "/a/",
    "/a/q",
    "/a/q/b",
    "/a/q/c",
    "/a.b.c",
    "/a%20b/q",
    "/caf%C3%A9/q",
    "/v1/q",
    "/a/%41",
    "/a/q;x",
    "//a/q",
  ];
  for (const source of patterns) {
    const pattern = new URLPattern({ pathname: source });
    const app = router([["GET", source, (req) => ({
      body: JSON.stringify(req.pathParams),
    })]]);
    for (const path of paths) {
      const m = pattern.exec({ pathname: path });
      const res = await call(app, "get", path);
      if (m === null) {
        assert.equal(res.status, 404, `${source} ${path}`);
        continue;
      }
      const want: Record<string, string> = {};
      for (const [k, v] of Object.entries(m.pathname.groups)) {
        if (v !== undefined) want[k] = decodeURIComponent(v);
      }
      assert.equal(res.body, JSON.stringify(want), `${source} ${path}`);
    }
  }
});

Deno.test("router() answers an unknown path with 404, or with options.notFound", async () => {
  const routes: Route[] = [["GET", "/", echo("home")]];
  const plain = await call(router(routes), "get", "/nope");
  assert.equal(plain.status, 404);
  assert.deepEqual(plain.headers, {
    "content-type": "text/plain; charset=utf-8",
  });
  assert.equal(plain.body, "Not Found");
  const custom = router(routes, {
    notFound: (req) => ({
      status: 404,
      body: `no ${req.requestMethod} ${req.uri}`,
    }),
  });
  assert.equal((await call(custom, "delete", "/nope")).body, "no delete /nope");
});

Deno.test("router() answers a known path with another method with 405 and Allow", async () => {
  const app = router([
    ["GET", "/items/:id", echo("get")],
    ["PUT", "/items/:id", echo("put")],
    ["DELETE", "/items/:id", echo("delete")],
    ["POST", "/items", echo("post")],
  ]);
  const res = await call(app, "patch", "/items/1");
  assert.equal(res.status, 405);
  assert.deepEqual(res.headers, {
    "content-type": "text/plain; charset=utf-8",
    allow: "GET, HEAD, PUT, DELETE, OPTIONS",
  });
  assert.equal(res.body, "Method Not Allowed");
  const post = await call(app, "get", "/items");
  assert.equal(post.status, 405);
  assert.equal((post.headers as Record<string, string>).allow, "POST, OPTIONS");
});

Deno.test("router() serves HEAD with the GET route unless a HEAD route comes first", async () => {
  const app = router([
    ["HEAD", "/fast", () => ({ headers: { "x-head": "yes" } })],
    ["GET", "/fast", echo("fast")],
    ["GET", "/page", echo("page")],
    ["HEAD", "/page", () => ({ headers: { "x-head": "never" } })],
  ]);
  assert.equal((await call(app, "head", "/page")).body, "page {}");
  assert.deepEqual((await call(app, "head", "/fast")).headers, {
    "x-head": "yes",
  });
  // a GET route does not answer HEAD's converse
  const onlyHead = router([["HEAD", "/h", echo("h")]]);
  const res = await call(onlyHead, "get", "/h");
  assert.equal(res.status, 405);
  assert.equal((res.headers as Record<string, string>).allow, "HEAD, OPTIONS");
});

Deno.test("router() answers OPTIONS with 204 and Allow unless a route takes it", async () => {
  const app = router([
    ["GET", "/a", echo("a")],
    ["POST", "/a", echo("a")],
    [
      "OPTIONS",
      "/cors",
      () => ({ status: 204, headers: { "access-control-allow-origin": "*" } }),
    ],
    ["GET", "/cors", echo("cors")],
  ]);
  assert.deepEqual(await call(app, "options", "/a"), {
    status: 204,
    headers: { allow: "GET, HEAD, POST, OPTIONS" },
  });
  assert.deepEqual((await call(app, "options", "/cors")).headers, {
    "access-control-allow-origin": "*",
  });
  assert.equal((await call(app, "options", "/none")).status, 404);
  assert.equal((await call(app, "options", "*")).status, 404);
});

Deno.test("router() routes every method to a * route", async () => {
  const app = router([["*", "/any", (req) => ({ body: req.requestMethod })]]);
  for (const method of ["get", "post", "propfind", "options", "head"]) {
    assert.equal((await call(app, method, "/any")).body, method);
  }
});

Deno.test("router() matches a URLPattern against scheme, host, path and query", async () => {
  const app = router([
    [
      "GET",
      new URLPattern({
        hostname: "api.:region.example",
        pathname: "/v1/:what",
      }),
      echo("api"),
    ],
    [
      "GET",
      new URLPattern({ pathname: "/search", search: "q=*" }),
      echo("search"),
    ],
    [
      "GET",
      new URLPattern({ protocol: "https", pathname: "/secure" }),
      echo("secure"),
    ],
    ["GET", "/v1/:what", echo("www")],
  ]);
  const res = (uri: string, over: Parameters<typeof ringRequest>[0] = {}) =>
    call(app, "get", uri, over);
  assert.equal(
    (await res("/v1/users", { serverName: "api.eu.example" })).body,
    'api {"what":"users"}',
  );
  assert.equal(
    (await res("/v1/users", { serverName: "www.example" })).body,
    'www {"what":"users"}',
  );
  assert.equal(
    (await res("/search", { queryString: "q=deno" })).body,
    "search {}",
  );
  assert.equal((await res("/search", { queryString: "x=1" })).status, 404);
  assert.equal((await res("/secure", { scheme: "https" })).body, "secure {}");
  assert.equal((await res("/secure")).status, 404);
});

Deno.test("router() rejects malformed routes with a TypeError naming them", () => {
  const h = () => ({ body: "" });
  const bad: [unknown, RegExp][] = [
    [
      {},
      /^router: routes must be an array of \[method, pattern, handler\], got object$/,
    ],
    [
      [["GET", "/"]],
      /^router: route 0 must be \[method, pattern, handler\], got \["GET","\/"\]$/,
    ],
    [
      [["GET", "/", h], ["G T", "/", h]],
      /^router: route 1 has a bad method "G T"$/,
    ],
    [
      [["GET", "users", h]],
      /^router: route 0 pattern must be a URLPattern or a path starting with "\/", got "users"$/,
    ],
    [
      [["GET", "/a/(", h]],
      /^router: route 0 pattern "\/a\/\(" does not compile: /,
    ],
    [[["GET", "/", "h"]], /^router: route 0 has no handler function$/],
  ];
  for (const [routes, message] of bad) {
    assert.throws(() => router(routes as Route[]), {
      name: "TypeError",
      message,
    });
  }
  assert.throws(() => router([], { notfound: h } as RouterOptions), {
    name: "TypeError",
    message: 'router: unknown option "notfound" (did you mean "notFound"?)',
  });
});

Deno.test("router() composes with wrapParams and wrapJson", async () => {
  const app = compose(wrapJson, wrapParams)(
    router<ParamsRequest & JsonRequest>([
      ["GET", "/search/:index", (req) => ({
        body: `${req.pathParams.index} ${req.params.q}`,
      })],
      ["POST", "/items/:id", (req) => ({
        status: 201,
        body: `${req.pathParams.id} ${JSON.stringify(req.json)}`,
      })],
    ]),
  );
  const search = await app(
    ringRequest({ uri: "/search/books", queryString: "q=deno" }),
  );
  assert.equal(search?.body, "books deno");
  const created = await app(ringRequest({
    requestMethod: "post",
    uri: "/items/9",
    contentType: "application/json",
    body: new TextEncoder().encode('{"a":1}'),
  }));
  assert.equal(created?.status, 201);
  assert.equal(created?.body, '9 {"a":1}');
  assert.equal((await app(ringRequest({ uri: "/nope" })))?.status, 404);
});

Deno.test("router() returns object bodies for wrapJson to serialise", async () => {
  const app = wrapJson(router<JsonRequest, JsonResponse>([
    ["POST", "/items/:id", (req) => ({
      status: 201,
      body: { id: req.pathParams.id, got: req.json },
    })],
  ]));
  const created = await app(ringRequest({
    requestMethod: "post",
    uri: "/items/9",
    contentType: "application/json",
    body: new TextEncoder().encode('{"a":1}'),
  }));
  assert.equal(created?.status, 201);
  assert.equal(created?.body, '{"id":"9","got":{"a":1}}');
  // the router's own 404 and 405 pass through wrapJson unchanged
  assert.equal((await app(ringRequest({ uri: "/nope" })))?.body, "Not Found");
  const wrong = await app(ringRequest({ uri: "/items/9" }));
  assert.equal(wrong?.status, 405);
});

hasCurl.test("router() on a server: curl sees params, 404, 405 with Allow and HEAD", async () => {
  const app = router([
    ["GET", "/users/:id", (req) => ({
      headers: { "content-type": "text/plain" },
      body: `user ${req.pathParams.id}`,
    })],
    ["POST", "/users", () => ({ status: 201, body: "created" })],
  ]);
  await withServer(app, {}, async (t) => {
    const base = `http://127.0.0.1:${t.port}`;
    const curl = async (...args: string[]) => {
      const out = await runCommand(peerPath("curl"), [
        "-sS",
        "-i",
        "--max-time",
        "10",
        ...args,
      ]);
      assert.equal(out.code, 0, out.stderr);
      const [head, body = ""] = out.stdout.split("\r\n\r\n");
      const [status, ...lines] = head.split("\r\n");
      const headers = new Map(lines.map((l) => {
        const i = l.indexOf(":");
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
      }));
      return { status: Number(status.split(" ")[1]), headers, body };
    };
    const user = await curl(`${base}/users/ann%20b`);
    assert.equal(user.status, 200);
    assert.equal(user.body, "user ann b");

    const missing = await curl(`${base}/nothing/here`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body, "Not Found");

    const wrong = await curl("-X", "DELETE", `${base}/users/1`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "GET, HEAD, OPTIONS");

    const head = await curl("-I", `${base}/users/ann`);
    assert.equal(head.status, 200);
    assert.equal(
      head.headers.get("content-length"),
      String("user ann".length),
    );
    assert.equal(head.body, "");

    const created = await curl("-d", "x", `${base}/users`);
    assert.equal(created.status, 201);
  });
});
