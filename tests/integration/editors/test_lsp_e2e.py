"""`codemill lsp` as an editor uses it: a real client process over stdio, a real server.

The client speaks raw JSON-RPC (tests/fixtures/lsp_client.py), opens a document, asks for
inline completion and completion items, cancels a request with ``$/cancelRequest`` and
supersedes one with a newer ask; `codemill serve`'s metrics show whether generation stopped.
The model writes until ``max_tokens`` (see conftest.py), so a long request is really running
when it is cancelled.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.fixtures.lsp_client import REPO, LspClient

pytestmark = pytest.mark.integration

URI = "file:///workspace/pkg/shapes.py"
# The emoji is two UTF-16 code units: positions on its line differ between encodings.
SOURCE = (
    "import math\n"
    "\n"
    "\n"
    "def describe(shape, size):\n"
    '    label = "😀 " + shape; area = \n'
    '    return f"{label}: {area:.2f}"\n'
    "\n"
    "\n"
    "def circle(radius):\n"
    "    return math.pi * radius ** 2\n"
)
CURSOR_LINE = 4
CURSOR_OFFSET = SOURCE.index("area = \n") + len("area = ")
CURSOR_UTF16 = len('    label = "😀 " + shape; area = ') + 1
LONG = 1800  # tokens: most of the tiny model's 2048-token context


@pytest.fixture(scope="module")
def lsp(editor_server, tmp_path_factory):
    log = tmp_path_factory.mktemp("lsp") / "lsp.stderr"
    client = LspClient("--server", editor_server.server.url, "--debounce-ms", "0", "--verbose",
                       env={"CODEMILL_API_KEY": editor_server.api_key}, stderr_path=log)
    client.initialize({"codemill": {"mode": "line", "maxTokens": 24, "temperature": 0}}, root_uri="file:///workspace")
    client.open(URI, SOURCE)
    yield client
    assert client.close() == 0, log.read_text()


def configure(lsp: LspClient, **settings) -> None:
    lsp.notify("workspace/didChangeConfiguration", {"settings": {"codemill": settings}})


def inline_request(lsp: LspClient, line: int, character: int) -> int:
    return lsp.request("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": line, "character": character},
        "context": {"triggerKind": 2},
    })


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_inline_completion_is_the_servers_fim_text_at_the_cursor(lsp, reference_model):
    reply = lsp.response(inline_request(lsp, CURSOR_LINE, CURSOR_UTF16))
    items = reply["result"]["items"]
    assert len(items) == 1
    item = items[0]
    cursor = {"line": CURSOR_LINE, "character": CURSOR_UTF16}
    assert item["range"] == {"start": cursor, "end": cursor}
    prefix, suffix = SOURCE[:CURSOR_OFFSET], SOURCE[CURSOR_OFFSET:]
    assert item["insertText"] and item["insertText"] == reference_model(prefix, suffix, "line", 24)
    # Applied as an editor applies it: at the UTF-16 position, i.e. right after "area = ".
    lines = SOURCE.split("\n")
    line_utf16 = lines[CURSOR_LINE].encode("utf-16-le")
    edited_line = (line_utf16[: 2 * CURSOR_UTF16].decode("utf-16-le") + item["insertText"]
                   + line_utf16[2 * CURSOR_UTF16:].decode("utf-16-le"))
    edited = "\n".join([*lines[:CURSOR_LINE], edited_line, *lines[CURSOR_LINE + 1:]])
    assert edited == prefix + item["insertText"] + suffix


def test_completion_item_carries_the_same_text_replacing_the_typed_word(lsp, reference_model):
    # Cursor after "ar" of "area": the item must replace "ar" so menus filtering by it keep it.
    character = CURSOR_UTF16 - len("ea = ")
    result = lsp.call("textDocument/completion", {"textDocument": {"uri": URI},
                                                  "position": {"line": CURSOR_LINE, "character": character}})
    assert result["isIncomplete"] is True
    (item,) = result["items"]
    offset = SOURCE.index("area = \n") + 2
    expected = reference_model(SOURCE[:offset], SOURCE[offset:], "line", 24)
    assert item["textEdit"]["newText"] == "ar" + expected
    assert item["textEdit"]["range"]["start"] == {"line": CURSOR_LINE, "character": character - 2}
    assert item["textEdit"]["range"]["end"] == {"line": CURSOR_LINE, "character": character}
    assert item["filterText"].startswith("ar") and item["label"].startswith("ar")


def test_cancel_request_closes_the_http_request_and_generation_stops(lsp, editor_server):
    server = editor_server.server
    configure(lsp, maxTokens=LONG)
    disconnects = server.metric("codemill_serve_cancellations_total", reason="disconnect")
    tokens_before = server.metric("codemill_serve_generated_tokens_total")
    request_id = inline_request(lsp, 9, 4)  # a position not asked before: no cache
    wait_until(lambda: server.metric("codemill_serve_generated_tokens_total") > tokens_before + 20, 60,
               "generation never started")
    lsp.cancel(request_id)
    reply = lsp.response(request_id)
    assert reply["error"]["code"] == -32800  # RequestCancelled
    wait_until(lambda: server.metric("codemill_serve_cancellations_total", reason="disconnect") > disconnects, 30,
               "the server never saw the connection close")
    stopped_at = server.metric("codemill_serve_generated_tokens_total")
    time.sleep(1.0)
    assert server.metric("codemill_serve_generated_tokens_total") == stopped_at  # no longer growing
    assert stopped_at - tokens_before < LONG
    assert server.metric("codemill_serve_active_sequences") == 0
    configure(lsp, maxTokens=24)


def test_a_newer_ask_supersedes_the_running_one(lsp, editor_server, reference_model):
    server = editor_server.server
    configure(lsp, maxTokens=LONG)
    stopped = (server.metric("codemill_serve_cancellations_total", reason="disconnect")
               + server.metric("codemill_serve_cancellations_total", reason="superseded"))
    tokens_before = server.metric("codemill_serve_generated_tokens_total")
    older = inline_request(lsp, 8, 4)
    wait_until(lambda: server.metric("codemill_serve_generated_tokens_total") > tokens_before + 20, 60,
               "generation never started")
    configure(lsp, maxTokens=24)
    newer = inline_request(lsp, 8, 10)
    assert lsp.response(older)["result"] == {"items": []}  # superseded: answered, with nothing
    items = lsp.response(newer)["result"]["items"]
    offset = SOURCE.index("def circle(") + len("def circle")
    assert items[0]["insertText"] == reference_model(SOURCE[:offset], SOURCE[offset:], "line", 24)
    wait_until(lambda: server.metric("codemill_serve_cancellations_total", reason="disconnect")
               + server.metric("codemill_serve_cancellations_total", reason="superseded") > stopped, 30,
               "the older generation was never stopped")
    assert server.metric("codemill_serve_generated_tokens_total") - tokens_before < LONG
    wait_until(lambda: server.metric("codemill_serve_active_sequences") == 0, 30, "a sequence kept decoding")


def test_server_errors_reach_the_user_once(editor_server, tmp_path):
    client = LspClient("--server", editor_server.server.url, "--debounce-ms", "0",
                       env={"CODEMILL_API_KEY": "not-the-key-0123456789"}, stderr_path=tmp_path / "err.log")
    try:
        client.initialize({"maxTokens": 8})
        client.open(URI, SOURCE)
        for character in (1, 2):
            assert lsp_items(client, character) == []
        messages = client.notifications("window/showMessage")
        assert len(messages) == 1 and messages[0]["type"] == 1, messages  # Error, shown once
        assert "CODEMILL_API_KEY" in messages[0]["message"], messages
        assert len(client.notifications("window/logMessage")) >= 1
    finally:
        assert client.close() == 0


def lsp_items(client: LspClient, character: int) -> list:
    return client.call("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": character}, "context": {"triggerKind": 1},
    })["items"]


def test_toggle_command_turns_completion_off_and_on(lsp):
    assert lsp.call("workspace/executeCommand", {"command": "codemill.toggle", "arguments": []}) is False
    assert lsp.call("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": CURSOR_LINE, "character": CURSOR_UTF16},
        "context": {"triggerKind": 1},
    })["items"] == []
    assert lsp.call("workspace/executeCommand", {"command": "codemill.toggle", "arguments": []}) is True
    messages = [m["message"] for m in lsp.notifications("window/showMessage")]
    assert "codemill completions off" in messages and "codemill completions on" in messages


def test_check_reports_what_the_server_serves(editor_server):
    env = {**os.environ, "CODEMILL_API_KEY": editor_server.api_key}
    result = subprocess.run([sys.executable, "-m", "codemill.cli.main", "lsp", "--check", "--server",
                             editor_server.server.url], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{editor_server.server.url} is serving model"
    env["CODEMILL_API_KEY"] = "wrong-key-0123456789"
    refused = subprocess.run([sys.executable, "-m", "codemill.cli.main", "lsp", "--check", "--server",
                              editor_server.server.url], capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert refused.returncode == 1 and "answered 401" in refused.stderr


def test_accepting_an_item_reports_shown_and_accepted_to_the_server(lsp, editor_server):
    server = editor_server.server

    def events(kind: str) -> float:
        return server.metric("codemill_serve_completion_events_total", event=kind)

    shown, accepted = events("shown"), events("accepted")
    (item,) = lsp.call("textDocument/inlineCompletion", {
        "textDocument": {"uri": URI}, "position": {"line": 0, "character": 6}, "context": {"triggerKind": 1},
    })["items"]
    command = item["command"]
    assert command["command"] == "codemill.accepted"
    assert command["arguments"][0]["accepted_chars"] == len(item["insertText"])
    assert command["arguments"][0]["completion_id"].startswith("cmpl-")
    lsp.call("workspace/executeCommand", {"command": command["command"], "arguments": command["arguments"]})
    # Batched: sent within the 5 s flush interval.
    wait_until(lambda: events("accepted") == accepted + 1, 30, "the accepted event never reached the server")
    assert events("shown") >= shown + 1


def test_a_real_source_file_with_non_ascii_text(lsp, reference_model):
    """statistics.py of the standard library: a non-ASCII dash before the cursor, text cut to a window."""
    import re
    import sysconfig
    from pathlib import Path

    path = Path(sysconfig.get_paths()["stdlib"]) / "statistics.py"
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    line = next(n for n, content in enumerate(lines) if n > 200 and re.search(r"[^\x00-\x7f]", content))
    column = re.search(r"[^\x00-\x7f]", lines[line]).end() + 2  # after a non-ASCII character
    configure(lsp, maxTokens=16, maxPrefixChars=1500, maxSuffixChars=500, extraContext={"maxChars": 0})
    try:
        lsp.open(path.as_uri(), text)
        items = lsp.call("textDocument/inlineCompletion", {
            "textDocument": {"uri": path.as_uri()}, "position": {"line": line, "character": column},
            "context": {"triggerKind": 1},
        })["items"]
    finally:
        configure(lsp, maxTokens=24, maxPrefixChars=8000, maxSuffixChars=2000, extraContext={"maxChars": 6000})
    offset = sum(len(content) + 1 for content in lines[:line]) + column
    before, after = text[:offset][-1500:], text[offset:][:500]
    before, after = before[before.index("\n") + 1:], after[: after.rindex("\n") + 1]
    assert items and items[0]["insertText"] == reference_model(before, after, "line", 16)


def test_a_client_that_counts_utf8_bytes_gets_utf8_positions(editor_server, reference_model, tmp_path):
    client = LspClient("--server", editor_server.server.url, "--debounce-ms", "0",
                       env={"CODEMILL_API_KEY": editor_server.api_key}, stderr_path=tmp_path / "err.log")
    try:
        result = client.initialize({"mode": "line", "maxTokens": 24, "temperature": 0}, encodings=["utf-8"])
        assert result["capabilities"]["positionEncoding"] == "utf-8"
        client.open(URI, SOURCE)
        column = len(SOURCE.split("\n")[CURSOR_LINE][: CURSOR_OFFSET - SOURCE.index('    label')].encode())
        (item,) = client.call("textDocument/inlineCompletion", {
            "textDocument": {"uri": URI}, "position": {"line": CURSOR_LINE, "character": column},
            "context": {"triggerKind": 1},
        })["items"]
        assert item["range"]["start"] == {"line": CURSOR_LINE, "character": column}
        assert item["insertText"] == reference_model(SOURCE[:CURSOR_OFFSET], SOURCE[CURSOR_OFFSET:], "line", 24)
    finally:
        assert client.close() == 0
