// A Server-Sent Events reader for `fetch` response bodies: yields the `data` payload of each
// event. Chunks from the network split lines anywhere (even inside a UTF-8 sequence), so
// decoding is streaming and lines are assembled across chunks.

export async function* sseData(body: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8");
  let buffered = "";
  let dataLines: string[] = [];

  function* takeLines(final: boolean): Generator<string> {
    for (;;) {
      const match = /\r\n|\r|\n/.exec(buffered);
      // A lone trailing "\r" may be the first half of "\r\n": wait for the next chunk.
      if (!match || (!final && match[0] === "\r" && match.index === buffered.length - 1)) break;
      const line = buffered.slice(0, match.index);
      buffered = buffered.slice(match.index + match[0].length);
      yield line;
    }
    if (final && buffered !== "") {
      yield buffered;
      buffered = "";
    }
  }

  function* handle(line: string): Generator<string> {
    if (line === "") {
      if (dataLines.length > 0) yield dataLines.join("\n");
      dataLines = [];
      return;
    }
    if (line.startsWith(":")) return; // comment / keep-alive
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") dataLines.push(value);
    // `event`, `id` and `retry` carry nothing the completion API uses.
  }

  for await (const chunk of body) {
    buffered += decoder.decode(chunk, { stream: true });
    for (const line of takeLines(false)) yield* handle(line);
  }
  buffered += decoder.decode();
  for (const line of takeLines(true)) yield* handle(line);
  // A stream that ends without the blank line still delivers its last event.
  yield* handle("");
}
