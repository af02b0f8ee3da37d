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
