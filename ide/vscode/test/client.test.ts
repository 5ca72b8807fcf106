import assert from "node:assert/strict";
import { test } from "node:test";
import { CompletionClient, ConnectionError, parseRetryAfter, ServerError } from "../src/core/client";
import { deferred, errorResponse, fakeFetch, jsonResponse, sseChunks, sseResponse, startServer, untilAborted, waitFor } from "./helpers";

const params = {
  prefix: "def add(a, b):\n    ",
  suffix: "\n\nprint(add(1, 2))\n",
  language: "python",
  mode: "line" as const,
  maxTokens: 64,
  temperature: 0.2,
  model: "default",
  extraContext: [{ path: "lib/util.py", text: "def sub(a, b):\n    return a - b\n" }],
};

test("the request carries prefix, suffix, codemill fields, auth and the request group", async () => {
  const fetch = fakeFetch(() => sseResponse(["return a + b"]));
  const client = new CompletionClient({ serverUrl: "http://server:9000/", apiKey: "sk-test", user: "u1", timeoutMs: 5000, fetch });
  const completion = await client.complete(params, { requestGroup: 42 });
  assert.equal(completion.text, "return a + b");
  const [call] = fetch.calls;
  assert.equal(call.url, "http://server:9000/v1/completions");
  assert.equal(call.method, "POST");
  assert.equal(call.headers.authorization, "Bearer sk-test");
  assert.equal(call.headers["x-request-group"], "42");
  assert.equal(call.headers.accept, "text/event-stream");
  assert.deepEqual(call.body, {
    model: "default",
    prompt: params.prefix,
    suffix: params.suffix,
    max_tokens: 64,
    temperature: 0.2,
    n: 1,
    stream: true,
    user: "u1",
    mode: "line",
    language: "python",
    extra_context: params.extraContext,
  });
});

test("no Authorization header without a key", async () => {
  const fetch = fakeFetch(() => sseResponse(["x"]));
  await new CompletionClient({ serverUrl: "http://s", user: "u", timeoutMs: 5000, fetch }).complete(params);
  assert.equal(fetch.calls[0].headers.authorization, undefined);
});

test("streams from a real HTTP server: text arrives chunk by chunk before the stream ends", async () => {
  const release = deferred();
  const server = await startServer(async (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    const chunks = sseChunks(["return", " a", " + b"], "cmpl-42");
    res.write(chunks[0]);
    await release.promise; // the rest only after the client has seen the first piece
    for (const chunk of chunks.slice(1)) res.write(chunk);
    res.end();
  });
  try {
    const client = new CompletionClient({ serverUrl: server.url, user: "u", timeoutMs: 5000 });
    const seen: string[] = [];
    const pending = client.complete(params, {
      onText: (text) => {
        seen.push(text);
        if (seen.length === 1) release.resolve();
      },
    });
    const completion = await pending;
    assert.deepEqual(seen, ["return", "return a", "return a + b"]);
    assert.deepEqual(completion, { id: "cmpl-42", text: "return a + b", finishReason: "stop", model: "tiny" });
    assert.equal(JSON.parse(server.requests[0].body).suffix, params.suffix);
  } finally {
    await server.close();
  }
});

test("aborting mid-stream closes the connection the server is writing to", async () => {
  const closed = deferred();
  const server = await startServer((req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(sseChunks(["partial"])[0]); // ...and never finishes
    res.on("close", () => closed.resolve());
  });
  try {
    const client = new CompletionClient({ serverUrl: server.url, user: "u", timeoutMs: 10_000 });
    const controller = new AbortController();
    const pending = client.complete(params, { signal: controller.signal, onText: () => controller.abort() });
    await assert.rejects(pending, (error: Error) => error.name === "AbortError");
    await closed.promise; // the server saw the disconnect: a real server stops generating here
  } finally {
    await server.close();
  }
});

test("a non-streamed JSON answer is accepted too", async () => {
  const fetch = fakeFetch(() =>
    jsonResponse(200, { id: "cmpl-1", object: "text_completion", model: "m", choices: [{ text: "x = 1", index: 0, finish_reason: "length" }] }),
  );
  const client = new CompletionClient({ serverUrl: "http://s", user: "u", timeoutMs: 5000, fetch });
  assert.deepEqual(await client.complete(params, { stream: false }), { id: "cmpl-1", text: "x = 1", finishReason: "length", model: "m" });
  assert.equal(fetch.calls[0].body.stream, false);
});

