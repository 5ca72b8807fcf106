// The VS Code adapter against the hand-written `vscode` mock and a fake fetch: what a user
// sees (items, status bar, commands) and what the server receives.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import { activate, API_KEY_SECRET, COMMANDS, deactivate } from "../src/extension";
import { CancellationTokenSource, InlineCompletionItem, mock, MockDocument, Position, Range, Uri, window } from "./mock/vscode";
import { errorResponse, type FetchHandler, fakeFetch, jsonResponse, sseResponse, untilAborted, waitFor } from "./helpers";

const realFetch = globalThis.fetch;
let context: ReturnType<typeof mock.extensionContext>;

const SOURCE = "def add(a, b):\n    \n\nprint(add(1, 2))\n";
const CURSOR = new Position(1, 4);

function start(handler: FetchHandler, settings: Record<string, unknown> = {}) {
  const fetch = fakeFetch((call) => (call.url.endsWith("/v1/events") ? jsonResponse(200, { accepted: call.body.events.length }) : handler(call)));
  globalThis.fetch = fetch;
  for (const [key, value] of Object.entries({ "codemill.debounceMs": 0, ...settings })) mock.settings.set(key, value);
  activate(context as any);
  const completionCalls = () => fetch.calls.filter((c) => c.url.endsWith("/v1/completions"));
  const eventCalls = () => fetch.calls.filter((c) => c.url.endsWith("/v1/events"));
  return { fetch, completionCalls, eventCalls };
}

function provider() {
  assert.equal(mock.providers.length, 1);
  return mock.providers[0].provider;
}

async function complete(document = new MockDocument("/workspace/src/add.py", SOURCE, "python"), position = CURSOR, token = new CancellationTokenSource().token) {
  return provider().provideInlineCompletionItems(document, position, { triggerKind: 1 }, token) as Promise<InlineCompletionItem[] | undefined>;
}

const status = () => mock.statusItems[0];

beforeEach(() => {
  mock.reset();
  context = mock.extensionContext();
});

afterEach(async () => {
  await deactivate();
  for (const disposable of context.subscriptions) disposable.dispose();
  globalThis.fetch = realFetch;
});

test("activation registers one provider for every file, the commands, and a ready status bar item", () => {
  start(() => sseResponse(["x"]));
  assert.deepEqual(mock.providers[0].selector, { pattern: "**" });
  for (const command of Object.values(COMMANDS)) assert.ok(mock.commands.has(command), command);
  assert.ok(status().visible);
  assert.equal(status().text, "$(sparkle) codemill");
  assert.equal(status().command, COMMANDS.toggle);
  assert.equal(mock.outputChannels[0].name, "codemill");
});

test("an item at the cursor with the server's text and the accept command", async () => {
  const { completionCalls } = start(() => sseResponse(["return", " a + b"], "cmpl-7"), { "codemill.mode": "line" });
  const items = await complete();
  assert.equal(items?.length, 1);
  const [item] = items!;
  assert.equal(item.insertText, "return a + b");
  assert.deepEqual(item.range, new Range(CURSOR, CURSOR));
  assert.deepEqual(item.command, { title: "codemill: completion accepted", command: COMMANDS.accepted, arguments: ["cmpl-7"] });
  const body = completionCalls()[0].body;
  assert.equal(body.prompt, "def add(a, b):\n    ");
  assert.equal(body.suffix, "\n\nprint(add(1, 2))\n");
  assert.equal(body.language, "python");
  assert.equal(body.mode, "line");
  assert.equal(body.stream, true);
  assert.match(body.user, /^vscode-[0-9a-f]{16}$/);
  assert.ok(Number(completionCalls()[0].headers["x-request-group"]) >= 1);
});

