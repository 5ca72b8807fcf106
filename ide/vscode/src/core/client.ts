// HTTP client for the codemill server's OpenAI-compatible API (`/v1/completions` with the
// codemill extensions `mode`, `language`, `extra_context`, and `/v1/events`). It uses the
// global `fetch` of Node 20 and reads streamed completions as Server-Sent Events. Aborting
// the caller's signal closes the connection, which is how the server learns to stop.
import { sseData } from "./sse";
import type { Completion, CompletionMode, ContextFile } from "./types";

export interface CompletionParams {
  prefix: string;
  suffix: string;
  language: string;
  mode: CompletionMode;
  maxTokens: number;
  temperature: number;
  model: string;
  extraContext: ContextFile[];
  stop?: string[];
}

export interface CallOptions {
  /** Aborts the request (editor cancellation, a newer keystroke). */
  signal?: AbortSignal;
  /** Monotonic sequence sent as `X-Request-Group`: the server cancels older ones of this user. */
  requestGroup?: number;
  /** Called with the accumulated text each time a streamed chunk arrives. */
  onText?: (textSoFar: string) => void;
  /** Ask for a streamed answer (default true). */
  stream?: boolean;
}

export type EventKind = "shown" | "accepted" | "dismissed" | "partially_accepted";

export interface CompletionEvent {
  completion_id: string;
  event: EventKind;
  language: string;
  accepted_chars: number;
  latency_ms: number;
}

export interface ClientOptions {
  serverUrl: string;
  apiKey?: string;
  /** OpenAI `user` field: identifies this editor window so supersede applies per window. */
  user: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  userAgent?: string;
}

/** The server answered with an error status; `message` is the server's own text. */
export class ServerError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly type: string | null = null,
    readonly code: string | null = null,
    /** From `Retry-After` on 429/503, in milliseconds. */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = "ServerError";
  }
}

/** The server could not be reached or did not answer in time. */
export class ConnectionError extends Error {
  constructor(message: string, readonly cause?: unknown) {
    super(message);
    this.name = "ConnectionError";
  }
}

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

export class CompletionClient {
  private readonly fetchImpl: typeof fetch;
  private readonly baseUrl: string;

  constructor(private readonly options: ClientOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.baseUrl = options.serverUrl.replace(/\/+$/, "");
  }

  /** The JSON body of `POST /v1/completions`. */
  completionBody(params: CompletionParams, stream: boolean): Record<string, unknown> {
    const body: Record<string, unknown> = {
      model: params.model,
      prompt: params.prefix,
      suffix: params.suffix,
      max_tokens: params.maxTokens,
      temperature: params.temperature,
      n: 1,
      stream,
      user: this.options.user,
      mode: params.mode,
      language: params.language,
      extra_context: params.extraContext,
    };
    if (params.stop && params.stop.length > 0) body.stop = params.stop;
    return body;
  }

  async complete(params: CompletionParams, options: CallOptions = {}): Promise<Completion> {
    const stream = options.stream ?? true;
    const headers = this.headers(stream ? "text/event-stream" : "application/json");
    if (options.requestGroup !== undefined) headers["X-Request-Group"] = String(options.requestGroup);
    const init = { method: "POST", headers, body: JSON.stringify(this.completionBody(params, stream)) };
    // One timeout covers connecting and reading the whole answer.
    return this.withTimeout(options.signal, async (signal) => {
      const response = await this.send("/v1/completions", init, signal);
      const contentType = response.headers.get("content-type") ?? "";
      if (!stream || !contentType.includes("text/event-stream") || !response.body) {
        return parseCompletionJson(await response.json());
      }
      return readCompletionStream(response.body as unknown as AsyncIterable<Uint8Array>, options.onText);
    });
  }

  /** Sends events in one batch (`{"events": [...]}`). */
  async postEvents(events: CompletionEvent[], signal?: AbortSignal): Promise<void> {
    if (events.length === 0) return;
    const init = { method: "POST", headers: this.headers("application/json"), body: JSON.stringify({ events }) };
    await this.withTimeout(signal, async (combined) => {
      const response = await this.send("/v1/events", init, combined);
      await response.arrayBuffer().catch(() => undefined);
    });
  }

