"""Held-out scoring batches documents of similar token length, so a batch pads little."""

from __future__ import annotations

from training.evaluation.heldout import length_sorted_batches


def padded_positions(lengths: list[int], batches: list[list[int]]) -> int:
    return sum(max(lengths[i] for i in batch) * len(batch) for batch in batches)


def test_every_document_lands_in_exactly_one_batch_of_at_most_batch_size():
    lengths = [5, 300, 12, 12, 512, 1, 40, 300, 7]
    batches = length_sorted_batches(lengths, 4)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= 4 for batch in batches)
    assert [len(batch) for batch in batches] == [4, 4, 1]


def test_sorted_batches_pad_less_than_table_order():
    # Table order alternates long and short files: each batch of 4 pads three short ones to 512.
    lengths = [512, 20, 30, 25] * 4
    in_order = [list(range(start, start + 4)) for start in range(0, len(lengths), 4)]
    batches = length_sorted_batches(lengths, 4)
    assert padded_positions(lengths, in_order) == 4 * 4 * 512
    assert padded_positions(lengths, batches) == 4 * 512 + 4 * 30 + 4 * 25 + 4 * 20
    assert sum(lengths) <= padded_positions(lengths, batches)


def test_equal_lengths_keep_table_order():
    assert length_sorted_batches([8, 8, 8, 8, 8], 2) == [[0, 1], [2, 3], [4]]
