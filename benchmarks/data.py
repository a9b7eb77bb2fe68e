"""MinHash near-duplicate dedup: ours vs datasketch, same corpus, same run.

Corpus: the first documents of mix_5MB.txt plus planted near-copies (a few words changed). Both
sides use 128 permutations, word 5-gram shingles of the same normalised text and threshold 0.8;
we report wall time, documents/s, and recall/precision of removing exactly the planted copies.
Target: same recall at >= 1x datasketch's speed.

Run: python benchmarks/data.py [--docs 2000] [--planted 500]
"""

from __future__ import annotations

import argparse
import random
import time

from lm.data.dedup import minhash_dedup, normalize_for_dedup
from lm.data.pipeline import read_documents
from lm.datafiles import data_path

NUM_PERM, NGRAM, THRESHOLD = 128, 5, 0.8


def planted_corpus(num_docs: int, num_planted: int, seed: int = 0) -> tuple[list[str], set[int]]:
    """Documents of >= 100 words plus near-copies (1% of words replaced); returns their indices."""
    rng = random.Random(seed)
    docs = [d for d in read_documents(data_path("mix_5MB.txt")) if len(d.split()) >= 100][:num_docs]
    vocab = [w for d in docs[:50] for w in d.split()]
    planted = set()
    for _ in range(num_planted):
        words = rng.choice(docs[:num_docs]).split()
        for j in rng.sample(range(len(words)), max(1, len(words) // 100)):
            words[j] = rng.choice(vocab)
        planted.add(len(docs))
        docs.append(" ".join(words))
    return docs, planted


def datasketch_dedup(docs: list[str]) -> list[int]:
    """The same job with datasketch's MinHash + MinHashLSH (query before insert keeps the first)."""
    from datasketch import MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    kept = []
    for i, doc in enumerate(docs):
        words = normalize_for_dedup(doc).split()
        grams = {
            " ".join(words[k : k + NGRAM]).encode() for k in range(max(1, len(words) - NGRAM + 1))
        }
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch(list(grams))
        if not lsh.query(m):
            kept.append(i)
        lsh.insert(str(i), m)
    return kept


def score(name: str, kept: list[int], docs: list[str], planted: set[int], seconds: float) -> float:
    removed = set(range(len(docs))) - set(kept)
    hit = len(removed & planted)
    recall, precision = hit / len(planted), hit / max(len(removed), 1)
    print(
        f"{name:11s} {seconds:7.2f} s  {len(docs) / seconds:8.0f} docs/s  "
        f"removed {len(removed):5d}  recall {recall:.3f}  precision {precision:.3f}"
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--planted", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    docs, planted = planted_corpus(args.docs, args.planted)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    print(f"corpus: {len(docs)} documents ({mb:.1f} MB), {len(planted)} planted near-copies")
    t = time.perf_counter()
    ours_1 = minhash_dedup(docs, threshold=THRESHOLD, num_perm=NUM_PERM, ngram=NGRAM)
    t_ours_1 = score("ours (1p)", ours_1, docs, planted, time.perf_counter() - t)
    t = time.perf_counter()
    ours = minhash_dedup(
        docs, threshold=THRESHOLD, num_perm=NUM_PERM, ngram=NGRAM, num_workers=args.workers
    )
    t_ours = score(f"ours ({args.workers}p)", ours, docs, planted, time.perf_counter() - t)
    t = time.perf_counter()
    theirs = datasketch_dedup(docs)
    t_theirs = score("datasketch", theirs, docs, planted, time.perf_counter() - t)
    print(
        f"speed ratio ours/datasketch: {t_theirs / t_ours_1:.2f}x (1 process), "
        f"{t_theirs / t_ours:.2f}x ({args.workers} processes)"
    )


if __name__ == "__main__":
    main()
