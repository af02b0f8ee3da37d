// Byte classes from RFC 9110 section 5.6.2 (tchar) and 5.5 (field-vchar),
// as lookup tables: one array read per byte on the hot path.

/** 1 for a tchar (token character). */
export const TOKEN: Uint8Array = new Uint8Array(256);
/**
 * Non-zero for a byte allowed inside a field value: 1 for VCHAR, SP and HTAB,
 * 2 for obs-text (0x80-0xFF).
 */
export const FIELD_VALUE: Uint8Array = new Uint8Array(256);
/** 1 for a byte allowed in a request-target (visible ASCII). */
export const TARGET: Uint8Array = new Uint8Array(256);

for (let i = 0; i < 256; i++) {
  FIELD_VALUE[i] = i >= 0x80
    ? 2
    : (i >= 0x20 && i !== 0x7f) || i === 0x09
    ? 1
    : 0;
  TARGET[i] = i > 0x20 && i < 0x7f ? 1 : 0;
}
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let i = 0x30; i <= 0x39; i++) TOKEN[i] = 1;
for (let i = 0x41; i <= 0x5a; i++) TOKEN[i] = 1;
for (let i = 0x61; i <= 0x7a; i++) TOKEN[i] = 1;

/** Decodes bytes as latin1, one char per byte, so no byte is ever lost. */
export function latin1(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n <= 0) return "";
  if (n < 4096) {
    // deno-lint-ignore no-explicit-any
    return String.fromCharCode.apply(null, b.subarray(start, end) as any);
  }
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += latin1(b, i, Math.min(end, i + 4096));
  }
  return s;
}

/** Returns `true` when `s` is a non-empty token. */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Returns `true` when `s` may be sent as a field value (no CR, LF, NUL...). */
export function isFieldValue(s: string): boolean {
  return fieldValueKind(s) !== 0;
}

/**
 * Classifies a field value to send: 0 when it must be refused (CR, LF, NUL,
 * other controls, chars above 255), 1 for ASCII, 2 when it has latin1 chars.
 */
export function fieldValueKind(s: string): number {
  let kind = 1;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) return 0;
    const v = FIELD_VALUE[c];
    if (v === 0) return 0;
    kind |= v;
  }
  return kind === 1 ? 1 : 2;
}

/** Splits a comma-separated header value into trimmed, lower-cased tokens. */
export function tokens(value: string): string[] {
  const out: string[] = [];
  for (const part of value.split(",")) {
    const t = part.trim().toLowerCase();
    if (t !== "") out.push(t);
  }
  return out;
}

/** Returns `true` when the comma list `value` holds `token` (lower-case). */
export function hasToken(value: string | undefined, token: string): boolean {
  if (value === undefined) return false;
  if (value.length === token.length) return value.toLowerCase() === token;
  return tokens(value).includes(token);
}
