"""`codemill train` with `train.mixture`: the real CLI reports the realised token shares per kind.

A small published gold version holds all four kinds (code, notebook, docs, qa) in skewed
amounts; a tiny model built from its config trains one step in a fresh `codemill` process with
a mixture unlike gold's own shares. The run's summary, its `mixture.json` and the lineage its
checkpoint carries all report the realised shares, each within ±2 points of the configured one.
(tests/integration/test_train_mixture_stream.py checks that Ray Data streams what the plan says.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import make_config
from tests.fixtures.train import kind_rows, publish, write_gold
from training.loop import LINEAGE_FILE

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1200)]

MIXTURE = {"code": 0.7, "notebook": 0.1, "docs": 0.1, "qa": 0.1}
GOLD = {"code": 900, "notebook": 40, "docs": 150, "qa": 60}  # gold's own shares: ≈ 78/3/13/5 %


def test_codemill_train_reports_realised_mixture_within_two_points(tmp_path):
    lake = tmp_path / "lake"
    config = make_config(lake)
    publish(config, write_gold(config, kind_rows(GOLD)))
    mixture = "{" + ", ".join(f"{kind}: {share}" for kind, share in MIXTURE.items()) + "}"
    env = {key: value for key, value in os.environ.items() if key != "CODEMILL_LAKE"} | {"RAY_AUTH_MODE": "disabled"}
    done = subprocess.run(
        [sys.executable, "-m", "codemill.cli.main", "train", "--model", "tiny", "--workers", "1", "--zero-stage", "2",
         "--max-steps", "1", "--run-name", "mixed", f"lake.root={lake}", f"train.mixture={mixture}",
         "train.seq_len=128", "train.micro_batch_size=2", "train.eval_every=0", "train.warmup_steps=0",
         "train.export=false"],
        capture_output=True, text=True, env=env, timeout=1100)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "steps: 1" in done.stdout

    line = next(line for line in done.stdout.splitlines() if line.startswith("mixture (token shares"))
    printed = dict(part.strip().split(" ") for part in line.split(": ", 1)[1].split(","))
    artifacts = next((lake / "_train" / "mixed").rglob("mixture.json")).parent
    plan = json.loads((artifacts / "mixture.json").read_text())
    lineage = json.loads(next((lake / "_train").rglob(LINEAGE_FILE)).read_text())["mixture"]
    assert lineage["shares"] == plan["shares"] and plan["configured"] == MIXTURE
    gold_tokens = plan["gold_tokens"]
    for kind, share in MIXTURE.items():
        assert abs(plan["shares"][kind] - share) <= 0.02, (kind, plan["shares"])
        assert printed[kind] == f"{plan['shares'][kind]:.3f}/{share:.3f}"
        # gold alone is far from the mixture for the scarce kinds: the sampling did the work
    assert gold_tokens["notebook"] / sum(gold_tokens.values()) < 0.05 < plan["shares"]["notebook"]
