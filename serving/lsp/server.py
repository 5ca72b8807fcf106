"""The pygls language server: LSP messages in, :class:`CompletionEngine` asks out.

Documents are synchronised in full (``TextDocumentSyncKind.Full``): pygls applies incremental
edits by ``str.splitlines`` lines, which disagree with LSP's on form feeds and Unicode line
separators (see :mod:`serving.lsp.positions`); a full text per change is always right.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from serving.lsp.client import ServeClient, ServeError
from serving.lsp.context import select_extra_context, uri_path
from serving.lsp.engine import Answer, CompletionEngine, DocumentRequest
from serving.lsp.events import ACCEPT_COMMAND, EventReporter
from serving.lsp.items import accept_command, completion_items, inline_items
from serving.lsp.positions import ENCODINGS, offset_at
from serving.lsp.settings import LspSettings, apply_options

log = logging.getLogger(__name__)

NAME = "codemill-lsp"
TOGGLE_COMMAND = "codemill.toggle"


def encoding_name(kind) -> str:
    """The negotiated position encoding as positions.py names it (UTF-16 when none or unknown).

    lsprotocol's ``PositionEncodingKind`` is a str enum whose ``str()`` is its member name
    (``PositionEncodingKind.Utf8``), not its value: read ``.value``.
    """
    value = getattr(kind, "value", kind)
    return value if value in ENCODINGS else "utf-16"


class CodemillLanguageServer(LanguageServer):
    def __init__(self, settings: LspSettings, api_key: str | None, version: str, user: str | None = None,
                 transport=None, api_key_env: str = "CODEMILL_API_KEY") -> None:
        super().__init__(NAME, version, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.settings = settings
        self.api_key = api_key
        self.api_key_env = api_key_env
        # Supersede on the server is per (API key, user): one id per editor process.
        self.user = user or f"{NAME}-{uuid.uuid4().hex[:12]}"
        self._transport = transport
        self._client: ServeClient | None = None
        self._client_for: tuple | None = None
        self._edits: dict[str, int] = {}  # uri -> last edit number, for "most recently edited"
        self._edit_counter = 0
        self._last_error: str | None = None
        self.engine = CompletionEngine(self.serve_client, lambda: self.settings)
        self.events = EventReporter(lambda batch: self.serve_client().post_events(batch),
                                    lambda: self.settings.events_enabled)

    def serve_client(self) -> ServeClient:
        """The HTTP client for the current server URL and timeout (a new one when they change)."""
        wanted = (self.settings.server_url, self.settings.request_timeout_ms)
        if self._client is None or self._client_for != wanted:
            if self._client is not None:
                asyncio.ensure_future(self._client.aclose())
            self._client = ServeClient(self.settings.server_url, self.api_key, self.user,
                                       self.settings.request_timeout_ms / 1000, transport=self._transport,
                                       user_agent=f"{NAME}/{self.version}")
            self._client_for = wanted
        return self._client

    def configure(self, options, origin: str) -> None:
        self.settings, problems = apply_options(self.settings, options)
        for problem in problems:
            log.warning("%s: %s", origin, problem)
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=problem))

    def note_edit(self, uri: str) -> None:
        self._edit_counter += 1
        self._edits[uri] = self._edit_counter

    def forget(self, uri: str) -> None:
        self._edits.pop(uri, None)

    @property
    def encoding(self) -> str:
        return encoding_name(self.workspace.position_encoding)

    def document_request(self, uri: str, position: types.Position) -> DocumentRequest | None:
        document = self.workspace.get_text_document(uri)
        language = document.language_id or "plaintext"
        if not self.settings.language_enabled(language):
            return None
        text = document.source
        offset = offset_at(text, position.line, position.character, self.encoding)
        roots = [folder.uri for folder in self.workspace.folders.values()]
        if self.workspace.root_uri:
            roots.append(self.workspace.root_uri)
        current = uri_path(uri, roots)
        others = sorted((u for u in self.workspace.text_documents if u != uri), key=lambda u: -self._edits.get(u, 0))
        documents = [(uri_path(u, roots), self.workspace.get_text_document(u).source) for u in others]
        extra = select_extra_context(current, documents, self.settings.extra_context_chars)
        return DocumentRequest(uri, text, offset, language, tuple(extra))

    async def answer(self, request: DocumentRequest) -> Answer | None:
        """The engine's answer; server errors are reported to the user (once per new message)."""
        try:
            answer = await self.engine.provide(request)
        except ServeError as err:
            message = f"codemill: {err.message}"
            if err.status == 401:
                message += f" (set {self.api_key_env} in the environment the editor starts codemill lsp in)"
            log.warning("%s", message)
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Error, message=message))
            if message != self._last_error:
                self._last_error = message
                self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error, message=message))
            return None
        if answer is not None:
            self._last_error = None
            log.info("completion %s from %s: %d characters", answer.completion.id or "-", answer.source,
                     len(answer.insert_text))
            if answer.insert_text:
                self.events.shown(answer.completion.id, request.language, len(answer.completion.text),
                                  answer.latency_ms)
        return answer

    def accept_command(self, answer: Answer) -> types.Command | None:
        if not answer.completion.id or not self.settings.events_enabled:
            return None
        return accept_command(answer.completion.id, len(answer.completion.text))

    async def close(self) -> None:
        """Send the events not sent yet and close the HTTP client (on LSP shutdown)."""
        await self.events.flush()
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def build_server(settings: LspSettings, api_key: str | None, version: str, **kwargs) -> CodemillLanguageServer:
    server = CodemillLanguageServer(settings, api_key, version, **kwargs)

    @server.feature(types.INITIALIZE)
    def initialize(ls: CodemillLanguageServer, params: types.InitializeParams) -> None:
        ls.configure(params.initialization_options, "initializationOptions")

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: CodemillLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        ls.configure(params.settings, "workspace/didChangeConfiguration")

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CodemillLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.note_edit(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: CodemillLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.note_edit(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(ls: CodemillLanguageServer, params: types.InlineCompletionParams):
        request = ls.document_request(params.text_document.uri, params.position)
        answer = await ls.answer(request) if request is not None else None
        if answer is None or request is None:
            return types.InlineCompletionList(items=[])
        return inline_items(request.text, request.offset, answer.insert_text, ls.encoding, ls.accept_command(answer))

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(resolve_provider=False))
    async def completion(ls: CodemillLanguageServer, params: types.CompletionParams):
        request = ls.document_request(params.text_document.uri, params.position)
        answer = await ls.answer(request) if request is not None else None
        if answer is None or request is None:
            return types.CompletionList(is_incomplete=True, items=[])
        return completion_items(request.text, request.offset, answer.insert_text, request.language, ls.encoding,
                                ls.accept_command(answer))

    @server.command(ACCEPT_COMMAND)
    def accepted(ls: CodemillLanguageServer, *args) -> None:
        info = args[0] if args and isinstance(args[0], dict) else {}
        chars = info.get("accepted_chars")
        if isinstance(info.get("completion_id"), str):
            ls.events.accepted(info["completion_id"], chars if isinstance(chars, int) and chars >= 0 else None)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CodemillLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: CodemillLanguageServer, *args) -> None:
        await ls.close()

    @server.command(TOGGLE_COMMAND)
    def toggle(ls: CodemillLanguageServer, *args) -> bool:
        ls.configure({"enabled": not ls.settings.enabled}, TOGGLE_COMMAND)
        state = "on" if ls.settings.enabled else "off"
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=f"codemill completions {state}"))
        return ls.settings.enabled

    return server
