import assert from "node:assert/strict";
import { test } from "node:test";
import type { CompletionEvent } from "../src/core/client";
import type { EngineResult } from "../src/core/engine";
import { CompletionLifecycle, EventReporter } from "../src/core/events";

function result(id: string, text: string, typedChars = 0, latencyMs = 120): EngineResult {
  return {
    completion: { id, text, finishReason: "stop", model: "m" },
    insertText: text.slice(typedChars),
    typedChars,
    source: typedChars > 0 ? "typed-ahead" : "server",
    latencyMs,
  };
}

function lifecycle() {
  const events: CompletionEvent[] = [];
  return { events, lifecycle: new CompletionLifecycle((event) => events.push(event)) };
}

const summary = (events: CompletionEvent[]) => events.map((e) => `${e.completion_id}:${e.event}:${e.accepted_chars}`);

test("shown then accepted", () => {
  const { events, lifecycle: life } = lifecycle();
  life.onResult("doc", "python", result("c1", "return a + b"));
  life.onAccepted("c1");
  assert.deepEqual(summary(events), ["c1:shown:0", "c1:accepted:12"]);
  assert.deepEqual(events[0], { completion_id: "c1", event: "shown", language: "python", accepted_chars: 0, latency_ms: 120 });
});

test("typing into a completion keeps it shown; accepting the rest counts the whole text", () => {
  const { events, lifecycle: life } = lifecycle();
  life.onResult("doc", "go", result("c1", "return a + b"));
  life.onResult("doc", "go", result("c1", "return a + b", 3));
  life.onResult("doc", "go", result("c1", "return a + b", 6));
  life.onAccepted("c1");
  assert.deepEqual(summary(events), ["c1:shown:0", "c1:accepted:12"]);
});

test("another completion (or none) ends the shown one as dismissed, or partially accepted after typing", () => {
  const { events, lifecycle: life } = lifecycle();
  life.onResult("doc", "go", result("c1", "abc"));
  life.onResult("doc", "go", result("c2", "xyz"));
  life.onResult("doc", "go", result("c2", "xyz", 2));
  life.onResult("doc", "go", null);
  life.onResult("doc", "go", null);
  assert.deepEqual(summary(events), ["c1:shown:0", "c1:dismissed:0", "c2:shown:0", "c2:partially_accepted:2"]);
});

test("the same completion id in another document is another showing; an accept for an old id is ignored", () => {
  const { events, lifecycle: life } = lifecycle();
  life.onResult("a", "go", result("c1", "abc"));
  life.onResult("b", "go", result("c1", "abc"));
  life.onAccepted("c0");
  life.end();
  assert.deepEqual(summary(events), ["c1:shown:0", "c1:dismissed:0", "c1:shown:0", "c1:dismissed:0"]);
});

test("empty completions are never counted as shown", () => {
  const { events, lifecycle: life } = lifecycle();
  life.onResult("doc", "go", result("c1", ""));
  life.end();
  assert.deepEqual(events, []);
});

const event = (id: string): CompletionEvent => ({ completion_id: id, event: "shown", language: "go", accepted_chars: 0, latency_ms: 1 });

test("the reporter batches events and sends them in one call", async () => {
  const batches: CompletionEvent[][] = [];
  const reporter = new EventReporter({ send: async (batch) => void batches.push(batch), enabled: () => true, flushIntervalMs: 60_000 });
  reporter.record(event("a"));
  reporter.record(event("b"));
  assert.equal(batches.length, 0, "not sent before the flush");
  await reporter.flush();
  assert.deepEqual(batches.map((b) => b.map((e) => e.completion_id)), [["a", "b"]]);
  await reporter.flush();
  assert.equal(batches.length, 1, "nothing left to send");
});

test("a full batch is sent without waiting for the timer; the interval sends the rest", async () => {
  const batches: CompletionEvent[][] = [];
  const reporter = new EventReporter({ send: async (batch) => void batches.push(batch), enabled: () => true, maxBatch: 2, flushIntervalMs: 10 });
  reporter.record(event("a"));
  reporter.record(event("b"));
  reporter.record(event("c"));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(batches.map((b) => b.map((e) => e.completion_id)), [["a", "b"], ["c"]]);
});

test("events off: nothing is queued, and turning them off drops what was queued", async () => {
  let enabled = false;
  const batches: CompletionEvent[][] = [];
  const reporter = new EventReporter({ send: async (batch) => void batches.push(batch), enabled: () => enabled, flushIntervalMs: 60_000 });
  reporter.record(event("a"));
  assert.equal(reporter.pending, 0);
  enabled = true;
  reporter.record(event("b"));
  enabled = false;
  await reporter.flush();
  assert.deepEqual(batches, []);
});

test("a failed send is logged and dropped, and the queue stays bounded", async () => {
  const warnings: string[] = [];
  const log = { debug() {}, info() {}, error() {}, warn: (m: string) => void warnings.push(m) };
  const reporter = new EventReporter({
    send: async () => {
      throw new Error("cannot reach http://s");
    },
    enabled: () => true,
    log,
    maxQueue: 3,
    maxBatch: 100,
    flushIntervalMs: 60_000,
  });
  for (const id of ["a", "b", "c", "d", "e"]) reporter.record(event(id));
  assert.equal(reporter.pending, 3);
  await reporter.flush();
  assert.equal(reporter.pending, 0);
  assert.deepEqual(warnings, ["could not send 3 completion events: cannot reach http://s"]);
});
