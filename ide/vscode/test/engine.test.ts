import assert from "node:assert/strict";
import { test } from "node:test";
import { CompletionClient, ConnectionError, ServerError } from "../src/core/client";
import { CompletionEngine, type EngineDeps, typedPrefixOf } from "../src/core/engine";
import type { CodemillSettings } from "../src/core/settings";
import type { StatusState } from "../src/core/status";
import type { CompletionRequest } from "../src/core/types";
import { CancellationTokenSource } from "./mock/vscode";
import { deferred, errorResponse, type FetchHandler, fakeFetch, settingsWith, sseResponse, untilAborted, waitFor } from "./helpers";

const PREFIX = "def add(a, b):\n    ";
const SUFFIX = "\n\nprint(add(1, 2))\n";

function request(prefix = PREFIX, suffix = SUFFIX, documentKey = "file:///work/add.py"): CompletionRequest {
  return { documentKey, offset: prefix.length, prefix, suffix, language: "python", extraContext: [] };
}

/** An engine over a fake fetch, recording every status change. */
function setup(handler: FetchHandler, overrides: Partial<CodemillSettings> = {}, deps: Partial<EngineDeps> = {}) {
  const fetch = fakeFetch(handler);
  const settings = settingsWith({ debounceMs: 0, ...overrides });
  const statuses: StatusState[] = [];
  const client = new CompletionClient({ serverUrl: settings.serverUrl, user: "test", timeoutMs: 5000, fetch });
  const engine = new CompletionEngine({
    backend: () => client,
    settings: () => settings,
    status: { set: (state) => statuses.push(state) },
    ...deps,
  });
  return { engine, fetch, statuses, settings };
}

test("keystrokes within the debounce send one request, for the newest text", async () => {
  const { engine, fetch } = setup(() => sseResponse(["return a + b"]), { debounceMs: 40 });
  const results = await Promise.all([
    engine.provide(request(PREFIX + "r")),
    engine.provide(request(PREFIX + "re")),
    engine.provide(request(PREFIX + "ret")),
  ]);
  assert.equal(fetch.calls.length, 1);
  assert.equal(fetch.calls[0].body.prompt, PREFIX + "ret");
  assert.deepEqual(results.map((r) => r?.insertText ?? null), [null, null, "return a + b"]);
});

test("nothing is sent until the debounce wait is over", async () => {
  const waits: number[] = [];
  const gate = deferred<boolean>();
  const { engine, fetch } = setup(() => sseResponse(["x"]), { debounceMs: 120 }, {
    sleep: (ms) => (waits.push(ms), gate.promise),
  });
  const pending = engine.provide(request());
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(waits, [120]);
  assert.equal(fetch.calls.length, 0, "no request during the debounce");
  gate.resolve(true);
  assert.equal((await pending)?.insertText, "x");
  assert.equal(fetch.calls.length, 1);
});

test("the editor's cancellation aborts the HTTP request the server is answering", async () => {
  const { engine, fetch, statuses } = setup(untilAborted);
  const source = new CancellationTokenSource();
  const pending = engine.provide(request(), source.token);
  await waitFor(() => fetch.calls.length === 1, "the request");
  assert.equal(fetch.calls[0].signal.aborted, false);
  source.cancel();
  assert.equal(await pending, null);
  assert.equal(fetch.calls[0].signal.aborted, true, "fetch saw the abort signal");
  assert.deepEqual(statuses, [{ kind: "generating" }, { kind: "ready" }], "a cancellation is not an error");
  assert.equal(engine.lastError, undefined);
});

test("a cancellation during the debounce sends nothing", async () => {
  const { engine, fetch } = setup(() => sseResponse(["x"]), { debounceMs: 5000 });
  const source = new CancellationTokenSource();
  const pending = engine.provide(request(), source.token);
  source.cancel();
  assert.equal(await pending, null);
  assert.equal(fetch.calls.length, 0);
});

