"""Docs of table columns come from the contracts: docs/tables.md is generated, architecture.md checked."""

import re
from pathlib import Path

from data_platform.contracts import all_contracts, columns_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_docs_tables_md_is_the_generated_reference():
    written = (ROOT / "docs" / "tables.md").read_text()
    assert written == columns_markdown(), "docs/tables.md is stale: run `codemill tables docs > docs/tables.md`"


def test_reference_lists_every_column_of_every_contract():
    text = columns_markdown()
    for name, table in all_contracts().items():
        section = text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]
        assert re.findall(r"^\| `(\w+)` \|", section, re.M) == table.column_names


def test_columns_named_in_the_architecture_tables_table_exist():
    """Each row of docs/architecture.md's table list names only columns its tables' contracts have."""
    contracts = all_contracts()
    rows = [line for line in (ROOT / "docs" / "architecture.md").read_text().splitlines()
            if line.startswith("| `") and any(f"`{name}`" in line.split("|")[1] for name in contracts)]
    assert len(rows) >= 10
    for row in rows:
        cells = row.split("|")
        tables = [contracts[name] for name in re.findall(r"`([\w.]+)`", cells[1])]
        columns = {column for table in tables for column in table.column_names}
        named = re.findall(r"`(\w+)`", cells[2])
        assert set(named) <= columns, f"{cells[1].strip()}: {sorted(set(named) - columns)} not in the contract"
