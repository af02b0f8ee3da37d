// Response bodies shaped by `as`: text decoded with the Content-Type's
// charset, JSON parsed from that text, bytes handed out, or null. What a
// Content-Type means comes from http1/media.ts.

import { isTextual, mediaType } from "../http1/media.ts";
import { ClientError } from "./errors.ts";
import type { As } from "./types.ts";

const utf8 = new TextDecoder();

/** UTF-8 text; short ASCII without the TextDecoder call. */
function utf8Text(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n > 256) return utf8.decode(bytes);
  for (let i = 0; i < n; i++) {
    if (bytes[i] > 0x7f) return utf8.decode(bytes);
  }
  // deno-lint-ignore no-explicit-any
  return String.fromCharCode.apply(null, bytes as any);
}

/**
 * Turns body bytes into what `as` asks for. One per client: it remembers
 * what the last Content-Type meant (text or not, its charset), since the
 * responses a client gets mostly repeat it.
 */
export class Coercer {
  #type: string | undefined = undefined;
  #text = false;
  /** The charset when it is not UTF-8; null for UTF-8. */
  #charset: string | null = null;

  #learn(contentType: string | undefined): void {
    this.#type = contentType;
    this.#text = isTextual(contentType);
    const cs = mediaType(contentType).charset;
    this.#charset = cs === null || cs === "utf-8" || cs === "utf8" ? null : cs;
  }

  /**
   * Whether {@linkcode coerce} turns a body into text (or a value parsed
   * from it) rather than handing the bytes out: then the bytes need no copy
   * of their own.
   */
  wantsText(as: As, contentType: string | undefined): boolean {
    if (as === "bytes") return false;
    if (as !== "auto") return true;
    if (contentType !== this.#type) this.#learn(contentType);
    return this.#text;
  }

  /**
   * The body as `as` says (not `"stream"`).
   *
   * @throws {ClientError} `bad-json` when `as` is `"json"` and the text is
   * not JSON.
   */
  coerce(
    bytes: Uint8Array,
    as: As,
    contentType: string | undefined,
  ): unknown {
    if (as === "bytes") return bytes;
    if (as === "none") return null;
    if (contentType !== this.#type) this.#learn(contentType);
    if (as === "json") return json(this.#decode(bytes));
    if (as === "text" || this.#text) return this.#decode(bytes);
    return bytes;
  }

  #decode(bytes: Uint8Array): string {
    const charset = this.#charset;
    if (charset === null) return utf8Text(bytes);
    try {
      return new TextDecoder(charset).decode(bytes);
    } catch {
      // An unknown charset: UTF-8 is the best guess.
      return utf8.decode(bytes);
    }
  }
}

function json(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const start = text.length > 40 ? text.slice(0, 40) + "..." : text;
    throw new ClientError(
      "bad-json",
      `invalid JSON body (${(e as Error).message}): ${JSON.stringify(start)}`,
      e,
    );
  }
}

/**
 * The body of a response that has none (HEAD, 1xx, 204, 304): of the type
 * `as` promises: `""` for text, no bytes, an empty stream; null for `"auto"`,
 * `"json"` and `"none"`.
 */
export function emptyBody(as: As): unknown {
  switch (as) {
    case "text":
      return "";
    case "bytes":
      return new Uint8Array(0);
    case "stream":
      return new ReadableStream<Uint8Array>({
        start(ctrl): void {
          ctrl.close();
        },
      });
    default:
      return null;
  }
}
