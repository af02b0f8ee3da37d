import assert from "node:assert/strict";
import {
  parseCookies,
  serializeCookie,
  wrapCookies,
} from "../middleware/cookies.ts";
import { withServer } from "./_helpers.ts";

Deno.test("parseCookies() splits, decodes and keeps the first of a name", () => {
  assert.deepEqual(parseCookies('a=1; b="quoted"; c=x%20y; a=2; junk; d=%zz'), {
    a: "1",
    b: "quoted",
    c: "x y",
    d: "%zz",
  });
  assert.deepEqual(parseCookies(undefined), {});
});

Deno.test("serializeCookie() writes attributes and refuses bad names", () => {
  assert.equal(
    serializeCookie("s", {
      value: "a b;c",
      path: "/",
      domain: "example.com",
      maxAge: 60,
      expires: new Date(Date.UTC(2030, 0, 1)),
      secure: true,
      httpOnly: true,
      sameSite: "Lax",
      partitioned: true,
    }),
    "s=a%20b%3Bc; Path=/; Domain=example.com; Max-Age=60; " +
      "Expires=Tue, 01 Jan 2030 00:00:00 GMT; Secure; HttpOnly; SameSite=Lax; Partitioned",
  );
  assert.equal(serializeCookie("n", "v"), "n=v");
  assert.throws(() => serializeCookie("a b", "v"), TypeError);
  assert.throws(
    () => serializeCookie("a", { value: "v", path: "/;x" }),
    TypeError,
  );
});

Deno.test("wrapCookies() reads request cookies and sets response cookies", async () => {
  await withServer(
    wrapCookies((req) => ({
      headers: { "set-cookie": "kept=1" },
      body: `theme=${req.cookies.theme}`,
      cookies: { a: "1", b: { value: "2", httpOnly: true } },
    })),
    {},
    async (t) => {
      const res = await fetch(`http://127.0.0.1:${t.port}/`, {
        headers: { cookie: "theme=dark; other=x" },
      });
      assert.equal(await res.text(), "theme=dark");
      assert.deepEqual(res.headers.getSetCookie(), [
        "kept=1",
        "a=1",
        "b=2; HttpOnly",
      ]);
    },
  );
});
