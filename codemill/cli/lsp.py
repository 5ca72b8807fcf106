"""`codemill lsp`: the language server (stdio) that brings `codemill serve` to any LSP editor."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from codemill.cli.context import STATE, fail

SERVER_URL_ENV = "CODEMILL_SERVER_URL"
FLAG_OF_OPTION = {"serverUrl": "--server", "mode": "--mode", "maxTokens": "--max-tokens",
                  "debounceMs": "--debounce-ms", "temperature": "--temperature", "model": "--model"}


def _default_server_url() -> str:
    if os.environ.get(SERVER_URL_ENV):
        return os.environ[SERVER_URL_ENV]
    serve = STATE.config.serve
    host = "127.0.0.1" if serve.host in ("0.0.0.0", "::", "") else serve.host
    return f"http://{host}:{serve.port}"


def lsp(
    server: Annotated[str | None, typer.Option(
        "--server", "-s", help=f"codemill serve base URL (default ${SERVER_URL_ENV}, else serve.host:serve.port).",
    )] = None,
    api_key_env: Annotated[str, typer.Option(
        "--api-key-env", help="Environment variable holding the server's API key (never a flag or a setting).",
    )] = "CODEMILL_API_KEY",
    mode: Annotated[str | None, typer.Option("--mode", help="line | block | auto (default auto).")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Tokens per completion (default 128).")] = None,
    debounce_ms: Annotated[int | None, typer.Option(
        "--debounce-ms", help="Pause after the last keystroke before asking (default 150).",
    )] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="Sampling temperature (default 0.2).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="`model` of each request (default: default).")] = None,
    log_file: Annotated[Path | None, typer.Option(
        "--log-file", help="Also log requests (sizes, latencies, errors; never code) to this file.",
    )] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Check that the server answers with this key (GET /v1/models), print what it serves, exit.",
    )] = False,
) -> None:
    """Language server over stdio: completions from codemill serve in any LSP editor.

    Answers textDocument/inlineCompletion (LSP 3.18 ghost text: Neovim 0.12+)
    and textDocument/completion with the same text as one menu item (Helix,
    Zed, older Neovim, JetBrains IDEs through LSP4IJ). The editor starts it;
    JSON-RPC on stdin/stdout, logs on stderr.

    The editor may also send settings (initializationOptions or
    workspace/didChangeConfiguration, optionally under "codemill"): serverUrl,
    mode, maxTokens, debounceMs, temperature, model, enabledLanguages,
    extraContext.maxChars, maxPrefixChars, maxSuffixChars, requestTimeoutMs,
    enabled. Editor set-up: docs/ide.md.

    Examples:

      codemill lsp --check                       # server reachable, key right?

      codemill lsp --server http://gpu-box:8000  # what an editor runs

      CODEMILL_API_KEY=... codemill lsp --mode line --debounce-ms 100
    """
    from serving.lsp.settings import LspSettings, apply_options

    flags = {"serverUrl": server or _default_server_url(), "mode": mode, "maxTokens": max_tokens,
             "debounceMs": debounce_ms, "temperature": temperature, "model": model}
    settings, problems = apply_options(LspSettings(), {key: value for key, value in flags.items() if value is not None})
    if problems:  # a bad flag is an error here, not a fallback to the default
        fail("lsp: " + "; ".join(re.sub(r"^codemill\.(\w+)", lambda m: FLAG_OF_OPTION[m[1]], p.split(", keeping")[0])
                                 for p in problems))
    api_key = os.environ.get(api_key_env) or None
    if check:
        _check(settings.server_url, api_key)
        return
    if log_file is not None:
        handler = logging.FileHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("serving.lsp").addHandler(handler)
        logging.getLogger("serving.lsp").setLevel(logging.INFO)
    _serve_stdio(settings, api_key, api_key_env)


def _check(server_url: str, api_key: str | None) -> None:
    import httpx2 as httpx

    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        response = httpx.get(server_url + "/v1/models", headers=headers, timeout=10)
    except httpx.HTTPError as err:
        fail(f"lsp: cannot reach {server_url}: {err}", code=1)
    if response.status_code != 200:
        fail(f"lsp: {server_url} answered {response.status_code}: {response.text[:300]}", code=1)
    models = [entry.get("id") for entry in response.json().get("data", [])]
    typer.echo(f"{server_url} is serving {', '.join(map(str, models)) or 'no model'}")


def _serve_stdio(settings, api_key: str | None, api_key_env: str) -> None:
    from codemill import __version__
    from serving.lsp.server import build_server

    # stdout carries JSON-RPC only: anything else printed there (a library's warning) would
    # corrupt the stream, so Python's stdout goes to stderr and pygls gets the real one.
    protocol_out = sys.stdout.buffer
    sys.stdout = sys.stderr
    build_server(settings, api_key, __version__, api_key_env=api_key_env).start_io(sys.stdin.buffer, protocol_out)


def register(app: typer.Typer) -> None:
    app.command("lsp")(lsp)
