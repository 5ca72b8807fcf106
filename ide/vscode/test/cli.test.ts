// The command-line client (dist/cli.js) against a local HTTP server standing in for
// `codemill serve`: the JSON it prints and the request the server receives.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { type LocalServer, sseChunks, startServer } from "./helpers";

const run = promisify(execFile);
const CLI = join(__dirname, "..", "..", "dist", "cli.js");
let server: LocalServer;
let dir: string;
let answer: (body: any, res: import("node:http").ServerResponse) => void;

before(async () => {
  server = await startServer((_req, res, body) => answer(JSON.parse(body || "{}"), res));
  dir = mkdtempSync(join(tmpdir(), "codemill-cli-"));
});
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error: any) {
    return { code: error.code as number, stdout: error.stdout as string, stderr: error.stderr as string };
  }
}

function streamAnswer(pieces: string[]) {
  return (_body: any, res: import("node:http").ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    for (const chunk of sseChunks(pieces, "cmpl-cli")) res.write(chunk);
    res.end();
  };
}

test("prints the streamed completion as JSON and splits the file at the cursor", async () => {
  // An emoji before the cursor: offsets count code points, as Python's str does.
  const text = "# 😀 greet\ndef greet(name):\n    \n";
  const file = join(dir, "greet.py");
  writeFileSync(file, text);
  const offset = [..."# 😀 greet\ndef greet(name):\n    "].length;
  answer = streamAnswer(["return", " f'hi {name}'"]);
  const { code, stdout } = await cli(["--file", file, "--offset", String(offset), "--server", server.url, "--mode", "line"], {
    CODEMILL_API_KEY: "sk-cli",
  });
  assert.equal(code, 0);
  const result = JSON.parse(stdout);
  assert.equal(result.text, "return f'hi {name}'");
  assert.equal(result.id, "cmpl-cli");
  assert.equal(result.finish_reason, "stop");
  assert.equal(result.offset, offset);
  assert.equal(result.language, "python");
  assert.equal(result.chunks, 2);
  const sent = server.requests.at(-1)!;
  const body = JSON.parse(sent.body);
  assert.equal(body.prompt, "# 😀 greet\ndef greet(name):\n    ");
  assert.equal(body.suffix, "\n");
  assert.equal(body.mode, "line");
  assert.equal(body.stream, true);
  assert.equal(sent.headers.authorization, "Bearer sk-cli");
  assert.ok(sent.headers["x-request-group"]);
});

test("--line/--character, --context files and a non-streamed answer", async () => {
  const file = join(dir, "main.ts");
  writeFileSync(file, "const a = 1;\nconst b = \n");
  const helper = join(dir, "helper.ts");
  writeFileSync(helper, "export const two = 2;\n");
  answer = (_body, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: "cmpl-json", object: "text_completion", model: "tiny", choices: [{ text: "a + 1;", index: 0, finish_reason: "stop" }] }));
  };
  const { code, stdout } = await cli(["--file", file, "--line", "1", "--character", "10", "--server", server.url, "--context", helper, "--no-stream"]);
  assert.equal(code, 0, stdout);
  assert.equal(JSON.parse(stdout).text, "a + 1;");
  const body = JSON.parse(server.requests.at(-1)!.body);
  assert.equal(body.prompt, "const a = 1;\nconst b = ");
  assert.equal(body.language, "typescript");
  assert.equal(body.stream, false);
  assert.deepEqual(body.extra_context, [{ path: helper, text: "export const two = 2;\n" }]);
});

test("a server error prints the server's message as JSON and exits 1", async () => {
  const file = join(dir, "x.py");
  writeFileSync(file, "x = ");
  answer = (_body, res) => {
    res.writeHead(400, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: { message: "model was not trained with FIM", type: "invalid_request_error", param: "suffix", code: null } }));
  };
  const { code, stdout } = await cli(["--file", file, "--offset", "4", "--server", server.url]);
  assert.equal(code, 1);
  assert.deepEqual(JSON.parse(stdout), {
    error: { message: "model was not trained with FIM", status: 400, type: "invalid_request_error", code: null },
  });
});

test("an unreachable server is an error naming the URL, exit 1", async () => {
  const file = join(dir, "z.py");
  writeFileSync(file, "z = ");
  const idle = await startServer(() => undefined);
  await idle.close(); // nothing listens there now
  const { code, stdout } = await cli(["--file", file, "--offset", "4", "--server", idle.url]);
  assert.equal(code, 1);
  assert.match(JSON.parse(stdout).error.message, new RegExp(`cannot reach ${idle.url}`));
});

test("bad usage exits 2 with a message", async () => {
  const file = join(dir, "y.py");
  writeFileSync(file, "abc");
  const past = await cli(["--file", file, "--offset", "10", "--server", server.url]);
  assert.equal(past.code, 2);
  assert.match(past.stderr, /past the end of the file \(3 characters\)/);
  const missing = await cli(["--offset", "1"]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--file is required/);
  const badMode = await cli(["--file", file, "--offset", "1", "--mode", "word"]);
  assert.equal(badMode.code, 2);
  assert.match(badMode.stderr, /--mode: invalid value "word"/);
  const badTokens = await cli(["--file", file, "--offset", "1", "--max-tokens", "0"]);
  assert.equal(badTokens.code, 2);
  assert.match(badTokens.stderr, /--max-tokens: invalid value 0/);
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: codemill-complete/);
});
