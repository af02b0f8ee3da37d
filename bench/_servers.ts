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

// ------------------------------------------------------ one server process

/** A running server started by {@link startServer}. */
export interface Server {
  port: number;
  /** The server process itself: taskset execs the runtime, so the child's
   * pid is the runtime's (load.ts checks /proc/PID/comm once per peer). */
  pid: number;
  stop(): Promise<void>;
}

/** How to start one server. */
export interface Launch {
  /** Command line without the `taskset -c 0` in front. */
  argv: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Set for a server that prints no `LISTENING <port>` line (nginx): the
   * port it was told to use; startServer then waits until it accepts. */
  port?: number;
  /** Runs after the server stopped, e.g. to remove its temp dir. */
  cleanup?: () => Promise<void>;
}

/** Starts a server pinned to CPU 0 (load generators go on CPU 1) and waits
 * until it listens; a server that never does fails after 30 s instead of
 * hanging the run, with the tail of its stderr in the error. */
export async function startServer(launch: Launch): Promise<Server> {
  const announces = launch.port === undefined;
  const child = new Deno.Command("taskset", {
    args: ["-c", "0", ...launch.argv],
    env: { DENO_NO_UPDATE_CHECK: "1", ...launch.env },
    stdout: announces ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  const tail = stderrTail(child.stderr);
  const stop = async (): Promise<void> => {
    await stopChild(child);
    await launch.cleanup?.();
  };
  try {
    const port = await deadline(
      announces
        ? readPort(child.stdout)
        : waitForPort(launch.port!, child.status),
      30_000,
    );
    if (port === "timeout") throw new Error("not listening within 30 s");
    return { port, pid: child.pid, stop };
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${tail()}`);
  }
}

/** Keeps the last 2 KB a server wrote to stderr: shown when it fails to
 * start, and otherwise kept out of the progress output (some peers log every
 * request that wrk cuts off when a run ends). */
function stderrTail(stderr: ReadableStream<Uint8Array>): () => string {
  let tail = "";
  (async (): Promise<void> => {
    for await (const s of stderr.pipeThrough(new TextDecoderStream())) {
      tail = (tail + s).slice(-2048);
    }
  })();
  return () => tail.trim();
}

/** Resolves once something accepts connections on the port; rejects when
 * the server exits first. */
async function waitForPort(
  port: number,
  status: Promise<Deno.CommandStatus>,
): Promise<number> {
  let exited = false;
  status.then(() => exited = true);
  while (!exited) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return port;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error("server exited before listening");
}

/** A port that was free a moment ago, for servers that cannot be told to
 * pick one themselves. Another process could take it in between; on a
 * benchmark machine that does not happen in practice. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

// ----------------------------------------------------------------- /proc

/** Clock ticks per second of the CPU times in /proc (`getconf CLK_TCK`);
 * 100 when getconf is missing, which is what Linux uses everywhere. */
export async function clockTicks(): Promise<number> {
  const n = Number(await tryRun("getconf", ["CLK_TCK"]));
  return n > 0 ? n : 100;
}

/** utime + stime of one process, all its threads included, in clock
 * ticks: fields 14 and 15 of /proc/PID/stat. Field 2 (the command name) may
 * hold spaces and parentheses, so the fields are counted from its last `)`. */
async function ownTicks(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // After ") " comes field 3, so field 14 is at index 11.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/** The process and its live descendants (nginx's master forks a worker),
 * from /proc/PID/task/TID/children. */
export async function processTree(pid: number): Promise<number[]> {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const tasks = `/proc/${pids[i]}/task`;
    try {
      for await (const task of Deno.readDir(tasks)) {
        const kids = await Deno.readTextFile(`${tasks}/${task.name}/children`)
          .catch(() => "");
        for (const kid of kids.split(" ")) if (kid) pids.push(Number(kid));
      }
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

/** CPU time (user + system) used so far by a process and its live
 * descendants, in clock ticks. A descendant that exits is counted only
 * while it lives, which is fine for servers whose workers last as long as
 * they do. */
export async function cpuTicks(pid: number): Promise<number> {
  let sum = 0;
  for (const p of await processTree(pid)) {
    sum += await ownTicks(p).catch(() => 0);
  }
  return sum;
}

/** The short command name of a process (/proc/PID/comm). */
export async function commandName(pid: number): Promise<string> {
  return (await Deno.readTextFile(`/proc/${pid}/comm`)).trim();
}

/** A memory field of /proc/PID/status (VmRSS, VmHWM...) in bytes. */
export async function memoryOf(pid: number, field: string): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Sets the process's peak RSS (VmHWM) back to its current RSS by writing
 * 5 to /proc/PID/clear_refs (Linux 4.0+), so that the next VmHWM is the peak
 * of what happens after. False when the kernel refused. */
export async function resetPeakRss(pid: number): Promise<boolean> {
  try {
    await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------ the scripts

/** `--name=value` pairs; a bare `--name` is "true". */
export function parseFlags(args: string[]): Record<string, string> {
  const flags: Record<string, string> = {};
  for (const arg of args) {
    const m = arg.match(/^--([\w-]+)(?:=(.*))?$/);
    if (!m) throw new Error(`bad flag ${arg} (expected --name=value)`);
    flags[m[1]] = m[2] ?? "true";
  }
  return flags;
}

/** The machine line of a results file: CPU, cores, kernel, load average,
 * the runtime versions given, and the time. */
export async function machineLine(
  versions: Record<string, string>,
): Promise<string> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
    .match(/^model name\s*:\s*(.*)$/m)?.[1] ?? "unknown CPU";
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  const runtimes = Object.entries(versions).map(([k, v]) => `${k} ${v}`);
  return [
    cpu,
    `nproc ${navigator.hardwareConcurrency}`,
    `kernel ${Deno.osRelease()}`,
    `loadavg ${load}`,
    ...runtimes,
    new Date().toISOString(),
  ].join(", ");
}
