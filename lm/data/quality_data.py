"""Training data for the quality classifier, made from the shipped corpora.

High quality: real documents of `mix_5MB.txt` (textbook-like questions, docs, stories, literature).
Low quality: the same documents degraded the ways web junk is (word salad, navigation boilerplate,
keyword spam, symbol noise), so the classifier learns structure rather than topic.
"""

from __future__ import annotations

import random

from lm.data.pipeline import read_documents
from lm.data.quality import QualityClassifier

BOILERPLATE = [
    "Home", "About us", "Contact", "Login", "Sign up", "Privacy policy", "Terms of service",
    "Cookie settings", "Share on Facebook", "Tweet", "Subscribe to our newsletter", "Read more",
    "Click here", "Next page", "Previous", "All rights reserved", "Buy now", "Free shipping",
]  # fmt: skip


def degrade(doc: str, rng: random.Random) -> str:
    """One junk version of a document, chosen at random among four kinds of damage."""
    words = doc.split()
    kind = rng.randrange(4)
    if kind == 0:  # word salad
        rng.shuffle(words)
        return " ".join(words)
    if kind == 1:  # navigation boilerplate with a few content words
        lines = [rng.choice(BOILERPLATE) for _ in range(rng.randint(10, 40))]
        return "\n".join(lines + words[: rng.randint(0, 10)])
    if kind == 2:  # keyword spam
        keys = rng.sample(words, min(len(words), 3)) or ["cheap"]
        return " ".join(rng.choice(keys) for _ in range(rng.randint(30, 120)))
    noise = "#@$%&*|~^"  # symbol noise
    return " ".join(
        w if rng.random() < 0.5 else "".join(rng.choice(noise) for _ in w) for w in words
    )


def quality_dataset(max_docs: int = 2000, seed: int = 0) -> tuple[list[str], list[str]]:
    """(texts, labels) with labels "high"/"low", balanced, from the first `max_docs` documents."""
    from lm.datafiles import data_path

    rng = random.Random(seed)
    texts, labels = [], []
    for i, doc in enumerate(read_documents(data_path("mix_5MB.txt"), "<|endoftext|>")):
        if i >= max_docs:
            break
        texts += [doc, degrade(doc, rng)]
        labels += ["high", "low"]
    return texts, labels


def split_by_document(
    texts: list[str], labels: list[str], test_fraction: float = 0.2, seed: int = 0
) -> tuple[list[int], list[int]]:
    """(train, test) indices of a `quality_dataset`, splitting by source document.

    Items 2k and 2k+1 are a document and its degraded copy; they land on the same side, since a
    degraded copy shares most of its words with its source and would leak them across the split.
    """
    if len(texts) != len(labels) or len(texts) % 2:
        raise ValueError(
            f"split_by_document: expected (document, degraded) pairs, got {len(texts)} texts "
            f"and {len(labels)} labels"
        )
    pairs = list(range(len(texts) // 2))
    random.Random(seed).shuffle(pairs)
    cut = len(pairs) - round(test_fraction * len(pairs))
    train = sorted(i for k in pairs[:cut] for i in (2 * k, 2 * k + 1))
    test = sorted(i for k in pairs[cut:] for i in (2 * k, 2 * k + 1))
    return train, test


def train_default_classifier(
    max_docs: int = 2000, seed: int = 0
) -> tuple[QualityClassifier, float]:
    """Train on 80% of the source documents; returns the classifier and its held-out accuracy."""
    texts, labels = quality_dataset(max_docs, seed)
    train, test = split_by_document(texts, labels, seed=seed)
    clf = QualityClassifier(labels=["low", "high"]).fit(
        [texts[i] for i in train], [labels[i] for i in train], seed=seed
    )
    correct = sum(clf.predict(texts[i])[0] == labels[i] for i in test)
    return clf, correct / max(len(test), 1)
