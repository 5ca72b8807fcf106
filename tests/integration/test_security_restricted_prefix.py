"""The storage permission is the boundary: with ``<lake>/restricted/`` at mode 000, metadata still
answers and raw bytes cannot be read by anyone without the permission (real Spark ingest, Delta,
DuckDB fast path, a POSIX file mode).

Root reads through any mode, so as root the checks run in a subprocess under ``nobody`` (uid
65534, via ``setpriv``); as any other user they run as that user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from deltalake import DeltaTable

from data_platform.ingest.finish import pipeline_stages
from data_platform.ingest.run import run_ingest
from tests.conftest import make_config
from tests.fixtures.repos import package_repo

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

NOBODY = 65534
SETTINGS = ["quality.validate_tables=[]", "quality.report_after_ingest=false",
            "gold.split_ratios={train: 1.0, valid: 0.0, test: 0.0}"]
REPO_ROOT = Path(__file__).resolve().parents[2]


def _as_reader(argv: list[str], home: Path) -> subprocess.CompletedProcess:
    """Run argv as a user the restricted prefix keeps out: this one, or nobody when this is root."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: no unprivileged uid to check the permission with")
        prefix = [setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    env = {key: value for key, value in os.environ.items() if key != "CODEMILL_LAKE"}
    env.update(HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([*prefix, *argv], capture_output=True, text=True, env=env, timeout=300, cwd=home)


@pytest.fixture(scope="module")
def locked_lake(spark):
    # A world-traversable place (pytest's tmp dirs are 0700 root): only the prefix is closed.
    scratch = Path(tempfile.mkdtemp(prefix="codemill-restricted-"))
    scratch.chmod(0o755)
    home = scratch / "home"
    home.mkdir()
    home.chmod(0o777)
    config = make_config(scratch / "lake", *SETTINGS)
    repo = package_repo(scratch / "repo", "mdurl", {"config/prod.env": "DB_PASSWORD=hunter2\n"})
    result = run_ingest(spark, config, [str(repo)], run_id="locked-1", stages=pipeline_stages(),
                        echo=lambda line: None)
    assert result.status == "succeeded"
    for path in (scratch / "lake").rglob("*"):  # as a shared lake would be: readable, but for the prefix
        path.chmod(0o755 if path.is_dir() else 0o644)
    restricted = config.lake.restricted_root
    assert {p.relative_to(restricted).as_posix() for p in restricted.glob("*/*")} >= {"bronze/file_contents"}
    restricted.chmod(0o000)
    yield config, home
    restricted.chmod(0o700)
    shutil.rmtree(scratch, ignore_errors=True)


def _sql(config, home: Path, statement: str, *flags: str) -> subprocess.CompletedProcess:
    return _as_reader([sys.executable, "-m", "codemill.cli.main", "sql", statement, "--format", "csv",
                       "--engine", "duckdb", *flags, f"lake.root={config.lake.root}"], home)


def test_metadata_answers_while_the_restricted_prefix_is_closed(locked_lake):
    config, home = locked_lake
    for table in ("bronze.files", "bronze.repos", "silver.files", "gold.training_corpus"):
        done = _sql(config, home, f"SELECT count(*) AS n FROM {table}")
        assert done.returncode == 0, f"{table}: {done.stdout}\n{done.stderr}"
        header, count = done.stdout.split()
        assert header == "n" and int(count) > 0, table
    expected = len(DeltaTable(str(config.lake.table_path("bronze.files"))).to_pyarrow_table())
    done = _sql(config, home, "SELECT count(*) AS n FROM bronze.files WHERE path = 'config/prod.env'")
    assert done.returncode == 0 and done.stdout.split()[1] == "1" and expected > 1


def test_raw_bytes_cannot_be_read_even_with_the_flag(locked_lake):
    config, home = locked_lake
    refused = _sql(config, home, "SELECT content FROM bronze.file_contents")
    assert refused.returncode != 0 and "restricted" in refused.stderr
    allowed = _sql(config, home, "SELECT content FROM bronze.file_contents", "--allow-restricted")
    assert allowed.returncode != 0 and "hunter2" not in allowed.stdout
    contents = config.lake.table_path("bronze.file_contents")
    direct = _as_reader([sys.executable, "-c", f"from deltalake import DeltaTable; DeltaTable({str(contents)!r})"], home)
    assert direct.returncode != 0 and "hunter2" not in direct.stdout
    listing = _as_reader(["ls", str(config.lake.restricted_root)], home)
    assert listing.returncode != 0 and "ermission denied" in listing.stderr
