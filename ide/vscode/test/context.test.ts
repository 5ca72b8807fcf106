import assert from "node:assert/strict";
import { test } from "node:test";
import { directoryDistance, excerpt, selectExtraContext } from "../src/core/context";

test("directory distance counts folder steps between two files", () => {
  assert.equal(directoryDistance("src/a.py", "src/b.py"), 0);
  assert.equal(directoryDistance("src/a.py", "src/util/b.py"), 1);
  assert.equal(directoryDistance("src/api/a.py", "tests/b.py"), 3);
  assert.equal(directoryDistance("a.py", "b.py"), 0);
  assert.equal(directoryDistance("src\\win\\a.py", "src/win/b.py"), 0);
});

test("nearest files come first; the current file, duplicates and empty files are left out", () => {
  const files = [
    { path: "docs/guide.md", text: "guide text that is long enough\n" },
    { path: "src/app/main.py", text: "the current file\n" },
    { path: "src/app/models.py", text: "class Model: pass\n" },
    { path: "src/lib/db.py", text: "def connect(): pass\n" },
    { path: "src/app/models.py", text: "duplicate editor of the same file\n" },
    { path: "src/app/empty.py", text: "   \n" },
  ];
  const chosen = selectExtraContext("src/app/main.py", files, 10_000);
  assert.deepEqual(chosen.map((f) => f.path), ["src/app/models.py", "src/lib/db.py", "docs/guide.md"]);
  assert.equal(chosen[0].text, "class Model: pass\n");
});

test("the budget caps the total; a far file is cut, a file that does not fit is dropped", () => {
  const line = "x = 1  # padding padding padding\n"; // 33 characters
  const files = [
    { path: "a/near.py", text: line.repeat(3) },
    { path: "b/far.py", text: line.repeat(10) },
    { path: "c/farther.py", text: line.repeat(10) },
  ];
  const chosen = selectExtraContext("a/main.py", files, 250);
  const total = chosen.reduce((sum, f) => sum + f.text.length, 0);
  assert.ok(total <= 250, `total ${total} within the budget`);
  assert.deepEqual(chosen.map((f) => f.path), ["a/near.py", "b/far.py"]);
  assert.equal(chosen[0].text, line.repeat(3));
  assert.ok(chosen[1].text.length < line.repeat(10).length);
  assert.ok(chosen[1].text.endsWith("\n") && chosen[1].text.startsWith("x = 1"), "whole lines only");
  assert.deepEqual(selectExtraContext("a/main.py", files, 0), []);
});

test("an excerpt is centred on the focus offset", () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line ${i}\n`).join("");
  const focus = lines.indexOf("line 70");
  const cut = excerpt(lines, focus, 80);
  assert.ok(cut.includes("line 70"), cut);
  assert.ok(!cut.includes("line 10\n"));
  assert.ok(cut.length <= 80);
  assert.equal(excerpt("short", 0, 80), "short");
});

test("an excerpt cut inside an emoji drops the half character", () => {
  const text = "😀".repeat(50); // no newlines to snap to: the cut lands between pairs or inside one
  for (const max of [9, 10, 11]) {
    const cut = excerpt(text, 31, max);
    assert.ok(cut.length <= max);
    assert.ok(cut.length > 0);
    assert.match(cut, /^(😀)+$/u, `max ${max}: ${JSON.stringify(cut)}`);
  }
});
