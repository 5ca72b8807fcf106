// Chooses the `extra_context` files sent with a completion: other open files, nearest to the
// current file first (fewest directory steps apart), each cut to what is left of a character
// budget around the part the user is looking at.
import { trimCutEnd, trimCutStart } from "./text";
import type { ContextFile } from "./types";

export interface OpenFile {
  /** Path as the server should see it (workspace-relative in VS Code). */
  path: string;
  text: string;
  /** Offset the window is centred on (the middle of the visible range); 0 = file start. */
  focusOffset?: number;
}

/** Smallest piece worth sending: below this a file's excerpt says nothing useful. */
const MIN_EXCERPT_CHARS = 64;

export function selectExtraContext(currentPath: string, openFiles: OpenFile[], budgetChars: number): ContextFile[] {
  const seen = new Set<string>([normalise(currentPath)]);
  const candidates = openFiles
    .map((file, order) => ({ file, order, distance: directoryDistance(currentPath, file.path) }))
    .filter(({ file }) => {
      const key = normalise(file.path);
      if (seen.has(key) || file.text.trim() === "") return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => a.distance - b.distance || a.order - b.order);

  const chosen: ContextFile[] = [];
  let remaining = budgetChars;
  for (const { file } of candidates) {
    if (remaining < MIN_EXCERPT_CHARS) break;
    const text = excerpt(file.text, file.focusOffset ?? 0, remaining);
    if (text.trim() === "") continue;
    chosen.push({ path: file.path, text });
    remaining -= text.length;
  }
  return chosen;
}

/** Number of directory steps from one file's folder to the other's (siblings: 0). */
export function directoryDistance(fromPath: string, toPath: string): number {
  const from = folders(fromPath);
  const to = folders(toPath);
  let common = 0;
  while (common < from.length && common < to.length && from[common] === to[common]) common++;
  return from.length - common + (to.length - common);
}

/**
 * At most `maxChars` of `text` around `focus`, trimmed to whole lines when the cut falls
 * inside one (a half line is noise to the model).
 */
export function excerpt(text: string, focus: number, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const centre = Math.min(Math.max(focus, 0), text.length);
  let start = Math.max(0, Math.min(centre - Math.floor(maxChars / 2), text.length - maxChars));
  let end = start + maxChars;
  if (start > 0) {
    const nextLine = text.indexOf("\n", start);
    if (nextLine !== -1 && nextLine < end) start = nextLine + 1;
  }
  if (end < text.length) {
    const lastNewline = text.lastIndexOf("\n", end - 1);
    if (lastNewline >= start) end = lastNewline + 1;
  }
  return trimCutEnd(trimCutStart(text.slice(start, end)));
}

function normalise(path: string): string {
  return path.replace(/\\/g, "/");
}

function folders(path: string): string[] {
  const parts = normalise(path).split("/").filter((part) => part !== "" && part !== ".");
  return parts.slice(0, -1);
}