test("server errors keep the server's message, status, type and Retry-After", async () => {
  const fetch = fakeFetch(() => errorResponse(429, "rate limit: 10 requests per minute", { "retry-after": "7" }));
  const client = new CompletionClient({ serverUrl: "http://s", user: "u", timeoutMs: 5000, fetch });
  await assert.rejects(client.complete(params), (error: unknown) => {
    assert.ok(error instanceof ServerError);
    assert.equal(error.message, "rate limit: 10 requests per minute");
    assert.equal(error.status, 429);
    assert.equal(error.type, "invalid_request_error");
    assert.equal(error.retryAfterMs, 7000);
    return true;
  });
});

test("an error inside the stream becomes a ServerError", async () => {
  const encoder = new TextEncoder();
  const fetch = fakeFetch(
    () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(encoder.encode(sseChunks(["a"])[0]));
            controller.enqueue(encoder.encode('data: {"error": {"message": "model crashed", "type": "server_error"}}\n\n'));
            controller.close();
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      ),
  );
  const client = new CompletionClient({ serverUrl: "http://s", user: "u", timeoutMs: 5000, fetch });
  await assert.rejects(client.complete(params), { name: "ServerError", message: "model crashed" });
});

test("a non-JSON error page still says what happened", async () => {
  const fetch = fakeFetch(() => new Response("<html>Bad Gateway</html>", { status: 502, statusText: "Bad Gateway" }));
  const client = new CompletionClient({ serverUrl: "http://s", user: "u", timeoutMs: 5000, fetch });
  await assert.rejects(client.complete(params), (error: unknown) => error instanceof ServerError && error.status === 502 && /502/.test(error.message));
});

test("an unreachable server is a ConnectionError naming the URL", async () => {
  const server = await startServer(() => undefined);
  const url = server.url;
  await server.close(); // nothing listens on this port any more
  const client = new CompletionClient({ serverUrl: url, user: "u", timeoutMs: 5000 });
  await assert.rejects(client.complete(params), (error: unknown) => error instanceof ConnectionError && error.message.includes(url));
});

test("a server that does not answer in time is a ConnectionError, and the request is aborted", async () => {
  const fetch = fakeFetch(untilAborted);
  const client = new CompletionClient({ serverUrl: "http://slow", user: "u", timeoutMs: 50, fetch });
  await assert.rejects(client.complete(params), (error: unknown) => error instanceof ConnectionError && /within 50 ms/.test(error.message));
  assert.ok(fetch.calls[0].signal.aborted);
});

test("the caller's abort is an AbortError, not a failure", async () => {
  const fetch = fakeFetch(untilAborted);
  const client = new CompletionClient({ serverUrl: "http://s", user: "u", timeoutMs: 5000, fetch });
  const controller = new AbortController();
  const pending = client.complete(params, { signal: controller.signal });
  await waitFor(() => fetch.calls.length === 1, "the request");
  controller.abort();
  await assert.rejects(pending, { name: "AbortError" });
  assert.ok(fetch.calls[0].signal.aborted, "fetch saw the abort");
});

test("events are posted as one batch", async () => {
  const fetch = fakeFetch(() => jsonResponse(200, { accepted: 2 }));
  const client = new CompletionClient({ serverUrl: "http://s", apiKey: "k", user: "u", timeoutMs: 5000, fetch });
  const events = [
    { completion_id: "c1", event: "shown" as const, language: "go", accepted_chars: 0, latency_ms: 80 },
    { completion_id: "c1", event: "accepted" as const, language: "go", accepted_chars: 12, latency_ms: 80 },
  ];
  await client.postEvents(events);
  assert.equal(fetch.calls[0].url, "http://s/v1/events");
  assert.deepEqual(fetch.calls[0].body, { events });
  assert.equal(fetch.calls[0].headers.authorization, "Bearer k");
});

test("Retry-After as seconds or as an HTTP date", () => {
  const now = Date.parse("2026-12-01T10:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter("Tue, 01 Dec 2026 10:00:30 GMT", now), 30_000);
  assert.equal(parseRetryAfter("soon", now), null);
  assert.equal(parseRetryAfter(null, now), null);
});
