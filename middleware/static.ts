/**
 * Static files for Ring handlers: Content-Type by extension, ranges,
 * validators and conditional requests, directory index files, and no way
 * out of the root directory.
 *
 * @module
 */

import type { Handler, RingRequest, RingResponse } from "../server/types.ts";

/**
 * Options of {@linkcode wrapStatic}.
 *
 * @example Another index file and a Cache-Control
 * ```ts
 * import {
 *   type StaticOptions,
 *   toResponse,
 *   toRingRequest,
 *   wrapStatic,
 * } from "@httpkit/httpkit";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/home.html`, "<h1>home</h1>");
 * const staticOptions: StaticOptions = {
 *   index: "home.html",
 *   cacheControl: "public, max-age=60",
 * };
 * const app = wrapStatic(() => ({ status: 404 }), dir, staticOptions);
 * const res = toResponse(await app(await toRingRequest(new Request("http://x/"))));
 * console.assert(res.headers.get("cache-control") === "public, max-age=60");
 * console.assert((await res.text()) === "<h1>home</h1>");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface StaticOptions {
  /** File served for a directory. Default `"index.html"`; `null` for none. */
  index?: string | null;
  /** Serve names starting with `.`. Default `false` (they fall through). */
  dotfiles?: boolean;
  /** A `Cache-Control` value to send with files. Default none. */
  cacheControl?: string;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  htm: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  map: "application/json; charset=utf-8",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  xml: "application/xml",
  svg: "image/svg+xml",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  avif: "image/avif",
  ico: "image/vnd.microsoft.icon",
  woff: "font/woff",
  woff2: "font/woff2",
  ttf: "font/ttf",
  otf: "font/otf",
  wasm: "application/wasm",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  mp3: "audio/mpeg",
  mp4: "video/mp4",
  webm: "video/webm",
  ogg: "audio/ogg",
  wav: "audio/wav",
};

/**
 * The Content-Type for a file name, by extension;
 * `application/octet-stream` when unknown.
 *
 * @param name A file name or path.
 * @returns The media type.
 *
 * @example
 * ```ts
 * import { contentTypeOf } from "@httpkit/httpkit";
 *
 * console.assert(contentTypeOf("app.JS") === "text/javascript; charset=utf-8");
 * ```
 */
export function contentTypeOf(name: string): string {
  const dot = name.lastIndexOf(".");
  const ext = dot === -1 ? "" : name.slice(dot + 1).toLowerCase();
  return TYPES[ext] ?? "application/octet-stream";
}

function plain(
  status: number,
  body: string,
  extra: Record<string, string> = {},
): RingResponse {
  return {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...extra },
    body,
  };
}

// The decoded path segments of a request target, or a refusal.
function segments(
  uri: string,
  dotfiles: boolean,
): string[] | RingResponse | null {
  let path: string;
  try {
    path = decodeURIComponent(uri);
  } catch {
    return plain(400, "Bad Request: malformed percent-encoding");
  }
  if (path.includes("\0")) return plain(400, "Bad Request: NUL in path");
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === ".." || seg.includes("\\")) return plain(403, "Forbidden");
    if (!dotfiles && seg.startsWith(".")) return null;
    out.push(seg);
  }
  return out;
}

function etagOf(st: Deno.FileInfo): string {
  const mtime = st.mtime?.getTime() ?? 0;
  return `"${st.size.toString(16)}-${mtime.toString(16)}"`;
}

