"""lm.data.dedup: LSH candidate verification and keep-first semantics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm.data.dedup import minhash_dedup, minhash_signatures, near_duplicate_pairs


def test_near_duplicates_sharing_a_bucket_with_a_false_candidate_are_found() -> None:
    # Docs 1 and 2 agree on 7 of 8 rows (Jaccard ~0.875); doc 0 collides with both in band 0 only.
    # Verifying only (first member, other member) pairs of the bucket would reject (0, 1) and
    # (0, 2) and never look at (1, 2).
    signatures = np.array(
        [[1, 1, 1, 1, 10, 11, 12, 13], [1, 1, 1, 1, 5, 5, 5, 5], [1, 1, 1, 1, 5, 5, 5, 6]],
        dtype=np.uint64,
    )
    assert near_duplicate_pairs(signatures, threshold=0.8, bands=2, rows=4) == [(1, 2)]


@pytest.mark.parametrize(
    ("bands", "rows", "threshold", "message"),
    [
        (0, 4, 0.8, "bands=0"),
        (4, 0, 0.8, "rows=0"),
        (4, 4, 0.8, r"bands\*rows=16 exceeds num_perm=8"),
        (2, 4, 1.5, "threshold=1.5"),
    ],
)
def test_near_duplicate_pairs_rejects_bad_banding(bands, rows, threshold, message) -> None:
    signatures = np.zeros((3, 8), dtype=np.uint64)
    with pytest.raises(ValueError, match=message):
        near_duplicate_pairs(signatures, threshold=threshold, bands=bands, rows=rows)


WORDS = [f"w{i}" for i in range(40)]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.sampled_from(WORDS), min_size=12, max_size=12), min_size=1, max_size=6),
    st.lists(st.integers(0, 20), min_size=1, max_size=10),
)
def test_dedup_keeps_first_copy_and_drops_later_exact_copies(
    originals: list[list[str]], copy_of: list[int]
) -> None:
    # Originals draw from disjoint vocabularies, so only the planted copies are near-duplicates.
    docs = [" ".join(f"d{k}{w}" for w in words) for k, words in enumerate(originals)]
    docs += [docs[i % len(docs)] for i in copy_of]  # exact copies planted after the originals
    kept = set(minhash_dedup(docs, threshold=0.9, num_perm=64, ngram=2))
    first = {}
    for i, doc in enumerate(docs):
        first.setdefault(doc, i)
    assert set(first.values()) <= kept  # the first copy of every distinct document survives
    assert all(i not in kept for i, doc in enumerate(docs) if first[doc] != i)


def test_minhash_signatures_same_with_two_processes() -> None:
    docs = [
        f"document {i} " + " ".join(f"w{(i * 7 + k) % 50}" for k in range(30)) for i in range(9)
    ]
    one = minhash_signatures(docs, num_perm=32, ngram=3, chunk_size=4)
    two = minhash_signatures(docs, num_perm=32, ngram=3, chunk_size=4, num_workers=2)
    assert one.shape == (9, 32) and (one == two).all()
