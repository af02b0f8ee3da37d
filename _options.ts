// Unknown option names are mistakes: `runServer(h, { host: "::" })` would
// otherwise bind 0.0.0.0 in silence. These helpers name the stray option and
// the known one it most likely meant, from an alias table of names other
// libraries use (Deno.serve, Node, fetch, axios, ws...) and from edit distance
// for typos. Private: the entry points call them with their own known names.

/** A known option another library's name most likely means, and a hint. */
interface Alias {
  /** Candidates in order; the first one the caller knows is suggested. */
  to: readonly string[];
  /** Said after the suggestion, when the rename alone is not the answer. */
  hint?: string;
}

const JSON_HINT =
  "Pass JSON.stringify(value) as the body with a content-type header, or wrap the handler in wrapJson.";

// Keys are lower-case: the look-up ignores case and underscores.
const ALIASES: Record<string, Alias> = {
  host: { to: ["ip", "hostname"] },
  hostname: { to: ["ip"] },
  address: { to: ["ip", "hostname"] },
  addr: { to: ["ip", "hostname"] },
  bind: { to: ["ip"] },
  maxbodysize: { to: ["maxBody"] },
  maxbodylength: { to: ["maxBody"] },
  maxcontentlength: { to: ["maxBody"] },
  bodylimit: { to: ["maxBody"] },
  bodysizelimit: { to: ["maxBody"] },
  maxrequestbodysize: { to: ["maxBody"] },
  limit: { to: ["maxBody"] },
  json: { to: ["body"], hint: JSON_HINT },
  data: { to: ["body"] },
  query: { to: ["queryParams"] },
  params: { to: ["queryParams"] },
  searchparams: { to: ["queryParams"] },
  qs: { to: ["queryParams"] },
  form: { to: ["formParams"] },
  timeout: { to: ["idleTimeout", "headerTimeout"] },
  requesttimeout: { to: ["timeout", "headerTimeout"] },
  readtimeout: { to: ["timeout", "bodyTimeout"] },
  sockettimeout: { to: ["timeout", "idleTimeout"] },
  responsetimeout: { to: ["timeout"] },
  headerstimeout: { to: ["headerTimeout"] },
  keepalivetimeout: { to: ["idleTimeout", "keepalive"] },
  connectiontimeout: { to: ["connectTimeout"] },
  maxheadersize: { to: ["maxHeaderBytes"] },
  onerror: { to: ["errorLogger"] },
  errorhandler: { to: ["errorLogger"] },
  logger: { to: ["errorLogger", "warnLogger"] },
  redirect: { to: ["followRedirects"] },
  followredirect: { to: ["followRedirects"] },
  follow: { to: ["maxRedirects", "followRedirects"] },
  auth: { to: ["basicAuth"] },
  ca: { to: ["caCerts"] },
  rejectunauthorized: {
    to: ["insecure"],
    hint: "Set insecure: true to skip certificate checks.",
  },
  proxy: { to: ["proxyUrl", "proxyProtocol"] },
  responsetype: { to: ["as"] },
  subprotocols: { to: ["protocols"] },
  protocol: { to: ["protocols"] },
  permessagedeflate: { to: ["deflate"] },
  compression: { to: ["deflate", "autoCompression"] },
  maxpayload: { to: ["maxWs"] },
  maxmessagesize: { to: ["maxWs"] },
};

/**
 * The message for the first option of `options` that is not in `known`, or
 * `null` when every option is known. For callers that return errors as
 * values (the HTTP client).
 *
 * @param where The function the options were given to, e.g. `"runServer"`.
 * @param options The options object as passed (may be undefined).
 * @param known Every option name the function accepts.
 * @returns `runServer: unknown option "host" (did you mean "ip"?)`, or null.
 */
export function optionsProblem(
  where: string,
  options: object | undefined,
  known: readonly string[],
): string | null {
  if (options === undefined || options === null) return null;
  if (typeof options !== "object") {
    const got = typeof options === "function"
      ? "a function"
      : JSON.stringify(options);
    return `${where}: options must be an object, got ${got}`;
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) return unknownMessage(where, name, known);
  }
  return null;
}

/**
 * Throws a `TypeError` naming the first unknown option and the known one it
 * most likely meant.
 *
 * @param where The function the options were given to, e.g. `"runServer"`.
 * @param options The options object as passed (may be undefined).
 * @param known Every option name the function accepts.
 * @throws {TypeError} `runServer: unknown option "host" (did you mean "ip"?)`
 */
export function checkOptions(
  where: string,
  options: object | undefined,
  known: readonly string[],
): void {
  const problem = optionsProblem(where, options, known);
  if (problem !== null) throw new TypeError(problem);
}

/** The message for one unknown option name. */
function unknownMessage(
  where: string,
  name: string,
  known: readonly string[],
): string {
  const guess = suggestOption(name, known);
  let text = `${where}: unknown option ${JSON.stringify(name)}`;
  if (guess === null) return text;
  text += ` (did you mean ${JSON.stringify(guess.name)}?`;
  return text + (guess.hint === undefined ? ")" : ` ${guess.hint})`);
}

/**
 * The known name `name` most likely meant: an alias from another library,
 * else the nearest name by edit distance within a cut-off (about a third of
 * the longer name, at least 1), ties going to the first in `known`.
 *
 * @param name The unknown option name.
 * @param known Every option name the function accepts.
 * @returns The suggestion and an optional hint, or null.
 */
export function suggestOption(
  name: string,
  known: readonly string[],
): { name: string; hint?: string } | null {
  const key = fold(name);
  const alias = ALIASES[key];
  const aliased = alias?.to.find((to) => known.includes(to));
  if (aliased !== undefined) return { name: aliased, hint: alias?.hint };
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const other = fold(candidate);
    const cutoff = Math.max(
      1,
      Math.floor(Math.max(key.length, other.length) / 3),
    );
    const d = editDistance(key, other);
    if (d <= cutoff && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best === null ? null : { name: best };
}

// Case and underscores say little about intent: max_body and maxbody both
// mean maxBody.
function fold(name: string): string {
  return name.toLowerCase().replaceAll("_", "").replaceAll("-", "");
}

/**
 * Damerau-Levenshtein distance (optimal string alignment): insertions,
 * deletions, substitutions and swaps of two neighbours each cost 1, so the
 * common typo "prot" for "port" is 1 away, not 2.
 */
export function editDistance(a: string, b: string): number {
  // Three rows are enough: a swap looks back two rows.
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let row = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, before[j - 2] + 1);
      }
      row[j] = d;
    }
    [before, prev, row] = [prev, row, before];
  }
  return prev[b.length];
}
