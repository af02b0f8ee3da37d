// The server reuses the last parsed request head and the last encoded
// response when they repeat. These tests pin down that reuse never changes
// what a handler sees or what a client gets.

import assert from "node:assert/strict";
import type { RingRequest, RingResponse } from "../mod.ts";
import { decoder, get, withServer } from "./_helpers.ts";

Deno.test("a repeated request head gives each handler call its own headers map", async () => {
  const seen: Record<string, string>[] = [];
  await withServer(
    (req) => {
      seen.push({ ...req.headers });
      // A handler that edits its request must not edit the next one.
      req.headers["x-edited"] = "yes";
      delete req.headers["accept"];
      return { body: "ok" };
    },
    {},
    async (t) => {
      const c = await t.connect();
      const head = get("/same?q=1", "Accept: */*\r\n__proto__: p\r\n");
      for (let i = 0; i < 3; i++) {
        await c.write(head);
        assert.equal((await c.readResponse()).status, 200);
      }
    },
  );
  assert.equal(seen.length, 3);
  for (const h of seen) {
    assert.equal(h["accept"], "*/*");
    assert.equal(h["x-edited"], undefined);
    assert.equal(Object.getOwnPropertyDescriptor(h, "__proto__")?.value, "p");
  }
});

Deno.test("heads of the same length that differ in one byte are parsed apart", async () => {
  const seen: RingRequest[] = [];
  await withServer(
    (req) => {
      seen.push(req);
      return { body: req.uri };
    },
    {},
    async (t) => {
      const c = await t.connect();
      // Same length, differing at the front, the middle and the end.
      for (const path of ["/a1", "/b1", "/b2"]) {
        for (const v of ["x", "y"]) {
          await c.write(get(path, `X-V: ${v}\r\n`));
          const r = await c.readResponse();
          assert.equal(decoder.decode(r.body), path);
        }
      }
    },
  );
  assert.deepEqual(
    seen.map((r) => `${r.uri} ${r.headers["x-v"]}`),
    ["/a1 x", "/a1 y", "/b1 x", "/b1 y", "/b2 x", "/b2 y"],
  );
});

Deno.test("a repeated response follows changes to a reused headers map", async () => {
  const headers: Record<string, string> = { "x-n": "0" };
  let n = 0;
  await withServer(
    () => {
      // The same object every time, changed after the second response.
      if (n++ === 2) headers["x-n"] = "1";
      if (n === 4) headers["x-extra"] = "e";
      return { headers, body: "same" };
    },
    {},
    async (t) => {
      const c = await t.connect();
      const got: string[] = [];
      for (let i = 0; i < 5; i++) {
        await c.write(get("/"));
        const r = await c.readResponse();
        const extra = r.fields.find(([k]) => k === "x-extra")?.[1] ?? "-";
        got.push(`${r.fields.find(([k]) => k === "x-n")?.[1]} ${extra}`);
      }
      assert.deepEqual(got, ["0 -", "0 -", "1 -", "1 e", "1 e"]);
    },
  );
});

Deno.test("a repeated response keeps framing per request: HEAD, HTTP/1.0, close", async () => {
  const res: RingResponse = {
    headers: { "content-type": "text/plain" },
    body: "hello",
  };
  await withServer(() => res, {}, async (t) => {
    const c = await t.connect();
    for (let i = 0; i < 2; i++) {
      await c.write(get("/"));
      const r = await c.readResponse();
      assert.equal(decoder.decode(r.body), "hello");
    }
    await c.write("HEAD / HTTP/1.1\r\nHost: test\r\n\r\n");
    const h = await c.readResponse({ head: true });
    assert.equal(h.fields.find(([k]) => k === "content-length")?.[1], "5");
    assert.equal(h.body.length, 0);
    // The next GET must carry its body again.
    await c.write(get("/"));
    assert.equal(decoder.decode((await c.readResponse()).body), "hello");
    await c.write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const old = await c.readResponse();
    assert.equal(old.version, "HTTP/1.1");
    assert.equal(
      old.fields.find(([k]) => k === "connection")?.[1],
      "keep-alive",
    );
    await c.write(get("/", "Connection: close\r\n"));
    const last = await c.readResponse();
    assert.equal(last.fields.find(([k]) => k === "connection")?.[1], "close");
    assert.equal(decoder.decode(last.body), "hello");
  });
});

Deno.test("a repeated response with a Headers object or new body is built again", async () => {
  const bodies = ["a", "a", "a", "b", "b"];
  let i = 0;
  await withServer(
    () => {
      const k = i++;
      if (k === 2) {
        return { headers: new Headers({ "x-h": "1" }), body: bodies[k] };
      }
      return { body: bodies[k] };
    },
    {},
    async (t) => {
      const c = await t.connect();
      const got: string[] = [];
      for (let k = 0; k < bodies.length; k++) {
        await c.write(get("/"));
        const r = await c.readResponse();
        got.push(
          decoder.decode(r.body) +
            (r.fields.find(([n]) => n === "x-h")?.[1] ?? ""),
        );
      }
      assert.deepEqual(got, ["a", "a", "a1", "b", "b"]);
    },
  );
});

Deno.test("a repeated response carries the current Date", async () => {
  await withServer(() => ({ body: "tick" }), {}, async (t) => {
    const c = await t.connect();
    const dates: string[] = [];
    for (let i = 0; i < 3; i++) {
      await c.write(get("/"));
      const r = await c.readResponse();
      dates.push(r.fields.find(([k]) => k === "date")?.[1] ?? "");
    }
    await new Promise((resolve) => setTimeout(resolve, 1600));
    await c.write(get("/"));
    const later = await c.readResponse();
    const date = later.fields.find(([k]) => k === "date")?.[1] ?? "";
    assert.ok(
      Date.parse(date) > Date.parse(dates[2]),
      `${date} after ${dates[2]}`,
    );
  });
});

Deno.test("a repeated head is found in pipelined and split input, bodies included", async () => {
  const seen: string[] = [];
  await withServer(
    (req) => {
      const body = req.body instanceof Uint8Array
        ? decoder.decode(req.body)
        : "";
      seen.push(`${req.requestMethod} ${req.uri} ${body}`);
      return { body: "ok" };
    },
    {},
    async (t) => {
      const c = await t.connect();
      const post =
        "POST /p HTTP/1.1\r\nHost: test\r\nContent-Length: 3\r\n\r\n";
      let all = "";
      for (let i = 0; i < 5; i++) all += get("/g") + post + `b${i}\n`;
      await c.write(all);
      // The same head once more, cut inside its blank line, then its body.
      await c.write(post.slice(0, -1));
      await new Promise((r) => setTimeout(r, 20));
      await c.write("\nxyz");
      for (let i = 0; i < 11; i++) {
        assert.equal((await c.readResponse()).status, 200);
      }
    },
  );
  const want: string[] = [];
  for (let i = 0; i < 5; i++) want.push("get /g ", `post /p b${i}\n`);
  want.push("post /p xyz");
  assert.deepEqual(seen, want);
});
