"""A run shorter than an epoch ends its train stream at the blocks it will train on.

``training.data.packed_dataset(max_blocks=N)`` on real Ray Data over a gold table of standard
library modules (code nobody here wrote): the limited stream, with and without a resume skip,
must give exactly the blocks the unlimited stream gives at the same positions, so the data
position and resume keep their meaning.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_config
from tests.fixtures.train import corpus_rows, saved_corpus_tokenizer, write_gold
from training.data import DataSpec, configure_data_context, packed_dataset

pytestmark = pytest.mark.integration
SEQ = 64


def _blocks(dataset) -> list[np.ndarray]:
    return [np.asarray(row["input_ids"]) for row in dataset.iter_rows()]


def test_a_limited_stream_is_the_head_of_the_full_one_with_and_without_a_skip(tmp_path, monkeypatch):
    import ray

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # one auth mode for every Ray the suite starts
    config = make_config(tmp_path / "lake")
    rows = [dict(row, split="train") for row in corpus_rows()]
    version = write_gold(config, rows)
    _, tokenizer = saved_corpus_tokenizer(tmp_path / "tokenizer")
    spec = DataSpec(str(config.lake.table_path("gold.training_corpus")), version, str(tmp_path / "tokenizer"), SEQ,
                    fim_rate=0.5, seed=3)
    eos = tokenizer.eos_token_id
    ray.init(num_cpus=2, object_store_memory=1 << 29, include_dashboard=False)
    try:
        configure_data_context()
        full = _blocks(packed_dataset(spec, "train", eos))
        assert len(full) > 40  # the split is far longer than the runs below
        head = _blocks(packed_dataset(spec, "train", eos, max_blocks=12))
        resumed = _blocks(packed_dataset(spec, "train", eos, skip_blocks=10, max_blocks=12))
    finally:
        ray.shutdown()
    assert len(head) == 12 and all(np.array_equal(a, b) for a, b in zip(head, full[:12], strict=True))
    assert len(resumed) == 12 and all(np.array_equal(a, b) for a, b in zip(resumed, full[10:22], strict=True))
