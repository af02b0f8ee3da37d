// The programs the tests talk to (curl, nginx, haproxy, chromium, python...),
// found once per test file and asked for by name:
//
//   const curl = needs("curl");
//   curl.test("curl does X", async () => { ... peerPath("curl") ... });
//   Deno.test({ name: "...", ...curl, fn: async () => { ... } }); // the same
//
// A missing peer skips the tests that need it (Deno.test `ignore`), and the
// file prints one line per missing program when it ends:
//
//   skip: haproxy not found — 6 tests in fleet_test.ts skipped (apt install haproxy)
//
// With HTTPKIT_REQUIRE_PEERS=1 (CI) a missing peer is a failing test instead,
// so a broken install cannot pass as a green run with fewer tests.
//
// Deno runs each test file in its own isolate, so "once" here means once per
// file: PATH look-ups are a few stat calls, and the Python modules are probed
// with one interpreter start for all of them.

/** The peers tests can ask for. */
export type PeerName =
  | "curl"
  | "nginx"
  | "nginx-stream"
  | "haproxy"
  | "redis-server"
  | "chromium"
  | "wrk"
  | "openssl"
  | "strace"
  | "ss"
  | "python3"
  | "aiohttp"
  | "websockets";

/** What a test file spreads into Deno.test options, or calls `test` on. */
export interface Needs {
  /** True when a peer is missing; each read counts one skipped test. */
  readonly ignore: boolean;
  /** The missing peers (reading this counts nothing). */
  readonly missing: readonly PeerName[];
  /**
   * `Deno.test(name, fn)`, ignored when a peer is missing. (Two arguments,
   * like Deno.test's short form, so a test keeps its formatting when it
   * starts to need a peer.)
   */
  test(name: string, fn: (t: Deno.TestContext) => void | Promise<void>): void;
}

interface Probe {
  /** The program's path, or null when missing. */
  path: string | null;
  /** Why it is missing, e.g. "haproxy not found". */
  reason: string;
}

// Debian package that provides each peer, for the skip line.
const PACKAGES: Record<PeerName, string> = {
  curl: "curl",
  nginx: "nginx",
  "nginx-stream": "libnginx-mod-stream",
  haproxy: "haproxy",
  "redis-server": "redis-server",
  chromium: "chromium",
  wrk: "wrk",
  openssl: "openssl",
  strace: "strace",
  ss: "iproute2",
  python3: "python3",
  aiohttp: "python3-aiohttp",
  websockets: "python3-websockets",
};

// Names to look for on PATH (first found wins).
const PROGRAMS: Partial<Record<PeerName, readonly string[]>> = {
  curl: ["curl"],
  nginx: ["nginx"],
  haproxy: ["haproxy"],
  "redis-server": ["redis-server"],
  chromium: ["chromium", "chromium-browser"],
  wrk: ["wrk"],
  openssl: ["openssl"],
  strace: ["strace"],
  ss: ["ss"],
};

// Debian installs nginx and haproxy in sbin, which a non-root PATH lacks.
const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

const PYTHON_MODULES = ["aiohttp", "websockets"] as const;

const probes = new Map<PeerName, Probe>();
/** Tests skipped per missing peer in this file. */
const skipped = new Map<PeerName, number>();

/** True when HTTPKIT_REQUIRE_PEERS=1: missing peers fail instead of skip. */
export function peersRequired(): boolean {
  return Deno.env.get("HTTPKIT_REQUIRE_PEERS") === "1";
}

/**
 * The Python interpreter the tests run: HTTPKIT_PYTHON, default
 * /usr/bin/python3 (Debian's, which has the aiohttp and websockets packages,
 * rather than whatever python3 comes first on PATH).
 */
export function pythonPath(): string {
  return Deno.env.get("HTTPKIT_PYTHON") || "/usr/bin/python3";
}

/**
 * Declares that the tests spreading the result need `names`: they are
 * ignored when one is missing (or fail, under HTTPKIT_REQUIRE_PEERS=1).
 */
export function needs(...names: PeerName[]): Needs {
  const missing = names.filter((name) => probe(name).path === null);
  for (const name of missing) noteMissing(name);
  return {
    missing,
    get ignore(): boolean {
      for (const name of missing) {
        skipped.set(name, (skipped.get(name) ?? 0) + 1);
      }
      return missing.length > 0;
    },
    test(name, fn): void {
      Deno.test(name, { ignore: this.ignore }, fn);
    },
  };
}

/** The path of a peer program (python3 for the Python modules). */
export function peerPath(name: PeerName): string {
  const p = probe(name);
  if (p.path === null) throw new Error(`${p.reason} (${install(name)})`);
  return p.path;
}