function etagMatches(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((t) => t.trim().replace(/^W\//, "") === bare);
}

// The byte range asked for: [start, end] inclusive; "all" to send the whole
// file; "unsatisfiable" for 416.
function parseRange(
  header: string,
  size: number,
): [number, number] | "all" | "unsatisfiable" {
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  // Multiple ranges or another unit: sending the whole file is allowed.
  if (m === null) return "all";
  const [, a, b] = m;
  if (a === "" && b === "") return "all";
  let start: number, end: number;
  if (a === "") {
    const n = Number(b);
    if (n === 0) return "unsatisfiable";
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
    if (b !== "" && Number(b) < start) return "all";
  }
  if (start >= size || size === 0) return "unsatisfiable";
  return [start, end];
}

// Opens the file on the first pull, so a response that is never sent (HEAD,
// a client gone before the body) holds no file open.
async function* readRange(
  path: string,
  start: number,
  length: number,
): AsyncGenerator<Uint8Array, void, undefined> {
  const file = await Deno.open(path, { read: true });
  try {
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
    let left = length;
    while (left > 0) {
      const buf = new Uint8Array(Math.min(64 * 1024, left));
      const n = await file.read(buf);
      if (n === null) break;
      left -= n;
      yield buf.subarray(0, n);
    }
  } finally {
    file.close();
  }
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (err) {
    if (
      err instanceof Deno.errors.NotFound ||
      err instanceof Deno.errors.NotADirectory
    ) return null;
    throw err;
  }
}

/**
 * Middleware that serves files under `root` for GET and HEAD requests and
 * calls `handler` for everything else (other methods, missing files).
 *
 * - Content-Type by extension ({@linkcode contentTypeOf}).
 * - `ETag` and `Last-Modified`; 304 for a matching `If-None-Match` or, when
 *   that is absent, an `If-Modified-Since` not older than the file.
 * - `Range: bytes=a-b` (one range, also `a-` and `-n`) gives 206 with
 *   `Content-Range`, or 416 when unsatisfiable; `If-Range` is honoured.
 * - A directory serves its `index.html`; a directory path without a
 *   trailing `/` is redirected (301) to have one.
 * - The path is percent-decoded once and checked: a `..` segment (also
 *   `%2e%2e` and `..%2f`) or a backslash gives 403, a NUL byte 400.
 *
 * @param handler Called when no file answers.
 * @param root The directory to serve.
 * @param options Index file, dotfiles, Cache-Control.
 * @returns The wrapped handler.
 *
 * @example
 * ```ts
 * import { runServer, wrapStatic } from "@httpkit/httpkit";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.txt`, "hi there");
 * const server = runServer(
 *   wrapStatic(() => ({ status: 404, body: "none" }), dir),
 *   { ip: "127.0.0.1", port: 0 },
 * );
 * const res = await fetch(`http://127.0.0.1:${server.port}/hello.txt`, {
 *   headers: { range: "bytes=3-" },
 * });
 * console.assert(res.status === 206 && (await res.text()) === "there");
 * await server.stop();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function wrapStatic(
  handler: Handler,
  root: string,
  options?: StaticOptions,
): Handler {
  options ??= {};
  const index = options.index === undefined ? "index.html" : options.index;
  const base = root.replace(/\/+$/, "") || "/";
  return async (req: RingRequest) => {
    const m = req.requestMethod;
    if (m !== "get" && m !== "head") return handler(req);
    const segs = segments(req.uri, options.dotfiles ?? false);
    if (segs === null) return handler(req);
    if (!Array.isArray(segs)) return segs;
    let path = [base, ...segs].join("/");
    let st = await statOrNull(path);
    if (st !== null && st.isDirectory) {
      if (!req.uri.endsWith("/")) {
        const q = req.queryString === null ? "" : `?${req.queryString}`;
        return {
          status: 301,
          headers: { location: `${req.uri}/${q}` },
          body: "",
        };
      }
      if (index === null) return handler(req);
      path = `${path}/${index}`;
      st = await statOrNull(path);
    }
    if (st === null || !st.isFile) return handler(req);
    return fileResponse(req, path, st, options);
  };
}

function fileResponse(
  req: RingRequest,
  path: string,
  st: Deno.FileInfo,
  options: StaticOptions,
): RingResponse {
  const etag = etagOf(st);
  const headers: Record<string, string> = {
    "content-type": contentTypeOf(path),
    "accept-ranges": "bytes",
    etag,
  };
  if (st.mtime !== null) headers["last-modified"] = st.mtime.toUTCString();
  if (options.cacheControl !== undefined) {
    headers["cache-control"] = options.cacheControl;
  }
  const h = req.headers;
  const inm = h["if-none-match"];
  const ims = h["if-modified-since"];
  let notModified = false;
  if (inm !== undefined) notModified = etagMatches(inm, etag);
  else if (ims !== undefined && st.mtime !== null) {
    const since = Date.parse(ims);
    notModified = !Number.isNaN(since) &&
      Math.floor(st.mtime.getTime() / 1000) <= Math.floor(since / 1000);
  }
  if (notModified) {
    const { "content-type": _ct, "accept-ranges": _ar, ...rest } = headers;
    return { status: 304, headers: rest };
  }
  const size = st.size;
  let range = h["range"] === undefined ? "all" : parseRange(h["range"], size);
  const ifRange = h["if-range"];
  if (range !== "all" && ifRange !== undefined) {
    const fresh =
      ifRange.trim().startsWith('"') || ifRange.trim().startsWith("W/")
        ? ifRange.trim() === etag
        : st.mtime !== null &&
          Date.parse(ifRange) >= Math.floor(st.mtime.getTime() / 1000) * 1000;
    if (!fresh) range = "all";
  }
  if (range === "unsatisfiable") {
    return plain(416, "Range Not Satisfiable", {
      "content-range": `bytes */${size}`,
      "accept-ranges": "bytes",
    });
  }
  const [start, end] = range === "all" ? [0, size - 1] : range;
  const length = end - start + 1;
  headers["content-length"] = String(length);
  if (range !== "all") {
    headers["content-range"] = `bytes ${start}-${end}/${size}`;
  }
  return {
    status: range === "all" ? 200 : 206,
    headers,
    body: req.requestMethod === "head" || length === 0
      ? null
      : readRange(path, start, length),
  };
}
