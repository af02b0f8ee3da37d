// The nginx peer of bench/load.ts: one worker process, a config written to
// a temp dir per server, and the port picked by the caller because nginx
// prints no LISTENING line.

import { freePort, type Launch, tryRun } from "./_servers.ts";

/** The nginx binary: $NGINX, then `nginx` on PATH, then /usr/sbin/nginx
 * (Debian keeps it outside a normal user's PATH); null when none runs. */
export async function findNginx(): Promise<string | null> {
  const candidates = [Deno.env.get("NGINX"), "nginx", "/usr/sbin/nginx"];
  for (const exe of candidates) {
    if (exe && await tryRun(exe, ["-v"]) !== null) return exe;
  }
  return null;
}

/** "1.22.1", from `nginx -v`, which writes to stderr. */
export async function nginxVersion(exe: string): Promise<string> {
  const out = await new Deno.Command(exe, { args: ["-v"] }).output();
  const text = new TextDecoder().decode(out.stderr);
  return text.match(/nginx\/(\S+)/)?.[1] ?? "n/a";
}

/** `GET /` answers $BODY bytes of "x" like the other peers; `GET /big` is a
 * static file. */
function config(prefix: string, port: number, body: number): string {
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log stderr warn;
events {
  worker_connections 4096;
}
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  # nginx closes a keep-alive connection after 1000 requests by default;
  # no other peer does, and wrk would count the reconnections.
  keepalive_requests 1000000000;
  server {
    listen 127.0.0.1:${port};
    location = / {
      default_type text/plain;
      return 200 "${"x".repeat(body)}";
    }
    location = /big {
      root ${prefix}/www;
      default_type application/octet-stream;
    }
  }
}
`;
}

/** A launch of nginx in the foreground (the master stays the child that
 * load.ts started, and forks one worker) with a fresh prefix dir holding the config and the
 * 1 MiB file behind /big; the dir goes when the server stops. */
export async function nginxLaunch(exe: string, body: number): Promise<Launch> {
  const prefix = await Deno.makeTempDir({ prefix: "bench-nginx-" });
  // The worker runs as an unprivileged user when we are root: it must be
  // able to read the dir and /big.
  await Deno.chmod(prefix, 0o755);
  await Deno.mkdir(`${prefix}/www`, { mode: 0o755 });
  await Deno.mkdir(`${prefix}/tmp`);
  await Deno.writeFile(
    `${prefix}/www/big`,
    new Uint8Array(1 << 20).fill(0x78),
    { mode: 0o644 },
  );
  const port = freePort();
  await Deno.writeTextFile(`${prefix}/nginx.conf`, config(prefix, port, body));
  return {
    // -e: the error log nginx opens before it reads the config.
    argv: [
      exe,
      ...["-p", prefix, "-e", "stderr", "-c", `${prefix}/nginx.conf`],
      ...["-g", "daemon off;"],
    ],
    port,
    cleanup: () => Deno.remove(prefix, { recursive: true }),
  };
}
