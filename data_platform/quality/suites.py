"""Expectation suites as plain data, derived from the table contracts plus semantic files.

Two sources make a table's suite:

* the contract (``schemas/<table>.yaml``): column presence (exact set), one type check per
  column, not-null for required columns, key uniqueness, and any ``expectations:`` entries
  the contract itself lists;
* the semantic file (``schemas/expectations/<table>.yaml``): value sets, ranges, patterns and
  cross-row ``checks`` that need more than one row at a time.

Everything here is pure Python (no Great Expectations, no Spark), so unit tests can inspect a
suite; :mod:`data_platform.quality.gx_runner` turns the specs into GE expectation objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from data_platform.config import PlatformConfig
from data_platform.contracts import SCHEMAS_DIR, TableContract, contract
from data_platform.languages import known_languages
from data_platform.quality.results import expectation_label
from data_platform.settings.refine import refine_sections

EXPECTATIONS_DIR = SCHEMAS_DIR / "expectations"

# Contract types (Spark DDL) → the pyspark.sql.types class GE checks with isinstance.
_SPARK_TYPE_CLASS = {
    "string": "StringType",
    "binary": "BinaryType",
    "boolean": "BooleanType",
    "int": "IntegerType",
    "bigint": "LongType",
    "double": "DoubleType",
    "float": "FloatType",
    "date": "DateType",
    "timestamp": "TimestampType",
}
DEFAULT_SPLIT_FRACTIONS = {"train": 0.9, "valid": 0.05, "test": 0.05}

# Row-level: a failure names rows, and those rows can be quarantined while the rest publishes.
# Table-level (schema, types, uniqueness, row counts, splits): a failure is about the whole
# version and blocks publication.
ROW_LEVEL_TYPES = frozenset(
    {
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_in_set",
        "expect_column_values_to_be_between",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_match_regex",
        "expect_column_values_to_not_match_regex",
        "expect_column_values_to_match_regex_list",
        "expect_column_values_to_not_match_regex_list",
        "expect_column_value_lengths_to_be_between",
        "expect_column_pair_values_a_to_be_greater_than_b",
    }
)
ROW, TABLE = "row", "table"
# Cross-row checks computed with Spark (checks.py, row_checks.py) and their scope.
KNOWN_CHECKS = {
    "no_pii_left": ROW,
    "no_benchmark_contamination": ROW,
    "one_split_per_repo": TABLE,
    "split_fractions_near_config": TABLE,
    "splits_not_empty": TABLE,
    "one_language_per_code_block": ROW,  # array_checks.py: paired arrays of one row
    "one_score_per_answer": ROW,
}


class SuiteError(ValueError):
    """A semantic expectation file is malformed or names something that does not exist."""


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation: GE's snake_case type name and its keyword arguments."""

    type: str
    kwargs: dict[str, Any]
    source: str  # "contract" or "semantic"
    why: str = ""

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or self.kwargs.get("column_A")

    @property
    def label(self) -> str:
        """Short name used in summaries and ops.quality_results."""
        return expectation_label(self.type, self.kwargs)

    @property
    def scope(self) -> str:
        return ROW if self.type in ROW_LEVEL_TYPES else TABLE


@dataclass(frozen=True)
class CheckSpec:
    """A check computed with Spark (see checks.py and row_checks.py)."""

    name: str
    why: str = ""

    @property
    def label(self) -> str:
        return check_label(self.name)

    @property
    def scope(self) -> str:
        return KNOWN_CHECKS[self.name]


CHECK_COLUMNS = {
    "no_pii_left": "text",
    "no_benchmark_contamination": "text",
    "one_split_per_repo": "repo_id,split",
    "split_fractions_near_config": "repo_id,split",
    "splits_not_empty": "split",
    "one_language_per_code_block": "code_blocks,code_languages",
    "one_score_per_answer": "answers,answer_scores",
}


def check_label(name: str) -> str:
    """``check:one_split_per_repo(repo_id,split)``: the label outcomes and reports use."""
    return f"check:{name}({CHECK_COLUMNS.get(name, '')})"


