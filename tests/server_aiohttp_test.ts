// Interop: many concurrent requests from Python's aiohttp (one
// ClientSession, its default pool of up to 100 connections).

import assert from "node:assert/strict";
import { decoder, runCommand, sleep, withServer } from "./_helpers.ts";
import { needs, peerPath } from "./_peers.ts";

const aiohttp = needs("aiohttp");
const SCRIPT = new URL("./fixtures/aiohttp_client.py", import.meta.url)
  .pathname;

interface Summary {
  ok: number;
  statuses: Record<string, number>;
  bad: { i: number; status: number; body: string }[];
  errors: { i: number; error: string }[];
}

aiohttp.test("runServer() answers 200 concurrent aiohttp requests correctly", async () => {
  let handled = 0;
  const peers = new Set<string>();
  await withServer(
    async (req) => {
      handled++;
      peers.add(req.remoteAddr);
      const i = Number(new URLSearchParams(req.queryString ?? "").get("i"));
      // interleave the responses
      if (i % 3 === 0) await sleep(i % 7);
      if (req.uri === "/echo" && req.requestMethod === "post") {
        return { body: `echo ${i} ${decoder.decode(req.body!)}` };
      }
      if (req.uri === "/get") return { body: `get ${i}` };
      return null;
    },
    {},
    async (t) => {
      const out = await runCommand(peerPath("python3"), [
        SCRIPT,
        `http://127.0.0.1:${t.port}`,
        "200",
      ]);
      assert.equal(out.code, 0, out.stderr);
      const summary = JSON.parse(out.stdout) as Summary;
      assert.deepEqual(summary.errors, []);
      assert.deepEqual(summary.bad, []);
      assert.deepEqual(summary.statuses, { "200": 200 });
      assert.equal(summary.ok, 200);
      assert.equal(handled, 200);
      assert.deepEqual([...peers], ["127.0.0.1"]);
    },
  );
});
