// The completion engine: turns "the editor wants a completion here" into at most one server
// request, with the behaviour editors need when a request is fired per keystroke:
//   cache hit or typed-ahead reuse → answer at once, no request;
//   otherwise wait `debounceMs` (a newer keystroke ends the wait), then stream from the server;
//   a newer request aborts the older one (and tells the server through X-Request-Group);
//   the editor's cancellation token aborts the HTTP request, so the server stops generating.
import { completionCacheKey, LruCache } from "./cache";
import { type CallOptions, type CompletionParams, isAbortError, ServerError } from "./client";
import type { CodemillSettings } from "./settings";
import type { StatusSink, StatusState } from "./status";
import { trimCutEnd, trimCutStart } from "./text";
import { type Sleep, signalFromToken, sleep as realSleep } from "./timing";
import { type CancellationLike, type Completion, type CompletionRequest, type Logger, silentLogger } from "./types";

export interface CompletionBackend {
  complete(params: CompletionParams, options: CallOptions): Promise<Completion>;
}

export interface EngineDeps {
  /** The client for the current server URL and API key (asked anew for each request). */
  backend: () => CompletionBackend;
  settings: () => CodemillSettings;
  status?: StatusSink;
  log?: Logger;
  sleep?: Sleep;
  now?: () => number;
  cacheSize?: number;
}

export type ResultSource = "server" | "cache" | "typed-ahead";

export interface EngineResult {
  /** The completion as the server produced it for its anchor position. */
  completion: Completion;
  /** What to insert at the cursor: the completion minus what the user already typed. */
  insertText: string;
  /** Characters of the completion the user typed since it was generated. */
  typedChars: number;
  source: ResultSource;
  /** Time the server took (0 for answers from the cache). */
  latencyMs: number;
}

/** Where a completion was generated, to recognise the user typing it. */
interface Anchor {
  documentKey: string;
  offset: number;
  prefixWindow: string;
  suffixWindow: string;
  completion: Completion;
  latencyMs: number;
}

/** The text actually sent: the end of the prefix and the start of the suffix. */
export interface RequestWindow {
  documentKey: string;
  offset: number;
  prefixWindow: string;
  suffixWindow: string;
}

const RECENT_ANCHORS = 8;
/** Back-off after a 429 without Retry-After. */
const DEFAULT_RETRY_MS = 5000;

export class CompletionEngine {
  private readonly cache: LruCache<string, { completion: Completion; latencyMs: number }>;
  private readonly anchors: Anchor[] = [];
  private readonly log: Logger;
  private readonly sleep: Sleep;
  private readonly now: () => number;
  private sequence = 0;
  private current: AbortController | undefined;
  private retryAt = 0;
  /** The state to fall back to when a request ends without an answer (ready or the last error). */
  private settled: StatusState = { kind: "ready" };
  /** Why the last request failed (undefined after a success or a cancellation). */
  lastError: unknown;

  constructor(private readonly deps: EngineDeps) {
    this.cache = new LruCache(deps.cacheSize ?? 64);
    this.log = deps.log ?? silentLogger;
    this.sleep = deps.sleep ?? realSleep;
    this.now = deps.now ?? (() => Date.now());
  }

  /** The sequence number the last request got (sent as X-Request-Group). */
  get lastSequence(): number {
    return this.sequence;
  }

  async provide(request: CompletionRequest, token?: CancellationLike): Promise<EngineResult | null> {
    const settings = this.deps.settings();
    const seq = ++this.sequence;
    // Newest wins: whatever the previous request is doing (debouncing, streaming) stops now.
    this.current?.abort();
    const controller = new AbortController();
    this.current = controller;
    const fromToken = signalFromToken(token);
    const signal = AbortSignal.any([controller.signal, fromToken.signal]);
    try {
      return await this.answer(request, settings, seq, signal);
    } catch (error) {
      this.handleFailure(error, seq, signal);
      return null;
    } finally {
      fromToken.dispose();
      if (this.current === controller) this.current = undefined;
    }
  }

