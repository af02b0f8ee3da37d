// Content-Type values: the media type and its charset, read the same way by
// the server's request maps, the Fetch adapter and the client.

/** A Content-Type value taken apart. */
export interface MediaType {
  /** The media type without parameters, lower-case, or null. */
  type: string | null;
  /** The `charset` parameter, lower-case, or null. */
  charset: string | null;
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;
const NONE: MediaType = { type: null, charset: null };

/** Splits a Content-Type value into its media type and charset. */
export function mediaType(value: string | null | undefined): MediaType {
  if (value === undefined || value === null) return NONE;
  const semi = value.indexOf(";");
  const type = (semi === -1 ? value : value.slice(0, semi)).trim()
    .toLowerCase();
  if (semi === -1) return { type, charset: null };
  const m = CHARSET.exec(value);
  return { type, charset: m === null ? null : m[1].toLowerCase() };
}

const TEXTUAL =
  /^\s*(text\/|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded)\b|[^;]*\+(json|xml)\b)/i;

/**
 * Whether a Content-Type names text: `text/*`, JSON, XML, JavaScript, form
 * data and `+json`/`+xml` types.
 */
export function isTextual(value: string | undefined): boolean {
  return value !== undefined && TEXTUAL.test(value);
}
