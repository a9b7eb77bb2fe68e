"""Deduplication: exact lines (hash set) and near-duplicate documents (MinHash + LSH).

MinHash (Broder 1997): for a random permutation pi of shingles, P[min pi(A) = min pi(B)] = J(A, B),
the Jaccard similarity; `num_perm` such minima estimate J. LSH (Leskovec+ MMDS ch. 3) cuts the
signature into `b` bands of `r` rows; two documents become candidates when some band matches
exactly, which happens with probability 1 - (1 - J^r)^b: an S-curve whose midpoint is about
(1/b)^(1/r). Every candidate pair is confirmed by its estimated Jaccard, clustered with union-find,
and the first document of each cluster is kept.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from multiprocessing import get_context

import numpy as np

from lm.data.streaming import bounded_imap, chunked

SHINGLE_BLOCK = 2048  # shingles hashed at once: bounds the [num_perm, block] temporaries
_NON_WORD = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")


def exact_line_dedup(documents: Iterable[str]) -> Iterator[tuple[str, int]]:
    """Drop every line already seen earlier in the stream; yields (document, lines removed).

    `["a\\nb", "b\\nc"] -> ("a\\nb", 0), ("c", 1)`. Memory: one 8-byte digest per distinct line.
    """
    seen: set[bytes] = set()
    for doc in documents:
        kept, removed = [], 0
        for line in doc.split("\n"):
            key = hashlib.blake2b(line.encode("utf-8"), digest_size=8).digest()
            if line.strip() and key in seen:
                removed += 1
                continue
            seen.add(key)
            kept.append(line)
        yield "\n".join(kept), removed


def normalize_for_dedup(text: str) -> str:
    """Lower-case, drop accents, punctuation, extra spaces: `"Héllo,  World!" -> "hello world"`."""
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _NON_WORD.sub(" ", text)).strip()


def _shingle_hashes(text: str, ngram: int) -> np.ndarray:
    """32-bit hashes of the word n-grams of the normalised text (whole text if shorter)."""
    words = normalize_for_dedup(text).split()
    if len(words) < ngram:
        grams = [" ".join(words)]
    else:
        grams = [" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]
    digests = b"".join(hashlib.blake2b(g.encode(), digest_size=8).digest() for g in set(grams))
    return np.frombuffer(digests, dtype=np.uint64)


def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Multiply-shift hash coefficients: h -> ((a h + b) mod 2^64) >> 32, a odd (Dietzfelbinger)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 2**64 - 1, size=num_perm, dtype=np.uint64, endpoint=True) | np.uint64(1)
    b = rng.integers(0, 2**64 - 1, size=num_perm, dtype=np.uint64, endpoint=True)
    return a, b


def _signature_chunk(args: tuple[list[str], int, int, int]) -> np.ndarray:
    texts, num_perm, ngram, seed = args
    a, b = _permutations(num_perm, seed)
    out = np.empty((len(texts), num_perm), dtype=np.uint64)
    for i, text in enumerate(texts):
        hashes = _shingle_hashes(text, ngram)  # [num_shingles]
        out[i] = np.iinfo(np.uint64).max
        for start in range(0, len(hashes), SHINGLE_BLOCK):
            h = hashes[start : start + SHINGLE_BLOCK]  # [block]
            # uint64 arithmetic wraps mod 2^64 on purpose; the high 32 bits are the well-mixed ones.
            permuted = (a[:, None] * h[None, :] + b[:, None]) >> np.uint64(32)  # [num_perm, block]
            np.minimum(out[i], permuted.min(axis=1), out=out[i])  # [num_perm]
    return out


def minhash_signatures(
    documents: Iterable[str],
    num_perm: int = 128,
    ngram: int = 5,
    seed: int = 0,
    num_workers: int = 1,
    chunk_size: int = 256,
) -> np.ndarray:
    """MinHash signatures [num_docs, num_perm] (uint64) of word `ngram` shingles.

    Streams: documents are read `chunk_size` at a time, so memory holds a few chunks plus the
    signatures (8 * num_perm bytes per document), never the corpus.
    """
    if num_perm <= 0 or ngram <= 0:
        raise ValueError(
            f"minhash_signatures: num_perm={num_perm!r} and ngram={ngram!r} must be positive"
        )
    jobs = ((chunk, num_perm, ngram, seed) for chunk in chunked(documents, chunk_size))
    head = list(itertools.islice(jobs, 2))  # one chunk only: not worth spawning processes
    jobs = itertools.chain(head, jobs)
    if num_workers > 1 and len(head) > 1:
        with get_context("spawn").Pool(num_workers) as pool:
            parts = list(bounded_imap(pool, _signature_chunk, jobs, 2 * num_workers))
    else:
        parts = [_signature_chunk(job) for job in jobs]
    if not parts:
        return np.empty((0, num_perm), dtype=np.uint64)
    return np.concatenate(parts)


def choose_bands(num_perm: int, threshold: float) -> tuple[int, int]:
    """(bands, rows) with bands * rows <= num_perm minimising false positives + false negatives.

    Integrates the S-curve 1 - (1 - s^r)^b below the threshold (false positives) and its complement
    above it (false negatives), as datasketch does, on a fine grid.
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold={threshold!r}: expected a Jaccard similarity in (0, 1)")
    s = np.linspace(0.0, 1.0, 1001)
    best, best_err = (1, num_perm), float("inf")
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        curve = 1.0 - (1.0 - s**rows) ** bands
        err = np.trapezoid(np.where(s < threshold, curve, 1.0 - curve), s)
        if err < best_err:
            best, best_err = (bands, rows), float(err)
    return best


