"""tree-sitter parsing: functions, methods and classes of a file, and its parse signals.

Grammars come from the official per-language wheels (``tree-sitter-python`` …), which
bundle their compiled grammar, so parsing works offline. ``tree_sitter.Parser`` objects
cannot be pickled: :func:`parser_for` builds them lazily, once per (executor) process.

Each language is described by the node types that define functions, methods and classes,
the node types of comments, and the nodes that make a function a method. Those node types
are compiled into one tree-sitter query per language, so a grammar upgrade that renames a
node fails loudly (``QueryError``) in the unit tests instead of silently finding nothing.
"""

from __future__ import annotations

import importlib
import inspect
import time
from dataclasses import dataclass, field
from functools import cache

FUNCTION, METHOD, CLASS = "function", "method", "class"
# Parses of files larger than this report progress, so a slow parse can be abandoned.
_WATCHED_PARSE_BYTES = 64_000


@dataclass(frozen=True)
class LanguageSpec:
    module: str  # the wheel's module
    factory: str = "language"  # its function returning the grammar
    definitions: dict[str, str] = field(default_factory=dict)  # node type → kind
    extra_patterns: tuple[tuple[str, str], ...] = ()  # (query pattern, kind) for nodes needing context
    comments: tuple[str, ...] = ("comment",)
    method_scopes: tuple[str, ...] = ()  # functions nested in these nodes are methods
    wrappers: tuple[str, ...] = ()  # nodes wrapping a definition (decorators, export, template)


_JS_DEFS = {
    "function_declaration": FUNCTION,
    "generator_function_declaration": FUNCTION,
    "method_definition": METHOD,
    "class_declaration": CLASS,
}
_JS_ARROW = (("(variable_declarator value: [(arrow_function) (function_expression)])", FUNCTION),)

SPECS: dict[str, LanguageSpec] = {
    "python": LanguageSpec(
        "tree_sitter_python",
        definitions={"function_definition": FUNCTION, "class_definition": CLASS},
        method_scopes=("class_definition",),
        wrappers=("decorated_definition",),
    ),
    "javascript": LanguageSpec(
        "tree_sitter_javascript",
        definitions=_JS_DEFS,
        extra_patterns=_JS_ARROW,
        method_scopes=("class_body",),
        wrappers=("export_statement", "lexical_declaration", "variable_declaration"),
    ),
    "typescript": LanguageSpec(
        "tree_sitter_typescript",
        factory="language_typescript",
        definitions={
            **_JS_DEFS,
            "abstract_class_declaration": CLASS,
            "interface_declaration": CLASS,
            "enum_declaration": CLASS,
        },
        extra_patterns=_JS_ARROW,
        method_scopes=("class_body",),
        wrappers=("export_statement", "lexical_declaration", "variable_declaration"),
    ),
    "java": LanguageSpec(
        "tree_sitter_java",
        definitions={
            "method_declaration": METHOD,
            "constructor_declaration": METHOD,
            "class_declaration": CLASS,
            "interface_declaration": CLASS,
            "enum_declaration": CLASS,
            "record_declaration": CLASS,
        },
        comments=("line_comment", "block_comment"),
    ),
    "go": LanguageSpec(
        "tree_sitter_go",
        definitions={"function_declaration": FUNCTION, "method_declaration": METHOD},
        extra_patterns=(("(type_spec type: [(struct_type) (interface_type)])", CLASS),),
        wrappers=("type_declaration",),
    ),
    "rust": LanguageSpec(
        "tree_sitter_rust",
        definitions={"function_item": FUNCTION, "struct_item": CLASS, "enum_item": CLASS, "trait_item": CLASS},
        comments=("line_comment", "block_comment"),
        method_scopes=("impl_item", "trait_item"),
        wrappers=("attribute_item",),
    ),
    "c": LanguageSpec(
        "tree_sitter_c",
        definitions={"function_definition": FUNCTION},
        extra_patterns=(("(struct_specifier body: (field_declaration_list))", CLASS),),
    ),
    "cpp": LanguageSpec(
        "tree_sitter_cpp",
        definitions={"function_definition": FUNCTION},
        extra_patterns=(
            ("(class_specifier body: (field_declaration_list))", CLASS),
            ("(struct_specifier body: (field_declaration_list))", CLASS),
        ),
        method_scopes=("class_specifier", "struct_specifier"),
        wrappers=("template_declaration",),
    ),
    "csharp": LanguageSpec(
        "tree_sitter_c_sharp",
        definitions={
            "method_declaration": METHOD,
            "constructor_declaration": METHOD,
            "local_function_statement": FUNCTION,
            "class_declaration": CLASS,
            "interface_declaration": CLASS,
            "struct_declaration": CLASS,
            "record_declaration": CLASS,
            "enum_declaration": CLASS,
        },
    ),
    "ruby": LanguageSpec(
        "tree_sitter_ruby",
        definitions={"method": FUNCTION, "singleton_method": METHOD, "class": CLASS, "module": CLASS},
        method_scopes=("class", "module", "singleton_class"),
    ),
    "php": LanguageSpec(
        "tree_sitter_php",
        factory="language_php",
        definitions={
            "function_definition": FUNCTION,
            "method_declaration": METHOD,
            "class_declaration": CLASS,
            "interface_declaration": CLASS,
            "trait_declaration": CLASS,
        },
    ),
    "bash": LanguageSpec("tree_sitter_bash", definitions={"function_definition": FUNCTION}),
}

