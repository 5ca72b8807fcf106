// The CLI on real files nobody here wrote (sources and READMEs of the installed packages
// under node_modules): the server must receive exactly the text before and after the cursor,
// with cursor offsets in code points and no broken surrogate pairs, whatever the file holds.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { DEFAULT_SETTINGS } from "../src/core/settings";
import { type LocalServer, sseChunks, startServer } from "./helpers";

const run = promisify(execFile);
const root = join(__dirname, "..", "..");
const CLI = join(root, "dist", "cli.js");
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
let server: LocalServer;

before(async () => {
  server = await startServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    for (const chunk of sseChunks([""], "cmpl-real")) res.write(chunk);
    res.end();
  });
});
after(() => server.close());

/** Real files of different kinds; the README is the first one found with characters beyond the BMP. */
function realFiles(): string[] {
  const modules = join(root, "node_modules");
  const files = [join(modules, "typescript", "lib", "lib.es5.d.ts"), join(modules, "esbuild", "lib", "main.js")];
  const astral = readdirSync(modules)
    .sort()
    .map((name) => join(modules, name, "README.md"))
    .find((path) => existsSync(path) && /[\u{10000}-\u{10FFFF}]/u.test(readFileSync(path, "utf8")));
  if (astral) files.push(astral);
  return files.filter(existsSync);
}

test("prefix and suffix are the file split at the cursor, for real files and awkward offsets", async () => {
  const files = realFiles();
  assert.ok(files.length >= 2, `real files found: ${files.join(", ")}`);
  for (const file of files) {
    const codePoints = [...readFileSync(file, "utf8")];
    const astralAt = codePoints.findIndex((c) => c.length === 2);
    const offsets = [0, Math.floor(codePoints.length / 2), codePoints.length];
    if (astralAt >= 0) offsets.push(astralAt, astralAt + 1);
    for (const offset of offsets) {
      const { stdout } = await run(process.execPath, [CLI, "--file", file, "--offset", String(offset), "--server", server.url]);
      assert.equal(JSON.parse(stdout).offset, offset);
      const body = JSON.parse(server.requests.at(-1)!.body);
      const prefix = codePoints.slice(0, offset).join("");
      const suffix = codePoints.slice(offset).join("");
      const where = `${file} at ${offset}`;
      assert.ok(prefix.endsWith(body.prompt), `prompt is the end of the prefix: ${where}`);
      assert.ok(suffix.startsWith(body.suffix), `suffix is the start of the suffix: ${where}`);
      assert.ok(body.prompt.length >= Math.min(prefix.length, DEFAULT_SETTINGS.maxPrefixChars - 1), where);
      assert.ok(body.suffix.length >= Math.min(suffix.length, DEFAULT_SETTINGS.maxSuffixChars - 1), where);
      assert.ok(!LONE_SURROGATE.test(body.prompt) && !LONE_SURROGATE.test(body.suffix), `no half characters: ${where}`);
    }
  }
});
