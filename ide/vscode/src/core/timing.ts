// Waiting that can be interrupted: the debounce before a request is a sleep that a newer
// keystroke or the editor's cancellation ends early.
import type { CancellationLike } from "./types";

export type Sleep = (ms: number, signal: AbortSignal) => Promise<boolean>;

/** Resolves true after `ms`, or false as soon as `signal` aborts (never rejects). */
export const sleep: Sleep = (ms, signal) =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve(false);
    if (ms <= 0) return resolve(true);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });

/**
 * An AbortSignal that fires when a VS Code-style cancellation token is cancelled; `dispose`
 * detaches the listener once the request is over.
 */
export function signalFromToken(token: CancellationLike | undefined): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (!token) return { signal: controller.signal, dispose: () => undefined };
  if (token.isCancellationRequested) {
    controller.abort();
    return { signal: controller.signal, dispose: () => undefined };
  }
  const subscription = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => subscription.dispose() };
}
