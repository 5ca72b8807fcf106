"""`codemill lsp`: a language server over stdio that completes code with `codemill serve`.

For editors other than VS Code (Neovim, Helix, Zed, JetBrains IDEs through LSP4IJ). It answers
``textDocument/inlineCompletion`` (LSP 3.18, ghost text) and, for editors without it, plain
``textDocument/completion`` items carrying the same text. Each answer is one streamed request
to the server's ``/v1/completions`` (prefix, suffix, language, other open files); the request
rules are the VS Code extension's (docs/decisions/0160-vscode-extension.md): debounce, newest
request supersedes older ones, a cache, typed-ahead reuse, and cancellation that closes the
HTTP connection so the server stops generating.

Modules: ``positions`` (LSP positions ↔ string offsets), ``settings``, ``client`` (HTTP),
``engine`` (request rules), ``items`` (LSP answers), ``server`` (pygls wiring).
"""
