import assert from "node:assert/strict";
import { test } from "node:test";
import { sseData } from "../src/core/sse";

async function collect(chunks: Array<string | Uint8Array>): Promise<string[]> {
  const encoder = new TextEncoder();
  async function* body() {
    for (const chunk of chunks) yield typeof chunk === "string" ? encoder.encode(chunk) : chunk;
  }
  const out: string[] = [];
  for await (const data of sseData(body())) out.push(data);
  return out;
}

test("events split across chunks anywhere are reassembled", async () => {
  const stream = 'data: {"a":1}\n\ndata: {"b":2}\n\ndata: [DONE]\n\n';
  // Every possible split point of the stream into two chunks gives the same events.
  for (let cut = 0; cut <= stream.length; cut++) {
    assert.deepEqual(await collect([stream.slice(0, cut), stream.slice(cut)]), ['{"a":1}', '{"b":2}', "[DONE]"], `cut at ${cut}`);
  }
});

test("CRLF and CR line endings, comments, other fields and multi-line data", async () => {
  const events = await collect([": keep-alive\r\n\r\n", "event: message\r\nid: 7\r\ndata: one\r\ndata: two\r\n\r\n", "data:three\r\r"]);
  assert.deepEqual(events, ["one\ntwo", "three"]);
});

test("a CRLF split between chunks is one line end, not two", async () => {
  assert.deepEqual(await collect(["data: x\r", "\n\r\n", "data: y\n\n"]), ["x", "y"]);
});

test("a UTF-8 character split between chunks decodes intact", async () => {
  const bytes = new TextEncoder().encode('data: {"text":"π → 😀"}\n\n');
  const events = await collect([bytes.slice(0, 14), bytes.slice(14, 20), bytes.slice(20)]);
  assert.deepEqual(events.map((e) => JSON.parse(e).text), ["π → 😀"]);
});

test("the last event is delivered even without a trailing blank line", async () => {
  assert.deepEqual(await collect(["data: a\n\ndata: b"]), ["a", "b"]);
});