# C and C++ bury the name in a chain of declarators: int *(*f)(void) → identifier "f".
_NAME_NODES = {"identifier", "field_identifier", "qualified_identifier", "destructor_name", "operator_name",
               "type_identifier", "constant", "scope_resolution", "name", "word", "property_identifier"}


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str
    signature: str | None
    docstring: str | None
    body: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class ParseResult:
    parse_ok: bool
    has_syntax_error: bool | None
    function_count: int | None
    class_count: int | None
    comment_fraction: float | None
    symbols: tuple[Symbol, ...] = ()
    error_kind: str | None = None  # parse_timeout or parse_failed
    error_message: str | None = None


class ParseTimeout(Exception):
    pass


@cache
def language_object(language: str):
    import tree_sitter

    spec = SPECS[language]
    return tree_sitter.Language(getattr(importlib.import_module(spec.module), spec.factory)())


@cache
def parser_for(language: str):
    """One parser per language per process (parsers hold C state and do not pickle)."""
    import tree_sitter

    return tree_sitter.Parser(language_object(language))


def query_source(language: str) -> str:
    spec = SPECS[language]
    patterns = [f"({node}) @def.{kind}" for node, kind in spec.definitions.items()]
    patterns += [f"{pattern} @def.{kind}" for pattern, kind in spec.extra_patterns]
    patterns += [f"({node}) @comment" for node in spec.comments]
    return "\n".join(patterns)


@cache
def query_cursor(language: str):
    import tree_sitter

    query = tree_sitter.Query(language_object(language), query_source(language))
    return tree_sitter.QueryCursor(query)


def supports(language: str | None) -> bool:
    return language in SPECS


def _text(data: bytes, start: int, end: int) -> str:
    return data[start:end].decode("utf-8", errors="replace")


def _name(node) -> str | None:
    current = node
    for _ in range(8):
        named = current.child_by_field_name("name")
        if named is not None and named.type in _NAME_NODES:
            return named.text.decode("utf-8", errors="replace")
        if named is not None:  # e.g. Ruby scope_resolution, PHP name
            return named.text.decode("utf-8", errors="replace")
        nxt = current.child_by_field_name("declarator")
        if nxt is None:
            return None
        if nxt.type in _NAME_NODES:
            return nxt.text.decode("utf-8", errors="replace")
        current = nxt
    return None


def _body(node):
    body = node.child_by_field_name("body")
    if body is None:
        value = node.child_by_field_name("value")  # const f = () => …
        if value is not None:
            body = value.child_by_field_name("body")
    return body


def _clean_comment(text: str) -> str:
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        for marker in ("/**", "/*!", "/*", "*/", "///", "//!", "//", "#", "*"):
            if stripped.startswith(marker):
                stripped = stripped[len(marker) :]
                break
        if stripped.endswith("*/"):
            stripped = stripped[:-2]
        lines.append(stripped.strip())
    return "\n".join(lines).strip()


def _python_docstring(node, data: bytes) -> str | None:
    body = node.child_by_field_name("body")
    if body is None or body.named_child_count == 0:
        return None
    first = body.named_children[0]
    if first.type != "expression_statement" or first.named_child_count == 0:
        return None
    string = first.named_children[0]
    if string.type != "string":
        return None
    start = next((c for c in string.children if c.type == "string_start"), None)
    end = next((c for c in string.children if c.type == "string_end"), None)
    if start is None or end is None:
        return None
    return inspect.cleandoc(_text(data, start.end_byte, end.start_byte)) or None


