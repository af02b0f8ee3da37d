// Helpers shared by the load scripts.

/**
 * Reads a server's stdout until `LISTENING <port>`, then keeps draining it
 * so a chatty server never blocks on a full pipe.
 */
export async function readPort(
  stdout: ReadableStream<Uint8Array>,
): Promise<number> {
  const lines = stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (true) {
    const { value, done } = await lines.read();
    if (done) throw new Error("server exited before printing LISTENING");
    buffered += value;
    const m = buffered.match(/^LISTENING (\d+)$/m);
    if (m) {
      (async (): Promise<void> => {
        while (!(await lines.read()).done) { /* drain */ }
      })();
      return Number(m[1]);
    }
  }
}

/** Resolves with `p`, or with "timeout" after `ms`. */
export async function deadline<T>(
  p: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM lets the server close cleanly; SIGKILL after 2 s so a stuck
 * server can't hang the whole benchmark. */
export async function stopChild(child: Deno.ChildProcess): Promise<void> {
  const kill = (signal: Deno.Signal): void => {
    try {
      child.kill(signal);
    } catch { /* already exited */ }
  };
  kill("SIGTERM");
  if (await deadline(child.status, 2000) === "timeout") {
    kill("SIGKILL");
    await child.status;
  }
}

/** Median of the available figures (NaN when there are none). */
export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Exit status and stdout of a command, or null when it cannot be run. */
export async function tryRun(
  cmd: string,
  args: string[],
  cwd?: string,
): Promise<string | null> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** Installs an npm package into `dir` (a folder under bench/ that keeps
 * itself out of git), for peers that run outside Deno. Failures are left to
 * the caller, which checks for what it needed. */
export async function npmInstall(dir: string, pkg: string): Promise<void> {
  console.error(`installing ${pkg} into ${dir} with npm...`);
  await Deno.mkdir(dir, { recursive: true });
  // Keeps the package out of git without touching .gitignore.
  await Deno.writeTextFile(`${dir}.gitignore`, "*\n");
  await tryRun("npm", [
    "install",
    "--no-save",
    "--no-package-lock",
    "--no-audit",
    "--no-fund",
    "--prefix",
    dir,
    pkg,
  ]);
}
