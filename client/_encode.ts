// Options -> wire pieces: query strings, form bodies, multipart bodies, and
// the request body's framing.

import { ClientError } from "./errors.ts";
import type {
  MultiParamStyle,
  MultipartPart,
  Params,
  ParamValue,
  RequestBody,
} from "./types.ts";
import { concat } from "../_bytes.ts";

const encoder = new TextEncoder();

/** Percent-encodes as application/x-www-form-urlencoded (space -> `+`). */
export function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, "+").replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/**
 * Serialises params: arrays by `style`, nested maps as `a[b]=1`; null and
 * undefined values are skipped.
 */
export function paramString(
  params: Params,
  style: MultiParamStyle = "repeat",
): string {
  const out: string[] = [];
  const add = (key: string, v: ParamValue): void => {
    if (v === null || v === undefined) return;
    if (Array.isArray(v)) {
      v.forEach((item: ParamValue, i: number) => {
        const k = style === "array"
          ? key + "[]"
          : style === "indexed"
          ? `${key}[${i}]`
          : key;
        add(k, item);
      });
    } else if (typeof v === "object") {
      for (const [k, item] of Object.entries(v)) add(`${key}[${k}]`, item);
    } else {
      out.push(formEncode(key) + "=" + formEncode(String(v)));
    }
  };
  for (const [k, v] of Object.entries(params)) add(k, v);
  return out.join("&");
}

/** A body ready to send: bytes known up front, or a stream of chunks. */
export type PreparedBody =
  | { kind: "none" }
  | { kind: "bytes"; bytes: Uint8Array; contentType?: string }
  | {
    kind: "stream";
    /** Length when known (file, Blob), else -1 -> chunked. */
    length: number;
    chunks: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;
    contentType?: string;
  };

/** `true` for a body that can be sent again after a redirect or a retry. */
export function replayable(body: PreparedBody): boolean {
  return body.kind !== "stream";
}

/** No body. */
export const NONE: PreparedBody = { kind: "none" };

/**
 * Turns the body options into something the connection can write. Exactly
 * one of `body`, `formParams` and `multipart` may be given.
 */
export async function prepareBody(
  body: RequestBody,
  formParams: Params | undefined,
  multipart: readonly MultipartPart[] | undefined,
  style: MultiParamStyle | undefined,
): Promise<PreparedBody> {
  const given = (body != null ? 1 : 0) + (formParams ? 1 : 0) +
    (multipart ? 1 : 0);
  if (given > 1) {
    throw new ClientError(
      "bad-option",
      "Only one of body, formParams and multipart may be given",
    );
  }
  if (formParams) {
    return {
      kind: "bytes",
      bytes: encoder.encode(paramString(formParams, style)),
      contentType: "application/x-www-form-urlencoded",
    };
  }
  if (multipart) return await multipartBody(multipart);
  if (body === null || body === undefined) return NONE;
  return await bodyValue(body);
}

/** A `body` option, ready to send. */
async function bodyValue(
  body: NonNullable<RequestBody>,
): Promise<PreparedBody> {
  if (typeof body === "string") {
    return { kind: "bytes", bytes: encoder.encode(body) };
  }
  if (body instanceof Uint8Array) return { kind: "bytes", bytes: body };
  if (body instanceof ArrayBuffer) {
    return { kind: "bytes", bytes: new Uint8Array(body) };
  }
  if (ArrayBuffer.isView(body)) {
    const v = body as ArrayBufferView;
    return {
      kind: "bytes",
      bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
    };
  }
  if (body instanceof URLSearchParams) {
    return {
      kind: "bytes",
      bytes: encoder.encode(body.toString()),
      contentType: "application/x-www-form-urlencoded",
    };
  }
  if (body instanceof Blob) {
    if (body.size <= 65536) {
      return {
        kind: "bytes",
        bytes: new Uint8Array(await body.arrayBuffer()),
        contentType: body.type || undefined,
      };
    }
    return {
      kind: "stream",
      length: body.size,
      chunks: body.stream(),
      contentType: body.type || undefined,
    };
  }
  if (body instanceof Deno.FsFile) {
    const info = await body.stat();
    return {
      kind: "stream",
      length: info.isFile ? info.size : -1,
      chunks: body.readable,
    };
  }
  if (body instanceof ReadableStream) {
    return { kind: "stream", length: -1, chunks: body };
  }
  if (
    typeof body === "object" &&
    (Symbol.asyncIterator in body || Symbol.iterator in body)
  ) {
    return { kind: "stream", length: -1, chunks: body };
  }
  throw new ClientError(
    "unsupported-body",
    `Unsupported body type: ${describe(body)}`,
  );
}

function describe(v: unknown): string {
  if (typeof v !== "object" || v === null) return typeof v;
  return v.constructor?.name ?? "object";
}

function quote(s: string): string {
  return s.replace(
    /[\r\n"\\]/g,
    (c) => c === "\r" ? "%0D" : c === "\n" ? "%0A" : "\\" + c,
  );
}

async function multipartBody(
  parts: readonly MultipartPart[],
): Promise<PreparedBody> {
  const boundary = "httpkit-" + crypto.randomUUID().replaceAll("-", "");
  const pieces: Uint8Array[] = [];
  for (const p of parts) {
    if (typeof p?.name !== "string") {
      throw new ClientError("bad-option", "Each multipart part needs a name");
    }
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${
      quote(p.name)
    }"`;
    if (p.filename !== undefined) head += `; filename="${quote(p.filename)}"`;
    head += "\r\n";
    const type = p.contentType ??
      (p.filename !== undefined
        ? (p.content instanceof Blob && p.content.type) ||
          "application/octet-stream"
        : undefined);
    if (type !== undefined) {
      if (/[\r\n]/.test(type)) {
        throw new ClientError(
          "bad-option",
          `Invalid multipart content type: ${JSON.stringify(type)}`,
        );
      }
      head += `Content-Type: ${type}\r\n`;
    }
    pieces.push(encoder.encode(head + "\r\n"));
    const c = p.content;
    if (typeof c === "string") pieces.push(encoder.encode(c));
    else if (c instanceof Uint8Array) pieces.push(c);
    else if (c instanceof Blob) {
      pieces.push(new Uint8Array(await c.arrayBuffer()));
    } else {
      throw new ClientError(
        "unsupported-body",
        `Unsupported multipart content for ${JSON.stringify(p.name)}: ${
          describe(c)
        }`,
      );
    }
    pieces.push(encoder.encode("\r\n"));
  }
  pieces.push(encoder.encode(`--${boundary}--\r\n`));
  return {
    kind: "bytes",
    bytes: concat(pieces),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}
