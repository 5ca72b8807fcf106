"""FIM and packing on real token sequences: nothing lost, nothing duplicated, deterministic."""

from __future__ import annotations

import sysconfig
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from training.fim import FimTokenIds, apply_fim, document_rng, undo_fim
from training.packing import IGNORE_INDEX, Packer, pack_documents, unpack_tokens


@pytest.fixture(scope="module")
def tokenizer():
    from training.model import train_tiny_tokenizer

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return train_tiny_tokenizer(
        [(stdlib / name).read_text() for name in ("textwrap.py", "bisect.py", "abc.py")], 512
    )


@pytest.fixture(scope="module")
def documents(tokenizer) -> list[list[int]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [
        (stdlib / f"{name}.py").read_text()[:2000]
        for name in ("heapq", "fnmatch", "keyword", "colorsys", "glob")
    ]
    return [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]


@pytest.fixture(scope="module")
def fim(tokenizer) -> FimTokenIds:
    return FimTokenIds.from_tokenizer(tokenizer)


def test_fim_is_a_permutation_plus_three_sentinels(documents, fim):
    seen_psm = seen_spm = 0
    for seed in range(20):
        for index, tokens in enumerate(documents):
            out = apply_fim(tokens, fim, document_rng(seed, str(index)), rate=1.0)
            assert Counter(out) - Counter(tokens) == Counter([fim.prefix, fim.middle, fim.suffix])
            assert undo_fim(out, fim) == tokens
            seen_spm += out[1] == fim.suffix
            seen_psm += out[1] != fim.suffix
    assert seen_psm > 20 and seen_spm > 20  # both orders at spm_rate 0.5


def test_fim_psm_layout(fim):
    tokens = list(range(100, 130))
    rng = np.random.default_rng(3)
    out = apply_fim(tokens, fim, rng, rate=1.0, spm_rate=0.0)
    assert out[0] == fim.prefix
    suffix_at, middle_at = out.index(fim.suffix), out.index(fim.middle)
    prefix, suffix, middle = out[1:suffix_at], out[suffix_at + 1 : middle_at], out[middle_at + 1 :]
    assert prefix + middle + suffix == tokens


def test_fim_rate_and_determinism(documents, fim):
    tokens = documents[0]
    first = [apply_fim(tokens, fim, document_rng(7, f"doc{i}"), rate=0.5) for i in range(400)]
    again = [apply_fim(tokens, fim, document_rng(7, f"doc{i}"), rate=0.5) for i in range(400)]
    assert first == again
    transformed = sum(out != tokens for out in first) / len(first)
    assert 0.4 < transformed < 0.6
    assert all(apply_fim(tokens, fim, document_rng(1, str(i)), rate=0.0) == tokens for i in range(50))


def test_tokenizer_without_fim_tokens_is_refused():
    class Plain:
        unk_token_id = 0

        def convert_tokens_to_ids(self, token):
            return 0

    with pytest.raises(ValueError, match="FIM tokens"):
        FimTokenIds.from_tokenizer(Plain())


@pytest.mark.parametrize("seq_len", [16, 64, 333])
def test_packing_keeps_every_token_once(documents, tokenizer, seq_len):
    eos = tokenizer.eos_token_id
    blocks = pack_documents(documents, seq_len, eos)
    assert all(len(block.input_ids) == seq_len for block in blocks)
    expected = [token for doc in documents for token in [*doc, eos]]
    assert unpack_tokens(blocks) == expected
    # only the flushed last block may carry padding
    assert all((block.labels != IGNORE_INDEX).all() for block in blocks[:-1])


def test_packing_streamed_equals_packing_at_once(documents, tokenizer):
    eos = tokenizer.eos_token_id
    packer = Packer(48, eos)
    streamed = []
    for doc in documents:  # one document per call, as batches arrive
        streamed.extend(packer.add(doc))
    held_back = packer.pending_tokens
    streamed.extend(packer.flush())
    at_once = pack_documents(documents, 48, eos)
    assert [b.input_ids.tolist() for b in streamed] == [b.input_ids.tolist() for b in at_once]
    assert held_back == sum(len(d) + 1 for d in documents) % 48


def test_long_document_spans_blocks_and_labels_match_inputs(tokenizer, documents):
    eos = tokenizer.eos_token_id
    long_doc = documents[0] * 3
    blocks = pack_documents([long_doc], 32, eos, flush=False)
    assert len(blocks) == (len(long_doc) + 1) // 32
    for block in blocks:
        assert (block.labels == block.input_ids).all()
    assert unpack_tokens(blocks) == [*long_doc, eos][: 32 * len(blocks)]
