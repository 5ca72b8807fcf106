"""train.mixture in the real Ray Data stream: the documents streamed are the ones the run reports.

A gold-shaped Delta table (delta-rs) with code, docs and Q&A documents of skewed sizes; the
streaming pipeline's document stage (``training.data.document_dataset``) samples it with the
plan ``training.mixture.plan_mixture`` computes on the driver. The token shares of what Ray
Data actually streams must equal the plan's realised shares, and be within ±2 points of the
configured mixture.
"""

from __future__ import annotations

import random

import pyarrow as pa
import pytest
from deltalake import write_deltalake

from training.data import DataSpec, document_dataset
from training.mixture import plan_mixture

pytestmark = pytest.mark.integration
MIXTURE = {"code": 0.8, "docs": 0.1, "qa": 0.1}


def _gold(path) -> dict[str, tuple[str, int]]:
    rng = random.Random(3)
    rows = [(f"code-{i}", "code", rng.randint(50, 3000)) for i in range(1500)]
    rows += [(f"docs-{i}", "docs", rng.randint(30, 600)) for i in range(300)]
    rows += [(f"qa-{i}", "qa", rng.randint(80, 900)) for i in range(200)]
    rows += [(f"valid-{i}", "code", 100) for i in range(20)]
    table = pa.table({
        "doc_id": [r[0] for r in rows], "text": [f"text of {r[0]}" for r in rows],
        "split": ["valid" if r[0].startswith("valid") else "train" for r in rows],
        "source_kind": [r[1] for r in rows], "token_count": pa.array([r[2] for r in rows], pa.int64()),
    })
    write_deltalake(str(path), table)
    return {doc_id: (kind, tokens) for doc_id, kind, tokens in rows}


def test_the_stream_samples_what_the_plan_reports(tmp_path, monkeypatch):
    import ray

    # Every local Ray of the suite runs without token auth: a driver process keeps the auth mode
    # of its first ray.init, so mixing modes between tests breaks the next cluster's start.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")

    gold = _gold(tmp_path / "gold")
    plan = plan_mixture(str(tmp_path / "gold"), 0, "train", MIXTURE, seed=5)
    spec = DataSpec(str(tmp_path / "gold"), 0, "unused", 64, fim_rate=0.0, seed=5, mixture_rates=plan["rates"])
    ray.init(num_cpus=2, object_store_memory=1 << 29, include_dashboard=False)
    try:
        streamed = [row["doc_id"] for row in document_dataset(spec, "train").iter_rows()]
    finally:
        ray.shutdown()
    tokens = dict.fromkeys(MIXTURE, 0)
    for doc_id in streamed:
        kind, count = gold[doc_id.split("#copy")[0]]
        tokens[kind] += count
    total = sum(tokens.values())
    assert total == plan["tokens"]
    for kind, share in MIXTURE.items():
        assert tokens[kind] / total == pytest.approx(plan["shares"][kind])
        assert abs(tokens[kind] / total - share) <= 0.02, (kind, tokens)
    assert any("#copy" in doc_id for doc_id in streamed)  # scarce docs are repeated
    assert not any(doc_id.startswith("valid") for doc_id in streamed)
