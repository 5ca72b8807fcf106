"""`codemill quality` fails with one clear line on expected problems (no Spark started)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CODEMILL = [str(Path(sys.executable).with_name("codemill"))]


def _codemill(*args, lake):
    env = {**os.environ, "CODEMILL_LAKE": str(lake)}
    return subprocess.run([*CODEMILL, *args], capture_output=True, text=True, env=env, timeout=120)


def test_unknown_table_is_one_line(tmp_path):
    done = _codemill("quality", "run", "--table", "gold.nope", lake=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("unknown table 'gold.nope'")
    assert len(done.stderr.strip().splitlines()) == 1


def test_publish_is_for_gold_only(tmp_path):
    done = _codemill("quality", "run", "--table", "silver.files", "--publish", lake=tmp_path)
    assert done.returncode == 2 and "applies to gold.training_corpus only" in done.stderr


def test_report_without_results_says_what_to_do(tmp_path):
    done = _codemill("quality", "report", lake=tmp_path)
    assert done.returncode == 2
    assert "no quality results yet" in done.stderr and "Traceback" not in done.stderr