test("extra_context: other visible editors, nearest first, without the current file or output panels", async () => {
  const current = new MockDocument("/workspace/src/add.py", SOURCE, "python");
  const editor = (doc: MockDocument) => ({ document: doc, visibleRanges: [new Range(new Position(0, 0), new Position(1, 0))] });
  window.visibleTextEditors = [
    editor(new MockDocument("/workspace/README.md", "# project readme\n", "markdown")),
    editor(current),
    editor(new MockDocument(Uri.from({ scheme: "output", path: "codemill" }), "log lines\n", "log")),
    editor(new MockDocument("/workspace/src/util.py", "def sub(a, b):\n    return a - b\n", "python")),
  ];
  const { completionCalls } = start(() => sseResponse(["return a + b"]));
  await complete(current);
  assert.deepEqual(completionCalls()[0].body.extra_context, [
    { path: "src/util.py", text: "def sub(a, b):\n    return a - b\n" },
    { path: "README.md", text: "# project readme\n" },
  ]);
});

test("extra_context respects the budget and can be turned off", async () => {
  window.visibleTextEditors = [
    { document: new MockDocument("/workspace/src/big.py", "x = 1\n".repeat(1000), "python"), visibleRanges: [] },
  ];
  const { completionCalls } = start(() => sseResponse(["y"]), { "codemill.extraContext.maxChars": 300 });
  await complete();
  const sent = completionCalls()[0].body.extra_context;
  assert.equal(sent.length, 1);
  assert.ok(sent[0].text.length <= 300 && sent[0].text.length > 0);
  mock.setSettings({ "codemill.extraContext.maxChars": 0 });
  await complete(new MockDocument("/workspace/src/add.py", SOURCE + "#", "python"));
  assert.deepEqual(completionCalls()[1].body.extra_context, []);
});

test("Set API key keeps the key in secret storage, never in settings; requests carry it", async () => {
  const { completionCalls } = start(() => sseResponse(["x"]));
  mock.inputBoxAnswers.push("sk-secret-1");
  await mock.commands.get(COMMANDS.setApiKey)!();
  assert.equal(context.secrets.values.get(API_KEY_SECRET), "sk-secret-1");
  assert.deepEqual(mock.settingUpdates, [], "nothing written to settings");
  assert.equal((mock.inputBoxOptions[0] as { password: boolean }).password, true);
  await waitFor(() => completionCalls().length === 0, "settle");
  await complete();
  assert.equal(completionCalls()[0].headers.authorization, "Bearer sk-secret-1");

  mock.inputBoxAnswers.push(""); // empty input removes the key
  await mock.commands.get(COMMANDS.setApiKey)!();
  assert.equal(context.secrets.values.has(API_KEY_SECRET), false);
  await new Promise((resolve) => setImmediate(resolve));
  await complete(new MockDocument("/workspace/src/add.py", SOURCE + "\n", "python"));
  assert.equal(completionCalls()[1].headers.authorization, undefined);

  mock.inputBoxAnswers.push(undefined); // Escape: nothing changes
  await mock.commands.get(COMMANDS.setApiKey)!();
  assert.equal(context.secrets.values.has(API_KEY_SECRET), false);
});

test("a key stored before activation is used by the first request", async () => {
  await context.secrets.store(API_KEY_SECRET, "sk-early");
  const { completionCalls } = start(() => sseResponse(["x"]));
  await complete();
  assert.equal(completionCalls()[0].headers.authorization, "Bearer sk-early");
});

test("toggle turns completion off (no request, status says off) and on again", async () => {
  const { completionCalls } = start(() => sseResponse(["x"]));
  await mock.commands.get(COMMANDS.toggle)!();
  assert.deepEqual(mock.settingUpdates, [{ key: "codemill.enabled", value: false, target: 1 }]);
  assert.equal(status().text, "$(circle-slash) codemill");
  assert.equal(await complete(), undefined);
  assert.equal(completionCalls().length, 0);
  await mock.commands.get(COMMANDS.toggle)!();
  assert.equal(status().text, "$(sparkle) codemill");
  assert.equal((await complete())?.[0].insertText, "x");
});