/** The `load_module` line nginx needs for `stream {}`, or "" when built in. */
export function nginxStreamLoad(): string {
  peerPath("nginx-stream");
  return streamLoad;
}

function install(name: PeerName): string {
  return `apt install ${PACKAGES[name]}`;
}

// The first time a file finds a peer missing: a failing test under
// HTTPKIT_REQUIRE_PEERS=1, else one skip line when the file ends.
function noteMissing(name: PeerName): void {
  if (skipped.has(name)) return;
  skipped.set(name, 0);
  const reason = probe(name).reason;
  if (peersRequired()) {
    Deno.test(`needs() finds ${name}`, () => {
      throw new Error(
        `${reason}, and HTTPKIT_REQUIRE_PEERS=1 makes that a failure (${
          install(name)
        })`,
      );
    });
    return;
  }
  globalThis.addEventListener("unload", () => {
    const n = skipped.get(name) ?? 0;
    const file = Deno.mainModule.slice(Deno.mainModule.lastIndexOf("/") + 1);
    console.log(
      `skip: ${reason} — ${n} test${n === 1 ? "" : "s"} in ${file} skipped (${
        install(name)
      })`,
    );
  });
}

function probe(name: PeerName): Probe {
  let p = probes.get(name);
  if (p === undefined) {
    p = find(name);
    probes.set(name, p);
  }
  return p;
}

function find(name: PeerName): Probe {
  if (name === "python3") return findPython();
  if (name === "aiohttp" || name === "websockets") return findModule(name);
  if (name === "nginx-stream") return findStream();
  const extra = name === "nginx" || name === "haproxy" ? SBIN : [];
  for (const program of PROGRAMS[name] ?? []) {
    const path = onPath(program, extra);
    if (path !== null) return { path, reason: "" };
  }
  return { path: null, reason: `${name} not found` };
}

/** The first executable `program` in PATH's directories, then `extra`. */
function onPath(program: string, extra: readonly string[]): string | null {
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const dir of [...dirs, ...extra]) {
    const path = `${dir}/${program}`;
    if (isExecutable(path)) return path;
  }
  return null;
}

function isExecutable(path: string): boolean {
  try {
    const st = Deno.statSync(path);
    return st.isFile && ((st.mode ?? 0o755) & 0o111) !== 0;
  } catch {
    return false;
  }
}

function findPython(): Probe {
  const python = pythonPath();
  const path = python.includes("/") ? python : onPath(python, []);
  if (path !== null && isExecutable(path)) return { path, reason: "" };
  return { path: null, reason: `python3 not found at ${python}` };
}

let modules: Record<string, boolean> | null = null;

// One interpreter start answers for every module (find_spec does not import).
function findModule(name: (typeof PYTHON_MODULES)[number]): Probe {
  const python = probe("python3");
  if (python.path === null) {
    return {
      path: null,
      reason: `${name} not found (${python.reason})`,
    };
  }
  if (modules === null) {
    const code = "import importlib.util, json, sys; print(json.dumps(" +
      "{m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))";
    try {
      const out = new Deno.Command(python.path, {
        args: ["-c", code, ...PYTHON_MODULES],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).outputSync();
      modules = out.success
        ? JSON.parse(new TextDecoder().decode(out.stdout))
        : {};
    } catch {
      modules = {};
    }
  }
  if (modules![name]) return { path: python.path, reason: "" };
  return {
    path: null,
    reason: `python3 module ${name} not found (${python.path})`,
  };
}

let streamLoad = "";

// nginx has the stream module built in, or as Debian's dynamic module.
function findStream(): Probe {
  const nginx = probe("nginx");
  if (nginx.path === null) {
    return { path: null, reason: `nginx-stream not found (${nginx.reason})` };
  }
  let flags = "";
  try {
    const out = new Deno.Command(nginx.path, {
      args: ["-V"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).outputSync();
    flags = new TextDecoder().decode(out.stderr) +
      new TextDecoder().decode(out.stdout);
  } catch (err) {
    return { path: null, reason: `${nginx.path} -V failed: ${err}` };
  }
  if (/--with-stream(\s|$)/.test(flags)) {
    return { path: nginx.path, reason: "" };
  }
  if (flags.includes("--with-stream=dynamic")) {
    const so = "/usr/lib/nginx/modules/ngx_stream_module.so";
    if (isReadable(so)) {
      streamLoad = `load_module ${so};`;
      return { path: nginx.path, reason: "" };
    }
    return { path: null, reason: `nginx stream module not found (${so})` };
  }
  return { path: null, reason: "nginx stream module not built in" };
}

function isReadable(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
