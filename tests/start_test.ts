// The README's first command on a fresh machine: `deno task start` must fetch
// nothing but the example's own imports.
//
// Why it once fetched 30 MB: before running any task, `deno task` caches every
// npm package listed in the lockfile it discovers (so tasks can call npm
// binaries), and deno.lock lists only test and bench packages (playwright-core,
// hono, undici, ws, fast-check). deno.json therefore sets `"lock": false`, and
// the tasks that do use npm pass `--lock=deno.lock` to keep their versions
// pinned.

import assert from "node:assert/strict";
import { decoder } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Every file and directory under `dir`, as paths relative to it. */
async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const rel = prefix + entry.name;
      out.push(rel);
      if (entry.isDirectory) {
        out.push(...await walk(`${dir}/${entry.name}`, rel + "/"));
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return out;
}

/** Reads the child's stdout until a line matches, returning the match. */
async function waitForLine(
  stdout: ReadableStream<Uint8Array>,
  pattern: RegExp,
): Promise<RegExpMatchArray> {
  let text = "";
  for await (const chunk of stdout) {
    text += decoder.decode(chunk, { stream: true });
    const m = text.match(pattern);
    if (m !== null) return m;
  }
  throw new Error(`The example exited before printing ${pattern}: ${text}`);
}

Deno.test("deno task start, with an empty DENO_DIR, serves hello and caches no npm package", async () => {
  const denoDir = await Deno.makeTempDir({ prefix: "httpkit_deno_dir_" });
  const child = new Deno.Command(Deno.execPath(), {
    // Port 0: a free port, printed by the example.
    args: ["task", "start", "0"],
    cwd: ROOT,
    env: { DENO_DIR: denoDir, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  // A safety net for a hung child, not a timing assertion.
  const guard = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    const m = await waitForLine(
      child.stdout,
      /Listening on http:\/\/localhost:(\d+)\//,
    );
    const res = await fetch(`http://127.0.0.1:${m[1]}/fresh`);
    assert.equal(await res.text(), "Hello, World! You asked for /fresh\n");
    // deno task forwards the signal to the example it started.
    child.kill("SIGTERM");
    await child.status;
    const npm = await walk(`${denoDir}/npm`);
    assert.deepEqual(npm, [], `npm packages fetched:\n${await stderr}`);
    assert.doesNotMatch(await stderr, /Download/);
  } finally {
    clearTimeout(guard);
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await stderr;
    await Deno.remove(denoDir, { recursive: true });
  }
});
