"""MinHash, shingles, LSH banding and exact keys: pure functions on real code."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from fixtures.refine import add_comments, crlf_with_trailing_spaces, reformat, rename_identifier, stdlib_text

from data_platform.dedup.exact import exact_dup_key
from data_platform.dedup.jaccard import jaccard
from data_platform.dedup.lsh import band_keys, bands_rows_for, collision_probability, optimal_bands_rows
from data_platform.dedup.minhash import estimated_jaccard, signature
from data_platform.dedup.shingles import code_tokens, shingle_hashes, token_hashes


def test_signature_is_bit_identical_to_datasketch_default():
    hashes = np.random.default_rng(7).integers(0, 2**32, 3000, dtype=np.uint64).astype(np.uint32)
    reference = MinHash(num_perm=256, seed=1, hashfunc=lambda value: value)
    reference.update_batch([int(h) for h in hashes])
    assert np.array_equal(signature(hashes, 256, 1), reference.hashvalues)


def test_signature_of_empty_set_is_all_max_and_chunking_does_not_change_it():
    assert (signature(np.zeros(0, np.uint32), 64) == np.uint32(0xFFFFFFFF)).all()
    many = np.arange(20_000, dtype=np.uint32)  # many chunks
    assert np.array_equal(
        signature(many, 64), np.minimum(signature(many[:9000], 64), signature(many[9000:], 64))
    )


def test_tokens_and_their_hashes():
    assert code_tokens("def f(x):\n    return x+1  # é") == [
        "def",
        "f",
        "(",
        "x",
        ")",
        ":",
        "return",
        "x",
        "+",
        "1",
        "#",
        "é",
    ]
    hashes = token_hashes("alpha beta alpha\n\talpha_2 é")
    assert np.array_equal(hashes, token_hashes("alpha beta alpha\n\talpha_2 é"))
    assert hashes[0] == hashes[2] and len(set(hashes.tolist())) == 4
    assert len(token_hashes("")) == 0 and len(shingle_hashes("")) == 0


def test_tokens_ignore_layout():
    assert np.array_equal(
        token_hashes("def f(x):\n    return x+1"), token_hashes("def  f( x ) :\r\n\treturn x + 1")
    )


def test_planted_variants_stay_above_threshold_and_distinct_modules_below():
    base = stdlib_text("textwrap.py")
    variants = [
        rename_identifier(base, "width", "max_width"),
        reformat(base),
        add_comments(base),
        add_comments(reformat(rename_identifier(base, "width", "w2"))),
    ]
    base_set = shingle_hashes(base)
    for variant in variants:
        assert jaccard(base_set, shingle_hashes(variant)) >= 0.8
    assert jaccard(base_set, shingle_hashes(stdlib_text("shlex.py"))) < 0.05


def test_dedup_words_fold_case_and_skip_punctuation():
    # typing modernisation (PEP 585) keeps a file a near-duplicate of itself
    old = "def f(xs: List[int], d: Dict[str, Tuple[int, ...]]) -> Optional[List[str]]: ..."
    new = "def f(xs: list[int], d: dict[str, tuple[int, ...]]) -> Optional[list[str]]: ..."
    assert np.array_equal(shingle_hashes(old), shingle_hashes(new))
    # punctuation carries no weight: a table and the same words in a list are one shingle set
    assert np.array_equal(shingle_hashes("(0x1100, 0x115f, 2),\n(0x2e80, 0x303e, 2),"),
                          shingle_hashes("0x1100 0x115f 2 0x2e80 0x303e 2"))
    # identifiers stay whole (snake_case is one word), non-ASCII letters are word characters
    assert len(shingle_hashes("a_b c d e f", 5)) == 1 and len(shingle_hashes("a b c d e f", 5)) == 2
    assert not np.array_equal(shingle_hashes("café au lait noir sucré"), shingle_hashes("cafe au lait noir sucre"))


def test_estimated_jaccard_tracks_exact_jaccard():
    left, right = (
        shingle_hashes(stdlib_text("shlex.py")),
        shingle_hashes(add_comments(stdlib_text("shlex.py"), every=6)),
    )
    exact = jaccard(left, right)
    assert abs(estimated_jaccard(signature(left), signature(right)) - exact) < 0.1


def test_exact_key_ignores_line_endings_and_trailing_space_only():
    text = stdlib_text("colorsys.py")
    assert exact_dup_key(text) == exact_dup_key(crlf_with_trailing_spaces(text))
    assert exact_dup_key(text) != exact_dup_key(reformat(text))
    assert exact_dup_key(None) is None


def test_bands_rows_match_datasketch_without_verification_and_favour_recall_with_it():
    assert optimal_bands_rows(0.7, 256) == (25, 10)  # datasketch MinHashLSH(0.7, 256) picks (25, 10)
    bands, rows = bands_rows_for(0.7, 256, "exact", None, None)
    assert bands * rows <= 256 and collision_probability(0.7, bands, rows) >= 0.99
    assert collision_probability(0.3, bands, rows) < 0.05
    assert bands_rows_for(0.7, 256, "exact", 16, 16) == (16, 16)


@pytest.mark.parametrize("bands,rows", [(42, 6), (25, 10)])
def test_band_keys_equal_exactly_where_bands_are_equal(bands, rows):
    sig = signature(shingle_hashes(stdlib_text("bisect.py")))
    other = sig.copy()
    other[0] += 1  # only band 0 differs
    left, right = band_keys(sig, bands, rows), band_keys(other, bands, rows)
    assert left.dtype == np.int64 and len(left) == bands
    assert left[0] != right[0] and np.array_equal(left[1:], right[1:])