  /** `GET /health`: resolves when the server answers 2xx. */
  async health(signal?: AbortSignal): Promise<unknown> {
    const init = { method: "GET", headers: this.headers("application/json") };
    return this.withTimeout(signal, async (combined) => {
      const response = await this.send("/health", init, combined);
      return response.json().catch(() => ({}));
    });
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { "Content-Type": "application/json", Accept: accept };
    if (this.options.apiKey) headers.Authorization = `Bearer ${this.options.apiKey}`;
    if (this.options.userAgent) headers["User-Agent"] = this.options.userAgent;
    return headers;
  }

  /** fetch; a failed connection becomes a ConnectionError, a non-2xx answer a ServerError. */
  private async send(path: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
    const url = this.baseUrl + path;
    let response: Response;
    try {
      response = await this.fetchImpl(url, { ...init, signal });
    } catch (error) {
      if (isAbortError(error) || error instanceof ConnectionError) throw error;
      throw new ConnectionError(`cannot reach ${this.baseUrl}: ${describeNetworkError(error)}`, error);
    }
    if (!response.ok) throw await serverErrorFrom(response);
    return response;
  }

  /**
   * Runs `work` under the caller's signal plus the request timeout. A timeout becomes a
   * ConnectionError; the caller's own abort stays an AbortError (it is not a failure).
   */
  private async withTimeout<T>(signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // A plain timer rather than AbortSignal.timeout(): Node does not let that one keep the
    // process alive, so a CLI waiting on a silent server could exit without an answer.
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new DOMException("request timed out", "TimeoutError")),
      this.options.timeoutMs,
    );
    const combined = signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal;
    try {
      return await work(combined);
    } catch (error) {
      if (timeout.signal.aborted && !signal?.aborted) {
        throw new ConnectionError(`${this.baseUrl} did not answer within ${this.options.timeoutMs} ms`, error);
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }
}

async function readCompletionStream(
  body: AsyncIterable<Uint8Array>,
  onText?: (textSoFar: string) => void,
): Promise<Completion> {
  const completion: Completion = { id: "", text: "", finishReason: null, model: null };
  for await (const data of sseData(body)) {
    if (data.trim() === "[DONE]") break;
    let chunk: any;
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new ServerError(`malformed stream chunk from server: ${data.slice(0, 200)}`, 502);
    }
    if (chunk?.error) throw errorFromJson(chunk, 500, null);
    completion.id ||= typeof chunk.id === "string" ? chunk.id : "";
    completion.model ??= typeof chunk.model === "string" ? chunk.model : null;
    const choice = chunk?.choices?.[0];
    if (!choice) continue;
    if (typeof choice.text === "string" && choice.text !== "") {
      completion.text += choice.text;
      onText?.(completion.text);
    }
    if (choice.finish_reason) completion.finishReason = choice.finish_reason;
  }
  return completion;
}

function parseCompletionJson(json: any): Completion {
  const choice = json?.choices?.[0];
  if (!choice || typeof choice.text !== "string") {
    throw new ServerError("server answered without choices[0].text", 502);
  }
  return {
    id: typeof json.id === "string" ? json.id : "",
    text: choice.text,
    finishReason: choice.finish_reason ?? null,
    model: typeof json.model === "string" ? json.model : null,
  };
}

async function serverErrorFrom(response: Response): Promise<ServerError> {
  const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
  const raw = await response.text().catch(() => "");
  let json: unknown = null;
  try {
    json = JSON.parse(raw);
  } catch {
    // Not JSON (a proxy's HTML page, say): the status text and the start of the body say enough.
  }
  if (json && typeof json === "object" && "error" in json) return errorFromJson(json, response.status, retryAfterMs);
  const detail = raw.trim().slice(0, 200) || response.statusText || "no message";
  return new ServerError(`HTTP ${response.status}: ${detail}`, response.status, null, null, retryAfterMs);
}

function errorFromJson(json: any, status: number, retryAfterMs: number | null): ServerError {
  const error = json.error;
  if (typeof error === "string") return new ServerError(error, status, null, null, retryAfterMs);
  const message = typeof error?.message === "string" && error.message ? error.message : `HTTP ${status}`;
  const code = error?.code === undefined || error?.code === null ? null : String(error.code);
  return new ServerError(message, status, error?.type ?? null, code, retryAfterMs);
}

/** `Retry-After` is either delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
