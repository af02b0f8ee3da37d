// Naming a value in an error message: what came instead of what was wanted.

/** The kind of a value, for error messages: its type or its class. */
export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v !== "object") return typeof v;
  const name = (v as { constructor?: { name?: string } }).constructor?.name;
  return name === undefined || name === "Object" ? "an object" : name;
}
