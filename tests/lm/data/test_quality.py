"""lm.data.quality: the Gopher rules as in Rae+ 2021 appendix A, and an honest classifier split."""

from __future__ import annotations

import random

from lm.data import gopher_quality_filter
from lm.data.quality_data import split_by_document

NO_STOP_WORDS = " ".join(
    random.Random(0).choice(["apples", "orange", "market", "stalls", "bright", "summer"])
    for _ in range(80)
)


def test_gopher_stop_word_rule() -> None:
    # Gopher: drop documents with fewer than two of the, be, to, of, and, that, have, with.
    keep, reasons = gopher_quality_filter(NO_STOP_WORDS)
    assert not keep and reasons == ["stop_words=0 < 2"]
    keep, reasons = gopher_quality_filter(NO_STOP_WORDS + " The apples, and oranges.")
    assert keep, reasons


def test_gopher_bullet_rule_knows_common_bullet_glyphs() -> None:
    lines = "\n".join(
        f"\u25cf the item {i} of a list with things to have and hold" for i in range(20)
    )
    assert any("bullet_line_share" in r for r in gopher_quality_filter(lines)[1])


def test_classifier_split_keeps_a_document_and_its_degraded_copy_together() -> None:
    # quality_dataset yields (doc, degraded doc) pairs; a word-salad copy shares every unigram with
    # its source, so splitting the pair across train and test leaks the test document's words.
    texts = [f"t{i}" for i in range(200)]
    labels = ["high", "low"] * 100
    train, test = split_by_document(texts, labels, test_fraction=0.2, seed=0)
    assert len(test) == 40 and len(train) == 160
    train_docs, test_docs = {i // 2 for i in train}, {i // 2 for i in test}
    assert not train_docs & test_docs
    assert sorted(labels[i] for i in test).count("high") == 20  # still balanced


def test_classifier_load_rejects_other_numpy_files(tmp_path) -> None:
    import numpy as np
    import pytest

    from lm.data.quality import QualityClassifier

    np.save(tmp_path / "weights.npy", np.zeros(3))
    with pytest.raises(ValueError, match="weights.npy.*not a saved classifier"):
        QualityClassifier.load(tmp_path / "weights.npy")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz.*not a saved classifier"):
        QualityClassifier.load(tmp_path / "other.npz")
