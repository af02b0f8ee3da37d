import assert from "node:assert/strict";
import {
  type ParamsRequest,
  parseParams,
  wrapParams,
} from "../middleware/params.ts";
import { ringRequest } from "./_helpers.ts";

const req = ringRequest;

Deno.test("parseParams() decodes pairs and gathers repeats into arrays", () => {
  assert.deepEqual(parseParams("a=1&b=x+y&a=2&c=%C3%A9&d&a=3"), {
    a: ["1", "2", "3"],
    b: "x y",
    c: "é",
    d: "",
  });
  assert.deepEqual(parseParams(null), {});
  assert.deepEqual(parseParams("bad=%zz"), { bad: "%zz" });
});

Deno.test("wrapParams() adds query, form and merged params", async () => {
  let seen: ParamsRequest | null = null;
  const h = wrapParams((r) => {
    seen = r;
    return { body: "ok" };
  });
  await h(req({
    requestMethod: "post",
    queryString: "q=1&both=query",
    contentType: "application/x-www-form-urlencoded",
    body: new TextEncoder().encode("f=2&both=form"),
  }));
  assert.deepEqual(seen!.queryParams, { q: "1", both: "query" });
  assert.deepEqual(seen!.formParams, { f: "2", both: "form" });
  assert.deepEqual(seen!.params, { q: "1", f: "2", both: "form" });
});

Deno.test("wrapParams() leaves bodies of other types alone", async () => {
  let seen: ParamsRequest | null = null;
  await wrapParams((r) => {
    seen = r;
  })(req({ contentType: "text/plain", body: new TextEncoder().encode("a=1") }));
  assert.deepEqual(seen!.formParams, {});
  assert.deepEqual(seen!.params, {});
});