  private async answer(
    request: CompletionRequest,
    settings: CodemillSettings,
    seq: number,
    signal: AbortSignal,
  ): Promise<EngineResult | null> {
    const window = requestWindow(request, settings);
    const key = completionCacheKey({
      prefix: window.prefixWindow,
      suffix: window.suffixWindow,
      language: request.language,
      mode: settings.mode,
      maxTokens: settings.maxTokens,
      model: settings.model,
    });
    const cached = this.cache.get(key);
    if (cached) {
      this.remember({ ...window, completion: cached.completion, latencyMs: cached.latencyMs });
      return toResult(cached.completion, 0, "cache", 0);
    }
    const reused = this.typedAhead(window);
    if (reused) return reused;

    const waitMs = this.retryAt - this.now();
    if (waitMs > 0) {
      this.log.debug(`request ${seq} skipped: server asked to retry in ${Math.ceil(waitMs / 1000)} s`);
      return null;
    }
    if (!(await this.sleep(settings.debounceMs, signal))) return null;

    this.setStatus(seq, { kind: "generating" });
    const started = this.now();
    const completion = await this.deps.backend().complete(
      {
        prefix: window.prefixWindow,
        suffix: window.suffixWindow,
        language: request.language,
        mode: settings.mode,
        maxTokens: settings.maxTokens,
        temperature: settings.temperature,
        model: settings.model,
        extraContext: request.extraContext,
      },
      { signal, requestGroup: seq },
    );
    const latencyMs = this.now() - started;
    this.cache.set(key, { completion, latencyMs });
    this.remember({ ...window, completion, latencyMs });
    this.settled = { kind: "ready" };
    this.lastError = undefined;
    this.setStatus(seq, this.settled);
    this.log.debug(
      `request ${seq}: ${completion.text.length} chars in ${latencyMs} ms ` +
        `(${window.prefixWindow.length}+${window.suffixWindow.length} chars sent, ${request.extraContext.length} context files, finish ${completion.finishReason})`,
    );
    return toResult(completion, 0, "server", latencyMs);
  }

  private handleFailure(error: unknown, seq: number, signal: AbortSignal): void {
    if (signal.aborted && isAbortError(error)) {
      // Cancelled by the editor or superseded: not a failure. Only the newest request may
      // move the status back from "generating".
      this.setStatus(seq, this.settled);
      return;
    }
    this.lastError = error;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ServerError && error.status === 429) {
      const retryMs = error.retryAfterMs ?? DEFAULT_RETRY_MS;
      this.retryAt = this.now() + retryMs;
      this.settled = { kind: "error", message: `${message} (retrying in ${Math.ceil(retryMs / 1000)} s)` };
    } else if (error instanceof ServerError && error.status === 401) {
      this.settled = { kind: "error", message: `${message} — set the key with "codemill: Set API key"` };
    } else {
      this.settled = { kind: "error", message };
    }
    this.log.error(`request ${seq} failed: ${message}`);
    this.setStatus(seq, this.settled);
  }

  /**
   * The user typed the first characters of a completion shown a moment ago: answer with the
   * rest of it instead of asking the server again.
   */
  private typedAhead(window: RequestWindow): EngineResult | null {
    for (const anchor of this.anchors) {
      const typed = typedPrefixOf(anchor, window);
      if (typed !== null) return toResult(anchor.completion, typed, "typed-ahead", anchor.latencyMs);
    }
    return null;
  }

  private remember(anchor: Anchor): void {
    this.anchors.unshift(anchor);
    this.anchors.length = Math.min(this.anchors.length, RECENT_ANCHORS);
  }

  private setStatus(seq: number, state: StatusState): void {
    if (seq === this.sequence) this.deps.status?.set(state);
  }

  /** Forget cached completions and back-off (after the server URL, model or key changed). */
  reset(): void {
    this.cache.clear();
    this.anchors.length = 0;
    this.retryAt = 0;
    this.settled = { kind: "ready" };
  }

  /** Abort whatever is in flight. */
  cancel(): void {
    this.current?.abort();
  }

  get cacheSize(): number {
    return this.cache.size;
  }
}

export function requestWindow(request: CompletionRequest, settings: CodemillSettings): RequestWindow {
  return {
    documentKey: request.documentKey,
    offset: request.offset,
    // The ends away from the cursor are cuts: never send half a surrogate pair from there.
    prefixWindow: trimCutStart(request.prefix.slice(-settings.maxPrefixChars)),
    suffixWindow: trimCutEnd(request.suffix.slice(0, settings.maxSuffixChars)),
  };
}

/**
 * How many characters of `anchor.completion` the user has typed to reach `window`, or null
 * when `window` is not the anchor's position plus a typed start of its completion.
 * The cursor moved by k = offset difference; the k characters before it must be the
 * completion's first k, the text before them the anchor's prefix, and the suffix unchanged.
 */
export function typedPrefixOf(anchor: Anchor | (RequestWindow & { completion: Completion }), window: RequestWindow): number | null {
  if (anchor.documentKey !== window.documentKey) return null;
  const typed = window.offset - anchor.offset;
  const text = anchor.completion.text;
  if (typed <= 0 || typed >= text.length || typed > window.prefixWindow.length) return null;
  if (window.suffixWindow !== anchor.suffixWindow) return null;
  const typedText = window.prefixWindow.slice(window.prefixWindow.length - typed);
  if (!text.startsWith(typedText)) return null;
  const before = window.prefixWindow.slice(0, window.prefixWindow.length - typed);
  if (!anchor.prefixWindow.endsWith(before)) return null;
  return typed;
}

function toResult(completion: Completion, typedChars: number, source: ResultSource, latencyMs: number): EngineResult {
  return { completion, insertText: completion.text.slice(typedChars), typedChars, source, latencyMs };
}
