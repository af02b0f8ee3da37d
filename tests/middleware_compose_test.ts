import assert from "node:assert/strict";
import { compose, type Middleware } from "../middleware/compose.ts";
import { ringRequest } from "./_helpers.ts";

const req = ringRequest();

Deno.test("compose() runs middleware outermost first", async () => {
  const order: string[] = [];
  const tag = (name: string): Middleware => (h) => async (r) => {
    order.push(`in ${name}`);
    const res = await h(r);
    order.push(`out ${name}`);
    return res;
  };
  const app = compose(tag("a"), tag("b"))(() => {
    order.push("handler");
    return { body: "x" };
  });
  assert.deepEqual(await app(req), { body: "x" });
  assert.deepEqual(order, ["in a", "in b", "handler", "out b", "out a"]);
  assert.deepEqual(await compose()(() => ({ status: 204 }))(req), {
    status: 204,
  });
});
