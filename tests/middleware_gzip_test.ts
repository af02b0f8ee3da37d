import assert from "node:assert/strict";
import { acceptsGzip, wrapGzip } from "../middleware/gzip.ts";
import { exchange, get, withServer } from "./_helpers.ts";

Deno.test("acceptsGzip() honours q-values and *", () => {
  assert.equal(acceptsGzip("gzip, deflate, br"), true);
  assert.equal(acceptsGzip("br;q=1, gzip;q=0"), false);
  assert.equal(acceptsGzip("*"), true);
  assert.equal(acceptsGzip("*, gzip;q=0"), false);
  assert.equal(acceptsGzip("identity"), false);
  assert.equal(acceptsGzip(undefined), false);
});

Deno.test("wrapGzip() compresses large text bodies and adds Vary", async () => {
  const text = "hello gzip ".repeat(500);
  await withServer(
    wrapGzip((req) => {
      if (req.uri === "/small") {
        return { headers: { "content-type": "text/plain" }, body: "tiny" };
      }
      if (req.uri === "/png") {
        return { headers: { "content-type": "image/png" }, body: text };
      }
      if (req.uri === "/stream") {
        return {
          headers: { "content-type": "text/plain" },
          body: ReadableStream.from([text]),
        };
      }
      return {
        headers: {
          "content-type": "text/plain",
          vary: "Origin",
          etag: '"abc"',
        },
        body: text,
      };
    }),
    {},
    async (t) => {
      const big = await exchange(t, get("/", "Accept-Encoding: gzip\r\n"));
      assert.equal(big.header("content-encoding"), "gzip");
      assert.equal(big.header("vary"), "Origin, Accept-Encoding");
      assert.equal(big.header("etag"), '"abc-gzip"');
      assert.ok(big.body.length < text.length / 10);
      const plain = await new Response(
        new Blob([big.body as Uint8Array<ArrayBuffer>]).stream()
          .pipeThrough(new DecompressionStream("gzip")),
      ).text();
      assert.equal(plain, text);

      const refused = await exchange(
        t,
        get("/", "Accept-Encoding: gzip;q=0\r\n"),
      );
      assert.equal(refused.header("content-encoding"), null);
      assert.equal(refused.header("vary"), "Origin, Accept-Encoding");
      assert.equal(refused.text, text);

      for (const path of ["/small", "/png", "/stream"]) {
        const r = await exchange(t, get(path, "Accept-Encoding: gzip\r\n"));
        assert.equal(r.header("content-encoding"), null, path);
      }
      const head = await exchange(
        t,
        `HEAD / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n`,
        { head: true },
      );
      assert.equal(head.header("content-encoding"), null);
    },
  );
});
