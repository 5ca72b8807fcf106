// The VS Code side of codemill: reads settings and the API key, turns editor state into
// completion requests, and shows results, status and logs. All behaviour (debounce, cancel,
// supersede, cache, typed-ahead, events) lives in ./core, which does not import `vscode`.
import { createHash } from "node:crypto";
import * as vscode from "vscode";
import { CompletionClient } from "./core/client";
import { type OpenFile, selectExtraContext } from "./core/context";
import { CompletionEngine } from "./core/engine";
import { CompletionLifecycle, EventReporter } from "./core/events";
import { type CodemillSettings, isLanguageEnabled, readSettings } from "./core/settings";
import { describeStatus, type StatusState } from "./core/status";
import type { CompletionRequest, ContextFile } from "./core/types";

export const API_KEY_SECRET = "codemill.apiKey";
export const COMMANDS = {
  setApiKey: "codemill.setApiKey",
  toggle: "codemill.toggle",
  showLog: "codemill.showLog",
  checkServer: "codemill.checkServer",
  accepted: "codemill.completionAccepted",
} as const;
const USER_AGENT = "codemill-vscode/0.1.0";
/** Documents whose text may go to the server as context (not output panels, diffs of git objects, ...). */
const CONTEXT_SCHEMES = new Set(["file", "untitled", "vscode-remote"]);

let onDeactivate: (() => Promise<void>) | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel("codemill", { log: true });
  const statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  statusItem.command = COMMANDS.toggle;
  context.subscriptions.push(log, statusItem);

  let settings = loadSettings(log);
  let apiKey: string | undefined;
  let lastState: StatusState = { kind: "ready" };
  const keyLoaded = Promise.resolve(context.secrets.get(API_KEY_SECRET)).then((key) => {
    apiKey = key;
  });
  // One `user` per editor window: the server supersedes requests within one user only.
  const user = `vscode-${createHash("sha256").update(vscode.env.sessionId).digest("hex").slice(0, 16)}`;
  const client = () =>
    new CompletionClient({ serverUrl: settings.serverUrl, apiKey, user, timeoutMs: settings.requestTimeoutMs, userAgent: USER_AGENT });

  const render = () => {
    const language = vscode.window.activeTextEditor?.document.languageId;
    let state = lastState;
    if (!settings.enabled) state = { kind: "disabled", reason: "turned off" };
    else if (language && !isLanguageEnabled(settings, language)) state = { kind: "disabled", reason: `not enabled for ${language}` };
    const view = describeStatus(state, settings.serverUrl);
    statusItem.text = view.text;
    statusItem.tooltip = view.tooltip;
    statusItem.backgroundColor = view.isError ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
    statusItem.show();
  };
  const engine = new CompletionEngine({
    backend: client,
    settings: () => settings,
    status: { set: (state) => ((lastState = state), render()) },
    log,
  });
  const eventsAllowed = () => settings.eventsEnabled && vscode.env.isTelemetryEnabled;
  const reporter = new EventReporter({ send: (events) => client().postEvents(events), enabled: eventsAllowed, log });
  const lifecycle = new CompletionLifecycle((event) => reporter.record(event));
  // Turning events off drops what is queued and the completion on screen, so no event of
  // it (a later "dismissed") leaks out after events come back on.
  const dropEventsIfOff = () => {
    if (eventsAllowed()) return;
    reporter.discard();
    lifecycle.forget();
  };

  const provider: vscode.InlineCompletionItemProvider = {
    async provideInlineCompletionItems(document, position, _context, token) {
      if (!settings.enabled || !isLanguageEnabled(settings, document.languageId)) return undefined;
      await keyLoaded;
      const request = completionRequest(document, position, settings);
      const result = await engine.provide(request, token);
      if (token.isCancellationRequested) return undefined;
      lifecycle.onResult(request.documentKey, document.languageId, result);
      if (!result || result.insertText === "") return undefined;
      const accept: vscode.Command = { title: "codemill: completion accepted", command: COMMANDS.accepted, arguments: [result.completion.id] };
      return [new vscode.InlineCompletionItem(result.insertText, new vscode.Range(position, position), accept)];
    },
  };

  context.subscriptions.push(
    vscode.languages.registerInlineCompletionItemProvider({ pattern: "**" }, provider),
    vscode.commands.registerCommand(COMMANDS.accepted, (completionId: string) => lifecycle.onAccepted(completionId)),
    vscode.commands.registerCommand(COMMANDS.toggle, () =>
      vscode.workspace.getConfiguration("codemill").update("enabled", !settings.enabled, vscode.ConfigurationTarget.Global),
    ),
    vscode.commands.registerCommand(COMMANDS.showLog, () => log.show()),
    vscode.commands.registerCommand(COMMANDS.setApiKey, () => promptForApiKey(context.secrets)),
    vscode.commands.registerCommand(COMMANDS.checkServer, async () => {
      try {
        await client().health();
        void vscode.window.showInformationMessage(`codemill: ${settings.serverUrl} is up`);
      } catch (error) {
        void vscode.window.showErrorMessage(`codemill: ${error instanceof Error ? error.message : error}`);
      }
    }),
    vscode.workspace.onDidChangeConfiguration((change) => {
      if (!change.affectsConfiguration("codemill")) return;
      settings = loadSettings(log);
      engine.reset();
      lastState = { kind: "ready" };
      if (!settings.enabled) {
        engine.cancel();
        lifecycle.end();
      }
      dropEventsIfOff();
      render();
    }),
    vscode.env.onDidChangeTelemetryEnabled(dropEventsIfOff),
    vscode.window.onDidChangeActiveTextEditor(() => render()),
    context.secrets.onDidChange(async (change) => {
      if (change.key !== API_KEY_SECRET) return;
      apiKey = await context.secrets.get(API_KEY_SECRET);
      engine.reset();
      lastState = { kind: "ready" };
      render();
    }),
  );

  onDeactivate = async () => {
    engine.cancel();
    lifecycle.end();
    await reporter.flush();
  };
  render();
  log.info(`codemill ready: ${settings.serverUrl}, mode ${settings.mode}, events ${eventsAllowed() ? "on" : "off"}`);
}

