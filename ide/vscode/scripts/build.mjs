// Bundles the extension and the CLI with esbuild; with --tests also bundles every
// test/*.test.ts into out/test/ with `vscode` resolved to the hand-written mock.
//   node scripts/build.mjs               development build (source maps)
//   node scripts/build.mjs --production  what `vsce package` ships (minified, no source maps)
//   node scripts/build.mjs --tests       development build + test bundles
import { build } from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const production = process.argv.includes("--production");
const withTests = process.argv.includes("--tests");

const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  logLevel: "warning",
  sourcemap: production ? false : "inline",
  minify: production,
};

rmSync(join(root, "dist"), { recursive: true, force: true });
await build({
  ...common,
  entryPoints: { extension: join(root, "src/extension.ts"), cli: join(root, "src/cli.ts") },
  outdir: join(root, "dist"),
  external: ["vscode"], // provided by the editor at run time
});

if (withTests) {
  const testDir = join(root, "test");
  rmSync(join(root, "out"), { recursive: true, force: true });
  await build({
    ...common,
    entryPoints: readdirSync(testDir).filter((name) => name.endsWith(".test.ts")).map((name) => join(testDir, name)),
    outdir: join(root, "out/test"),
    alias: { vscode: join(testDir, "mock/vscode.ts") },
  });
  // The mock as a module of its own, for the test that loads the real dist/extension.js.
  await build({ ...common, entryPoints: [join(testDir, "mock/vscode.ts")], outfile: join(root, "out/test/mock/vscode.js") });
}
