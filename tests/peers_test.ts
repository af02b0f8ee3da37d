// The README's test command on a machine without the peer programs: a part
// of the suite runs in a child `deno test` whose PATH holds only deno and
// whose python does not exist. Its peer tests must be skipped with one line
// per missing program, and fail instead under HTTPKIT_REQUIRE_PEERS=1.

import assert from "node:assert/strict";
import { decoder } from "./_helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname;
// Files whose peers live on PATH (curl) or are the tests' python (aiohttp).
const FILES = ["tests/server_curl_test.ts", "tests/server_aiohttp_test.ts"];

interface Run {
  code: number;
  output: string;
}

/** Runs FILES with a PATH of only deno and a python that is not there. */
async function runWithoutPeers(extra: Record<string, string>): Promise<Run> {
  const bin = await Deno.makeTempDir({ prefix: "httpkit_nopeers_" });
  try {
    await Deno.symlink(Deno.execPath(), `${bin}/deno`);
    const env: Record<string, string> = {
      PATH: bin,
      HTTPKIT_PYTHON: `${bin}/python3`,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
      ...extra,
    };
    // Keep the module cache (and the temp dir) the parent uses.
    for (const name of ["HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) env[name] = value;
    }
    const out = await new Deno.Command(`${bin}/deno`, {
      args: ["test", "-A", "--no-check", ...FILES],
      cwd: ROOT,
      clearEnv: true,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      output: decoder.decode(out.stdout) + decoder.decode(out.stderr),
    };
  } finally {
    await Deno.remove(bin, { recursive: true });
  }
}

Deno.test("needs() skips the tests of missing peers with one line per program", async () => {
  const run = await runWithoutPeers({});
  assert.equal(run.code, 0, run.output);
  const skips = run.output.split("\n").filter((l) => l.startsWith("skip: "));
  assert.equal(skips.length, 2, run.output);
  assert.ok(
    skips.includes(
      "skip: curl not found — 4 tests in server_curl_test.ts skipped (apt install curl)",
    ),
    run.output,
  );
  // The python is the one HTTPKIT_PYTHON names.
  assert.ok(
    skips.some((l) =>
      /^skip: aiohttp not found \(python3 not found at \/\S+\/python3\) — 1 test in server_aiohttp_test\.ts skipped \(apt install python3-aiohttp\)$/
        .test(l)
    ),
    run.output,
  );
  assert.match(run.output, /ok \| 0 passed \| 0 failed \| 5 ignored/);
});

Deno.test("needs() fails instead of skipping under HTTPKIT_REQUIRE_PEERS=1", async () => {
  const run = await runWithoutPeers({ HTTPKIT_REQUIRE_PEERS: "1" });
  assert.notEqual(run.code, 0, run.output);
  assert.match(run.output, /needs\(\) finds curl \.\.\. FAILED/);
  assert.match(run.output, /needs\(\) finds aiohttp \.\.\. FAILED/);
  assert.match(run.output, /curl not found, and HTTPKIT_REQUIRE_PEERS=1/);
  assert.match(run.output, /FAILED \| 0 passed \| 2 failed \| 5 ignored/);
  assert.doesNotMatch(run.output, /^skip: /m);
});
