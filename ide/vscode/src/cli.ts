// codemill-complete: ask a codemill server for one completion at a cursor position, through
// the extension's own engine and client (same request body, streaming, cancellation), and
// print the result as one JSON object. Used by end-to-end tests and handy for debugging a
// server without an editor:
//   node dist/cli.js --file src/app.py --offset 120 --server http://127.0.0.1:8000
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { CompletionClient, ServerError } from "./core/client";
import { CompletionEngine } from "./core/engine";
import { languageIdForPath } from "./core/languages";
import { DEFAULT_SETTINGS, readSettings } from "./core/settings";
import type { ContextFile } from "./core/types";

const USAGE = `usage: codemill-complete --file PATH (--offset N | --line L --character C) [options]

Asks a codemill server for one completion at the cursor and prints JSON:
  {"id", "text", "finish_reason", "model", "offset", "language", "latency_ms", "first_text_ms", "chunks"}
On failure prints {"error": {"message", "status", "type", "code"}} and exits 1; bad usage exits 2.

  --file PATH          the document
  --offset N           cursor position in characters (Unicode code points, like Python's str index)
  --line L --character C   cursor position as 0-based line and code-point column instead of --offset
  --server URL         server base URL (default $CODEMILL_SERVER_URL or ${DEFAULT_SETTINGS.serverUrl})
  --language ID        VS Code language id (default: from the file extension)
  --mode MODE          line | block | auto (default ${DEFAULT_SETTINGS.mode})
  --max-tokens N       (default ${DEFAULT_SETTINGS.maxTokens})
  --temperature T      (default ${DEFAULT_SETTINGS.temperature})
  --model NAME         (default ${DEFAULT_SETTINGS.model})
  --context PATH       another file sent as extra_context (repeatable, nearest first)
  --no-stream          ask for a non-streamed answer
  --timeout-ms N       request timeout (default ${DEFAULT_SETTINGS.requestTimeoutMs})
  --user ID            OpenAI "user" field (default codemill-cli)
  --api-key-env NAME   environment variable holding the bearer token (default CODEMILL_API_KEY)
`;