test("a newer request supersedes the one in flight and carries a higher X-Request-Group", async () => {
  let calls = 0;
  const { engine, fetch, statuses } = setup((call) => (++calls === 1 ? untilAborted(call) : sseResponse(["b + a"])));
  const older = engine.provide(request(PREFIX + "return "));
  await waitFor(() => fetch.calls.length === 1, "the first request");
  const newer = engine.provide(request(PREFIX + "return a"));
  assert.equal(await older, null);
  assert.equal((await newer)?.insertText, "b + a");
  const [first, second] = fetch.calls;
  assert.ok(first.signal.aborted, "the older request was aborted");
  assert.ok(!second.signal.aborted);
  assert.ok(Number(second.headers["x-request-group"]) > Number(first.headers["x-request-group"]));
  // Only the newest request moves the status: the aborted one never flips it to ready.
  assert.deepEqual(statuses, [{ kind: "generating" }, { kind: "generating" }, { kind: "ready" }]);
});

test("the same prefix and suffix is answered from the cache; a different one asks the server", async () => {
  let n = 0;
  const { engine, fetch, settings } = setup(() => sseResponse([`answer ${++n}`], `cmpl-${n}`));
  const first = await engine.provide(request());
  const again = await engine.provide(request());
  assert.equal(fetch.calls.length, 1);
  assert.equal(again?.source, "cache");
  assert.equal(again?.insertText, first?.insertText);
  assert.equal(again?.completion.id, first?.completion.id);

  await engine.provide(request(PREFIX, SUFFIX + "# more\n"));
  assert.equal(fetch.calls.length, 2, "another suffix is another completion");
  settings.mode = "block";
  await engine.provide(request());
  assert.equal(fetch.calls.length, 3, "another mode is another completion");
  engine.reset();
  settings.mode = "auto";
  await engine.provide(request());
  assert.equal(fetch.calls.length, 4, "reset forgets the cache");
});

test("typing the start of the shown completion reuses the rest without a request", async () => {
  const waits: number[] = [];
  const { engine, fetch } = setup(() => sseResponse(["return a + b"]), {}, {
    sleep: async (ms) => (waits.push(ms), true),
  });
  await engine.provide(request());
  assert.equal(fetch.calls.length, 1);
  const typed = await engine.provide(request(PREFIX + "ret"));
  assert.deepEqual(
    { insertText: typed?.insertText, typedChars: typed?.typedChars, source: typed?.source },
    { insertText: "urn a + b", typedChars: 3, source: "typed-ahead" },
  );
  const more = await engine.provide(request(PREFIX + "return a"));
  assert.equal(more?.insertText, " + b");
  assert.equal(fetch.calls.length, 1, "no request while the user types the completion");
  assert.equal(waits.length, 1, "and no debounce either");

  await engine.provide(request(PREFIX + "rex"));
  assert.equal(fetch.calls.length, 2, "typing something else asks the server");
  await engine.provide(request(PREFIX + "ret", SUFFIX, "file:///work/other.py"));
  assert.equal(fetch.calls.length, 3, "the same text in another document asks the server");
});

test("typed-ahead still matches when the prefix window is full and slides", async () => {
  const { engine, fetch } = setup(() => sseResponse(["return a + b"]), { maxPrefixChars: 8 });
  await engine.provide(request());
  const typed = await engine.provide(request(PREFIX + "retu"));
  assert.equal(typed?.insertText, "rn a + b");
  assert.equal(fetch.calls.length, 1);
  assert.equal(fetch.calls[0].body.prompt, PREFIX.slice(-8), "only the window is sent");
});

