"""A corpus smaller than one global batch is padded and repeated, not refused (row logic, no Ray)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import make_config
from tests.fixtures.train import corpus_rows, saved_corpus_tokenizer, write_gold
from training.data import DataSpec
from training.packing import IGNORE_INDEX, unpack_tokens
from training.small_corpus import MAX_BYTES_PER_TOKEN, repeat_to, small_split, split_bytes


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    return saved_corpus_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def _spec(config, version, tokenizer_dir, seq_len=64, **extra) -> DataSpec:
    return DataSpec(str(config.lake.table_path("gold.training_corpus")), version, str(tokenizer_dir), seq_len,
                    fim_rate=0.0, **extra)


def test_a_tiny_split_is_padded_once_and_repeated_to_one_global_batch(tmp_path, tokenizer_dir):
    folder, tokenizer = tokenizer_dir
    config = make_config(tmp_path / "lake")
    rows = [dict(row, split="train", text=row["text"][:150], size_bytes=len(row["text"][:150].encode()))
            for row in corpus_rows()[:3]]
    version = write_gold(config, rows)
    eos = tokenizer.eos_token_id
    small = small_split(_spec(config, version, folder), "train", eos, target_blocks=8)

    assert small is not None and small.target_blocks == 8 and len(small.blocks) == 8
    documents = [tokenizer(row["text"], add_special_tokens=False)["input_ids"]
                 for row in sorted(rows, key=lambda r: r["doc_id"])]
    stream = [token for ids in documents for token in [*ids, eos]]
    real = small.blocks[: small.real_blocks]
    assert unpack_tokens(real) == stream and small.tokens == len(stream)  # nothing lost, nothing added
    assert small.real_blocks == -(-len(stream) // 64) < 8
    last = real[-1]
    padding = last.labels == IGNORE_INDEX
    assert padding.sum() == small.real_blocks * 64 - len(stream) and not padding[: 64 - padding.sum()].any()
    for index, block in enumerate(small.blocks):  # repeated in order
        assert np.array_equal(block.input_ids, real[index % small.real_blocks].input_ids)
    assert "fewer than one global batch of 8 blocks" in small.warning() and "padded" in small.warning()


def test_a_split_that_fills_a_step_streams_as_before(tmp_path, tokenizer_dir):
    folder, tokenizer = tokenizer_dir
    config = make_config(tmp_path / "lake")
    version = write_gold(config, [dict(row, split="train") for row in corpus_rows()])
    spec = _spec(config, version, folder)
    documents, size = split_bytes(spec, "train")
    assert documents == len(corpus_rows()) and size == sum(row["size_bytes"] for row in corpus_rows())
    assert small_split(spec, "train", tokenizer.eos_token_id, target_blocks=8) is None  # packs into more
    assert size > MAX_BYTES_PER_TOKEN * 1 * 16  # and this one is not even tokenised on the driver:
    assert small_split(_spec(config, version, folder, seq_len=16), "train", tokenizer.eos_token_id, 1) is None
    assert small_split(spec, "test", tokenizer.eos_token_id, 8) is None  # an empty split is not "small"


def test_repeat_to_cycles_and_never_drops():
    assert repeat_to([1, 2, 3], 7) == [1, 2, 3, 1, 2, 3, 1]
    assert repeat_to([1, 2, 3], 2) == [1, 2, 3]