def _leading_comment(node, spec: LanguageSpec, data: bytes) -> str | None:
    anchor = node
    while anchor.parent is not None and anchor.parent.type in spec.wrappers:
        anchor = anchor.parent
    comments = []
    row = anchor.start_point[0]
    sibling = anchor.prev_named_sibling
    if sibling is None and anchor.parent is not None and anchor.parent.type not in spec.definitions:
        sibling = anchor.parent.prev_named_sibling  # Ruby keeps a body's first comment outside the body node
    while sibling is not None and sibling.type in spec.comments and sibling.end_point[0] >= row - 1:
        if data[sibling.start_byte : sibling.start_byte + 2] == b"#!":
            break  # a shebang line is not documentation
        comments.append(sibling)
        row = sibling.start_point[0]
        sibling = sibling.prev_named_sibling
    if not comments:
        return None
    text = "\n".join(_clean_comment(_text(data, c.start_byte, c.end_byte)) for c in reversed(comments))
    return text or None


def _kind(node, kind: str, spec: LanguageSpec) -> str:
    if kind != FUNCTION or not spec.method_scopes:
        return kind
    parent = node.parent
    while parent is not None:
        if parent.type in spec.method_scopes:
            return METHOD
        if parent.type in spec.definitions and spec.definitions[parent.type] == FUNCTION:
            return FUNCTION  # a function nested in a function is not a method
        parent = parent.parent
    return FUNCTION


def _parse_tree(language: str, data: bytes, timeout_s: float):
    parser = parser_for(language)
    if len(data) <= _WATCHED_PARSE_BYTES:
        return parser.parse(data)
    deadline = time.monotonic() + timeout_s

    def past_deadline(_offset: int, _has_error: bool) -> bool:
        return time.monotonic() > deadline

    try:
        return parser.parse(lambda offset, _point: data[offset : offset + 65536], progress_callback=past_deadline)
    except ValueError as err:  # raised when progress_callback cancels the parse
        # A cancelled parse stays in the (cached) parser and the next parse() would resume it,
        # on the previous file's bytes: start the next file from a clean parser.
        parser.reset()
        raise ParseTimeout(f"parse exceeded {timeout_s:.1f}s") from err


def parse_source(
    language: str, text: str, max_bytes: int = 500_000, timeout_s: float = 2.0, max_body_chars: int = 20_000
) -> ParseResult:
    """Parse ``text`` and extract its definitions; never raises for bad input."""
    data = text.encode("utf-8")
    if len(data) > max_bytes:
        return ParseResult(False, None, None, None, None)
    spec = SPECS[language]
    try:
        tree = _parse_tree(language, data, timeout_s)
    except ParseTimeout as err:
        return ParseResult(False, None, None, None, None, (), "parse_timeout", str(err))
    root = tree.root_node
    captures = query_cursor(language).captures(root)
    comment_bytes = sum(node.end_byte - node.start_byte for node in captures.get("comment", ()))
    symbols = []
    seen: set[int] = set()
    for capture, nodes in captures.items():
        if not capture.startswith("def."):
            continue
        for node in nodes:
            if node.id in seen:
                continue
            seen.add(node.id)
            symbol = _symbol(node, capture[4:], spec, language, data, max_body_chars)
            if symbol is not None:
                symbols.append(symbol)
    symbols.sort(key=lambda s: (s.start_line, s.end_line, s.name))
    functions = sum(1 for s in symbols if s.kind != CLASS)
    return ParseResult(
        parse_ok=True,
        has_syntax_error=root.has_error,
        function_count=functions,
        class_count=len(symbols) - functions,
        comment_fraction=comment_bytes / len(data) if data else 0.0,
        symbols=tuple(symbols),
    )


def _symbol(node, kind: str, spec: LanguageSpec, language: str, data: bytes, max_body_chars: int) -> Symbol | None:
    name = _name(node)
    if not name:
        return None
    body = _body(node)
    if body is not None and body.start_byte > node.start_byte:
        signature = " ".join(_text(data, node.start_byte, body.start_byte).split())
    else:
        signature = _text(data, node.start_byte, node.end_byte).split("\n", 1)[0].strip()
    docstring = _python_docstring(node, data) if language == "python" else None
    docstring = docstring or _leading_comment(node, spec, data)
    text = _text(data, node.start_byte, node.end_byte)
    return Symbol(
        name=name,
        kind=_kind(node, kind, spec),
        signature=signature or None,
        docstring=docstring,
        body=text[:max_body_chars],
        start_line=node.start_point[0] + 1,
        end_line=node.end_point[0] + 1,
    )
