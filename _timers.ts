// Timer ids as numbers: with Node's types in the graph, setInterval is typed
// as returning a Timeout object, while Deno's runtime returns the number
// that Deno.unrefTimer and clearInterval take.

/** Starts an interval that does not keep the process alive. */
export function unrefInterval(fn: () => void, ms: number): number {
  const id = setInterval(fn, ms) as unknown as number;
  Deno.unrefTimer(id);
  return id;
}

/** Starts a timeout that does not keep the process alive. */
export function unrefTimeout(fn: () => void, ms: number): number {
  const id = setTimeout(fn, ms) as unknown as number;
  Deno.unrefTimer(id);
  return id;
}

/** Resolves after `ms`, with a way to cancel the timer. */
export function delay(ms: number): { promise: Promise<void>; cancel(): void } {
  let id = 0;
  const promise = new Promise<void>((r) => {
    id = setTimeout(r, ms) as unknown as number;
  });
  return { promise, cancel: () => clearTimeout(id) };
}
