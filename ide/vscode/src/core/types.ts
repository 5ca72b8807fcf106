// Shared types of the completion core. Nothing under src/core imports `vscode`: the same
// code runs inside the extension host, in the command-line client and in unit tests.

export type CompletionMode = "line" | "block" | "auto";

/** Another file the server may pack into the prompt (OpenAI-API extension `extra_context`). */
export interface ContextFile {
  path: string;
  text: string;
}

/** What the editor knows at the moment it asks for a completion. */
export interface CompletionRequest {
  /** Identifies the document (a URI in VS Code, a path in the CLI). */
  documentKey: string;
  /** Cursor offset in the document, in UTF-16 code units (VS Code's and JavaScript's unit). */
  offset: number;
  /** The whole text before the cursor; the engine cuts the window it sends. */
  prefix: string;
  /** The whole text after the cursor. */
  suffix: string;
  /** VS Code language id (`python`, `typescript`, ...). */
  language: string;
  /** Other files, nearest first, already cut to the context budget. */
  extraContext: ContextFile[];
}

/** One completion as the server produced it. */
export interface Completion {
  /** The server's completion id (`cmpl-...`), used for events. */
  id: string;
  text: string;
  finishReason: string | null;
  model: string | null;
}

/** The minimal shape of a VS Code CancellationToken, so core code can accept one. */
export interface CancellationLike {
  readonly isCancellationRequested: boolean;
  onCancellationRequested(listener: () => unknown): { dispose(): unknown };
}

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
