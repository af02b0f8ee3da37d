// End to end: the chat example in headless Chromium. Two pages exchange
// messages over each transport (WebSocket, long-polling, server-sent
// events), and a screenshot of each is saved in the test's temp dir.

import assert from "node:assert/strict";
import { chromium } from "npm:playwright-core@1";
import { startExample } from "./fixtures/examples.ts";
import { needs, peerPath } from "./_peers.ts";

const chromiumPeer = needs("chromium");

// The page's DOM, as far as these checks need it (the test is not DOM-typed).
interface PageDom {
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    querySelectorAll(sel: string): Iterable<{ textContent: string | null }>;
  };
}

Deno.test({
  name: "examples/chat: two Chromium pages talk over ws, poll and sse",
  ...chromiumPeer,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const tmp = await Deno.makeTempDir({ prefix: "httpkit_chat_" });
    const app = await startExample("chat/server.ts", ["--allow-read"]);
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
      const context = await browser.newContext();
      for (const transport of ["ws", "poll", "sse"]) {
        const open = async (name: string) => {
          const page = await context.newPage();
          await page.goto(`${app.base}/?transport=${transport}&name=${name}`);
          await page.waitForFunction(
            () =>
              (globalThis as unknown as PageDom).document.getElementById(
                "status",
              )?.textContent === "connected",
            undefined,
            { timeout: 10_000 },
          );
          return page;
        };
        const alice = await open("alice");
        const bob = await open("bob");
        const say = async (page: typeof alice, text: string) => {
          await page.fill("#text", text);
          await page.press("#text", "Enter");
        };
        const sees = (page: typeof alice, line: string) =>
          page.waitForFunction(
            (l: string) =>
              [
                ...(globalThis as unknown as PageDom).document
                  .querySelectorAll("#log li"),
              ].some((li) => li.textContent === l),
            line,
            { timeout: 10_000 },
          );
        await say(alice, `hi bob via ${transport}`);
        await sees(bob, `alice: hi bob via ${transport}`);
        await say(bob, `hi alice via ${transport}`);
        await sees(alice, `bob: hi alice via ${transport}`);
        await sees(alice, `alice: hi bob via ${transport}`);
        const shot = `${tmp}/chat_${transport}.png`;
        await alice.screenshot({ path: shot });
        const st = await Deno.stat(shot);
        assert.ok(st.isFile && st.size > 0, `screenshot ${shot} is empty`);
        await alice.close();
        await bob.close();
      }
      await context.close();
    } finally {
      await browser.close();
      await app.stop();
    }
    console.log(`screenshots in ${tmp}`);
  },
});
