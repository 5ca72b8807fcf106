// Loads the built bundle (dist/extension.js, what the .vsix ships) the way VS Code does:
// `require` it with `vscode` resolved by the host, here to the mock. Catches a bundle that
// esbuild produced but that cannot load or activate (a missing external, a top-level throw).
import assert from "node:assert/strict";
import Module, { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";

const root = join(__dirname, "..", "..");
const mockPath = join(root, "out", "test", "mock", "vscode.js");
const load = createRequire(__filename);

/** Activates dist/extension.js with `vscode` resolving to the mock module; returns the mock. */
async function activateBundle(check: (vscode: any) => void): Promise<void> {
  const resolver = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
  const original = resolver._resolveFilename;
  resolver._resolveFilename = (request, ...rest) => (request === "vscode" ? mockPath : original(request, ...rest));
  const vscode = load(mockPath);
  vscode.mock.reset();
  const context = vscode.mock.extensionContext();
  try {
    const extension = load(join(root, "dist", "extension.js"));
    assert.equal(typeof extension.activate, "function");
    assert.equal(typeof extension.deactivate, "function");
    extension.activate(context);
    check(vscode);
    await extension.deactivate();
  } finally {
    for (const disposable of context.subscriptions) disposable.dispose();
    resolver._resolveFilename = original;
  }
}

test("dist/extension.js loads with the host's vscode module and activates", async () => {
  await activateBundle((vscode) => {
    assert.equal(vscode.mock.providers.length, 1);
    assert.ok(vscode.mock.statusItems[0].visible);
  });
});

test("the commands activation registers are exactly those the manifest declares", async () => {
  const manifest = load(join(root, "package.json"));
  const declared = manifest.contributes.commands.map((c: { command: string }) => c.command).sort();
  await activateBundle((vscode) => assert.deepEqual([...vscode.mock.commands.keys()].sort(), declared));
});