test("a language outside enabledLanguages gets no request, and the status bar says why", async () => {
  const { completionCalls } = start(() => sseResponse(["x"]), { "codemill.enabledLanguages": ["python"] });
  const markdown = new MockDocument("/workspace/notes.md", "# notes\n", "markdown");
  assert.equal(await complete(markdown, new Position(1, 0)), undefined);
  assert.equal(completionCalls().length, 0);
  mock.setActiveEditor({ document: markdown, visibleRanges: [] });
  assert.match(status().tooltip!, /not enabled for markdown/);
  assert.equal((await complete())?.[0].insertText, "x", "python still completes");
});

test("the status bar shows the server's error message until a request succeeds", async () => {
  let fail = true;
  start(() => (fail ? errorResponse(503, "model is loading, try again shortly") : sseResponse(["ok"])));
  assert.equal(await complete(), undefined);
  assert.equal(status().text, "$(warning) codemill: model is loading, try again shortly");
  assert.match(status().tooltip!, /model is loading, try again shortly/);
  assert.equal((status().backgroundColor as { id: string }).id, "statusBarItem.errorBackground");
  assert.ok(mock.outputChannels[0].lines.some((line) => line.startsWith("[error]") && line.includes("model is loading")));
  fail = false;
  await complete(new MockDocument("/workspace/src/add.py", SOURCE + " ", "python"));
  assert.equal(status().text, "$(sparkle) codemill");
  assert.equal(status().backgroundColor, undefined);
});

test("the editor's cancellation token aborts the request", async () => {
  const { completionCalls } = start(untilAborted);
  const source = new CancellationTokenSource();
  const pending = complete(undefined, undefined, source.token);
  await waitFor(() => completionCalls().length === 1, "the request");
  assert.equal(status().text, "$(loading~spin) codemill");
  source.cancel();
  assert.equal(await pending, undefined);
  assert.ok(completionCalls()[0].signal.aborted);
  assert.equal(status().text, "$(sparkle) codemill");
});

test("shown and accepted events reach /v1/events", async () => {
  const { eventCalls } = start(() => sseResponse(["return a + b"], "cmpl-9"));
  const [item] = (await complete())!;
  await mock.commands.get(item.command!.command)!(...item.command!.arguments!);
  await deactivate(); // flushes the queue
  const sent = eventCalls().flatMap((call) => call.body.events);
  assert.deepEqual(
    sent.map((e: any) => [e.completion_id, e.event, e.language, e.accepted_chars]),
    [["cmpl-9", "shown", "python", 0], ["cmpl-9", "accepted", "python", 12]],
  );
  assert.ok(sent.every((e: any) => Number.isInteger(e.latency_ms) && e.latency_ms >= 0));
});

for (const [name, setup] of [
  ["VS Code telemetry is off", () => mock.setTelemetry(false)],
  ["codemill.events.enabled is false", () => mock.setSettings({ "codemill.events.enabled": false })],
] as const) {
  test(`no events at all when ${name}`, async () => {
    const { eventCalls, completionCalls } = start(() => sseResponse(["return a + b"], "cmpl-9"));
    setup();
    const [item] = (await complete())!;
    await mock.commands.get(item.command!.command)!(...item.command!.arguments!);
    await deactivate();
    assert.equal(completionCalls().length, 1, "completions still work");
    assert.deepEqual(eventCalls(), []);
  });
}

test("turning telemetry off drops events already queued", async () => {
  const { eventCalls } = start(() => sseResponse(["return a + b"], "cmpl-9"));
  await complete(); // queues "shown"
  mock.setTelemetry(false);
  mock.setTelemetry(true);
  await deactivate();
  assert.deepEqual(eventCalls(), []);
});

test("an invalid setting is reported in the log and its default used", async () => {
  const { completionCalls } = start(() => sseResponse(["x"]), { "codemill.mode": "paragraph" });
  assert.ok(mock.outputChannels[0].lines.some((line) => line.startsWith("[warn]") && line.includes("codemill.mode")));
  await complete();
  assert.equal(completionCalls()[0].body.mode, "auto");
});
