"""The eval blocks a training run scores, packed by the driver (training.valid_set; no Ray).

The truth is computed apart from the code under test: each data file of the table version is
read with pyarrow.parquet in path order, and the split's documents are tokenised one by one
and concatenated with EOS between them, as the train stream packs them.
"""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import make_config
from tests.fixtures.train import corpus_rows, saved_corpus_tokenizer, write_gold
from training.data import DataSpec
from training.packing import IGNORE_INDEX
from training.valid_set import valid_blocks

SEQ = 64


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
    return saved_corpus_tokenizer(tmp_path_factory.mktemp("tokenizer"))


def _spec(config, version, folder, fim_rate: float = 0.0, **extra) -> DataSpec:
    return DataSpec(str(config.lake.table_path("gold.training_corpus")), version, str(folder), SEQ,
                    fim_rate=fim_rate, **extra)


def _stream(config, version, tokenizer, split: str) -> list[int]:
    """The split's token stream: data files in path order, rows in file order, EOS after each document."""
    from deltalake import DeltaTable

    table_path = config.lake.table_path("gold.training_corpus")
    stream = []
    for name in sorted(DeltaTable(str(table_path), version=version).file_uris()):
        rows = pq.read_table(name, columns=["split", "text"]).to_pylist()
        for row in rows:
            if row["split"] == split:
                stream += [*tokenizer(row["text"], add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
    return stream


@pytest.fixture
def two_file_gold(tmp_path):
    """gold.training_corpus with its valid documents spread over two data files."""
    config = make_config(tmp_path / "lake")
    rows = corpus_rows()
    write_gold(config, [dict(row, split="valid") for row in rows[:6]] + [dict(row, split="train") for row in rows[6:9]])
    version = write_gold(config, [dict(row, split="valid") for row in rows[9:14]])
    return config, version


def test_the_first_blocks_of_the_split_in_file_order(two_file_gold, tokenizer_dir):
    config, version = two_file_gold
    folder, tokenizer = tokenizer_dir
    stream = _stream(config, version, tokenizer, "valid")
    assert len(stream) > 12 * SEQ  # enough for the blocks asked for, from more than the first file

    valid = valid_blocks(_spec(config, version, folder), "valid", tokenizer.eos_token_id, count=12, minimum=4)

    assert not valid.padded and valid.warning() is None and valid.real_blocks == len(valid.blocks) == 12
    blocks = np.stack([block.input_ids for block in valid.blocks])
    assert blocks.reshape(-1).tolist() == stream[: 12 * SEQ]
    assert valid.tokens == 12 * SEQ and all((block.labels == block.input_ids).all() for block in valid.blocks)
    # The same blocks every time: every eval of a run (and of its resumed attempts) scores the same text.
    again = valid_blocks(_spec(config, version, folder), "valid", tokenizer.eos_token_id, count=12, minimum=4)
    assert all(np.array_equal(a.input_ids, b.input_ids) for a, b in zip(valid.blocks, again.blocks, strict=True))


def test_each_rank_gets_every_world_th_block_and_nothing_else(two_file_gold, tokenizer_dir):
    config, version = two_file_gold
    folder, tokenizer = tokenizer_dir
    valid = valid_blocks(_spec(config, version, folder), "valid", tokenizer.eos_token_id, count=12, minimum=4)
    shards = [valid.shard(rank, 3) for rank in range(3)]
    assert [shard["input_ids"].shape for shard in shards] == [(4, SEQ)] * 3
    for rank, shard in enumerate(shards):
        assert shard["input_ids"].dtype == np.int64 and shard["labels"].dtype == np.int64
        for index, row in enumerate(shard["input_ids"]):
            assert np.array_equal(row, valid.blocks[rank + 3 * index].input_ids)


def test_a_split_shorter_than_one_micro_batch_per_worker_is_padded_and_repeated(tmp_path, tokenizer_dir):
    folder, tokenizer = tokenizer_dir
    config = make_config(tmp_path / "lake")
    row = corpus_rows()[0]
    version = write_gold(config, [dict(row, split="valid", text=row["text"][:60], size_bytes=60)])
    stream = _stream(config, version, tokenizer, "valid")
    assert len(stream) < SEQ

    valid = valid_blocks(_spec(config, version, folder), "valid", tokenizer.eos_token_id, count=16, minimum=4)

    assert valid.padded and valid.real_blocks == 1 and len(valid.blocks) == 4 and valid.tokens == len(stream)
    first = valid.blocks[0]
    assert first.input_ids[: len(stream)].tolist() == stream
    assert (first.labels[len(stream):] == IGNORE_INDEX).all() and (first.labels[: len(stream)] != IGNORE_INDEX).all()
    assert all(np.array_equal(block.input_ids, first.input_ids) for block in valid.blocks)
    assert "fewer than one micro-batch per worker" in valid.warning() and f"({len(stream)} tokens)" in valid.warning()


def test_max_documents_caps_what_is_read_and_an_empty_split_gives_none(two_file_gold, tokenizer_dir):
    config, version = two_file_gold
    folder, tokenizer = tokenizer_dir
    stream = _stream(config, version, tokenizer, "valid")
    eos = tokenizer.eos_token_id
    first_document = stream[: stream.index(eos) + 1]

    assert len(first_document) > 2 * SEQ

    one = valid_blocks(_spec(config, version, folder, max_documents=1), "valid", eos, count=100, minimum=1)

    assert not one.padded and one.tokens == len(first_document) // SEQ * SEQ  # full blocks of one document
    assert np.concatenate([block.input_ids for block in one.blocks[: one.real_blocks]])[: one.tokens].tolist() \
        == first_document[: one.tokens]
    assert valid_blocks(_spec(config, version, folder), "test", eos, count=4, minimum=1) is None


def test_fim_is_applied_per_document_as_in_the_train_stream(two_file_gold, tokenizer_dir):
    config, version = two_file_gold
    folder, tokenizer = tokenizer_dir
    # 100 blocks span several whole documents, so each sentinel of a transformed document is in them.
    plain = valid_blocks(_spec(config, version, folder), "valid", tokenizer.eos_token_id, count=100, minimum=1)
    fim = valid_blocks(_spec(config, version, folder, fim_rate=1.0), "valid", tokenizer.eos_token_id, count=100,
                       minimum=1)
    assert plain.real_blocks == fim.real_blocks == 100
    fim_ids = set(tokenizer.convert_tokens_to_ids(["<fim_prefix>", "<fim_middle>", "<fim_suffix>"]))
    assert not fim_ids & set(np.concatenate([b.input_ids for b in plain.blocks]).tolist())
    assert fim_ids <= set(np.concatenate([b.input_ids for b in fim.blocks]).tolist())