test("typedPrefixOf rejects a changed suffix, a fully typed completion and a moved-back cursor", () => {
  const completion = { id: "c", text: "abc", finishReason: "stop", model: null };
  const anchor = { documentKey: "d", offset: 10, prefixWindow: "0123456789", suffixWindow: ")", completion };
  assert.equal(typedPrefixOf(anchor, { documentKey: "d", offset: 12, prefixWindow: "0123456789ab", suffixWindow: ")" }), 2);
  assert.equal(typedPrefixOf(anchor, { documentKey: "d", offset: 12, prefixWindow: "0123456789ab", suffixWindow: "))" }), null);
  assert.equal(typedPrefixOf(anchor, { documentKey: "d", offset: 13, prefixWindow: "0123456789abc", suffixWindow: ")" }), null);
  assert.equal(typedPrefixOf(anchor, { documentKey: "d", offset: 9, prefixWindow: "012345678", suffixWindow: ")" }), null);
  assert.equal(typedPrefixOf(anchor, { documentKey: "d", offset: 12, prefixWindow: "X123456789ab", suffixWindow: ")" }), null);
});

test("a server error shows the server's message until the next success", async () => {
  let fail = true;
  const { engine, statuses } = setup(() => (fail ? errorResponse(400, "prompt too long: 9000 tokens > 8192") : sseResponse(["ok"])));
  assert.equal(await engine.provide(request()), null);
  assert.deepEqual(statuses.at(-1), { kind: "error", message: "prompt too long: 9000 tokens > 8192" });
  assert.ok(engine.lastError instanceof ServerError);
  fail = false;
  assert.equal((await engine.provide(request(PREFIX + "x")))?.insertText, "ok");
  assert.deepEqual(statuses.at(-1), { kind: "ready" });
});

test("401 tells the user how to set the key", async () => {
  const { engine, statuses } = setup(() => errorResponse(401, "invalid API key"));
  await engine.provide(request());
  const last = statuses.at(-1);
  assert.equal(last?.kind, "error");
  assert.match((last as { message: string }).message, /invalid API key.*codemill: Set API key/);
});

test("after a 429 no request is sent until Retry-After has passed", async () => {
  let now = 1_000_000;
  let limited = true;
  const { engine, fetch, statuses } = setup(
    () => (limited ? errorResponse(429, "too many requests", { "retry-after": "2" }) : sseResponse(["fine"])),
    {},
    { now: () => now },
  );
  await engine.provide(request());
  assert.equal(fetch.calls.length, 1);
  assert.match((statuses.at(-1) as { message: string }).message, /too many requests \(retrying in 2 s\)/);
  limited = false;
  now += 1500;
  assert.equal(await engine.provide(request(PREFIX + "a")), null);
  assert.equal(fetch.calls.length, 1, "still backing off");
  now += 1000;
  assert.equal((await engine.provide(request(PREFIX + "b")))?.insertText, "fine");
  assert.equal(fetch.calls.length, 2);
});

test("an unreachable server is an error naming the server", async () => {
  const { engine, statuses } = setup(() => {
    throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
  });
  await engine.provide(request());
  assert.ok(engine.lastError instanceof ConnectionError);
  assert.deepEqual(statuses.at(-1), { kind: "error", message: "cannot reach http://127.0.0.1:8000: ECONNREFUSED" });
});

test("a window never starts or ends with half of a surrogate pair", async () => {
  const { engine, fetch } = setup(() => sseResponse(["x"]), { maxPrefixChars: 4, maxSuffixChars: 3 });
  // "a😀bcd" has the emoji at UTF-16 units 1-2: a 4-unit window from the end starts on its second half.
  await engine.provide(request("a😀bcd", "ef😀g"));
  const { prompt, suffix } = fetch.calls[0].body;
  assert.equal(prompt, "bcd");
  assert.equal(suffix, "ef");
  const whole = await setup(() => sseResponse(["x"]), { maxPrefixChars: 5, maxSuffixChars: 4 });
  await whole.engine.provide(request("a😀bcd", "ef😀g"));
  assert.deepEqual([whole.fetch.calls[0].body.prompt, whole.fetch.calls[0].body.suffix], ["😀bcd", "ef😀"]);
});
