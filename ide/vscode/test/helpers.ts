// Test doubles shared by the unit tests: a recording fake `fetch`, SSE response builders and a
// real local HTTP server (for what only a socket shows: streaming and disconnects).
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type CodemillSettings, DEFAULT_SETTINGS } from "../src/core/settings";

export interface RecordedCall {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: any;
  signal: AbortSignal;
}

export type FetchHandler = (call: RecordedCall) => Response | Promise<Response>;

/** A fetch that records each call and answers with `handler`. */
export function fakeFetch(handler: FetchHandler): typeof fetch & { calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  const fn = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const headers: Record<string, string> = {};
    for (const [key, value] of Object.entries((init.headers ?? {}) as Record<string, string>)) headers[key.toLowerCase()] = value;
    const call: RecordedCall = {
      url: String(input),
      method: init.method ?? "GET",
      headers,
      body: typeof init.body === "string" ? JSON.parse(init.body) : undefined,
      signal: init.signal as AbortSignal,
    };
    calls.push(call);
    if (call.signal?.aborted) throw abortError(call.signal);
    return handler(call);
  }) as typeof fetch & { calls: RecordedCall[] };
  fn.calls = calls;
  return fn;
}

export function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

/** A response that never comes: the promise rejects only when the request is aborted. */
export function untilAborted(call: RecordedCall): Promise<Response> {
  return new Promise((_, reject) => {
    if (call.signal.aborted) reject(abortError(call.signal));
    call.signal.addEventListener("abort", () => reject(abortError(call.signal)), { once: true });
  });
}

/** `data:` lines of an OpenAI-style completion stream: one chunk per piece, then [DONE]. */
export function sseChunks(pieces: string[], id = "cmpl-test", finishReason = "stop"): string[] {
  const chunks = pieces.map((text, index) =>
    `data: ${JSON.stringify({
      id,
      object: "text_completion",
      model: "tiny",
      choices: [{ text, index: 0, finish_reason: index === pieces.length - 1 ? finishReason : null }],
    })}\n\n`,
  );
  return [...chunks, "data: [DONE]\n\n"];
}

export function sseResponse(pieces: string[], id = "cmpl-test"): Response {
  const encoder = new TextEncoder();
  const chunks = sseChunks(pieces, id);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
}

export function jsonResponse(status: number, json: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(json), { status, headers: { "content-type": "application/json", ...headers } });
}

export function errorResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return jsonResponse(status, { error: { message, type: "invalid_request_error", param: null, code: String(status) } }, headers);
}

export function settingsWith(overrides: Partial<CodemillSettings> = {}): CodemillSettings {
  return { ...DEFAULT_SETTINGS, enabledLanguages: [...DEFAULT_SETTINGS.enabledLanguages], ...overrides };
}

export interface LocalServer {
  url: string;
  requests: Array<{ method: string; url: string; headers: IncomingMessage["headers"]; body: string }>;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1 with a free port. */
export async function startServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>,
): Promise<LocalServer> {
  const requests: LocalServer["requests"] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk) => (body += chunk));
    req.on("end", () => {
      requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      void handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A promise with its resolve function outside (to hold an async step until the test says so). */
export function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
