import assert from "node:assert/strict";
import { wrapJson } from "../middleware/json.ts";
import { ringRequest, withServer } from "./_helpers.ts";

Deno.test("wrapJson() parses JSON bodies and serialises object bodies", async () => {
  await withServer(
    wrapJson((req) => {
      if (req.uri === "/text") return { body: "plain" };
      if (req.uri === "/typed") {
        return {
          headers: { "content-type": "application/vnd.x+json" },
          body: [1],
        };
      }
      return { status: 201, body: { got: req.json ?? null } };
    }),
    {},
    async (t) => {
      const base = `http://127.0.0.1:${t.port}`;
      const res = await fetch(`${base}/`, {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify({ a: [1, "é"] }),
      });
      assert.equal(res.status, 201);
      assert.equal(
        res.headers.get("content-type"),
        "application/json; charset=utf-8",
      );
      assert.deepEqual(await res.json(), { got: { a: [1, "é"] } });

      const ld = await fetch(`${base}/`, {
        method: "POST",
        headers: { "content-type": "application/ld+json" },
        body: "3",
      });
      assert.deepEqual(await ld.json(), { got: 3 });

      const none = await fetch(`${base}/`, { method: "POST", body: "{}" });
      assert.deepEqual(await none.json(), { got: null });

      const text = await fetch(`${base}/text`);
      assert.equal(await text.text(), "plain");
      const typed = await fetch(`${base}/typed`);
      assert.equal(typed.headers.get("content-type"), "application/vnd.x+json");
      assert.equal(await typed.text(), "[1]");
    },
  );
});

Deno.test("wrapJson() answers 400 for malformed JSON without calling the handler", async () => {
  let called = false;
  const h = wrapJson(() => {
    called = true;
  });
  const res = await h(ringRequest({
    requestMethod: "post",
    contentType: "application/json",
    contentLength: 3,
    body: new TextEncoder().encode("{x}"),
  }));
  assert.equal(res?.status, 400);
  assert.equal(called, false);
});
