// Reading a Response back into a response map without its stream. The
// public way (iterate its Headers, await text() or arrayBuffer()) costs about
// 1.5 µs and a Promise per response: more than everything else of a small
// response together. A Response whose body is complete at once (text, JSON,
// bytes, none: what `c.text`, `c.json` and `c.body` make) keeps its status,
// header list and body in the runtime's inner response, where they can be
// read directly once `response.headers` has been asked for (public API,
// which also settles the runtime's lazy forms into that inner response).
//
// Which internal key holds the inner response, and that it has the shape
// read here, is checked once on probe Responses: if the runtime ever stores
// them otherwise, `quickParts` answers null and the public way is used.

/** A Response's parts, read without its stream. */
export interface QuickParts {
  status: number;
  /** Header fields in order, as name/value pairs. */
  headers: [string, string][];
  body: string | Uint8Array | null;
}

interface InnerBody {
  streamOrStatic?: { body?: unknown; consumed?: boolean } | ReadableStream;
}

interface Inner {
  type?: string;
  status?: number;
  headerList?: [string, string][];
  body?: InnerBody | null;
}

/** The parts of `response` when its body is complete at once, else null. */
export function quickParts(response: Response): QuickParts | null {
  if (INNER === null) return null;
  response.headers;
  return partsOf((response as unknown as Record<symbol, Inner>)[INNER]);
}

function partsOf(inner: Inner | undefined): QuickParts | null {
  if (inner === undefined || inner === null || inner.type !== "default") {
    return null;
  }
  const headers = inner.headerList;
  if (!Array.isArray(headers) || typeof inner.status !== "number") {
    return null;
  }
  const b = inner.body;
  if (b === null) return { status: inner.status, headers, body: null };
  const sos = b?.streamOrStatic;
  if (sos === undefined || sos instanceof ReadableStream || sos.consumed) {
    return null;
  }
  const body = sos.body;
  if (typeof body !== "string" && !(body instanceof Uint8Array)) return null;
  return { status: inner.status, headers, body };
}

// The key whose value reads back exactly what each probe was made with.
function findInner(): symbol | null {
  try {
    const probes: [Response, QuickParts][] = [
      [
        new Response("probe", { status: 203, headers: { "x-probe": "1" } }),
        {
          status: 203,
          headers: [
            ["x-probe", "1"],
            ["content-type", "text/plain;charset=UTF-8"],
          ],
          body: "probe",
        },
      ],
      [
        new Response("text"),
        {
          status: 200,
          headers: [["content-type", "text/plain;charset=UTF-8"]],
          body: "text",
        },
      ],
      [
        new Response(new Uint8Array([7, 8]), { status: 201 }),
        { status: 201, headers: [], body: new Uint8Array([7, 8]) },
      ],
      [
        Response.json({ a: 1 }),
        {
          status: 200,
          headers: [["content-type", "application/json"]],
          body: '{"a":1}',
        },
      ],
      [new Response(null, { status: 204 }), {
        status: 204,
        headers: [],
        body: null,
      }],
    ];
    const first = probes[0][0];
    first.headers;
    for (const key of Object.getOwnPropertySymbols(first)) {
      if (probes.every(([r, want]) => reads(r, key, want))) return key;
    }
  } catch {
    // a runtime that stores Responses otherwise: the public way it is
  }
  return null;
}

function reads(r: Response, key: symbol, want: QuickParts): boolean {
  r.headers;
  const got = partsOf((r as unknown as Record<symbol, Inner>)[key]);
  if (got === null || got.status !== want.status) return false;
  const names = got.headers.map(([n, v]) => `${n.toLowerCase()}: ${v}`);
  const wanted = want.headers.map(([n, v]) => `${n}: ${v}`);
  if (names.join("\n") !== wanted.join("\n")) return false;
  if (typeof want.body === "string" || want.body === null) {
    return got.body === want.body;
  }
  return got.body instanceof Uint8Array &&
    got.body.join() === want.body.join();
}

const INNER: symbol | null = findInner();

/** Whether the quick way is in use (false: this runtime is not understood). */
export const QUICK: boolean = INNER !== null;
