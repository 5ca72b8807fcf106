import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DEFAULT_SETTINGS, isLanguageEnabled, readSettings, SETTING_KEYS } from "../src/core/settings";

// Tests run from out/test/; the manifest is two folders up.
const manifest = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8"));
const contributed: Record<string, any> = manifest.contributes.configuration.properties;

test("no settings at all gives the defaults and no problems", () => {
  const { settings, problems } = readSettings(() => undefined);
  assert.deepEqual(settings, DEFAULT_SETTINGS);
  assert.deepEqual(problems, []);
});

test("valid values are taken; bad ones fall back to the default and are reported", () => {
  const values: Record<string, unknown> = {
    serverUrl: "https://codemill.example.com:8443/",
    mode: "sentence",
    debounceMs: -5,
    maxTokens: 256,
    enabledLanguages: ["python", "go"],
    "events.enabled": "yes",
  };
  const { settings, problems } = readSettings((key) => values[key]);
  assert.equal(settings.serverUrl, "https://codemill.example.com:8443", "trailing slash removed");
  assert.equal(settings.maxTokens, 256);
  assert.deepEqual(settings.enabledLanguages, ["python", "go"]);
  assert.equal(settings.mode, DEFAULT_SETTINGS.mode);
  assert.equal(settings.debounceMs, DEFAULT_SETTINGS.debounceMs);
  assert.equal(settings.eventsEnabled, DEFAULT_SETTINGS.eventsEnabled);
  assert.equal(problems.length, 3);
  assert.match(problems.join("\n"), /codemill\.mode: invalid value "sentence"/);
  assert.match(problems.join("\n"), /codemill\.events\.enabled/);
  assert.equal(readSettings((key) => (key === "serverUrl" ? "ftp://x" : undefined)).problems.length, 1);
});

test("enabled languages: '*' is every language, otherwise only those listed", () => {
  assert.ok(isLanguageEnabled(DEFAULT_SETTINGS, "rust"));
  const only = { ...DEFAULT_SETTINGS, enabledLanguages: ["python"] };
  assert.ok(isLanguageEnabled(only, "python"));
  assert.ok(!isLanguageEnabled(only, "markdown"));
});

test("package.json contributes every setting with the same default the code uses", () => {
  for (const [field, key] of Object.entries(SETTING_KEYS)) {
    const declared = contributed[`codemill.${key}`];
    assert.ok(declared, `codemill.${key} is contributed`);
    assert.deepEqual(declared.default, DEFAULT_SETTINGS[field as keyof typeof DEFAULT_SETTINGS], `default of codemill.${key}`);
  }
  assert.deepEqual(Object.keys(contributed).sort(), Object.values(SETTING_KEYS).map((k) => `codemill.${k}`).sort());
  assert.deepEqual(contributed["codemill.mode"].enum, ["line", "block", "auto"]);
});

test("the API key is never a setting", () => {
  assert.ok(!Object.keys(contributed).some((key) => /api.?key|secret|password|bearer|auth/i.test(key)), Object.keys(contributed).join(", "));
});

test("the engine and type versions fit VS Code 1.90", () => {
  assert.equal(manifest.engines.vscode, "^1.90.0");
  const types = manifest.devDependencies["@types/vscode"];
  assert.match(types, /^1\.90\.\d+$/, "@types/vscode must not be newer than engines.vscode");
  assert.match(manifest.devDependencies["@vscode/vsce"], /^3\.\d+\.\d+$/, "vsce 3.x runs on Node 20");
});
