// The extension's settings as one plain object, read through a getter so that the VS Code
// configuration, the CLI's flags and tests all go through the same validation.
import type { CompletionMode } from "./types";

export interface CodemillSettings {
  /** Master switch (the "codemill: Toggle" command flips it). */
  enabled: boolean;
  /** Base URL of `codemill serve`, without `/v1`. */
  serverUrl: string;
  /** `model` field of the request; the server accepts `default`. */
  model: string;
  mode: CompletionMode;
  debounceMs: number;
  maxTokens: number;
  temperature: number;
  /** Language ids to complete in; `*` means every language. */
  enabledLanguages: string[];
  /** Send shown/accepted/dismissed events (also requires VS Code telemetry to be on). */
  eventsEnabled: boolean;
  /** Character budget for `extra_context` (other visible editors); 0 sends none. */
  extraContextChars: number;
  /** How much text before / after the cursor is sent. */
  maxPrefixChars: number;
  maxSuffixChars: number;
  requestTimeoutMs: number;
}

export const DEFAULT_SETTINGS: Readonly<CodemillSettings> = Object.freeze({
  enabled: true,
  serverUrl: "http://127.0.0.1:8000",
  model: "default",
  mode: "auto",
  debounceMs: 150,
  maxTokens: 128,
  temperature: 0.2,
  enabledLanguages: ["*"],
  eventsEnabled: true,
  extraContextChars: 6000,
  maxPrefixChars: 8000,
  maxSuffixChars: 2000,
  requestTimeoutMs: 30000,
});

/** Setting keys as they appear under `codemill.` in VS Code's settings.json. */
export const SETTING_KEYS: Record<keyof CodemillSettings, string> = {
  enabled: "enabled",
  serverUrl: "serverUrl",
  model: "model",
  mode: "mode",
  debounceMs: "debounceMs",
  maxTokens: "maxTokens",
  temperature: "temperature",
  enabledLanguages: "enabledLanguages",
  eventsEnabled: "events.enabled",
  extraContextChars: "extraContext.maxChars",
  maxPrefixChars: "maxPrefixChars",
  maxSuffixChars: "maxSuffixChars",
  requestTimeoutMs: "requestTimeoutMs",
};

const MODES: readonly CompletionMode[] = ["line", "block", "auto"];

export type SettingGetter = (key: string) => unknown;

/**
 * Reads and validates every setting. A value of the wrong type or out of range falls back to
 * its default and is reported in `problems`, so one typo in settings.json never disables
 * completion silently.
 */
export function readSettings(get: SettingGetter): { settings: CodemillSettings; problems: string[] } {
  const problems: string[] = [];
  const pick = <K extends keyof CodemillSettings>(
    field: K,
    valid: (value: unknown) => boolean,
  ): CodemillSettings[K] => {
    const key = SETTING_KEYS[field];
    const value = get(key);
    if (value === undefined || value === null) return DEFAULT_SETTINGS[field];
    if (valid(value)) return value as CodemillSettings[K];
    problems.push(`codemill.${key}: invalid value ${JSON.stringify(value)}, using ${JSON.stringify(DEFAULT_SETTINGS[field])}`);
    return DEFAULT_SETTINGS[field];
  };
  const bool = (v: unknown) => typeof v === "boolean";
  const intIn = (lo: number, hi: number) => (v: unknown) => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;

  const settings: CodemillSettings = {
    enabled: pick("enabled", bool),
    serverUrl: pick("serverUrl", isHttpUrl),
    model: pick("model", (v) => typeof v === "string" && v.trim() !== ""),
    mode: pick("mode", (v) => MODES.includes(v as CompletionMode)),
    debounceMs: pick("debounceMs", intIn(0, 5000)),
    maxTokens: pick("maxTokens", intIn(1, 4096)),
    temperature: pick("temperature", (v) => typeof v === "number" && v >= 0 && v <= 2),
    enabledLanguages: pick(
      "enabledLanguages",
      (v) => Array.isArray(v) && v.every((item) => typeof item === "string" && item.trim() !== ""),
    ),
    eventsEnabled: pick("eventsEnabled", bool),
    extraContextChars: pick("extraContextChars", intIn(0, 200_000)),
    maxPrefixChars: pick("maxPrefixChars", intIn(1, 1_000_000)),
    maxSuffixChars: pick("maxSuffixChars", intIn(0, 1_000_000)),
    requestTimeoutMs: pick("requestTimeoutMs", intIn(100, 600_000)),
  };
  settings.serverUrl = settings.serverUrl.replace(/\/+$/, "");
  return { settings, problems };
}

export function isLanguageEnabled(settings: CodemillSettings, languageId: string): boolean {
  return settings.enabledLanguages.some((entry) => entry === "*" || entry === languageId);
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}