@dataclass(frozen=True)
class SuiteSpec:
    table: str
    expectations: tuple[ExpectationSpec, ...]
    checks: tuple[CheckSpec, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        # GE stores suites as files named after the suite: keep it filename-friendly.
        return self.table.replace(".", "__")


def spark_type_class(type_name: str) -> str:
    text = type_name.strip().lower()
    if text in _SPARK_TYPE_CLASS:
        return _SPARK_TYPE_CLASS[text]
    if text.startswith("array<"):
        return "ArrayType"
    if text.startswith("map<"):
        return "MapType"
    raise SuiteError(f"no Spark type class for contract type {type_name!r}")


def contract_expectations(table: TableContract) -> list[ExpectationSpec]:
    """Structural expectations implied by a contract's columns and keys."""
    specs = [
        ExpectationSpec(
            "expect_table_columns_to_match_set",
            {"column_set": table.column_names, "exact_match": True},
            "contract",
            "columns exactly as the contract lists them",
        )
    ]
    for column in table.columns:
        specs.append(
            ExpectationSpec(
                "expect_column_values_to_be_of_type",
                {"column": column.name, "type_": spark_type_class(column.type)},
                "contract",
            )
        )
        if not column.nullable:
            specs.append(
                ExpectationSpec("expect_column_values_to_not_be_null", {"column": column.name}, "contract")
            )
    if len(table.keys) == 1:
        specs.append(
            ExpectationSpec("expect_column_values_to_be_unique", {"column": table.keys[0]}, "contract", "key")
        )
    elif table.keys:
        specs.append(
            ExpectationSpec(
                "expect_compound_columns_to_be_unique", {"column_list": list(table.keys)}, "contract", "key"
            )
        )
    for entry in table.expectations:
        specs.append(_spec_from_entry(entry, "contract", table.name))
    return specs


def allowed_languages(config: PlatformConfig) -> list[str]:
    """Languages gold may hold: quality.languages, else filters.allowed_languages, else every id
    curation assigns (one canonical id per Pygments lexer: an alias such as 'py' or a
    capitalised name such as 'Python' fails, as a writer that bypassed curation would)."""
    if config.quality.languages:
        return list(config.quality.languages)
    filters = refine_sections(config).filters
    if filters.allowed_languages:
        return list(filters.allowed_languages)
    return list(known_languages())


def expected_split_fractions(config: PlatformConfig) -> dict[str, float]:
    """Share of repositories per split: quality.split_fractions, else the gold split's split_ratios."""
    if config.quality.split_fractions:
        return dict(config.quality.split_fractions)
    ratios = refine_sections(config).gold.split_ratios
    return dict(ratios) if ratios else dict(DEFAULT_SPLIT_FRACTIONS)


def suite_parameters(config: PlatformConfig) -> dict[str, Any]:
    """Values that semantic files refer to as ``{param: NAME}``."""
    return {
        "languages": allowed_languages(config),
        # Gold holds only what the license policy lets through; other classes mean a filter bug.
        "license_classes": refine_sections(config).filters.gold_license_classes(),
        "splits": sorted(expected_split_fractions(config)),
    }


def _resolve(value: Any, params: dict[str, Any], where: str) -> Any:
    if isinstance(value, dict) and set(value) == {"param"}:
        name = value["param"]
        if name not in params:
            raise SuiteError(f"{where}: unknown parameter {name!r}; known: {', '.join(sorted(params))}")
        return params[name]
    if isinstance(value, dict):
        return {k: _resolve(v, params, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params, where) for v in value]
    return value


def _spec_from_entry(entry: dict[str, Any], source: str, where: str, params: dict[str, Any] | None = None):
    if not isinstance(entry, dict) or "type" not in entry:
        raise SuiteError(f"{where}: each expectation needs a 'type' (got {entry!r})")
    unknown = set(entry) - {"type", "kwargs", "why"}
    if unknown:
        raise SuiteError(f"{where}: unknown keys {sorted(unknown)} in expectation {entry['type']}")
    kwargs = _resolve(dict(entry.get("kwargs") or {}), params or {}, where)
    return ExpectationSpec(str(entry["type"]), kwargs, source, str(entry.get("why", "")))


@cache
def _read_semantic_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise SuiteError(f"{path.name} is not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path.name} must hold a mapping")
    return data


def semantic_file(table_name: str, directory: Path = EXPECTATIONS_DIR) -> Path:
    return directory / f"{table_name}.yaml"


def semantic_expectations(
    table_name: str, params: dict[str, Any], directory: Path = EXPECTATIONS_DIR
) -> tuple[list[ExpectationSpec], list[CheckSpec]]:
    """Expectations and checks of ``schemas/expectations/<table>.yaml`` (none if absent)."""
    path = semantic_file(table_name, directory)
    if not path.exists():
        return [], []
    data = _read_semantic_file(path)
    if data.get("table", table_name) != table_name:
        raise SuiteError(f"{path.name} declares table {data['table']!r}, expected {table_name!r}")
    unknown = set(data) - {"table", "expectations", "checks"}
    if unknown:
        raise SuiteError(f"{path.name}: unknown keys {sorted(unknown)}")
    specs = [_spec_from_entry(e, "semantic", path.name, params) for e in data.get("expectations") or []]
    checks = []
    for entry in data.get("checks") or []:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if name not in KNOWN_CHECKS:
            raise SuiteError(f"{path.name}: unknown check {name!r}; known: {', '.join(KNOWN_CHECKS)}")
        checks.append(CheckSpec(name, entry.get("why", "") if isinstance(entry, dict) else ""))
    return specs, checks


def _check_columns(table: TableContract, specs: list[ExpectationSpec]) -> None:
    names = set(table.column_names)
    for spec in specs:
        mentioned = [spec.kwargs[k] for k in ("column", "column_A", "column_B") if k in spec.kwargs]
        mentioned += list(spec.kwargs.get("column_list", []))
        missing = [column for column in mentioned if column not in names]
        if missing:
            raise SuiteError(f"{table.name}: {spec.type} names unknown columns {missing}")


def build_suite(table_name: str, config: PlatformConfig, directory: Path = EXPECTATIONS_DIR) -> SuiteSpec:
    """The full suite of a table: contract-derived expectations, then semantic ones and checks."""
    table = contract(table_name)
    specs = contract_expectations(table)
    semantic, checks = semantic_expectations(table_name, suite_parameters(config), directory)
    specs.extend(semantic)
    extra_dir = config.quality.extra_expectations_dir
    if extra_dir:
        extra, extra_checks = semantic_expectations(table_name, suite_parameters(config), Path(extra_dir).expanduser())
        specs.extend(extra)
        checks = checks + [check for check in extra_checks if check.name not in {c.name for c in checks}]
    if not config.pii.enabled:
        # Redaction is off (pii.enabled=false): gold text is meant to hold PII, so the check that
        # it was redacted would quarantine every such file. Gold is then as restricted as bronze.
        checks = [check for check in checks if check.name != "no_pii_left"]
    _check_columns(table, specs)
    labels = [spec.label for spec in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        # Results are matched to expectations by label: two alike would be indistinguishable.
        raise SuiteError(f"{table_name}: expectations listed twice: {', '.join(repeated)}")
    return SuiteSpec(table_name, tuple(specs), tuple(checks))