export async function deactivate(): Promise<void> {
  await onDeactivate?.();
  onDeactivate = undefined;
}

function loadSettings(log: vscode.LogOutputChannel): CodemillSettings {
  const configuration = vscode.workspace.getConfiguration("codemill");
  const { settings, problems } = readSettings((key) => configuration.get(key));
  for (const problem of problems) log.warn(problem);
  return settings;
}

async function promptForApiKey(secrets: vscode.SecretStorage): Promise<void> {
  const key = await vscode.window.showInputBox({
    title: "codemill: API key",
    prompt: "Bearer token for the codemill server (stored in VS Code's secret storage). Leave empty to remove it.",
    password: true,
    ignoreFocusOut: true,
  });
  if (key === undefined) return; // cancelled
  if (key.trim() === "") {
    await secrets.delete(API_KEY_SECRET);
    void vscode.window.showInformationMessage("codemill: API key removed");
  } else {
    await secrets.store(API_KEY_SECRET, key.trim());
    void vscode.window.showInformationMessage("codemill: API key saved");
  }
}

/** Only the windows the engine sends are read from the document, not the whole file. */
function completionRequest(document: vscode.TextDocument, position: vscode.Position, settings: CodemillSettings): CompletionRequest {
  const offset = document.offsetAt(position);
  const prefixStart = document.positionAt(Math.max(0, offset - settings.maxPrefixChars));
  const suffixEnd = document.positionAt(offset + settings.maxSuffixChars);
  return {
    documentKey: document.uri.toString(),
    offset,
    prefix: document.getText(new vscode.Range(prefixStart, position)),
    suffix: document.getText(new vscode.Range(position, suffixEnd)),
    language: document.languageId,
    extraContext: settings.extraContextChars > 0 ? visibleContext(document, settings.extraContextChars) : [],
  };
}

/** The other visible editors' text, nearest first, within the budget. */
function visibleContext(document: vscode.TextDocument, budgetChars: number): ContextFile[] {
  const current = document.uri.toString();
  const openFiles: OpenFile[] = [];
  for (const editor of vscode.window.visibleTextEditors) {
    const other = editor.document;
    if (other.uri.toString() === current || !CONTEXT_SCHEMES.has(other.uri.scheme)) continue;
    const visible = editor.visibleRanges[0];
    const focusOffset = visible ? Math.floor((other.offsetAt(visible.start) + other.offsetAt(visible.end)) / 2) : 0;
    openFiles.push({ path: vscode.workspace.asRelativePath(other.uri), text: other.getText(), focusOffset });
  }
  return selectExtraContext(vscode.workspace.asRelativePath(document.uri), openFiles, budgetChars);
}
