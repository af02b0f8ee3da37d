// End to end: examples/chat as a fleet — redis-server, two chat processes
// sharing the room through it, and HAProxy in front with the example's own
// haproxy.cfg (round robin) — driven by headless Chromium. Two browser
// contexts (two browsers, as far as cookies and connections go) open the
// page through HAProxy until their WebSockets are on different processes
// (each page shows the process its socket is on), and each sees the other's
// messages; an SSE page and a long-poll page in the same room see them too.

import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1";
import { needs, peerPath } from "./_peers.ts";
import { freePort, Proc, waitForPort } from "./fixtures/fleet_process.ts";
import { RedisServer } from "./fixtures/redis.ts";

const peers = needs("chromium", "haproxy", "redis-server");

const EXAMPLE = new URL("../examples/chat/", import.meta.url).pathname;

// The page's DOM, as far as these checks need it (the test is not DOM-typed).
interface PageDom {
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    querySelectorAll(sel: string): Iterable<{ textContent: string | null }>;
  };
}

Deno.test({
  name:
    "examples/chat fleet: two Chromium browsers on different processes behind HAProxy see each other's messages through Redis",
  ...peers,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await RedisServer.start();
    const ports = [freePort(), freePort()];
    const apps = ports.map((port, i) =>
      Proc.spawn(Deno.execPath(), [
        "run",
        "-A",
        `${EXAMPLE}server.ts`,
        String(port),
        `--name=app${i + 1}`,
        `--redis=${redis.path}`,
      ])
    );
    const bind = freePort();
    let haproxy: Proc | null = null;
    const browser = await chromium.launch({
      executablePath: peerPath("chromium"),
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
      ],
    });
    try {
      for (const app of apps) await app.waitFor(/^Chat \(app\d/, 30_000);
      haproxy = Proc.spawn(peerPath("haproxy"), [
        "-db",
        "-f",
        `${EXAMPLE}haproxy.cfg`,
      ], {
        env: {
          CHAT_BIND: `127.0.0.1:${bind}`,
          APP1: `127.0.0.1:${ports[0]}`,
          APP2: `127.0.0.1:${ports[1]}`,
        },
      });
      await waitForPort("127.0.0.1", bind);
      const base = `http://127.0.0.1:${bind}`;
      // Round robin: requests through HAProxy reach both processes, as the
      // x-chat-process header says.
      const seen = new Set<string>();
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const res = await fetch(`${base}/health`);
        await res.body?.cancel();
        if (res.ok) seen.add(res.headers.get("x-chat-process") ?? "?");
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual([...seen].sort(), ["app1", "app2"]);

      const open = async (transport: string, name: string) => {
        const context = await browser.newContext();
        const page = await context.newPage();
        const load = async () => {
          await page.goto(`${base}/?transport=${transport}&name=${name}`);
          await page.waitForFunction(
            () => {
              const d = (globalThis as unknown as PageDom).document;
              return d.getElementById("status")?.textContent === "connected" &&
                (d.getElementById("via")?.textContent ?? "") !== "";
            },
            undefined,
            { timeout: 10_000 },
          );
          return await page.evaluate(() =>
            (globalThis as unknown as PageDom).document.getElementById("via")
              ?.textContent ?? ""
          );
        };
        return { page, context, load, via: await load() };
      };
      const alice = await open("ws", "alice");
      const bob = await open("ws", "bob");
      // Until bob's socket is on the other process. Round robin alternates,
      // but a page load makes an even number of requests as often as not
      // (the page, the upgrade, perhaps a favicon), so one request of our
      // own between reloads shifts the turn.
      for (let i = 0; i < 10 && bob.via === alice.via; i++) {
        await (await fetch(`${base}/health`)).body?.cancel();
        bob.via = await bob.load();
      }
      assert.match(alice.via, /^on app[12]$/);
      assert.match(bob.via, /^on app[12]$/);
      assert.notEqual(alice.via, bob.via, "the two sockets are on one process");
      const carol = await open("sse", "carol");
      const dave = await open("poll", "dave");

      const say = async (page: typeof alice.page, text: string) => {
        await page.fill("#text", text);
        await page.press("#text", "Enter");
      };
      const sees = (page: typeof alice.page, line: string) =>
        page.waitForFunction(
          (l: string) =>
            [
              ...(globalThis as unknown as PageDom).document
                .querySelectorAll("#log li"),
            ].some((li) => li.textContent === l),
          line,
          { timeout: 10_000 },
        );
      await say(alice.page, "hi bob, from " + alice.via);
      await say(bob.page, "hi alice, from " + bob.via);
      for (const p of [alice, bob, carol, dave]) {
        await sees(p.page, `alice: hi bob, from ${alice.via}`);
        await sees(p.page, `bob: hi alice, from ${bob.via}`);
      }
      await say(carol.page, "sse here");
      await say(dave.page, "poll here");
      for (const p of [alice, bob, carol, dave]) {
        await sees(p.page, "carol: sse here");
        await sees(p.page, "dave: poll here");
      }
      // Each message shows once, on every page.
      for (const p of [alice, bob]) {
        const lines = await p.page.evaluate(() =>
          [
            ...(globalThis as unknown as PageDom).document.querySelectorAll(
              "#log li",
            ),
          ].map((li) => li.textContent)
        );
        assert.equal(lines.length, 4, lines.join("\n"));
      }
      for (const p of [alice, bob, carol, dave]) await p.context.close();
    } finally {
      await browser.close();
      if (haproxy !== null) {
        haproxy.kill("SIGTERM");
        await haproxy.close(2000);
      }
      for (const app of apps) {
        app.kill("SIGTERM");
        await app.close(3000);
      }
      await redis.stop();
    }
  },
});
