import assert from "node:assert/strict";
import { contentTypeOf, wrapStatic } from "../middleware/static.ts";
import { exchange, get, withServer } from "./_helpers.ts";
import type { TestServer } from "./_helpers.ts";

async function withFiles(
  fn: (t: TestServer, dir: string) => Promise<void>,
): Promise<void> {
  const parent = await Deno.makeTempDir();
  const dir = `${parent}/root`;
  await Deno.mkdir(`${dir}/sub`, { recursive: true });
  await Deno.writeTextFile(`${parent}/secret.txt`, "secret");
  await Deno.writeTextFile(`${dir}/a.txt`, "0123456789");
  await Deno.writeTextFile(`${dir}/page.html`, "<p>page</p>");
  await Deno.writeTextFile(`${dir}/sub/index.html`, "<p>sub index</p>");
  await Deno.writeTextFile(`${dir}/.hidden`, "hidden");
  try {
    await withServer(
      wrapStatic(() => ({ status: 404, body: "fallthrough" }), dir),
      {},
      (t) => fn(t, dir),
    );
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
}

Deno.test("contentTypeOf() maps extensions", () => {
  assert.equal(contentTypeOf("x.HTML"), "text/html; charset=utf-8");
  assert.equal(contentTypeOf("a/b.png"), "image/png");
  assert.equal(contentTypeOf("noext"), "application/octet-stream");
});

Deno.test("wrapStatic() serves files with type, length and validators", async () => {
  await withFiles(async (t) => {
    const r = await exchange(t, get("/a.txt"));
    assert.equal(r.status, 200);
    assert.equal(r.text, "0123456789");
    assert.equal(r.header("content-type"), "text/plain; charset=utf-8");
    assert.equal(r.header("content-length"), "10");
    assert.equal(r.header("accept-ranges"), "bytes");
    assert.match(r.header("etag")!, /^"[0-9a-f]+-[0-9a-f]+"$/);
    assert.ok(r.header("last-modified"));
    const head = await exchange(t, "HEAD /a.txt HTTP/1.1\r\nHost: x\r\n\r\n", {
      head: true,
    });
    assert.equal(head.header("content-length"), "10");
    const html = await exchange(t, get("/page.html"));
    assert.equal(html.header("content-type"), "text/html; charset=utf-8");
  });
});

Deno.test("wrapStatic() answers 304 to If-None-Match and If-Modified-Since", async () => {
  await withFiles(async (t) => {
    const first = await exchange(t, get("/a.txt"));
    const etag = first.header("etag")!;
    const lm = first.header("last-modified")!;
    const byTag = await exchange(
      t,
      get("/a.txt", `If-None-Match: "zz", ${etag}\r\n`),
    );
    assert.equal(byTag.status, 304);
    assert.equal(byTag.header("etag"), etag);
    const star = await exchange(t, get("/a.txt", "If-None-Match: *\r\n"));
    assert.equal(star.status, 304);
    const byDate = await exchange(
      t,
      get("/a.txt", `If-Modified-Since: ${lm}\r\n`),
    );
    assert.equal(byDate.status, 304);
    const old = await exchange(
      t,
      get("/a.txt", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT\r\n"),
    );
    assert.equal(old.status, 200);
    // If-None-Match wins over If-Modified-Since
    const both = await exchange(
      t,
      get("/a.txt", `If-None-Match: "other"\r\nIf-Modified-Since: ${lm}\r\n`),
    );
    assert.equal(both.status, 200);
  });
});

Deno.test("wrapStatic() serves byte ranges with 206 and refuses with 416", async () => {
  await withFiles(async (t) => {
    const cases: [string, number, string, string | null][] = [
      ["bytes=2-4", 206, "234", "bytes 2-4/10"],
      ["bytes=7-", 206, "789", "bytes 7-9/10"],
      ["bytes=-2", 206, "89", "bytes 8-9/10"],
      ["bytes=5-100", 206, "56789", "bytes 5-9/10"],
      ["bytes=0-1,3-4", 200, "0123456789", null],
    ];
    for (const [range, status, body, cr] of cases) {
      const r = await exchange(t, get("/a.txt", `Range: ${range}\r\n`));
      assert.equal(r.status, status, range);
      assert.equal(r.text, body, range);
      assert.equal(r.header("content-range"), cr, range);
    }
    const bad = await exchange(t, get("/a.txt", "Range: bytes=10-\r\n"));
    assert.equal(bad.status, 416);
    assert.equal(bad.header("content-range"), "bytes */10");
    const etag = (await exchange(t, get("/a.txt"))).header("etag")!;
    const same = await exchange(
      t,
      get("/a.txt", `Range: bytes=0-0\r\nIf-Range: ${etag}\r\n`),
    );
    assert.equal(same.status, 206);
    const stale = await exchange(
      t,
      get("/a.txt", `Range: bytes=0-0\r\nIf-Range: "old"\r\n`),
    );
    assert.equal(stale.status, 200);
  });
});

Deno.test("wrapStatic() refuses path traversal, encoded or not, and NUL", async () => {
  await withFiles(async (t) => {
    for (
      const path of [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/sub/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
      ]
    ) {
      const r = await exchange(t, get(path));
      assert.equal(r.status, 403, path);
      assert.doesNotMatch(r.text, /secret/);
    }
    const nul = await exchange(t, get("/a.txt%00.html"));
    assert.equal(nul.status, 400);
    const bad = await exchange(t, get("/%E0%A4%A"));
    assert.equal(bad.status, 400);
  });
});

Deno.test("wrapStatic() serves directory index files and redirects to the slash", async () => {
  await withFiles(async (t) => {
    const idx = await exchange(t, get("/sub/"));
    assert.equal(idx.text, "<p>sub index</p>");
    const redirect = await exchange(t, get("/sub?x=1"));
    assert.equal(redirect.status, 301);
    assert.equal(redirect.header("location"), "/sub/?x=1");
    const root = await exchange(t, get("/"));
    assert.equal(root.text, "fallthrough");
  });
});

Deno.test("wrapStatic() falls through for other methods, missing files and dotfiles", async () => {
  await withFiles(async (t) => {
    for (
      const req of [
        get("/missing"),
        get("/.hidden"),
        "POST /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
      ]
    ) {
      const r = await exchange(t, req);
      assert.equal(r.status, 404);
      assert.equal(r.text, "fallthrough");
    }
  });
});
