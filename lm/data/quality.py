"""Quality filtering: Gopher rules (Rae+ 2021, arxiv.org/abs/2112.11446) and a learned classifier.

The rules and thresholds are the paper's appendix A.1.1 quality filters (the repetition filters
are left to dedup.py).

The classifier is fastText-style (Joulin+ 2016, https://arxiv.org/abs/1607.01759): hashed bag of
word unigrams and bigrams -> averaged embedding-free linear model trained with softmax regression in
numpy. It is tiny, fast and good enough to separate prose from junk on our corpora.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lm.atomic_file import atomic_path

_WORD = re.compile(r"\S+")
_ALPHA = re.compile(r"[^\W\d_]")
MIN_WORDS, MAX_WORDS = 50, 100_000
MIN_MEAN_WORD_LEN, MAX_MEAN_WORD_LEN = 3.0, 10.0
MAX_ELLIPSIS_LINE_SHARE = 0.3
MAX_BULLET_LINE_SHARE = 0.9
MAX_SYMBOL_WORD_RATIO = 0.1
MIN_ALPHA_WORD_SHARE = 0.8
STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
MIN_STOP_WORDS = 2  # distinct ones present: "the usual English function words"
BULLETS = ("-", "*", "\u2022", "\u25cf", "\u25aa", "\u25e6", "\u2023", "\u00b7")
_PUNCT = ".,;:!?\"'()[]{}"


def gopher_quality_filter(text: str) -> tuple[bool, list[str]]:
    """Gopher rules -> (keep, reasons): `"too short" -> (False, ["num_words=2 outside ..."])`."""
    if not isinstance(text, str):
        raise TypeError(f"gopher_quality_filter(): expected str, got {type(text).__name__}")
    words = _WORD.findall(text)
    reasons: list[str] = []
    if not MIN_WORDS <= len(words) <= MAX_WORDS:
        reasons.append(f"num_words={len(words)} outside [{MIN_WORDS}, {MAX_WORDS}]")
    if words:
        mean_len = sum(map(len, words)) / len(words)
        if not MIN_MEAN_WORD_LEN <= mean_len <= MAX_MEAN_WORD_LEN:
            reasons.append(
                f"mean_word_length={mean_len:.2f} "
                f"outside [{MIN_MEAN_WORD_LEN}, {MAX_MEAN_WORD_LEN}]"
            )
        symbols = sum(w.count("#") + w.count("...") + w.count("\u2026") for w in words)
        if symbols / len(words) > MAX_SYMBOL_WORD_RATIO:
            reasons.append(
                f"symbol_word_ratio={symbols / len(words):.2f} > {MAX_SYMBOL_WORD_RATIO}"
            )
        alpha_share = sum(1 for w in words if _ALPHA.search(w)) / len(words)
        if alpha_share < MIN_ALPHA_WORD_SHARE:
            reasons.append(f"alphabetic_word_share={alpha_share:.2f} < {MIN_ALPHA_WORD_SHARE}")
    num_stop_words = len(STOP_WORDS & {w.lower().strip(_PUNCT) for w in words})
    if num_stop_words < MIN_STOP_WORDS:
        reasons.append(f"stop_words={num_stop_words} < {MIN_STOP_WORDS}")
    lines = [line for line in text.splitlines() if line.strip()]
    if lines:
        ellipsis = sum(1 for line in lines if line.rstrip().endswith(("...", "\u2026"))) / len(
            lines
        )
        if ellipsis > MAX_ELLIPSIS_LINE_SHARE:
            reasons.append(f"ellipsis_line_share={ellipsis:.2f} > {MAX_ELLIPSIS_LINE_SHARE}")
        bullets = sum(1 for line in lines if line.lstrip().startswith(BULLETS)) / len(lines)
        if bullets > MAX_BULLET_LINE_SHARE:
            reasons.append(f"bullet_line_share={bullets:.2f} > {MAX_BULLET_LINE_SHARE}")
    return not reasons, reasons


def _features(text: str, num_buckets: int) -> np.ndarray:
    """Hashed unigram + bigram ids of lower-cased words: `"a b" -> [h(a), h(b), h(a b)] % B`."""
    words = _WORD.findall(text.lower())
    grams = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return np.fromiter(
        (zlib.crc32(g.encode()) % num_buckets for g in grams), dtype=np.int64, count=len(grams)
    )


@dataclass
class QualityClassifier:
    """Bag-of-n-grams softmax regression: P(label | text) with labels e.g. ("low", "high")."""

    labels: list[str]
    num_buckets: int = 2**18
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def _design(self, texts: list[str]) -> list[np.ndarray]:
        return [_features(t, self.num_buckets) for t in texts]

    def _logits(self, feats: np.ndarray) -> np.ndarray:
        if feats.size == 0:
            return np.zeros(len(self.labels))
        # sum / sqrt(n): long documents are not drowned out as with a plain mean.
        return self.weights[feats].sum(axis=0) / np.sqrt(feats.size)  # [num_labels]

    def fit(
        self, texts: list[str], labels: list[str], epochs: int = 5, lr: float = 2.0, seed: int = 0
    ) -> QualityClassifier:
        """SGD on cross-entropy with averaged n-gram weights (one example at a time, shuffled)."""
        unknown = sorted(set(labels) - set(self.labels))
        if unknown:
            raise ValueError(f"fit(): label {unknown[0]!r} not in {self.labels!r}")
        rng = np.random.default_rng(seed)
        self.weights = np.zeros((self.num_buckets, len(self.labels)), dtype=np.float32)
        feats, targets = self._design(texts), [self.labels.index(y) for y in labels]
        for _ in range(epochs):
            for i in rng.permutation(len(texts)):
                if feats[i].size == 0:
                    continue
                logits = self._logits(feats[i])
                probs = np.exp(logits - logits.max())
                probs /= probs.sum()
                probs[targets[i]] -= 1.0  # d loss / d logits
                np.add.at(self.weights, feats[i], -lr * probs / np.sqrt(feats[i].size))
        return self

    def predict_proba(self, text: str) -> dict[str, float]:
        """Label probabilities for one text."""
        if self.weights.size == 0:
            raise ValueError("QualityClassifier: call fit() or load() before predicting")
        logits = self._logits(_features(text, self.num_buckets))
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        return {label: float(p) for label, p in zip(self.labels, probs, strict=True)}

    def predict(self, text: str) -> tuple[str, float]:
        """Most likely label and its probability."""
        probs = self.predict_proba(text)
        best = max(probs, key=probs.__getitem__)
        return best, probs[best]

    def save(self, path: str | Path) -> None:
        """Write weights (.npz, atomically) with the labels in a JSON header."""
        meta = json.dumps({"labels": self.labels, "num_buckets": self.num_buckets})
        # subtle: a file object, not a path, or numpy appends ".npz" to the temp name
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez_compressed(f, weights=self.weights, meta=np.array(meta))

    @classmethod
    def load(cls, path: str | Path) -> QualityClassifier:
        """Read a classifier written by `save`."""
        try:
            data = np.load(path)
            if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array
                raise ValueError(f"expected an .npz archive, got {type(data).__name__}")
            with data:
                meta = json.loads(str(data["meta"]))
                return cls(
                    labels=meta["labels"], num_buckets=meta["num_buckets"], weights=data["weights"]
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(
                f"QualityClassifier.load: {str(path)!r} is not a saved classifier ({exc})"
            ) from exc