class UsageError extends Error {}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let options;
  try {
    options = parseOptions(argv, env);
  } catch (error) {
    process.stderr.write(`codemill-complete: ${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const { settings, text, offset, codePointOffset, language, extraContext, stream, user, apiKey } = options;
  const client = new CompletionClient({ serverUrl: settings.serverUrl, apiKey, user, timeoutMs: settings.requestTimeoutMs });
  const started = performance.now();
  let firstTextMs: number | null = null;
  let chunks = 0;
  const engine = new CompletionEngine({
    settings: () => settings,
    // The same client the extension uses; the wrapper only records streaming progress.
    backend: () => ({
      complete: (params, callOptions) =>
        client.complete(params, {
          ...callOptions,
          stream,
          onText: () => {
            chunks += 1;
            firstTextMs ??= Math.round(performance.now() - started);
          },
        }),
    }),
    status: { set: () => undefined },
    log: {
      debug: () => undefined,
      info: () => undefined,
      warn: (message) => process.stderr.write(`${message}\n`),
      error: () => undefined,
    },
  });
  const result = await engine.provide({
    documentKey: options.file,
    offset,
    prefix: text.slice(0, offset),
    suffix: text.slice(offset),
    language,
    extraContext,
  });
  if (!result) {
    const error = engine.lastError;
    process.stdout.write(
      `${JSON.stringify({
        error: {
          message: error instanceof Error ? error.message : String(error ?? "no completion"),
          status: error instanceof ServerError ? error.status : null,
          type: error instanceof ServerError ? error.type : null,
          code: error instanceof ServerError ? error.code : null,
        },
      })}\n`,
    );
    return 1;
  }
  process.stdout.write(
    `${JSON.stringify({
      id: result.completion.id,
      text: result.insertText,
      finish_reason: result.completion.finishReason,
      model: result.completion.model,
      offset: codePointOffset,
      language,
      latency_ms: Math.round(performance.now() - started),
      first_text_ms: firstTextMs,
      chunks,
    })}\n`,
  );
  return 0;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      file: { type: "string" },
      offset: { type: "string" },
      line: { type: "string" },
      character: { type: "string" },
      server: { type: "string" },
      language: { type: "string" },
      mode: { type: "string" },
      "max-tokens": { type: "string" },
      temperature: { type: "string" },
      model: { type: "string" },
      context: { type: "string", multiple: true },
      "no-stream": { type: "boolean" },
      "timeout-ms": { type: "string" },
      user: { type: "string" },
      "api-key-env": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help" as const;
  if (!values.file) throw new UsageError("--file is required");
  const file = values.file;
  const text = readText(file);
  const number = (name: string, raw: string | undefined) => {
    if (raw === undefined) return undefined;
    const value = Number(raw);
    if (!Number.isFinite(value)) throw new UsageError(`--${name} must be a number, got ${JSON.stringify(raw)}`);
    return value;
  };
  const cli: Record<string, unknown> = {
    serverUrl: values.server ?? env.CODEMILL_SERVER_URL,
    mode: values.mode,
    maxTokens: number("max-tokens", values["max-tokens"]),
    temperature: number("temperature", values.temperature),
    model: values.model,
    requestTimeoutMs: number("timeout-ms", values["timeout-ms"]),
    debounceMs: 0,
    extraContextChars: DEFAULT_SETTINGS.extraContextChars,
  };
  // Same validation as VS Code's settings; here a bad value is an error, not a fallback.
  const { settings, problems } = readSettings((key) => cli[settingField(key)]);
  if (problems.length > 0) throw new UsageError(problems.map(asFlagProblem).join("; "));

  const codePointOffset = cursorOffset(text, values);
  const apiKeyEnv = values["api-key-env"] ?? "CODEMILL_API_KEY";
  const extraContext: ContextFile[] = (values.context ?? []).map((path) => ({ path, text: readText(path) }));
  return {
    file,
    text,
    settings,
    codePointOffset,
    offset: utf16Offset(text, codePointOffset),
    language: values.language ?? languageIdForPath(file),
    extraContext,
    stream: !values["no-stream"],
    user: values.user ?? "codemill-cli",
    apiKey: env[apiKeyEnv] || undefined,
  };
}

/** Settings problems name VS Code keys (`codemill.maxTokens`); here they name the flag. */
const FLAG_OF_SETTING: Record<string, string> = {
  serverUrl: "--server",
  mode: "--mode",
  maxTokens: "--max-tokens",
  temperature: "--temperature",
  model: "--model",
  requestTimeoutMs: "--timeout-ms",
};

function asFlagProblem(problem: string): string {
  return problem.replace(/^codemill\.(\w+)/, (whole, key: string) => FLAG_OF_SETTING[key] ?? whole);
}

function settingField(key: string): string {
  const byKey: Record<string, string> = { "extraContext.maxChars": "extraContextChars", "events.enabled": "eventsEnabled" };
  return byKey[key] ?? key;
}

function readText(path: string): string {
  try {
    return readFileSync(path, "utf-8");
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

/** The cursor in code points, from --offset or --line/--character. */
function cursorOffset(text: string, values: { offset?: string; line?: string; character?: string }): number {
  const codePoints = [...text];
  const asIndex = (name: string, raw: string) => {
    if (!/^\d+$/.test(raw)) throw new UsageError(`--${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    return Number(raw);
  };
  if (values.offset !== undefined) {
    if (values.line !== undefined || values.character !== undefined) throw new UsageError("give --offset or --line/--character, not both");
    const offset = asIndex("offset", values.offset);
    if (offset > codePoints.length) throw new UsageError(`--offset ${offset} is past the end of the file (${codePoints.length} characters)`);
    return offset;
  }
  if (values.line === undefined) throw new UsageError("--offset or --line/--character is required");
  const line = asIndex("line", values.line);
  const character = asIndex("character", values.character ?? "0");
  const lines = text.split("\n");
  if (line >= lines.length) throw new UsageError(`--line ${line} is past the last line (${lines.length - 1})`);
  const lineLength = [...lines[line]].length;
  if (character > lineLength) throw new UsageError(`--character ${character} is past the end of line ${line} (${lineLength})`);
  return lines.slice(0, line).reduce((sum, l) => sum + [...l].length + 1, 0) + character;
}

function utf16Offset(text: string, codePointOffset: number): number {
  let units = 0;
  let seen = 0;
  for (const char of text) {
    if (seen === codePointOffset) break;
    units += char.length;
    seen += 1;
  }
  return units;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`codemill-complete: ${error instanceof Error ? error.stack : error}\n`);
      process.exit(1);
    },
  );
}
