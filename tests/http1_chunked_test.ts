// The chunked transfer coding (RFC 9112 section 7.1), checked against the RFC
// and the project's rules. Every case is decoded whole, split in two at every
// byte boundary, and fed one byte at a time; all must agree.

import assert from "node:assert/strict";
import {
  ChunkedDecoder,
  chunkHeader,
  encodeChunk,
  LAST_CHUNK,
} from "../http1/chunked.ts";
import { ProtocolError } from "../http1/errors.ts";

function bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function text(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

// Bytes around each piece, as a reused read buffer holds: a decoder reading
// outside [start, end) would see a complete last chunk here.
const PAD = bytes("0\r\n\r\n");

interface Options {
  maxLine?: number;
  maxTrailer?: number;
}

type Outcome =
  | {
    kind: "done";
    body: string;
    consumed: number;
    trailers: Record<string, string>;
  }
  | { kind: "incomplete"; body: string }
  | { kind: "error"; status: number; message: string; body: string };

/** Decodes `input` cut at `cuts`, each piece in its own padded buffer. */
function decodePieces(
  input: Uint8Array,
  cuts: number[],
  opts: Options = {},
): Outcome {
  const dec = new ChunkedDecoder(opts.maxLine, opts.maxTrailer);
  const points = [0, ...cuts, input.length];
  let body = "";
  let consumed = 0;
  try {
    for (let p = 0; p + 1 < points.length; p++) {
      const piece = input.subarray(points[p], points[p + 1]);
      const buf = new Uint8Array(PAD.length * 2 + piece.length);
      buf.set(PAD);
      buf.set(piece, PAD.length);
      buf.set(PAD, PAD.length + piece.length);
      const start = PAD.length, end = start + piece.length;
      const r = dec.decode(buf, start, end, (d) => {
        assert.ok(
          d.buffer === buf.buffer && d.byteOffset >= start &&
            d.byteOffset + d.length <= end,
          "body data comes from [start, end) of the input",
        );
        body += text(d);
      });
      assert.ok(r >= start && r <= end, `offset ${r} outside [start, end]`);
      consumed += r - start;
      if (dec.done) {
        return { kind: "done", body, consumed, trailers: dec.trailers };
      }
      assert.equal(r, end, "an unfinished decoder consumes all it is given");
    }
    return { kind: "incomplete", body };
  } catch (err) {
    if (err instanceof ProtocolError) {
      return {
        kind: "error",
        status: err.status,
        message: err.message,
        body,
      };
    }
    throw err;
  }
}

function summary(o: Outcome): unknown {
  return o.kind === "error" ? { kind: "error", status: o.status } : o;
}

/** Every way a case is fed: whole, in two at each boundary, byte by byte. */
function splits(n: number): [string, number[]][] {
  const out: [string, number[]][] = [["whole", []]];
  const step = n > 5000 ? 997 : 1;
  for (let k = 1; k < n; k += step) out.push([`split at ${k}`, [k]]);
  const each: number[] = [];
  for (let k = 1; k < n; k += step === 1 ? 1 : 61) each.push(k);
  out.push(["byte by byte", each]);
  return out;
}

function allWays(input: string, opts: Options = {}): Outcome {
  const b = bytes(input);
  const whole = decodePieces(b, [], opts);
  for (const [how, cuts] of splits(b.length)) {
    assert.deepEqual(summary(decodePieces(b, cuts, opts)), summary(whole), how);
  }
  return whole;
}

/** Declares a test that `input` decodes to `body`, leaving `rest` unread. */
function decodes(
  name: string,
  input: string,
  body: string,
  more: { trailers?: Record<string, string>; rest?: string } = {},
  opts: Options = {},
): void {
  Deno.test(`ChunkedDecoder decodes ${name}`, () => {
    const o = allWays(input + (more.rest ?? ""), opts);
    assert.deepEqual(summary(o), {
      kind: "done",
      body,
      consumed: input.length,
      trailers: more.trailers ?? {},
    });
  });
}

/** Declares a test that `input` is refused with one of `statuses`. */
function refuses(
  name: string,
  input: string,
  statuses: number[] = [400],
  opts: Options = {},
): void {
  Deno.test(`ChunkedDecoder refuses ${name} with ${statuses.join("/")}`, () => {
    const o = allWays(input, opts);
    if (o.kind !== "error") {
      assert.fail(`expected an error, got ${JSON.stringify(summary(o))}`);
    }
    assert.ok(statuses.includes(o.status), `status ${o.status}`);
  });
}

/** Declares a test that `input` is a valid but unfinished chunked body. */
function waits(name: string, input: string, body: string): void {
  Deno.test(`ChunkedDecoder waits for more after ${name}`, () => {
    assert.deepEqual(allWays(input), { kind: "incomplete", body });
  });
}

const END = "0\r\n\r\n";

// --- valid bodies -----------------------------------------------------------

decodes("one chunk", "5\r\nhello\r\n" + END, "hello");
decodes(
  "several chunks with upper- and lower-case hex sizes",
  "3\r\nabc\r\na\r\n0123456789\r\nB\r\nhello world\r\n" + END,
  "abc0123456789hello world",
);
decodes(
  "a two-digit size",
  `1f\r\n${"x".repeat(31)}\r\n` + END,
  "x".repeat(31),
);
decodes("an empty body", END, "");
decodes("a last chunk written with several zeros", "000\r\n\r\n", "");
decodes("a size with leading zeros", "0005\r\nhello\r\n" + END, "hello");
// RFC 9112 section 7.1: chunk-size = 1*HEXDIG; the limit is on the value.
decodes(
  "a 16-digit size with leading zeros",
  "0000000000000005\r\nhello\r\n" + END,
  "hello",
);
decodes(
  "data holding CR, LF, NUL and high bytes",
  "6\r\n\r\n\r\n\x00\xff\r\n" + END,
  "\r\n\r\n\x00\xff",
);
decodes(
  "data that looks like chunk framing",
  "a\r\n0\r\n\r\n0\r\n\r\n\r\n" + END,
  "0\r\n\r\n0\r\n\r\n",
);
decodes(
  "a 4 KiB chunk",
  `1000\r\n${"z".repeat(4096)}\r\n` + END,
  "z".repeat(4096),
);
decodes(
  "a 64 KiB body in 4 KiB chunks",
  `1000\r\n${"q".repeat(4096)}\r\n`.repeat(16) + END,
  "q".repeat(65536),
);

decodes("a chunk extension", "5;name=value\r\nhello\r\n" + END, "hello");
decodes("an extension without value", "5;name\r\nhello\r\n" + END, "hello");
decodes("several extensions", "5;a=1;b;c=x\r\nhello\r\n" + END, "hello");
decodes(
  "a quoted extension value with ; and escapes",
  '5;name="quoted; value \\"x\\" =\\\\"\r\nhello\r\n' + END,
  "hello",
);
decodes(
  "bad whitespace around ; and =",
  "5 ; a = b\t;\tc\r\nhello\r\n" + END,
  "hello",
);
decodes("an extension on the last chunk", "0;end=1\r\n\r\n", "");

decodes(
  "trailers, trimmed and lower-cased",
  "5\r\nhello\r\n0\r\nX-Sum: abc\r\nx-Other:  v w \t\r\n\r\n",
  "hello",
  { trailers: { "x-sum": "abc", "x-other": "v w" } },
);
decodes(
  "repeated trailers joined with a comma",
  "0\r\nX: 1\r\nx: 2\r\n\r\n",
  "",
  { trailers: { x: "1,2" } },
);
decodes("a trailer with an empty value", "0\r\nX:\r\n\r\n", "", {
  trailers: { x: "" },
});
decodes("a trailer with obs-text", "0\r\nX: caf\xe9\r\n\r\n", "", {
  trailers: { x: "caf\xe9" },
});
decodes(
  "a constructor trailer as a plain field",
  "0\r\nConstructor: x\r\n\r\n",
  "",
  {
    trailers: { constructor: "x" },
  },
);
decodes(
  "a __proto__ trailer as an own field",
  "0\r\n__proto__: x\r\n\r\n",
  "",
  {
    trailers: JSON.parse('{"__proto__":"x"}'),
  },
);

decodes(
  "up to the final CRLF, leaving a pipelined request",
  "5\r\nhello\r\n" + END,
  "hello",
  { rest: "GET / HTTP/1.1\r\nHost: a\r\n\r\n" },
);
decodes(
  "up to the end of the trailers, leaving a pipelined request",
  "1\r\nA\r\n0\r\nX: y\r\n\r\n",
  "A",
  { trailers: { x: "y" }, rest: "POST / HTTP/1.1\r\n" },
);
decodes("a body followed by bytes that look like chunks", END, "", {
  rest: "5\r\nhello\r\n0\r\n\r\n",
});
decodes("a body followed by a lone LF", END, "", { rest: "\n" });

// --- unfinished bodies ------------------------------------------------------

waits("a 13-digit size (2^52 - 1)", "FFFFFFFFFFFFF\r\nabc", "abc");
waits("a chunk without the last chunk", "5\r\nhello\r\n", "hello");
waits("the last chunk", "0\r\n", "");
waits("the last chunk and its first CR", "0\r\n\r", "");
waits("a trailer line", "0\r\nX: y\r\n", "");
waits("half a chunk", "a\r\n01234", "01234");

// --- invalid bodies ---------------------------------------------------------

refuses("a non-hex size", "g\r\nhello\r\n" + END);
refuses("junk after the size", "5x\r\nhello\r\n" + END);
refuses("a negative size", "-5\r\nhello\r\n" + END);
refuses("a size with a plus sign", "+5\r\nhello\r\n" + END);
refuses("a size with a 0x prefix", "0x5\r\nhello\r\n" + END);
refuses("a decimal point in the size", "5.0\r\nhello\r\n" + END);
refuses("an empty size", "\r\nhello\r\n" + END);
refuses("an extension without size", ";a=b\r\nhello\r\n" + END);
refuses("whitespace before the size", " 5\r\nhello\r\n" + END);
refuses("a word after the size without ;", "5 x\r\nhello\r\n" + END);
refuses("a size of 2^52 + 1", "10000000000001\r\n");
refuses("a 16-digit size", "FFFFFFFFFFFFFFFF\r\n");
refuses("a 21-digit size", "100000000000000000000\r\n");
refuses("a bare LF after the size", "5\nhello\r\n" + END);
refuses("a bare LF after an extension", "5;a=b\nhello\r\n" + END);
refuses("a bare LF after the last chunk", "0\n\r\n");
refuses("a bare CR after the size", "5\rhello\r\n" + END);
refuses("a bare CR after an extension", "5;a\rhello\r\n" + END);
refuses("data longer than the size", "5\r\nhelloX\r\n" + END);
refuses("data shorter than the size", "3\r\nhello\r\n" + END);
refuses("the next size right after the data", "5\r\nhello0\r\n\r\n");
refuses("a bare LF after the data", "5\r\nhello\n" + END);
refuses("a bare CR after the data", "5\r\nhello\r0\r\n\r\n");
refuses("LF CR after the data", "5\r\nhello\n\r" + END);
refuses("a NUL in an extension", "5;a\x00\r\nhello\r\n" + END);
refuses("a control byte in an extension value", "5;a=\x01\r\nhello\r\n" + END);
refuses("a DEL in an extension", "5;a\x7f\r\nhello\r\n" + END);
refuses("a bare LF ending the trailers", "0\r\n\n");
refuses("a bare LF after a trailer", "0\r\nX: y\n\r\n");
refuses("a bare CR in the trailer blank line", "0\r\n\r\r\n");
refuses("a CR inside a trailer value", "0\r\nX: a\rb\r\n\r\n");
refuses("a NUL in a trailer value", "0\r\nX: a\x00\r\n\r\n");
refuses("obs-fold in the trailers", "0\r\nX: a\r\n b\r\n\r\n");
refuses("a trailer line without colon", "0\r\nNoColon\r\n\r\n");
refuses("whitespace before a trailer colon", "0\r\nX : a\r\n\r\n");
refuses("a trailer with an empty name", "0\r\n: a\r\n\r\n");
refuses("a trailer name with a separator", "0\r\nX(y): a\r\n\r\n");
refuses(
  "a trailer section over maxTrailer",
  "0\r\n" + "X-A: 0123456789\r\n".repeat(3) + "\r\n",
  [431],
  { maxTrailer: 32 },
);
refuses(
  "an extension over maxLine",
  "5;" + "a".repeat(40) + "\r\nhello\r\n" + END,
  [400, 414, 431],
  { maxLine: 16 },
);
refuses(
  "a trailer line over maxLine",
  "0\r\nX: " + "v".repeat(40) + "\r\n\r\n",
  [400, 414, 431],
  { maxLine: 16 },
);

// --- chunk extensions (RFC 9112 section 7.1.1) --------------------------------
//
//   chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//   chunk-ext-name = token
//   chunk-ext-val  = token / quoted-string
//
// Each form follows the size of a data chunk and of the last chunk. Where
// Node's llhttp (9.3.1, as in Node 20, strict) answers otherwise, the comment
// says so: it refuses every BWS, and lets an empty name or value through.

/** The line `size + ext`, a data chunk after it, and the last chunk. */
function withExt(ext: string): [string, string][] {
  return [[`5${ext}\r\nhello\r\n${END}`, "hello"], [`0${ext}\r\n\r\n`, ""]];
}

/**
 * Declares a test that the extension `ext` is read and dropped, and that every
 * prefix of its chunk line waits for more.
 */
function accepts(name: string, ext: string, opts: Options = {}): void {
  Deno.test(`ChunkedDecoder accepts ${name}`, () => {
    for (const [input, body] of withExt(ext)) {
      assert.deepEqual(summary(allWays(input, opts)), {
        kind: "done",
        body,
        consumed: input.length,
        trailers: {},
      }, JSON.stringify(input));
    }
    const line = `5${ext}\r\n`;
    for (let k = 1; k < line.length; k++) {
      const prefix = line.slice(0, k);
      assert.deepEqual(
        allWays(prefix, opts),
        { kind: "incomplete", body: "" },
        JSON.stringify(prefix),
      );
    }
  });
}

/**
 * Declares a test that the chunk line `size + ext` is refused with 400 by the
 * end of the line, before any data is handed out.
 */
function refusesLine(name: string, ext: string, opts: Options = {}): void {
  Deno.test(`ChunkedDecoder refuses ${name} with 400`, () => {
    const inputs = [`5${ext}\r\n`, ...withExt(ext).map(([input]) => input)];
    for (const input of inputs) {
      const o = allWays(input, opts);
      assert.deepEqual(
        o.kind === "error" ? { status: o.status, body: o.body } : o,
        { status: 400, body: "" },
        JSON.stringify(input),
      );
    }
  });
}

accepts("an extension name", ";name");
accepts("an extension with a token value", ";name=value");
accepts("BWS around ; and =", " ; name = value");
accepts("tabs and runs of them as BWS", "\t \t;\t\tname \t=\t value");
accepts("several extensions", ";a=1;b;c=x");
accepts("several extensions with BWS", " ;a ; b=c\t;d");
accepts('a quoted value with an escaped "', ';a="q\\"uoted";b=tok');
accepts("an empty quoted value", ';a=""');
accepts(
  "a quoted value holding ;, =, (, ), ',', SP, HTAB and obs-text",
  ';a="; = (x), y\t\x80\xe9\xff"',
);
accepts(
  "quoted-pairs of SP, HTAB, VCHAR and obs-text",
  ';a="\\ \\\t\\a\\\\\\"\\;\\\xff"',
);
accepts("BWS before a ; after a quoted value", ';a="x" \t;b="y"');
accepts("BWS before a ; after a token value", ";a=b\t; c");
accepts(
  "names and values made of every tchar",
  ";!#$%&'*+-.^_`|~09AZaz=!#$%&'*+-.^_`|~09AZaz",
);
accepts("a chunk line of exactly maxLine bytes, size included", ';a="xy"', {
  maxLine: 8,
});
accepts("an extension of exactly maxLine bytes with BWS", " ; a = b", {
  maxLine: 9,
});

// After the size: BWS is only allowed before a ";" (llhttp refuses any).
refusesLine("a space after the size before CRLF", " ");
refusesLine("a tab after the size before CRLF", "\t");
refusesLine("whitespace after the size before a bare CR", " \rx");
// A ";" opens an extension, which needs a name. llhttp refuses these four...
refusesLine("a ; without a name", ";");
refusesLine("a ; and BWS without a name", "; \t");
refusesLine("a trailing ; after an extension", ";a;");
refusesLine("a trailing ; after a quoted value", ';a="x";');
// ...but lets these empty names through.
refusesLine("a ; with = but no name", ";=x");
refusesLine("an empty extension between two ;", ";a;;b");
refusesLine("a ; right after a ;", ";;a");
// A value after "=" is a token or a quoted string, never empty (llhttp lets
// `a=` and `a=;b` through) and never both (llhttp takes `x"y"` and `b"c"`).
refusesLine("= without a value", ";a=");
refusesLine("= followed by BWS only", ";a= \t");
refusesLine("= followed by a ;", ";a=;b");
refusesLine("a second = after =", ";a==b");
refusesLine("a second = after a value", ";a=b=c");
refusesLine("a token value followed by a quoted string", ';a=x"y"');
refusesLine("a quoted value followed by a token", ';a="x"y');
refusesLine("two quoted strings", ';a="x""y"');
refusesLine("a quoted string followed by =", ';a="x"=y');
// BWS inside a name or value, or before the CRLF (llhttp refuses all BWS).
refusesLine("whitespace inside a name", ";a b");
refusesLine("whitespace inside a token value", ";a=b c");
refusesLine("a second name after a name and whitespace", ";a b=c");
refusesLine("whitespace after a name before CRLF", ";a ");
refusesLine("whitespace after = and a value before CRLF", ";a = b ");
refusesLine("whitespace after a quoted value before CRLF", ';a="x"\t');
// Quotes only around a whole value. An unterminated one must not run on past
// the CRLF into the data, as a parser reading quoted strings across lines
// would: the two would then frame the body differently.
refusesLine("a quote in the middle of a name", ';a"b');
refusesLine("a quote ending a name", ';ab"');
refusesLine("a quoted name", ';"a"');
refusesLine("a quote in the middle of a token value", ';a=b"c"');
refusesLine("an unterminated quoted value before CRLF", ';a="x');
refusesLine("an unterminated empty quoted value before CRLF", ';a="');
refusesLine('a quoted value whose closing " is escaped', ';a="x\\"');
refusesLine("a quoted value ending in a lone backslash", ';a="x\\');
refusesLine("a CRLF inside a quoted value", ';a="x\r\ny"');
// Bytes that are neither tchar nor BWS outside a quoted string.
refusesLine("a backslash in a name", ";a\\b");
refusesLine("a backslash as a token value", ";a=\\b");
refusesLine("a comma between extensions", ";a=b,c=d");
refusesLine("a / in a token value", ";a=b/c");
refusesLine("obs-text in a name", ";caf\xe9");
refusesLine("obs-text in a token value", ";a=caf\xe9");
// Control bytes, DEL, bare CR and bare LF anywhere in the line.
refusesLine("a NUL after the size", "\x00");
refusesLine("a NUL in a name", ";a\x00");
refusesLine("a control byte in a token value", ";a=b\x01");
refusesLine("a control byte in a quoted value", ';a="\x01"');
refusesLine("a control byte in a quoted-pair", ';a="\\\x01"');
refusesLine("a DEL in a quoted value", ';a="\x7f"');
refusesLine("a DEL in a quoted-pair", ';a="\\\x7f"');
refusesLine("a vertical tab as BWS", "\x0b;a");
refusesLine("a bare LF in a name", ";a\nb");
refusesLine("a bare LF after =", ";a=\nb");
refusesLine("a bare LF in a quoted value", ';a="x\ny"');
refusesLine("a bare CR in a name", ";a\rb");
refusesLine("a bare CR after ;", ";\ra");
refusesLine("a bare CR in a quoted value", ';a="x\ry"');
refusesLine("a bare CR in a quoted-pair", ';a="\\\r"');
// The whole line, size digits and extension, counts against maxLine.
refusesLine("a chunk line one byte over maxLine, size included", ';a="xyz"', {
  maxLine: 8,
});
refusesLine("BWS after the size past maxLine", " ".repeat(40) + ";a", {
  maxLine: 16,
});
refusesLine("a quoted value past maxLine", ';a="' + "x".repeat(40) + '"', {
  maxLine: 16,
});

Deno.test("ChunkedDecoder refuses a chunk line past maxLine before it ends, with 400", () => {
  for (
    const line of [
      "0".repeat(17),
      "5" + " ".repeat(16),
      "5;" + "a".repeat(15),
      '5;a="' + "x".repeat(12),
      "5;a=b" + " ".repeat(12),
    ]
  ) {
    assert.deepEqual(
      summary(allWays(line, { maxLine: 16 })),
      { kind: "error", status: 400 },
      JSON.stringify(line),
    );
    assert.equal(
      allWays(line.slice(0, 16), { maxLine: 16 }).kind,
      "incomplete",
    );
  }
});

Deno.test("ChunkedDecoder refuses a size of more than maxLine leading zeros with 400", () => {
  const o = allWays("0".repeat(16) + "5\r\nhello\r\n" + END, { maxLine: 16 });
  assert.deepEqual(summary(o), { kind: "error", status: 400 });
  const fits = "0".repeat(15) + "5\r\nhello\r\n" + END;
  assert.equal(allWays(fits, { maxLine: 16 }).kind, "done");
});

Deno.test("ChunkedDecoder refuses a malformed extension on the second chunk after the first one's data", () => {
  const o = allWays("3\r\nabc\r\n2;a=\r\nde\r\n" + END);
  assert.deepEqual(o.kind === "error" && [o.status, o.body], [400, "abc"]);
});

// --- limits that must not be reached by valid bodies -------------------------

Deno.test("ChunkedDecoder allows an extension and a trailer of exactly maxLine bytes", () => {
  const ext = "5;" + "a".repeat(14);
  const trailer = "X: " + "v".repeat(13);
  const o = allWays(`${ext}\r\nhello\r\n0\r\n${trailer}\r\n\r\n`, {
    maxLine: 16,
  });
  assert.equal(o.kind, "done");
});

Deno.test("ChunkedDecoder allows a trailer section of exactly maxTrailer bytes", () => {
  // The section is everything after the last chunk's line, blank line included.
  const section = "X-A: 01234\r\nX-B: 56789\r\n\r\n";
  assert.equal(section.length, 26);
  const o = allWays("0\r\n" + section, { maxTrailer: 26 });
  assert.equal(o.kind, "done");
});

// --- the decoder's API ---------------------------------------------------------

Deno.test("ChunkedDecoder is done only after the final CRLF", () => {
  const dec = new ChunkedDecoder();
  const sink = () => {};
  const b = bytes("0\r\n\r\n");
  assert.equal(dec.decode(b, 0, 4, sink), 4);
  assert.equal(dec.done, false);
  assert.equal(dec.decode(b, 4, 5, sink), 5);
  assert.equal(dec.done, true);
});

Deno.test("ChunkedDecoder.decode() consumes nothing once done", () => {
  const dec = new ChunkedDecoder();
  let calls = 0;
  const sink = () => calls++;
  const b = bytes("1\r\nA\r\n0\r\n\r\n3\r\nabc\r\n");
  assert.equal(dec.decode(b, 0, b.length, sink), 11);
  assert.equal(calls, 1);
  assert.equal(dec.decode(b, 11, b.length, sink), 11);
  assert.equal(dec.decode(b, 0, b.length, sink), 0);
  assert.equal(calls, 1);
  assert.equal(dec.done, true);
});

Deno.test("ChunkedDecoder.decode() with an empty range returns its start", () => {
  const dec = new ChunkedDecoder();
  assert.equal(dec.decode(bytes("5\r\n"), 2, 2, () => {}), 2);
  assert.equal(dec.done, false);
});

Deno.test("ChunkedDecoder decodes at an offset inside a larger buffer", () => {
  const s = "HEAD5\r\nhello\r\n0\r\n\r\nNEXT";
  const b = bytes(s);
  const dec = new ChunkedDecoder();
  let body = "";
  const r = dec.decode(b, 4, b.length, (d) => body += text(d));
  assert.equal(body, "hello");
  assert.equal(r, s.indexOf("NEXT"));
  assert.equal(text(b), s, "the input is not modified");
});

// --- encoding -------------------------------------------------------------------

Deno.test("encodeChunk() frames data as one chunk", () => {
  assert.equal(text(encodeChunk(bytes("hello"))), "5\r\nhello\r\n");
  assert.equal(
    text(encodeChunk(new Uint8Array(300))),
    "12c\r\n" + "\0".repeat(300) + "\r\n",
  );
  assert.equal(encodeChunk(new Uint8Array(0)).length, 0);
});

Deno.test("encodeChunk() with last appends the last chunk", () => {
  assert.equal(text(encodeChunk(bytes("hi"), true)), "2\r\nhi\r\n0\r\n\r\n");
  assert.equal(text(encodeChunk(new Uint8Array(0), true)), "0\r\n\r\n");
});

Deno.test("chunkHeader() and LAST_CHUNK write the chunk lines", () => {
  assert.equal(chunkHeader(1), "1\r\n");
  assert.equal(chunkHeader(255), "ff\r\n");
  assert.equal(chunkHeader(65536), "10000\r\n");
  assert.equal(LAST_CHUNK, "0\r\n\r\n");
});

Deno.test("encodeChunk() output decodes back to the same bytes", () => {
  const pieces = ["a", "", "bc", "\r\n0\r\n\r\n", "x".repeat(1000)];
  let wire = "";
  for (const p of pieces) wire += text(encodeChunk(bytes(p)));
  wire += LAST_CHUNK;
  const o = allWays(wire);
  assert.deepEqual(summary(o), {
    kind: "done",
    body: pieces.join(""),
    consumed: wire.length,
    trailers: {},
  });
});

Deno.test("ChunkedDecoder refuses a chunk size past maxBody with 413 before its data", () => {
  const dec = new ChunkedDecoder(8192, 65536, 1000);
  const b = new TextEncoder().encode("3e9\r\n");
  assert.throws(
    () => dec.decode(b, 0, b.length, () => {}),
    (e) => e instanceof ProtocolError && e.status === 413,
  );
  const ok = new ChunkedDecoder(8192, 65536, 1000);
  const fits = new TextEncoder().encode("3e8\r\n");
  assert.equal(ok.decode(fits, 0, fits.length, () => {}), fits.length);
});
