"""Curate: bronze rows → ``silver.files`` and ``silver.functions``.

:func:`curate_file` is the whole row logic as a plain function: decode, language, signals,
PII redaction, tree-sitter parse and symbol extraction. The Spark glue feeds it Arrow
batches through ``mapInArrow`` and returns, per file, the silver columns plus the file's
functions and errors as nested lists, so one Python pass serves three tables.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial

import pyarrow as pa

from data_platform.contracts import contract
from data_platform.ingest import errors as E
from data_platform.ingest.decode import Decoded, decode_bytes
from data_platform.ingest.doc_pages import DocSection, main_language, render_section
from data_platform.ingest.notebooks import MALFORMED_NOTEBOOK, NotebookError, is_notebook, notebook_script
from data_platform.ingest.signals import is_vendored, text_signals
from data_platform.ingest.sources.docs import BAD_PAGE
from data_platform.ingest.treesitter import parse_source, supports
from data_platform.languages import detect_language
from data_platform.licenses import NO_LICENSE, license_class
from data_platform.settings.refine import ATTRIBUTED

# gold.training_corpus.source_kind values (silver.files carries the kind of each document).
CODE, NOTEBOOK, DOCS, QA = "code", "notebook", "docs", "qa"


@dataclass(frozen=True)
class CurateLimits:
    parse_max_bytes: int = 500_000
    parse_timeout_s: float = 2.0
    max_body_chars: int = 20_000
    redact_pii: bool = True  # pii.enabled: false keeps text as written (counts are still measured)


@dataclass
class CuratedFile:
    silver: dict
    functions: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    doc_section: dict | None = None  # docs sources: the silver.doc_sections row
    qa_thread: dict | None = None  # stackexchange sources: the silver.qa_threads row


def file_id_for(repo_id: str, path: str) -> str:
    return hashlib.sha1(f"{repo_id}\0{path}".encode()).hexdigest()


def function_id_for(file_id: str, kind: str, name: str, start_line: int) -> str:
    return hashlib.sha1(f"{file_id}\0{kind}\0{name}\0{start_line}".encode()).hexdigest()


def _redact(text: str, path: str, replace: bool = True) -> tuple[str, dict[str, int]]:
    from data_platform.pii import PII_TYPES, find_pii, redact

    # The gold gate detects with the same path: the two must see the same rules.
    if not replace:
        counts = dict.fromkeys(PII_TYPES, 0)
        for finding in find_pii(text, path):
            counts[finding.kind] += 1
        return text, counts
    result = redact(text, path)
    return result.text, result.counts


def _notebook_text(decoded: Decoded, path: str, silver: dict, errors: list[dict]) -> Decoded | None:
    """A notebook's script as the text to curate (its language into ``silver``), or None when
    nbformat refuses it: the file is then recorded as an error and has no text (so no gold row)."""
    try:
        script = notebook_script(decoded.text or "")
    except NotebookError as err:
        errors.append({"path": path, "stage": "curate", "kind": MALFORMED_NOTEBOOK, "message": str(err)})
        return None
    silver["language"] = script.language
    return Decoded(script.text, decoded.encoding, False)


def _section_text(decoded: Decoded, path: str, silver: dict, errors: list[dict],
                  redact_pii: bool) -> tuple[Decoded | None, dict | None]:
    """A documentation section (bronze holds it as JSON) as its training text, and its
    silver.doc_sections row with prose and code redacted; (None, None) for a damaged record."""
    try:
        section = DocSection.from_json(decoded.text or "")
    except (ValueError, TypeError, KeyError) as err:
        errors.append({"path": path, "stage": "curate", "kind": BAD_PAGE, "message": f"{type(err).__name__}: {err}"})
        return None, None
    silver["language"] = main_language(section)
    prose = _redact(section.prose, path, redact_pii)[0]
    row = {"section_id": silver["file_id"], "repo_id": silver["repo_id"], "repo_url": silver["repo_url"],
           "path": path, "page": section.page, "anchor": section.anchor, "heading_path": section.heading_path,
           "prose": prose or None, "code_blocks": [_redact(b.code, path, redact_pii)[0] for b in section.code_blocks],
           "code_languages": [b.language for b in section.code_blocks], "links": section.links,
           "license_spdx": silver["license_spdx"]}
    return Decoded(render_section(section, silver["repo_url"]), decoded.encoding, False), row


def _thread_text(decoded: Decoded, path: str, silver: dict, errors: list[dict],
                 redact_pii: bool) -> tuple[Decoded | None, dict | None]:
    """A Q&A thread (bronze holds it as JSON) as its training text, and its silver.qa_threads row."""
    from data_platform.ingest.qa_posts import Thread
    from data_platform.ingest.qa_threads import render_thread, tag_languages, thread_row

    try:
        thread = Thread.from_json(decoded.text or "")
    except (ValueError, TypeError, KeyError) as err:
        errors.append({"path": path, "stage": "curate", "kind": E.BAD_ROW, "message": f"{type(err).__name__}: {err}"})
        return None, None
    silver["language"] = (tag_languages(thread.tags) or ["markdown"])[0]
    if (silver["license_spdx"] or "").startswith("CC-BY-SA-"):  # attribution is in the text and the table
        silver["license_class"] = ATTRIBUTED
    row = thread_row(thread, thread.site, lambda text: _redact(text, path, redact_pii)[0])
    created = row["created_at"]
    row.update(thread_id=silver["file_id"], repo_id=silver["repo_id"], repo_url=silver["repo_url"], path=path,
               created_at=_utc(created) if created else None)
    return Decoded(render_thread(thread, thread.site), decoded.encoding, False), row


def _utc(text: str):
    import datetime as dt

    stamp = dt.datetime.fromisoformat(text)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def curate_file(
    repo_id: str,
    repo_url: str,
    commit_sha: str,
    path: str,
    content: bytes,
    blob_sha: str,
    license_spdx: str | None,
    limits: CurateLimits = CurateLimits(),
    document_kind: str | None = None,
) -> CuratedFile:
    """Everything silver knows about one file, computed from its bytes and path.

    ``document_kind`` is the kind the source gives its records (``docs`` for documentation
    sections); files of repositories leave it None and are code, or notebooks by their name."""
    file_id = file_id_for(repo_id, path)
    language = detect_language(path)
    decoded = decode_bytes(content)
    errors: list[dict] = []
    silver = {
        "file_id": file_id, "repo_id": repo_id, "repo_url": repo_url, "commit_sha": commit_sha, "path": path,
        "blob_sha": blob_sha, "language": language, "text": None, "encoding": decoded.encoding,
        "is_binary": decoded.is_binary, "size_bytes": len(content), "line_count": 0, "max_line_length": 0,
        "mean_line_length": 0.0, "alnum_fraction": 0.0, "alpha_fraction": 0.0, "comment_fraction": 0.0,
        "is_vendored": is_vendored(path), "is_generated": False, "has_encoded_data": False,
        "parse_ok": None, "has_syntax_error": None, "function_count": None, "class_count": None,
        "license_spdx": license_spdx, "license_class": license_class(license_spdx) if license_spdx else NO_LICENSE,
        "pii_email_count": 0, "pii_ip_count": 0, "pii_key_count": 0, "pii_password_count": 0,
        "source_kind": document_kind or (NOTEBOOK if is_notebook(path) else CODE),
    }
    section = None
    if decoded.text is None:
        message = "NUL bytes: binary content" if decoded.reason == E.BINARY else "no charset decodes these bytes"
        errors.append({"path": path, "stage": "curate", "kind": decoded.reason or E.BINARY, "message": message})
        return CuratedFile(silver, [], errors)
    thread = None
    if document_kind == DOCS:
        decoded, section = _section_text(decoded, path, silver, errors, limits.redact_pii)
    elif document_kind == QA:
        decoded, thread = _thread_text(decoded, path, silver, errors, limits.redact_pii)
    elif is_notebook(path):
        decoded = _notebook_text(decoded, path, silver, errors)
    if decoded is None:
        return CuratedFile(silver, [], errors)
    language = silver["language"]
    signals = text_signals(path, decoded.text)
    text, counts = _redact(decoded.text, path, limits.redact_pii)
    silver.update(
        text=text, line_count=signals.line_count, max_line_length=signals.max_line_length,
        mean_line_length=signals.mean_line_length, alnum_fraction=signals.alnum_fraction,
        alpha_fraction=signals.alpha_fraction, is_generated=signals.is_generated,
        has_encoded_data=signals.has_encoded_data,
        pii_email_count=counts.get("email", 0), pii_ip_count=counts.get("ip_address", 0),
        pii_key_count=counts.get("key", 0), pii_password_count=counts.get("password", 0),
    )
    functions: list[dict] = []
    if supports(language) and silver["source_kind"] in (CODE, NOTEBOOK):  # a docs section is not a program
        parsed = parse_source(language, text, limits.parse_max_bytes, limits.parse_timeout_s, limits.max_body_chars)
        silver.update(parse_ok=parsed.parse_ok, has_syntax_error=parsed.has_syntax_error,
                      function_count=parsed.function_count, class_count=parsed.class_count,
                      comment_fraction=parsed.comment_fraction or 0.0)
        if parsed.error_kind:
            errors.append({"path": path, "stage": "parse", "kind": parsed.error_kind, "message": parsed.error_message})
        for symbol in parsed.symbols:
            functions.append({
                "function_id": function_id_for(file_id, symbol.kind, symbol.name, symbol.start_line),
                "file_id": file_id, "repo_id": repo_id, "path": path, "language": language,
                "name": symbol.name, "kind": symbol.kind, "signature": symbol.signature,
                "docstring": symbol.docstring, "body": symbol.body,
                "start_line": symbol.start_line, "end_line": symbol.end_line,
            })
    return CuratedFile(silver, functions, errors, section, thread)


# ----------------------------------------------------------------------------- Spark glue

# Every shape below comes from the table contracts (schemas/): curate computes the silver.files
# columns up to the PII counts (dedup, decontamination and filters fill the rest later; the
# write adds run_id/updated_at), silver.functions without run_id, ops.ingest_errors' detail.
_LATER_SILVER_COLUMNS = ("exact_dup_key", "dup_cluster_id", "dup_cluster_size", "is_dup_keeper",
                         "contamination_match", "drop_reason", "run_id", "updated_at")
SILVER_COLUMNS = [c for c in contract("silver.files").column_names if c not in _LATER_SILVER_COLUMNS]
FUNCTION_COLUMNS = [c for c in contract("silver.functions").column_names if c != "run_id"]
ERROR_COLUMNS = ["path", "stage", "kind", "message"]
_SILVER, _FUNCTIONS, _ERRORS = contract("silver.files"), contract("silver.functions"), contract("ops.ingest_errors")
_SECTIONS, _THREADS = contract("silver.doc_sections"), contract("silver.qa_threads")
SECTION_COLUMNS = [c for c in _SECTIONS.column_names if c not in ("run_id", "updated_at")]
THREAD_COLUMNS = [c for c in _THREADS.column_names if c not in ("run_id", "updated_at")]
# All nullable: a file that failed to curate carries only its path, source and errors.
CURATED_SCHEMA = pa.schema(
    [*_SILVER.arrow_fields(SILVER_COLUMNS), pa.field("source", pa.string()),
     pa.field("functions", pa.list_(pa.struct(_FUNCTIONS.arrow_fields(FUNCTION_COLUMNS)))),
     pa.field("errors", pa.list_(pa.struct(_ERRORS.arrow_fields(ERROR_COLUMNS)))),
     pa.field("doc_section", pa.struct(_SECTIONS.arrow_fields(SECTION_COLUMNS))),
     pa.field("qa_thread", pa.struct(_THREADS.arrow_fields(THREAD_COLUMNS)))]
)
CURATED_DDL = (
    f"{_SILVER.spark_ddl(SILVER_COLUMNS)}, source string, "
    f"functions array<struct<{_FUNCTIONS.spark_ddl(FUNCTION_COLUMNS, sep=':')}>>, "
    f"errors array<struct<{_ERRORS.spark_ddl(ERROR_COLUMNS, sep=':')}>>, "
    f"doc_section struct<{_SECTIONS.spark_ddl(SECTION_COLUMNS, sep=':')}>, "
    f"qa_thread struct<{_THREADS.spark_ddl(THREAD_COLUMNS, sep=':')}>"
)
# Output batches stay well under Arrow's 2 GiB per string column whatever the input batch size.
FLUSH_ROWS = 256
FLUSH_BYTES = 64 << 20


def _failure(row: dict, err: Exception) -> CuratedFile:
    message = f"{type(err).__name__}: {err}"
    return CuratedFile({}, [], [{"path": row["path"], "stage": "curate", "kind": E.CURATE_FAILED, "message": message}])


def curate_partition(batches, licenses: dict[str, str | None], limits: CurateLimits,
                     document_kinds: dict[str, str] | None = None):
    """``mapInArrow`` body: bronze rows in, one curated row (with nested functions/errors) out.

    ``document_kinds`` maps a source spec to the kind of document its records are (``docs``)."""
    inputs = ("repo_id", "repo_url", "commit_sha", "path", "content", "blob_sha", "license_spdx", "source")
    out: dict[str, list] = {name: [] for name in CURATED_SCHEMA.names}
    pending_bytes = 0
    for batch in batches:
        columns = {name: batch.column(name).to_pylist() for name in inputs}
        for i in range(batch.num_rows):
            row = {name: columns[name][i] for name in inputs}
            out_row = _curated_row(row, licenses, limits, (document_kinds or {}).get(row["source"]))
            for name in CURATED_SCHEMA.names:
                out[name].append(out_row.get(name))
            pending_bytes += len(row["content"] or b"")
            if len(out["path"]) >= FLUSH_ROWS or pending_bytes >= FLUSH_BYTES:
                yield pa.RecordBatch.from_pydict(out, schema=CURATED_SCHEMA)
                out = {name: [] for name in CURATED_SCHEMA.names}
                pending_bytes = 0
    if out["path"]:
        yield pa.RecordBatch.from_pydict(out, schema=CURATED_SCHEMA)


def _curated_row(row: dict, licenses: dict[str, str | None], limits: CurateLimits, kind: str | None) -> dict:
    license_spdx = row["license_spdx"] or licenses.get(row["repo_id"])
    try:
        curated = curate_file(row["repo_id"], row["repo_url"], row["commit_sha"], row["path"], row["content"],
                              row["blob_sha"], license_spdx, limits, kind)
    except Exception as err:  # one pathological file must not fail the task
        curated = _failure(row, err)
    if not curated.silver:  # failed file: only its error goes on
        return {"path": row["path"], "source": row["source"], "functions": [], "errors": curated.errors}
    return {**curated.silver, "source": row["source"], "functions": curated.functions, "errors": curated.errors,
            "doc_section": curated.doc_section, "qa_thread": curated.qa_thread}


def curated_dataframe(spark, bronze_rows, licenses: dict[str, str | None], limits: CurateLimits,
                      document_kinds: dict[str, str] | None = None):
    """Curate a DataFrame of bronze rows (+ optional per-row license_spdx and source columns)."""
    from pyspark.sql import functions as F

    columns = set(bronze_rows.columns)
    if "license_spdx" not in columns:
        bronze_rows = bronze_rows.withColumn("license_spdx", F.lit(None).cast("string"))
    if "source" not in columns:
        bronze_rows = bronze_rows.withColumn("source", F.col("repo_url"))
    selected = bronze_rows.select("repo_id", "repo_url", "commit_sha", "path", "content", "blob_sha",
                                  "license_spdx", "source")
    curate = partial(curate_partition, licenses=licenses, limits=limits, document_kinds=document_kinds or {})
    return selected.mapInArrow(curate, CURATED_DDL)
