// Unknown option names: the message names the stray option and the known one
// it most likely meant (aliases from other libraries, then edit distance).

import assert from "node:assert/strict";
import {
  checkOptions,
  editDistance,
  optionsProblem,
  suggestOption,
} from "../_options.ts";

const SERVER = [
  "ip",
  "port",
  "maxBody",
  "maxLine",
  "maxHeaderBytes",
  "headerTimeout",
  "idleTimeout",
  "bodyTimeout",
  "workers",
  "errorLogger",
  "warnLogger",
] as const;

const CLIENT = [
  "url",
  "method",
  "headers",
  "queryParams",
  "formParams",
  "body",
  "timeout",
  "connectTimeout",
  "keepalive",
  "followRedirects",
  "maxRedirects",
  "basicAuth",
  "caCerts",
  "insecure",
  "proxyUrl",
  "as",
] as const;

Deno.test("checkOptions() accepts known options, an empty object and undefined", () => {
  checkOptions("runServer", { ip: "127.0.0.1", port: 0 }, SERVER);
  checkOptions("runServer", {}, SERVER);
  checkOptions("runServer", undefined, SERVER);
});

Deno.test("checkOptions() throws a TypeError naming the option and the alias it meant", () => {
  assert.throws(
    () => checkOptions("runServer", { port: 0, host: "::" }, SERVER),
    {
      name: "TypeError",
      message: 'runServer: unknown option "host" (did you mean "ip"?)',
    },
  );
});

Deno.test("checkOptions() suggests the nearest name for a typo", () => {
  assert.throws(() => checkOptions("runServer", { prot: 80 }, SERVER), {
    message: 'runServer: unknown option "prot" (did you mean "port"?)',
  });
  assert.throws(() => checkOptions("runServer", { maxbody: 1 }, SERVER), {
    message: 'runServer: unknown option "maxbody" (did you mean "maxBody"?)',
  });
  assert.throws(() => checkOptions("runServer", { worker: 2 }, SERVER), {
    message: 'runServer: unknown option "worker" (did you mean "workers"?)',
  });
});

Deno.test("checkOptions() names an option nothing resembles without a guess", () => {
  assert.throws(() => checkOptions("runServer", { colour: "red" }, SERVER), {
    name: "TypeError",
    message: 'runServer: unknown option "colour"',
  });
});

Deno.test("checkOptions() rejects options that are not an object", () => {
  assert.throws(
    () => checkOptions("runServer", 8080 as unknown as object, SERVER),
    {
      name: "TypeError",
      message: "runServer: options must be an object, got 8080",
    },
  );
});

Deno.test("optionsProblem() returns the message instead of throwing", () => {
  assert.equal(optionsProblem("request", { url: "http://x/" }, CLIENT), null);
  assert.equal(optionsProblem("request", undefined, CLIENT), null);
  assert.equal(
    optionsProblem("request", { url: "http://x/", query: { a: "1" } }, CLIENT),
    'request: unknown option "query" (did you mean "queryParams"?)',
  );
});

Deno.test("optionsProblem() reports the first unknown option in the object's order", () => {
  assert.equal(
    optionsProblem("request", { params: {}, json: {} }, CLIENT),
    'request: unknown option "params" (did you mean "queryParams"?)',
  );
});

Deno.test("optionsProblem() adds a hint for json: the body is text or bytes", () => {
  const message = optionsProblem("post", { json: { a: 1 } }, CLIENT);
  assert.equal(
    message,
    'post: unknown option "json" (did you mean "body"? Pass JSON.stringify(value) as the body with a content-type header, or wrap the handler in wrapJson.)',
  );
});

Deno.test("suggestOption() maps names from other libraries to ours", () => {
  const cases: [string, readonly string[], string][] = [
    ["hostname", SERVER, "ip"],
    ["maxBodySize", SERVER, "maxBody"],
    ["bodyLimit", SERVER, "maxBody"],
    ["max_body", SERVER, "maxBody"],
    ["headersTimeout", SERVER, "headerTimeout"],
    ["keepAliveTimeout", SERVER, "idleTimeout"],
    ["timeout", SERVER, "idleTimeout"],
    ["onError", SERVER, "errorLogger"],
    ["maxHeaderSize", SERVER, "maxHeaderBytes"],
    ["params", CLIENT, "queryParams"],
    ["searchParams", CLIENT, "queryParams"],
    ["requestTimeout", CLIENT, "timeout"],
    ["connectionTimeout", CLIENT, "connectTimeout"],
    ["keepAlive", CLIENT, "keepalive"],
    ["redirect", CLIENT, "followRedirects"],
    ["auth", CLIENT, "basicAuth"],
    ["ca", CLIENT, "caCerts"],
    ["proxy", CLIENT, "proxyUrl"],
    ["responseType", CLIENT, "as"],
  ];
  for (const [name, known, want] of cases) {
    assert.equal(suggestOption(name, known)?.name, want, name);
  }
});

Deno.test("suggestOption() skips aliases the caller does not know", () => {
  // "json" means "body" only where there is a body option.
  assert.equal(suggestOption("json", SERVER), null);
  // "host" falls through to its second candidate.
  assert.equal(suggestOption("host", ["hostname", "port"])?.name, "hostname");
});

Deno.test("suggestOption() allows edits up to a third of the name, at least 1", () => {
  assert.equal(suggestOption("id", SERVER)?.name, "ip");
  assert.equal(suggestOption("xy", SERVER), null);
  assert.equal(suggestOption("pot", SERVER)?.name, "port");
  assert.equal(suggestOption("bodyTime", SERVER)?.name, "bodyTimeout");
  assert.equal(suggestOption("maxConns", SERVER), null);
});

Deno.test("editDistance() counts a swap of neighbours as one edit", () => {
  assert.equal(editDistance("", ""), 0);
  assert.equal(editDistance("abc", ""), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("port", "port"), 0);
  assert.equal(editDistance("prot", "port"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("ca", "abc"), 3);
  assert.equal(editDistance("maxbdoy", "maxbody"), 1);
});
