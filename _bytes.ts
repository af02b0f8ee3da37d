// Byte helpers shared by the server, the client, the channels and the codecs.

/**
 * Joins byte arrays into one (the array itself when there is only one).
 * `total` may be passed when the caller already knows the summed length.
 */
export function concat(parts: readonly Uint8Array[], total = -1): Uint8Array {
  if (parts.length === 1) return parts[0];
  if (total < 0) {
    total = 0;
    for (const p of parts) total += p.length;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
