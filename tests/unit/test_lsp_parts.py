"""codemill lsp's settings, LSP answers, extra context, HTTP client and command line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx2 as httpx
import pytest
from lsprotocol import types

from serving.lsp.client import CompletionQuery, ServeClient, ServeError, SseReader
from serving.lsp.context import directory_distance, select_extra_context, uri_path
from serving.lsp.items import LABEL_CHARS, completion_items, completion_label, inline_items
from serving.lsp.settings import LspSettings, apply_options

# -- settings ------------------------------------------------------------------------------


def test_options_flat_nested_and_dotted():
    base = LspSettings()
    flat, problems = apply_options(base, {"maxTokens": 64, "serverUrl": "http://gpu:8000/", "mode": "line"})
    assert (flat.max_tokens, flat.server_url, flat.mode) == (64, "http://gpu:8000", "line") and not problems
    nested, _ = apply_options(base, {"codemill": {"extraContext": {"maxChars": 0}, "enabledLanguages": ["python"]}})
    assert nested.extra_context_chars == 0 and nested.enabled_languages == ("python",)
    dotted, _ = apply_options(base, {"extraContext.maxChars": 10})
    assert dotted.extra_context_chars == 10
    assert nested.language_enabled("python") and not nested.language_enabled("rust")


def test_a_bad_value_keeps_the_previous_one_and_says_so():
    base, _ = apply_options(LspSettings(), {"maxTokens": 64})
    after, problems = apply_options(base, {"maxTokens": "lots", "debounceMs": -1, "temperature": True,
                                           "serverUrl": "gpu:8000", "mode": "line"})
    assert (after.max_tokens, after.debounce_ms, after.temperature, after.server_url) == (
        64, base.debounce_ms, base.temperature, base.server_url)
    assert after.mode == "line"  # the valid ones still apply
    assert len(problems) == 4 and any("codemill.maxTokens" in p and "'lots'" in p for p in problems)
    assert apply_options(base, None) == (base, [])
    assert apply_options(base, ["x"])[1]


# -- answers -------------------------------------------------------------------------------


def test_inline_item_sits_at_the_cursor_in_the_negotiated_encoding():
    text = 'x = "😀"; y = \n'
    offset = text.index("y = ") + 4
    (item,) = inline_items(text, offset, "42", "utf-16").items
    assert item.insert_text == "42" and item.range.start == item.range.end == types.Position(0, offset + 1)
    (item8,) = inline_items(text, offset, "42", "utf-8").items
    assert item8.range.start.character == len(text[:offset].encode())
    assert inline_items(text, offset, "", "utf-16").items == []


def test_completion_item_replaces_the_word_being_typed():
    text = "total = self.comp\nnext"
    offset = text.index("\n")
    result = completion_items(text, offset, "ute_total()\nreturn x", "python", "utf-16")
    assert result.is_incomplete is True
    (item,) = result.items
    assert item.text_edit.new_text == "compute_total()\nreturn x"
    assert item.text_edit.range == types.Range(types.Position(0, 13), types.Position(0, 17))
    assert item.filter_text.startswith("comp") and item.label == "compute_total() …"
    assert item.insert_text_format == types.InsertTextFormat.PlainText
    assert "```python\ncompute_total()" in item.documentation.value
    assert completion_items(text, offset, "", "python", "utf-16").items == []


def test_labels_are_short_and_documentation_fences_survive_backticks():
    assert len(completion_label("", "x" * 500)) == LABEL_CHARS
    assert completion_label("", "\n\n    return 1\n") == "return 1"
    (item,) = completion_items("s = ", 4, '"""```md```"""', "python", "utf-16").items
    assert item.documentation.value.startswith("````python\n")


def test_the_negotiated_encoding_is_read_from_lsprotocols_enum():
    from serving.lsp.server import encoding_name

    assert encoding_name(types.PositionEncodingKind.Utf8) == "utf-8"
    assert encoding_name(types.PositionEncodingKind.Utf32) == "utf-32"
    assert encoding_name("utf-16") == "utf-16"
    assert encoding_name(None) == encoding_name("latin-1") == "utf-16"


# -- extra context -------------------------------------------------------------------------


def test_extra_context_nearest_first_within_budget():
    documents = [("docs/readme.md", "# readme\n" * 20), ("pkg/util.py", "def helper():\n    pass\n" * 10),
                 ("pkg/sub/deep.py", "x = 1\n" * 5), ("pkg/main.py", "current\n")]
    chosen = select_extra_context("pkg/main.py", documents, budget_chars=300)
    assert [path for path, _ in chosen] == ["pkg/util.py", "pkg/sub/deep.py"]
    assert sum(len(text) for _, text in chosen) <= 300
    assert all(text.endswith("\n") for _, text in chosen)  # cut at line ends
    assert select_extra_context("pkg/main.py", documents, 0) == []
    assert directory_distance("a/b/c.py", "a/d/e.py") == 2


def test_uri_paths_are_workspace_relative():
    assert uri_path("file:///work/proj/src/a%20b.py", ["file:///work/proj"]) == "src/a b.py"
    assert uri_path("file:///elsewhere/x.py", ["file:///work/proj"]) == "/elsewhere/x.py"
    assert uri_path("untitled:Untitled-1") == "untitled:Untitled-1"


# -- HTTP client ---------------------------------------------------------------------------

QUERY = CompletionQuery("def f():\n    ", "\n", "python", "line", 16, 0.0, "default", (("b.py", "x = 1\n"),))


def run_client(handler, **kwargs):
    async def go():
        client = ServeClient("http://serve.test/", "k-123", "editor-1", 5, transport=httpx.MockTransport(handler))
        try:
            return await client.complete(QUERY, **kwargs)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_streamed_chunks_add_up_and_the_request_is_the_extensions():
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["body"] = json.loads(request.content)
        seen["headers"] = request.headers
        chunks = [{"id": "cmpl-1", "model": "m", "choices": [{"text": "ret", "finish_reason": None}]},
                  {"id": "cmpl-1", "choices": [{"text": "urn 1", "finish_reason": "stop"}]}]
        body = "".join(f"data: {json.dumps(chunk)}\n\n" for chunk in chunks) + ": keep-alive\n\ndata: [DONE]\n\n"
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, text=body)

    completion = run_client(handler, request_group=7)
    assert (completion.id, completion.text, completion.finish_reason, completion.model) == ("cmpl-1", "return 1",
                                                                                             "stop", "m")
    body = seen["body"]
    assert body["prompt"] == QUERY.prefix and body["suffix"] == "\n" and body["stream"] is True
    assert body["mode"] == "line" and body["user"] == "editor-1" and body["language"] == "python"
    assert body["extra_context"] == [{"path": "b.py", "text": "x = 1\n"}]
    assert seen["headers"]["authorization"] == "Bearer k-123" and seen["headers"]["x-request-group"] == "7"


def test_server_errors_keep_the_servers_message_and_retry_after():
    def handler(request):
        return httpx.Response(429, headers={"retry-after": "3"},
                              json={"error": {"message": "rate limit: 60 requests per minute", "code": "rate_limited"}})

    with pytest.raises(ServeError) as caught:
        run_client(handler)
    assert caught.value.status == 429 and caught.value.retry_after_s == 3.0
    assert caught.value.message == "rate limit: 60 requests per minute" and caught.value.code == "rate_limited"

    with pytest.raises(ServeError, match="HTTP 502: <html>bad gateway"):
        run_client(lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(ServeError, match="cannot reach http://serve.test"):
        run_client(lambda request: (_ for _ in ()).throw(httpx.ConnectError("refused")))


def test_an_error_inside_the_stream_is_raised():
    body = 'data: {"error": {"message": "engine stopped"}}\n\n'
    with pytest.raises(ServeError, match="engine stopped"):
        run_client(lambda request: httpx.Response(200, headers={"content-type": "text/event-stream"}, text=body))


def test_sse_reader_joins_multi_line_data_and_skips_comments():
    reader = SseReader()
    assert [reader.feed(line) for line in [": hi", "event: x", "data: a", "data:b", ""]] == [None] * 4 + ["a\nb"]
    assert reader.feed("") is None


# -- command line --------------------------------------------------------------------------


def codemill(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codemill.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={"COLUMNS": "120", "PATH": ""})


def test_lsp_help_and_bad_flags():
    helped = codemill("lsp", "--help")
    assert helped.returncode == 0
    for words in ("inlineCompletion", "--server", "--api-key-env", "--check", "docs/ide.md"):
        assert words in helped.stdout, words
    bad = codemill("lsp", "--mode", "fast", "--max-tokens", "0")
    assert bad.returncode == 2
    assert "--mode: invalid value 'fast'" in bad.stderr and "--max-tokens" in bad.stderr
    unreachable = codemill("lsp", "--check", "--server", "http://127.0.0.1:9")
    assert unreachable.returncode == 1 and "cannot reach http://127.0.0.1:9" in unreachable.stderr
