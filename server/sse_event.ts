// The text/event-stream format (HTML, "Server-sent events"): one event's
// fields and data lines, and comment lines. Pure text, no I/O.

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * One event: the fields of the `text/event-stream` format. Every field is
 * optional; an event without `data` dispatches nothing in the browser but
 * still sets `id` and `retry`.
 *
 * @example An event with a type and an id
 * ```ts
 * import { formatSse, type SseEvent } from "@httpkit/httpkit";
 *
 * const event: SseEvent = { event: "price", id: "42", data: '{"eur":1.08}' };
 * console.assert(formatSse(event) === 'event: price\nid: 42\ndata: {"eur":1.08}\n\n');
 * ```
 */
export interface SseEvent {
  /** The event type (`addEventListener(type)`); default "message". */
  event?: string;
  /** The last event ID the browser sends back as `Last-Event-ID`. */
  id?: string;
  /** How long the browser waits before reconnecting, in ms. */
  retry?: number;
  /** The data; text with line breaks becomes several `data:` lines. */
  data?: string;
}

/**
 * Formats one event in the `text/event-stream` format: the `event`, `id`
 * and `retry` fields, then a `data:` line per line of data (split at CRLF,
 * CR or LF, as browsers split them), then the blank line that dispatches it.
 * A string is the data of an event of type "message".
 *
 * @param event The data, or the event's fields.
 * @returns The text to write.
 * @throws {TypeError} When `event` or `id` contains CR or LF (they would
 * end the field early), `id` contains NUL (browsers ignore such ids), or
 * `data` is not a string.
 * @throws {RangeError} When `retry` is not a non-negative integer.
 *
 * @example Multi-line data
 * ```ts
 * import { formatSse } from "@httpkit/httpkit";
 *
 * console.assert(formatSse("one\ntwo") === "data: one\ndata: two\n\n");
 * console.assert(
 *   formatSse({ event: "note", id: "7", retry: 1000, data: "x" }) ===
 *     "event: note\nid: 7\nretry: 1000\ndata: x\n\n",
 * );
 * ```
 */
export function formatSse(event: string | SseEvent): string {
  if (typeof event === "string") return dataLines(event) + "\n";
  if (typeof event !== "object" || event === null) {
    throw new TypeError(
      `An SSE event must be a string or an object, got ${String(event)}`,
    );
  }
  let out = "";
  if (event.event !== undefined) {
    out += `event: ${field("event", event.event)}\n`;
  }
  if (event.id !== undefined) {
    const id = field("id", event.id);
    if (id.includes("\0")) {
      throw new TypeError(
        `An SSE id must not contain NUL: ${JSON.stringify(id)}`,
      );
    }
    out += `id: ${id}\n`;
  }
  if (event.retry !== undefined) out += `retry: ${retryValue(event.retry)}\n`;
  if (event.data !== undefined) {
    if (typeof event.data !== "string") {
      throw new TypeError(
        `SSE data must be a string (JSON.stringify objects), got ${typeof event
          .data}`,
      );
    }
    out += dataLines(event.data);
  }
  return out + "\n";
}

function dataLines(data: string): string {
  let out = "";
  // The space after the colon is the one the parser strips, so data that
  // starts with a space keeps it.
  for (const line of data.split(LINE_BREAK)) out += `data: ${line}\n`;
  return out;
}

function field(name: string, value: unknown): string {
  if (typeof value !== "string") {
    throw new TypeError(
      `An SSE ${name} must be a string, got ${typeof value}`,
    );
  }
  if (value.includes("\n") || value.includes("\r")) {
    throw new TypeError(
      `An SSE ${name} must not contain CR or LF: ${JSON.stringify(value)}`,
    );
  }
  return value;
}

export function retryValue(retry: unknown): number {
  if (typeof retry !== "number" || !Number.isSafeInteger(retry) || retry < 0) {
    throw new RangeError(
      `An SSE retry must be a non-negative integer of ms, got ${String(retry)}`,
    );
  }
  return retry;
}

/** Comment lines: `: text` per line, then a blank line. */
export function commentLines(text: string): string {
  let out = "";
  for (const line of text.split(LINE_BREAK)) out += `: ${line}\n`;
  return out + "\n";
}
