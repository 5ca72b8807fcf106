// Completion feedback for `/v1/events`: what happened to each completion the editor showed.
// CompletionLifecycle turns provider results and the accept command into events;
// EventReporter batches them and sends them only while events are allowed.
import type { CompletionEvent, EventKind } from "./client";
import type { EngineResult } from "./engine";
import { type Logger, silentLogger } from "./types";

/**
 * VS Code's stable API tells an extension when an inline completion is accepted (the item's
 * command) but not when it is shown or dismissed. So: a completion counts as `shown` when the
 * provider returns it; typing its first characters keeps it alive (the engine answers with the
 * rest); the next answer for anything else ends it as `dismissed`, or `partially_accepted` with
 * the number of characters the user had typed or word-accepted from it.
 */
export class CompletionLifecycle {
  private showing: { result: EngineResult; documentKey: string; language: string } | undefined;

  constructor(private readonly report: (event: CompletionEvent) => void) {}

  /** Call with every provider answer (null when the provider returned nothing). */
  onResult(documentKey: string, language: string, result: EngineResult | null): void {
    const showing = this.showing;
    const sameCompletion =
      showing !== undefined &&
      result !== null &&
      result.completion.id !== "" &&
      showing.documentKey === documentKey &&
      showing.result.completion.id === result.completion.id;
    if (showing && result && sameCompletion) {
      // The same completion again, with more (or fewer) characters typed: still the same showing.
      showing.result = result;
      return;
    }
    this.end();
    if (!result || result.insertText === "") return;
    this.showing = { result, documentKey, language };
    this.emit("shown", 0);
  }

  /** The accept command of an inline item ran (the user pressed Tab). */
  onAccepted(completionId: string): void {
    const showing = this.showing;
    if (!showing || showing.result.completion.id !== completionId) return;
    this.emit("accepted", showing.result.completion.text.length);
    this.showing = undefined;
  }

  /** End the current showing (editor closed, extension turned off). */
  end(): void {
    const showing = this.showing;
    if (!showing) return;
    const typed = showing.result.typedChars;
    this.emit(typed > 0 ? "partially_accepted" : "dismissed", typed);
    this.showing = undefined;
  }

  /** Drop the current showing without an event (events were turned off while it showed). */
  forget(): void {
    this.showing = undefined;
  }

  private emit(event: EventKind, acceptedChars: number): void {
    const showing = this.showing;
    if (!showing || !showing.result.completion.id) return;
    this.report({
      completion_id: showing.result.completion.id,
      event,
      language: showing.language,
      accepted_chars: acceptedChars,
      latency_ms: Math.round(showing.result.latencyMs),
    });
  }
}

export interface ReporterDeps {
  send: (events: CompletionEvent[]) => Promise<void>;
  /** Checked for every event and again before sending: turning events off drops the queue. */
  enabled: () => boolean;
  log?: Logger;
  flushIntervalMs?: number;
  maxBatch?: number;
  maxQueue?: number;
}

export class EventReporter {
  private queue: CompletionEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly deps: ReporterDeps) {
    this.log = deps.log ?? silentLogger;
  }

  get pending(): number {
    return this.queue.length;
  }

  record(event: CompletionEvent): void {
    if (!this.deps.enabled()) return;
    this.queue.push(event);
    const maxQueue = this.deps.maxQueue ?? 500;
    // An unreachable server must not grow memory without bound: keep the newest events.
    if (this.queue.length > maxQueue) this.queue.splice(0, this.queue.length - maxQueue);
    if (this.queue.length >= (this.deps.maxBatch ?? 20)) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.deps.flushIntervalMs ?? 5000);
      this.timer.unref?.();
    }
  }

  /** Send everything queued; failures are logged and the batch dropped (events are best effort). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0 || !this.deps.enabled()) return this.sending;
    this.sending = this.sending.then(async () => {
      try {
        await this.deps.send(batch);
        this.log.debug(`sent ${batch.length} completion events`);
      } catch (error) {
        this.log.warn(`could not send ${batch.length} completion events: ${error instanceof Error ? error.message : error}`);
      }
    });
    return this.sending;
  }

  /** Drop queued events without sending (events were just turned off). */
  discard(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
  }
}
