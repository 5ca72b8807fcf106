"""The VS Code extension's request code against a real `codemill serve`.

``dist/cli.js`` runs the extension's own engine and client (the same request body, SSE reader,
debounce/cancel machinery) for one cursor position. The test inserts the returned text at the
cursor and checks it is what the served model's greedy FIM decoding gives for that prefix and
suffix, after the server-side stop rules: the extension, the server and the model agree.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.fixtures.vscode_extension import build_cli, require_node

pytestmark = pytest.mark.integration

SOURCE = '''import math


def circle_area(radius):
    """Area of a circle."""
    return math.pi * radius ** 2


def describe(shape, size):
    area = \n    return f"{shape}: {area:.2f}"
'''


@pytest.fixture(scope="module")
def cli_js():
    require_node()
    return build_cli()


def run_cli(cli_js, editor_server, *args: str) -> tuple[int, dict]:
    env = {**os.environ, "CODEMILL_API_KEY": editor_server.api_key}
    result = subprocess.run(
        ["node", str(cli_js), "--server", editor_server.server.url, *args],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert result.stdout.strip(), f"no output; stderr:\n{result.stderr}"
    return result.returncode, json.loads(result.stdout)


@pytest.mark.parametrize("mode", ["line", "block"])
def test_fim_text_from_the_server_inserts_at_the_cursor(cli_js, editor_server, reference_model, tmp_path, mode):
    path = tmp_path / "shapes.py"
    path.write_text(SOURCE)
    line, character = 9, len("    area = ")
    code, answer = run_cli(cli_js, editor_server, "--file", str(path), "--line", str(line), "--character",
                           str(character), "--mode", mode, "--max-tokens", "24", "--temperature", "0")
    assert code == 0, answer
    offset = answer["offset"]
    prefix, suffix = SOURCE[:offset], SOURCE[offset:]
    assert prefix.endswith("    area = ") and suffix.startswith("\n    return")
    assert answer["language"] == "python" and answer["id"].startswith("cmpl-")
    assert answer["chunks"] >= 1  # it streamed
    expected = reference_model(prefix, suffix, mode, 24)
    assert answer["text"] and answer["text"] == expected
    edited = prefix + answer["text"] + suffix
    assert edited.startswith(prefix) and edited.endswith(suffix)
    assert len(edited) == len(SOURCE) + len(answer["text"])
    if mode == "line":
        assert "\n" not in answer["text"].strip("\n")


def test_server_errors_reach_the_extension_with_the_servers_message(cli_js, editor_server, tmp_path):
    path = tmp_path / "a.py"
    path.write_text(SOURCE)
    env = {**os.environ, "CODEMILL_API_KEY": "wrong-key-0123456789"}
    result = subprocess.run(
        ["node", str(cli_js), "--server", editor_server.server.url, "--file", str(path), "--offset", "20"],
        capture_output=True, text=True, timeout=180, env=env,
    )
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["status"] == 401 and error["message"]