def near_duplicate_pairs(
    signatures: np.ndarray, threshold: float, bands: int | None = None, rows: int | None = None
) -> list[tuple[int, int]]:
    """Pairs (i < j) whose LSH bands collide and whose estimated Jaccard is >= threshold."""
    num_docs, num_perm = signatures.shape
    if not 0.0 < threshold < 1.0:
        raise ValueError(
            f"near_duplicate_pairs: threshold={threshold!r}, expected a Jaccard in (0, 1)"
        )
    if bands is None or rows is None:
        bands, rows = choose_bands(num_perm, threshold)
    if bands < 1 or rows < 1:
        raise ValueError(f"near_duplicate_pairs: bands={bands!r}, rows={rows!r}; expected >= 1")
    if bands * rows > num_perm:
        raise ValueError(
            f"near_duplicate_pairs: bands*rows={bands * rows} exceeds num_perm={num_perm}"
        )
    pairs: set[tuple[int, int]] = set()
    for band in range(bands):
        block = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows])
        buckets: dict[bytes, list[int]] = {}
        for i in range(num_docs):
            buckets.setdefault(block[i].tobytes(), []).append(i)
        for members in buckets.values():
            if len(members) > 1:
                pairs.update(_verified_pairs(signatures, members, threshold))
    return sorted(pairs)


def _verified_pairs(
    signatures: np.ndarray, members: list[int], threshold: float
) -> list[tuple[int, int]]:
    """All pairs of one LSH bucket whose estimated Jaccard is >= threshold.

    Subtle: checking only (first member, other) pairs misses two true duplicates that share a
    bucket with a false candidate listed first; so every pair of the bucket is verified.
    """
    sigs = signatures[members]  # [M, num_perm]
    found = []
    for k in range(1, len(members)):
        similarity = (sigs[:k] == sigs[k]).mean(axis=1)  # [k]
        found += [(members[i], members[k]) for i in np.flatnonzero(similarity >= threshold)]
    return found


def _clusters(num_docs: int, pairs: list[tuple[int, int]]) -> list[int]:
    """Union-find root (smallest index) of every document."""
    parent = list(range(num_docs))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(num_docs)]


def minhash_dedup(
    documents: Iterable[str],
    threshold: float = 0.8,
    num_perm: int = 128,
    ngram: int = 5,
    seed: int = 0,
    num_workers: int = 1,
) -> list[int]:
    """Indices of documents to keep: the first of each near-duplicate cluster, in order."""
    signatures = minhash_signatures(
        documents, num_perm=num_perm, ngram=ngram, seed=seed, num_workers=num_workers
    )
    roots = _clusters(len(signatures), near_duplicate_pairs(signatures, threshold))
    return [i for i, root in enumerate(roots) if root == i]
