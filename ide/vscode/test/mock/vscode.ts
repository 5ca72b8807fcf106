// A hand-written stand-in for the `vscode` module: just the API surface extension.ts uses,
// plus `mock`, the handles tests use to drive it (settings, secrets, editors, input boxes).
// The test build aliases `vscode` to this file.

export class Disposable {
  constructor(private readonly onDispose: () => void = () => undefined) {}
  dispose(): void {
    this.onDispose();
  }
}

export class EventEmitter<T> {
  private listeners = new Set<(value: T) => unknown>();
  readonly event = (listener: (value: T) => unknown): Disposable => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class Position {
  constructor(readonly line: number, readonly character: number) {}
}

export class Range {
  constructor(readonly start: Position, readonly end: Position) {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class InlineCompletionItem {
  constructor(
    readonly insertText: string,
    readonly range?: Range,
    readonly command?: { title: string; command: string; arguments?: unknown[] },
  ) {}
}

export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}

export enum ConfigurationTarget {
  Global = 1,
  Workspace = 2,
  WorkspaceFolder = 3,
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  private cancelled = false;
  readonly token: {
    readonly isCancellationRequested: boolean;
    onCancellationRequested(listener: () => unknown): Disposable;
  };
  constructor() {
    const source = this;
    this.token = {
      get isCancellationRequested() {
        return source.cancelled;
      },
      onCancellationRequested: (listener) => source.emitter.event(listener),
    };
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emitter.fire();
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export class Uri {
  private constructor(readonly scheme: string, readonly path: string) {}
  static file(path: string): Uri {
    return new Uri("file", path);
  }
  static from(parts: { scheme: string; path: string }): Uri {
    return new Uri(parts.scheme, parts.path);
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
}

/** A TextDocument over a fixed string (what the provider reads). */
export class MockDocument {
  readonly uri: Uri;
  constructor(path: string | Uri, public text: string, readonly languageId: string) {
    this.uri = typeof path === "string" ? Uri.file(path) : path;
  }
  get lineCount(): number {
    return this.text.split("\n").length;
  }
  getText(range?: Range): string {
    if (!range) return this.text;
    return this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end));
  }
  offsetAt(position: Position): number {
    const lines = this.text.split("\n");
    const line = Math.min(position.line, lines.length - 1);
    let offset = 0;
    for (let i = 0; i < line; i++) offset += lines[i].length + 1;
    return offset + Math.min(position.character, lines[line].length);
  }
  positionAt(offset: number): Position {
    const clamped = Math.max(0, Math.min(offset, this.text.length));
    const before = this.text.slice(0, clamped).split("\n");
    return new Position(before.length - 1, before[before.length - 1].length);
  }
}

export interface MockEditor {
  document: MockDocument;
  visibleRanges: Range[];
}

class MockOutputChannel {
  readonly lines: string[] = [];
  shown = false;
  constructor(readonly name: string) {}
  private add(level: string, message: string) {
    this.lines.push(`[${level}] ${message}`);
  }
  trace(message: string) { this.add("trace", message); }
  debug(message: string) { this.add("debug", message); }
  info(message: string) { this.add("info", message); }
  warn(message: string) { this.add("warn", message); }
  error(message: string) { this.add("error", message); }
  appendLine(message: string) { this.add("line", message); }
  show() { this.shown = true; }
  dispose() {}
}

class MockStatusBarItem {
  text = "";
  tooltip: string | undefined;
  command: string | undefined;
  backgroundColor: ThemeColor | undefined;
  visible = false;
  constructor(readonly alignment: StatusBarAlignment, readonly priority: number) {}
  show() { this.visible = true; }
  hide() { this.visible = false; }
  dispose() {}
}

class MockSecretStorage {
  readonly values = new Map<string, string>();
  private readonly changed = new EventEmitter<{ key: string }>();
  readonly onDidChange = this.changed.event;
  async get(key: string) { return this.values.get(key); }
  async store(key: string, value: string) {
    this.values.set(key, value);
    this.changed.fire({ key });
  }
  async delete(key: string) {
    this.values.delete(key);
    this.changed.fire({ key });
  }
}

const configurationChanged = new EventEmitter<{ affectsConfiguration(section: string): boolean }>();
const telemetryChanged = new EventEmitter<boolean>();
const activeEditorChanged = new EventEmitter<MockEditor | undefined>();

/** Everything a test can look at or drive; `mock.reset()` between tests. */
export const mock = {
  settings: new Map<string, unknown>(),
  /** Settings writes made through `update` (key, value, target). */
  settingUpdates: [] as Array<{ key: string; value: unknown; target: unknown }>,
  commands: new Map<string, (...args: any[]) => unknown>(),
  providers: [] as Array<{ selector: unknown; provider: any }>,
  outputChannels: [] as MockOutputChannel[],
  statusItems: [] as MockStatusBarItem[],
  inputBoxAnswers: [] as Array<string | undefined>,
  inputBoxOptions: [] as unknown[],
  messages: [] as Array<{ level: string; text: string }>,
  reset(): void {
    this.settings.clear();
    this.settingUpdates.length = 0;
    this.commands.clear();
    this.providers.length = 0;
    this.outputChannels.length = 0;
    this.statusItems.length = 0;
    this.inputBoxAnswers.length = 0;
    this.inputBoxOptions.length = 0;
    this.messages.length = 0;
    window.visibleTextEditors = [];
    window.activeTextEditor = undefined;
    env.isTelemetryEnabled = true;
  },
  /** Change settings as the user would in settings.json (fires onDidChangeConfiguration). */
  setSettings(values: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(values)) this.settings.set(key, value);
    configurationChanged.fire({ affectsConfiguration: (section: string) => section === "codemill" || section.startsWith("codemill.") });
  },
  setTelemetry(enabled: boolean): void {
    env.isTelemetryEnabled = enabled;
    telemetryChanged.fire(enabled);
  },
  setActiveEditor(editor: MockEditor | undefined): void {
    window.activeTextEditor = editor;
    activeEditorChanged.fire(editor);
  },
  extensionContext() {
    return { subscriptions: [] as Array<{ dispose(): unknown }>, secrets: new MockSecretStorage() };
  },
};

export const window = {
  visibleTextEditors: [] as MockEditor[],
  activeTextEditor: undefined as MockEditor | undefined,
  onDidChangeActiveTextEditor: activeEditorChanged.event,
  createOutputChannel(name: string, _options?: { log: true }) {
    const channel = new MockOutputChannel(name);
    mock.outputChannels.push(channel);
    return channel;
  },
  createStatusBarItem(alignment: StatusBarAlignment, priority: number) {
    const item = new MockStatusBarItem(alignment, priority);
    mock.statusItems.push(item);
    return item;
  },
  async showInputBox(options: unknown) {
    mock.inputBoxOptions.push(options);
    return mock.inputBoxAnswers.shift();
  },
  async showInformationMessage(text: string) {
    mock.messages.push({ level: "info", text });
    return undefined;
  },
  async showErrorMessage(text: string) {
    mock.messages.push({ level: "error", text });
    return undefined;
  },
};

export const workspace = {
  onDidChangeConfiguration: configurationChanged.event,
  getConfiguration(section: string) {
    const prefix = `${section}.`;
    return {
      get<T>(key: string, fallback?: T): T | undefined {
        const full = prefix + key;
        return mock.settings.has(full) ? (mock.settings.get(full) as T) : fallback;
      },
      async update(key: string, value: unknown, target: unknown) {
        mock.settingUpdates.push({ key: prefix + key, value, target });
        mock.setSettings({ [prefix + key]: value });
      },
    };
  },
  asRelativePath(uri: Uri | string): string {
    const path = typeof uri === "string" ? uri : uri.path;
    return path.startsWith("/workspace/") ? path.slice("/workspace/".length) : path;
  },
};

export const commands = {
  registerCommand(id: string, handler: (...args: any[]) => unknown) {
    if (mock.commands.has(id)) throw new Error(`command ${id} already registered`);
    mock.commands.set(id, handler);
    return new Disposable(() => mock.commands.delete(id));
  },
  async executeCommand(id: string, ...args: unknown[]) {
    const handler = mock.commands.get(id);
    if (!handler) throw new Error(`command ${id} not found`);
    return handler(...args);
  },
};

export const languages = {
  registerInlineCompletionItemProvider(selector: unknown, provider: unknown) {
    const entry = { selector, provider };
    mock.providers.push(entry);
    return new Disposable(() => mock.providers.splice(mock.providers.indexOf(entry), 1));
  },
};

export const env = {
  isTelemetryEnabled: true,
  sessionId: "mock-session-1",
  onDidChangeTelemetryEnabled: telemetryChanged.event,
};
